//! What the XKS proxy (`trent-server/src/xks_proxy.rs`) needs of KMS: a key's metadata as the
//! External Key Store Proxy API reports it, and AES-256-GCM under a key's material with the
//! caller's additional authenticated data (AAD).
//!
//! The proxy's ciphertexts are not KMS blobs; the proxy returns their parts (IV, ciphertext, tag)
//! and a `ciphertextMetadata` that names the material, so a rotated key still decrypts them:
//!
//! ```text
//! ciphertextMetadata = 0x01 || the first 19 bytes of the material id      (20 bytes)
//! GCM AAD            = "trent-xks-v1" 0x00
//!                      || len(aad) (2 bytes, big-endian) || aad
//!                      || len(ciphertextMetadata) (1 byte) || ciphertextMetadata
//! ```
//!
//! The lengths follow the spec's advice (an AAD cannot be moved into the metadata or back). The
//! constant prefix separates these ciphertexts from KMS blobs under the same material: a blob's
//! AAD starts with its format version byte 0x01, this one with `t`, so neither can be passed off
//! as the other.

use crate::keys::{require_usable, KeyRef};
use crate::model::{KeyRecord, KeyState, ENCRYPT_DECRYPT, SYMMETRIC_DEFAULT};
use crate::{Kms, KmsError};
use trent_crypto::aead::{IV_LEN, TAG_LEN};
use trent_crypto::SecretBytes;

const DOMAIN: &[u8] = b"trent-xks-v1\0";
const METADATA_VERSION: u8 = 1;
/// Bytes of the material id carried in `ciphertextMetadata` (20 bytes at most in all).
const MATERIAL_PREFIX_LEN: usize = 19;
/// Largest AAD the proxy accepts (the spec requires 8192 at least).
pub const XKS_MAX_AAD: usize = 16 * 1024;

/// A key as GetKeyMetadata reports it.
#[derive(Debug, Clone)]
pub struct XksKeyMetadata {
    /// `AES_256` for symmetric encryption keys, else the key's KMS key spec.
    pub key_spec: String,
    /// `ENCRYPT`/`DECRYPT`, `SIGN`/`VERIFY` or `DERIVE`, from the key's usage.
    pub key_usage: Vec<&'static str>,
    /// `ENABLED` only for an Enabled key; every other state is `DISABLED`.
    pub key_status: &'static str,
    pub arn: String,
}

/// The parts of an encryption, as the Encrypt operation returns them.
pub struct XksSealed {
    pub iv: [u8; IV_LEN],
    pub ciphertext: Vec<u8>,
    pub tag: [u8; TAG_LEN],
    pub metadata: Vec<u8>,
}

fn gcm_aad(aad: &[u8], metadata: &[u8]) -> Result<Vec<u8>, KmsError> {
    let aad_len = u16::try_from(aad.len())
        .map_err(|_| KmsError::validation("additionalAuthenticatedData is longer than 65535 bytes"))?;
    let meta_len = u8::try_from(metadata.len()).map_err(|_| KmsError::InvalidCiphertext)?;
    let mut out = Vec::with_capacity(DOMAIN.len() + 3 + aad.len() + metadata.len());
    out.extend_from_slice(DOMAIN);
    out.extend_from_slice(&aad_len.to_be_bytes());
    out.extend_from_slice(aad);
    out.push(meta_len);
    out.extend_from_slice(metadata);
    Ok(out)
}

fn usages(rec: &KeyRecord) -> Vec<&'static str> {
    match rec.key_usage.as_str() {
        ENCRYPT_DECRYPT => vec!["ENCRYPT", "DECRYPT"],
        "SIGN_VERIFY" | "GENERATE_VERIFY_MAC" => vec!["SIGN", "VERIFY"],
        "KEY_AGREEMENT" => vec!["DERIVE"],
        _ => Vec::new(),
    }
}

fn is_aes(rec: &KeyRecord) -> bool {
    rec.key_spec == SYMMETRIC_DEFAULT && rec.key_usage == ENCRYPT_DECRYPT
}

impl Kms {
    /// The key `key_id` (a key id, nothing else) of `account` in `region`.
    fn xks_load(&self, account: &str, region: &str, key_id: &str) -> Result<KeyRecord, KmsError> {
        if !crate::keys::looks_like_key_id(key_id) {
            return Err(KmsError::NotFound(format!("Key '{key_id}' does not exist")));
        }
        let r = KeyRef { account: account.to_string(), region: region.to_string(), key_id: key_id.to_string() };
        let mut tx = self.store().read()?;
        self.load(&mut *tx, &r)
    }

    /// GetKeyMetadata: the key's spec, usage and status.
    pub fn xks_key_metadata(&self, account: &str, region: &str, key_id: &str) -> Result<XksKeyMetadata, KmsError> {
        let rec = self.xks_load(account, region, key_id)?;
        Ok(XksKeyMetadata {
            key_spec: if is_aes(&rec) { "AES_256".into() } else { rec.key_spec.clone() },
            key_usage: usages(&rec),
            key_status: if rec.state == KeyState::Enabled { "ENABLED" } else { "DISABLED" },
            arn: rec.arn(),
        })
    }

    /// An Enabled symmetric encryption key (InvalidState / InvalidKeyUsage otherwise).
    fn xks_usable(&self, account: &str, region: &str, key_id: &str) -> Result<KeyRecord, KmsError> {
        let rec = self.xks_load(account, region, key_id)?;
        require_usable(&rec)?;
        if !is_aes(&rec) {
            return Err(KmsError::InvalidKeyUsage(format!(
                "{} (key spec {}, key usage {}) does not support AES-GCM encryption and decryption.",
                rec.arn(),
                rec.key_spec,
                rec.key_usage
            )));
        }
        Ok(rec)
    }

    /// Encrypt: AES-256-GCM under the key's current material, binding `aad`.
    pub fn xks_encrypt(
        &self,
        account: &str,
        region: &str,
        key_id: &str,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<XksSealed, KmsError> {
        let rec = self.xks_usable(account, region, key_id)?;
        let mid = hex::decode(&rec.current_material).map_err(KmsError::internal)?;
        let mut metadata = vec![METADATA_VERSION];
        metadata
            .extend_from_slice(mid.get(..MATERIAL_PREFIX_LEN).ok_or_else(|| KmsError::internal("short material id"))?);
        let gcm_aad = gcm_aad(aad, &metadata)?;
        let (iv, mut sealed) = if rec.origin == crate::custom_key_stores::CLOUDHSM {
            // An HSM-backed key: the GCM runs in its token.
            let mut iv = [0u8; IV_LEN];
            trent_crypto::fill_random(&mut iv).map_err(KmsError::internal)?;
            (iv, self.with_hsm(&rec, |id| self.hsm.encrypt(id, &rec.key_id, &iv, &gcm_aad, plaintext))?)
        } else {
            let key = self
                .material_key(&rec, &rec.current_material)?
                .ok_or_else(|| KmsError::internal(format!("key {} has no current material", rec.key_id)))?;
            key.seal(&gcm_aad, plaintext).map_err(KmsError::internal)?
        };
        let split = sealed.len().checked_sub(TAG_LEN).ok_or_else(|| KmsError::internal("short GCM output"))?;
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&sealed[split..]);
        sealed.truncate(split);
        Ok(XksSealed { iv, ciphertext: sealed, tag, metadata })
    }

    /// Decrypt: the inverse of [`Kms::xks_encrypt`]. Anything that does not authenticate (wrong
    /// AAD, IV, tag, metadata, or a ciphertext made elsewhere) is `InvalidCiphertext`.
    #[allow(clippy::too_many_arguments)]
    pub fn xks_decrypt(
        &self,
        account: &str,
        region: &str,
        key_id: &str,
        aad: &[u8],
        metadata: &[u8],
        iv: &[u8],
        ciphertext: &[u8],
        tag: &[u8],
    ) -> Result<SecretBytes, KmsError> {
        let rec = self.xks_usable(account, region, key_id)?;
        if metadata.len() != 1 + MATERIAL_PREFIX_LEN || metadata[0] != METADATA_VERSION || iv.len() != IV_LEN {
            return Err(KmsError::InvalidCiphertext);
        }
        let prefix = hex::encode(&metadata[1..]);
        let aad = gcm_aad(aad, metadata)?;
        let mut body = Vec::with_capacity(ciphertext.len() + tag.len());
        body.extend_from_slice(ciphertext);
        body.extend_from_slice(tag);
        if rec.origin == crate::custom_key_stores::CLOUDHSM {
            if !rec.current_material.starts_with(&prefix) {
                return Err(KmsError::InvalidCiphertext);
            }
            return self.with_hsm(&rec, |id| self.hsm.decrypt(id, &rec.key_id, iv, &aad, &body));
        }
        // Material ids are random: 19 bytes name one material; try each match all the same.
        for m in rec.materials.iter().filter(|m| m.id.starts_with(&prefix)) {
            if let Some(key) = self.material_key(&rec, &m.id)? {
                if let Ok(plain) = key.open(iv, &aad, &body) {
                    return Ok(plain);
                }
            }
        }
        Err(KmsError::InvalidCiphertext)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Caller, Clock, Kms, Operation};
    use std::sync::Arc;
    use trent_crypto::RootKey;
    use trent_policy::Principal;
    use trent_store::sqlite::SqliteStore;

    const ACCT: &str = "111122223333";

    fn kms() -> (tempfile::TempDir, Kms) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
        let (root, _) = RootKey::generate().unwrap();
        (dir, Kms::new(store, Arc::new(root), Arc::new(Clock::default())))
    }

    fn call(k: &Kms, op: &str, body: serde_json::Value) -> serde_json::Value {
        let caller = Caller::new(Principal::root(ACCT), "us-east-1".into());
        let out = k.dispatch(Operation::from_name(op).unwrap(), &caller, body.to_string().as_bytes()).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn aad_binds_and_rotation_keeps_old_ciphertexts() {
        let (_d, k) = kms();
        let id = call(&k, "CreateKey", serde_json::json!({}))["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
        let s = k.xks_encrypt(ACCT, "us-east-1", &id, b"aad", b"hello").unwrap();
        assert_eq!(s.ciphertext.len(), 5);
        assert_eq!(s.metadata.len(), 20);
        let open =
            |aad: &[u8], meta: &[u8]| k.xks_decrypt(ACCT, "us-east-1", &id, aad, meta, &s.iv, &s.ciphertext, &s.tag);
        assert_eq!(open(b"aad", &s.metadata).unwrap().expose(), b"hello");
        assert!(matches!(open(b"aae", &s.metadata), Err(crate::KmsError::InvalidCiphertext)));
        assert!(matches!(open(b"", &s.metadata), Err(crate::KmsError::InvalidCiphertext)));
        let mut meta = s.metadata.clone();
        meta[19] ^= 1;
        assert!(matches!(open(b"aad", &meta), Err(crate::KmsError::InvalidCiphertext)));
        call(&k, "RotateKeyOnDemand", serde_json::json!({"KeyId": id}));
        let s2 = k.xks_encrypt(ACCT, "us-east-1", &id, b"", b"new").unwrap();
        assert_ne!(s2.metadata, s.metadata);
        assert_eq!(open(b"aad", &s.metadata).unwrap().expose(), b"hello");
        // Another region's view, or an unknown id, is not found.
        assert!(matches!(k.xks_encrypt(ACCT, "eu-west-1", &id, b"", b"x"), Err(crate::KmsError::NotFound(_))));
        assert!(matches!(k.xks_key_metadata(ACCT, "us-east-1", "no_such_key"), Err(crate::KmsError::NotFound(_))));
        let md = k.xks_key_metadata(ACCT, "us-east-1", &id).unwrap();
        assert_eq!(
            (md.key_spec.as_str(), md.key_usage.as_slice(), md.key_status),
            ("AES_256", &["ENCRYPT", "DECRYPT"][..], "ENABLED")
        );
    }
}
