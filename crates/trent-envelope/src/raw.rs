//! Raw AES and raw RSA keyrings: wrapping keys the caller holds, with the official SDKs' wire layout.

use crate::context;
use crate::error::{Error, Result};
use crate::materials::{DataKey, DecryptionMaterials, EncryptedDataKey, EncryptionMaterials, Keyring};
use crate::suite::{IV_LEN, TAG_LEN};
use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::rsa::{
    OaepAlgorithm, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, Pkcs1PrivateDecryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512,
};
use zeroize::Zeroizing;

/// Provider info of a raw AES EDK: key name || tag length in bits (u32) || IV length (u32) || IV.
fn aes_provider_info(name: &str, iv: &[u8; IV_LEN]) -> Vec<u8> {
    let mut info = Vec::with_capacity(name.len() + 8 + IV_LEN);
    info.extend_from_slice(name.as_bytes());
    info.extend_from_slice(&((TAG_LEN * 8) as u32).to_be_bytes());
    info.extend_from_slice(&(IV_LEN as u32).to_be_bytes());
    info.extend_from_slice(iv);
    info
}

/// A keyring over a raw AES-GCM wrapping key (16, 24 or 32 bytes). The encryption context is the AAD.
pub struct RawAesKeyring {
    namespace: String,
    name: String,
    key: LessSafeKey,
}

impl RawAesKeyring {
    pub fn new(namespace: &str, name: &str, wrapping_key: &[u8]) -> Result<Self> {
        let alg = match wrapping_key.len() {
            16 => &aead::AES_128_GCM,
            24 => &aead::AES_192_GCM,
            32 => &aead::AES_256_GCM,
            n => {
                return Err(Error::InvalidArgument(format!(
                    "raw AES wrapping key {namespace}:{name} is {n} bytes; it must be 16, 24 or 32"
                )))
            }
        };
        if namespace.starts_with("aws-kms") {
            return Err(Error::InvalidArgument("a raw keyring's namespace may not start with \"aws-kms\"".into()));
        }
        let key = UnboundKey::new(alg, wrapping_key).map_err(|_| Error::Crypto("AES key setup"))?;
        Ok(RawAesKeyring { namespace: namespace.into(), name: name.into(), key: LessSafeKey::new(key) })
    }

    fn unwrap(&self, edk: &EncryptedDataKey, aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if edk.provider_id != self.namespace {
            return None;
        }
        let info = &edk.provider_info;
        let n = self.name.len();
        if info.len() != n + 8 + IV_LEN || &info[..n] != self.name.as_bytes() {
            return None;
        }
        if info[n..n + 4] != ((TAG_LEN * 8) as u32).to_be_bytes() || info[n + 4..n + 8] != (IV_LEN as u32).to_be_bytes()
        {
            return None;
        }
        let nonce = Nonce::try_assume_unique_for_key(&info[n + 8..]).ok()?;
        let mut buf = Zeroizing::new(edk.ciphertext.clone());
        let len = self.key.open_in_place(nonce, Aad::from(aad), &mut buf).ok()?.len();
        buf.truncate(len);
        Some(buf)
    }
}

impl Keyring for RawAesKeyring {
    fn on_encrypt(&self, mut m: EncryptionMaterials) -> Result<EncryptionMaterials> {
        let key = match &m.plaintext_data_key {
            Some(k) => k.clone(),
            None => {
                let k = DataKey::random(m.suite.key_len)?;
                m.plaintext_data_key = Some(k.clone());
                k
            }
        };
        let aad = context::serialize(&m.encryption_context)?;
        let mut iv = [0u8; IV_LEN];
        aws_lc_rs::rand::fill(&mut iv).map_err(|_| Error::Crypto("random number generator"))?;
        let mut ct = key.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(iv), Aad::from(&aad), &mut ct)
            .map_err(|_| Error::Crypto("AES-GCM wrap"))?;
        m.encrypted_data_keys.push(EncryptedDataKey {
            provider_id: self.namespace.clone(),
            provider_info: aes_provider_info(&self.name, &iv),
            ciphertext: ct,
        });
        Ok(m)
    }

    fn on_decrypt(&self, mut m: DecryptionMaterials, edks: &[EncryptedDataKey]) -> Result<DecryptionMaterials> {
        if m.plaintext_data_key.is_some() {
            return Ok(m);
        }
        let aad = context::serialize(&m.encryption_context)?;
        for edk in edks {
            if let Some(k) = self.unwrap(edk, &aad) {
                if k.len() == m.suite.key_len {
                    m.plaintext_data_key = Some(DataKey::new(k.to_vec()));
                    return Ok(m);
                }
            }
        }
        Ok(m)
    }
}

/// RSA padding for the raw RSA keyring. PKCS#1 v1.5 is accepted for decryption only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsaPadding {
    Pkcs1,
    OaepSha1,
    OaepSha256,
    OaepSha384,
    OaepSha512,
}

impl RsaPadding {
    pub fn parse(text: &str) -> Result<RsaPadding> {
        match text.to_ascii_lowercase().replace('_', "-").as_str() {
            "pkcs1" | "pkcs1-v1.5" | "pkcs1v15" => Ok(RsaPadding::Pkcs1),
            "oaep-sha1" | "oaep-sha1-mgf1" => Ok(RsaPadding::OaepSha1),
            "oaep-sha256" | "oaep-sha256-mgf1" => Ok(RsaPadding::OaepSha256),
            "oaep-sha384" | "oaep-sha384-mgf1" => Ok(RsaPadding::OaepSha384),
            "oaep-sha512" | "oaep-sha512-mgf1" => Ok(RsaPadding::OaepSha512),
            _ => Err(Error::InvalidArgument(format!(
                "unknown RSA padding {text:?} (pkcs1, oaep-sha1, oaep-sha256, oaep-sha384, oaep-sha512)"
            ))),
        }
    }

    fn oaep(self) -> Option<&'static OaepAlgorithm> {
        match self {
            RsaPadding::Pkcs1 => None,
            RsaPadding::OaepSha1 => Some(&OAEP_SHA1_MGF1SHA1),
            RsaPadding::OaepSha256 => Some(&OAEP_SHA256_MGF1SHA256),
            RsaPadding::OaepSha384 => Some(&OAEP_SHA384_MGF1SHA384),
            RsaPadding::OaepSha512 => Some(&OAEP_SHA512_MGF1SHA512),
        }
    }
}

/// A keyring over an RSA key pair (or only its public half, for encrypt-only use).
/// Provider id is the namespace, provider info the key name, the EDK the raw RSA ciphertext.
pub struct RawRsaKeyring {
    namespace: String,
    name: String,
    padding: RsaPadding,
    public: Option<PublicEncryptingKey>,
    private: Option<PrivateDecryptingKey>,
}

impl RawRsaKeyring {
    /// From a PKCS#8 DER private key (the public key is derived from it).
    pub fn from_private_pkcs8(namespace: &str, name: &str, pkcs8: &[u8], padding: RsaPadding) -> Result<Self> {
        let private = PrivateDecryptingKey::from_pkcs8(pkcs8)
            .map_err(|e| Error::InvalidArgument(format!("RSA private key {namespace}:{name} rejected: {e}")))?;
        Self::check_name(namespace)?;
        Ok(RawRsaKeyring {
            namespace: namespace.into(),
            name: name.into(),
            padding,
            public: Some(private.public_key()),
            private: Some(private),
        })
    }

    /// From an X.509 SubjectPublicKeyInfo DER public key: encryption only.
    pub fn from_public_der(namespace: &str, name: &str, spki: &[u8], padding: RsaPadding) -> Result<Self> {
        let public = PublicEncryptingKey::from_der(spki)
            .map_err(|e| Error::InvalidArgument(format!("RSA public key {namespace}:{name} rejected: {e}")))?;
        Self::check_name(namespace)?;
        Ok(RawRsaKeyring {
            namespace: namespace.into(),
            name: name.into(),
            padding,
            public: Some(public),
            private: None,
        })
    }

    fn check_name(namespace: &str) -> Result<()> {
        if namespace.starts_with("aws-kms") {
            return Err(Error::InvalidArgument("a raw keyring's namespace may not start with \"aws-kms\"".into()));
        }
        Ok(())
    }

    fn unwrap(&self, private: &PrivateDecryptingKey, ct: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; private.key_size_bytes()]);
        let len = match self.padding.oaep() {
            Some(alg) => {
                let k = OaepPrivateDecryptingKey::new(private.clone()).ok()?;
                k.decrypt(alg, ct, &mut out, None).ok()?.len()
            }
            None => {
                let k = Pkcs1PrivateDecryptingKey::new(private.clone()).ok()?;
                k.decrypt(ct, &mut out).ok()?.len()
            }
        };
        out.truncate(len);
        Some(out)
    }
}

impl Keyring for RawRsaKeyring {
    fn on_encrypt(&self, mut m: EncryptionMaterials) -> Result<EncryptionMaterials> {
        let Some(alg) = self.padding.oaep() else {
            return Err(Error::InvalidArgument(
                "PKCS#1 v1.5 padding is accepted for decryption only; encrypt with OAEP".into(),
            ));
        };
        let public = self.public.as_ref().ok_or_else(|| Error::Keyring("RSA keyring has no public key".into()))?;
        let key = match &m.plaintext_data_key {
            Some(k) => k.clone(),
            None => {
                let k = DataKey::random(m.suite.key_len)?;
                m.plaintext_data_key = Some(k.clone());
                k
            }
        };
        let enc = OaepPublicEncryptingKey::new(public.clone()).map_err(|_| Error::Crypto("RSA key setup"))?;
        let mut out = vec![0u8; enc.ciphertext_size()];
        let n = enc.encrypt(alg, key.as_bytes(), &mut out, None).map_err(|_| Error::Crypto("RSA-OAEP wrap"))?.len();
        out.truncate(n);
        m.encrypted_data_keys.push(EncryptedDataKey {
            provider_id: self.namespace.clone(),
            provider_info: self.name.as_bytes().to_vec(),
            ciphertext: out,
        });
        Ok(m)
    }

    fn on_decrypt(&self, mut m: DecryptionMaterials, edks: &[EncryptedDataKey]) -> Result<DecryptionMaterials> {
        if m.plaintext_data_key.is_some() {
            return Ok(m);
        }
        let Some(private) = &self.private else { return Ok(m) };
        for edk in edks {
            if edk.provider_id != self.namespace || edk.provider_info != self.name.as_bytes() {
                continue;
            }
            if let Some(k) = self.unwrap(private, &edk.ciphertext) {
                if k.len() == m.suite.key_len {
                    m.plaintext_data_key = Some(DataKey::new(k.to_vec()));
                    return Ok(m);
                }
            }
        }
        Ok(m)
    }
}
