//! Finding keys, checking their state, and the crypto every data operation shares.

use crate::model::{AliasRecord, KeyRecord, KeyState, Material, MrkRecord, ENCRYPT_DECRYPT, SYMMETRIC_DEFAULT};
use crate::{Caller, Kms, KmsError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::collections::BTreeMap;
use std::sync::Arc;
use trent_crypto::aead::Aes256Gcm;
use trent_crypto::{blob, SecretBytes};
use trent_policy::Arn;
use trent_store::Txn;

pub(crate) const T_KEY: &str = "kms_key";
pub(crate) const T_OWNER: &str = "kms_key_owner";
pub(crate) const T_ALIAS: &str = "kms_alias";
pub(crate) const T_DELETION: &str = "kms_deletion";
pub(crate) const T_ROTATION: &str = "kms_rotation";
pub(crate) const T_IMPORT: &str = "kms_import";
pub(crate) const T_MRK: &str = "kms_mrk";
pub(crate) const T_EXPIRY: &str = "kms_material_expiry";
const WRAP_PURPOSE: &str = "kms-key-material";

/// A key's identity once an id, ARN or alias has been resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef {
    pub account: String,
    pub region: String,
    pub key_id: String,
}

impl KeyRef {
    pub(crate) fn store_key(&self) -> String {
        format!("{}/{}/{}", self.account, self.region, self.key_id)
    }
}

pub(crate) fn alias_store_key(account: &str, region: &str, alias: &str) -> String {
    format!("{account}/{region}/{alias}")
}

pub(crate) fn deletion_store_key(ms: i64, r: &KeyRef) -> String {
    format!("{:020}/{}", ms.max(0), r.store_key())
}

/// A key id as KMS issues them: a UUID, or `mrk-` and 32 hex digits.
pub(crate) fn looks_like_key_id(s: &str) -> bool {
    let uuid = s.len() == 36
        && s.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() });
    let mrk = s.len() == 36 && s.starts_with("mrk-") && s[4..].bytes().all(|b| b.is_ascii_hexdigit());
    uuid || mrk
}

fn not_found_key(id: &str) -> KmsError {
    KmsError::NotFound(format!("Invalid keyId '{}'", truncate(id)))
}

fn truncate(s: &str) -> String {
    s.chars().take(256).collect()
}

impl Kms {
    /// Resolves a `KeyId` member: key id, key ARN, and (where AWS accepts them) alias name or
    /// alias ARN. Keys in other regions are not visible; other accounts' keys are refused until
    /// cross-account key policies are enforced.
    pub(crate) fn resolve(
        &self,
        tx: &mut dyn Txn,
        caller: &Caller,
        id: &str,
        allow_alias: bool,
    ) -> Result<KeyRef, KmsError> {
        let here = |key_id: &str| KeyRef {
            account: caller.account().to_string(),
            region: caller.region.clone(),
            key_id: key_id.to_string(),
        };
        if let Some(arn) = id.strip_prefix("arn:").map(|_| Arn::parse(id)) {
            let arn = arn.ok_or_else(|| not_found_key(id))?;
            if arn.service != "kms" || arn.region != caller.region || arn.partition != caller.partition() {
                return Err(KmsError::NotFound(format!("Key '{}' does not exist", truncate(id))));
            }
            if arn.account != caller.account() && caller.cross_account_allowed() {
                let owner = Caller::new(trent_policy::Principal::root(&arn.account), caller.region.clone());
                return self.resolve(tx, &owner, id, allow_alias);
            }
            if arn.account != caller.account() {
                return Err(KmsError::Wire(trent_wire::WireError::AccessDenied(format!(
                    "User: {} is not authorized to use '{}' in another account",
                    caller.principal.arn(caller.partition()),
                    truncate(id)
                ))));
            }
            if let Some(key_id) = arn.resource.strip_prefix("key/") {
                if looks_like_key_id(key_id) {
                    return Ok(here(key_id));
                }
            } else if arn.resource.starts_with("alias/") && allow_alias {
                return self.resolve_alias(tx, caller, &arn.resource);
            }
            return Err(not_found_key(id));
        }
        if id.starts_with("alias/") && allow_alias {
            return self.resolve_alias(tx, caller, id);
        }
        if looks_like_key_id(id) {
            return Ok(here(id));
        }
        Err(not_found_key(id))
    }

    fn resolve_alias(&self, tx: &mut dyn Txn, caller: &Caller, alias: &str) -> Result<KeyRef, KmsError> {
        let rec = self.load_alias(tx, caller, alias)?;
        Ok(KeyRef { account: caller.account().to_string(), region: caller.region.clone(), key_id: rec.target_key_id })
    }

    pub(crate) fn load_alias(&self, tx: &mut dyn Txn, caller: &Caller, alias: &str) -> Result<AliasRecord, KmsError> {
        let raw = tx.get(T_ALIAS, &alias_store_key(caller.account(), &caller.region, alias))?;
        let raw = raw.ok_or_else(|| {
            KmsError::NotFound(format!(
                "Alias '{}' is not found.",
                crate::model::alias_arn(&caller.region, caller.account(), &truncate(alias))
            ))
        })?;
        serde_json::from_slice(&raw).map_err(KmsError::internal)
    }

    pub(crate) fn load(&self, tx: &mut dyn Txn, r: &KeyRef) -> Result<KeyRecord, KmsError> {
        let store_key = r.store_key();
        match tx.get(T_KEY, &store_key)? {
            Some(raw) => {
                if let Some(rec) = self
                    .records
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&store_key).filter(|(bytes, _)| *bytes == raw).map(|(_, rec)| rec.clone()))
                {
                    return Ok(rec);
                }
                let rec: KeyRecord = serde_json::from_slice(&raw).map_err(KmsError::internal)?;
                if let Ok(mut m) = self.records.lock() {
                    if m.len() >= crate::MATERIAL_CACHE_MAX {
                        m.clear();
                    }
                    m.insert(store_key, (raw, rec.clone()));
                }
                Ok(rec)
            }
            None => Err(KmsError::NotFound(format!(
                "Key '{}' does not exist",
                crate::model::key_arn(&r.region, &r.account, &r.key_id)
            ))),
        }
    }

    pub(crate) fn save(&self, tx: &mut dyn Txn, rec: &KeyRecord) -> Result<(), KmsError> {
        let r = KeyRef { account: rec.account_id.clone(), region: rec.region.clone(), key_id: rec.key_id.clone() };
        tx.put(T_KEY, &r.store_key(), &serde_json::to_vec(rec).map_err(KmsError::internal)?)?;
        Ok(())
    }

    /// Reads a key by any accepted identifier.
    pub fn find(&self, caller: &Caller, id: &str, allow_alias: bool) -> Result<KeyRecord, KmsError> {
        let mut tx = self.store.read()?;
        let r = self.resolve(&mut *tx, caller, id, allow_alias)?;
        self.load(&mut *tx, &r)
    }

    /// An Enabled asymmetric or HMAC key with `usage`, found by any identifier (aliases too).
    pub(crate) fn find_for(
        &self,
        caller: &Caller,
        id: &str,
        usage: &str,
    ) -> Result<(KeyRecord, trent_crypto::asym::Spec), KmsError> {
        let rec = self.find(caller, id, true)?;
        require_usable(&rec)?;
        let spec = require_asymmetric(&rec, usage)?;
        Ok((rec, spec))
    }

    /// Read-modify-write of one key in a single write transaction; durable when this returns.
    pub(crate) fn update(
        &self,
        caller: &Caller,
        id: &str,
        f: impl FnOnce(&mut KeyRecord, &mut dyn Txn) -> Result<(), KmsError>,
    ) -> Result<KeyRecord, KmsError> {
        let mut tx = self.store.write()?;
        let r = self.resolve(&mut *tx, caller, id, false)?;
        let mut rec = self.load(&mut *tx, &r)?;
        f(&mut rec, &mut *tx)?;
        self.save(&mut *tx, &rec)?;
        tx.commit()?;
        Ok(rec)
    }

    pub(crate) fn store(&self) -> &dyn trent_store::Store {
        &*self.store
    }

    /// New random material for `key_id`, wrapped under the root key.
    pub(crate) fn new_material(&self, key_id: &str, now_ms: i64) -> Result<Material, KmsError> {
        let secret = trent_crypto::random_secret(trent_crypto::aead::KEY_LEN).map_err(KmsError::internal)?;
        self.wrap_material(key_id, &secret, now_ms)
    }

    /// Wraps `secret` (AES key, private key, HMAC key) as a new material of `key_id`.
    pub(crate) fn wrap_material(&self, key_id: &str, secret: &SecretBytes, now_ms: i64) -> Result<Material, KmsError> {
        let mut mid = [0u8; blob::MATERIAL_ID_LEN];
        trent_crypto::fill_random(&mut mid).map_err(KmsError::internal)?;
        self.wrap_material_with_id(key_id, mid, secret, now_ms)
    }

    pub(crate) fn wrap_material_with_id(
        &self,
        key_id: &str,
        mid: [u8; blob::MATERIAL_ID_LEN],
        secret: &SecretBytes,
        now_ms: i64,
    ) -> Result<Material, KmsError> {
        let wrapped = self.root.wrap(WRAP_PURPOSE, key_id, &mid, secret).map_err(KmsError::internal)?;
        Ok(Material {
            id: hex::encode(mid),
            wrapped: STANDARD.encode(wrapped),
            created_ms: now_ms,
            rotation_type: None,
        })
    }

    pub(crate) fn material_key(&self, rec: &KeyRecord, material_id: &str) -> Result<Option<Arc<Aes256Gcm>>, KmsError> {
        let cache_key = (rec.key_id.clone(), material_id.to_string());
        if let Some(k) = self.materials.lock().ok().and_then(|m| m.get(&cache_key).cloned()) {
            self.cache_stats.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(Some(k));
        }
        self.cache_stats.misses.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(m) = rec.materials.iter().find(|m| m.id == material_id) else {
            return Ok(None);
        };
        let mid = hex::decode(&m.id).map_err(KmsError::internal)?;
        let wrapped = STANDARD.decode(&m.wrapped).map_err(KmsError::internal)?;
        let secret = self.root.unwrap(WRAP_PURPOSE, &rec.key_id, &mid, &wrapped).map_err(|_| {
            KmsError::internal(format!("key material of {} does not unwrap under the root key", rec.key_id))
        })?;
        let k = Arc::new(Aes256Gcm::from_secret(&secret).map_err(KmsError::internal)?);
        if let Ok(mut cache) = self.materials.lock() {
            if cache.len() >= crate::MATERIAL_CACHE_MAX {
                cache.clear();
            }
            cache.insert(cache_key, k.clone());
        }
        Ok(Some(k))
    }

    /// The unwrapped current material of an asymmetric or HMAC key (its private key).
    pub(crate) fn private_key(&self, rec: &KeyRecord) -> Result<SecretBytes, KmsError> {
        let m = rec
            .materials
            .iter()
            .find(|m| m.id == rec.current_material)
            .ok_or_else(|| KmsError::internal(format!("key {} has no current material", rec.key_id)))?;
        let mid = hex::decode(&m.id).map_err(KmsError::internal)?;
        let wrapped = STANDARD.decode(&m.wrapped).map_err(KmsError::internal)?;
        self.root.unwrap(WRAP_PURPOSE, &rec.key_id, &mid, &wrapped).map_err(|_| {
            KmsError::internal(format!("key material of {} does not unwrap under the root key", rec.key_id))
        })
    }

    /// Encrypts under any ENCRYPT_DECRYPT key: an AES blob for symmetric keys, raw RSA-OAEP for
    /// RSA keys. Checks usage, algorithm and context first; with `dry_run`, stops there.
    pub(crate) fn encrypt_any(
        &self,
        rec: &KeyRecord,
        ctx: &BTreeMap<String, String>,
        alg: Option<&str>,
        plaintext: &[u8],
        dry_run: bool,
    ) -> Result<(Vec<u8>, &'static str), KmsError> {
        require_usage(rec, ENCRYPT_DECRYPT)?;
        match rec.spec() {
            None => {
                require_symmetric_algorithm(rec, alg)?;
                if dry_run {
                    return Err(KmsError::DryRun);
                }
                Ok((self.seal(rec, ctx, plaintext)?, SYMMETRIC_DEFAULT))
            }
            Some(spec) => {
                let (oaep, name) = oaep_algorithm(rec, alg, ctx)?;
                if dry_run {
                    return Err(KmsError::DryRun);
                }
                let public = public_key_of(rec)?;
                Ok((trent_crypto::asym::rsa_encrypt(spec, &public, oaep, plaintext)?, name))
            }
        }
    }

    /// Decrypts a ciphertext of any ENCRYPT_DECRYPT key. Symmetric blobs name their key; RSA
    /// ciphertexts need `key_id`. Returns the key, the plaintext, the material id (symmetric
    /// only) and the algorithm.
    pub(crate) fn decrypt_any(
        &self,
        caller: &Caller,
        ciphertext: &[u8],
        ctx: &BTreeMap<String, String>,
        key_id: Option<&str>,
        alg: Option<&str>,
    ) -> Result<(KeyRecord, SecretBytes, Option<String>, &'static str), KmsError> {
        if let Some(id) = key_id {
            let rec = self.find(caller, id, true)?;
            if let Some(spec) = rec.spec() {
                require_usable(&rec)?;
                require_usage(&rec, ENCRYPT_DECRYPT)?;
                let (oaep, name) = oaep_algorithm(&rec, alg, ctx)?;
                if spec.rsa_modulus_bytes() != Some(ciphertext.len()) {
                    return Err(KmsError::InvalidCiphertext);
                }
                let private = self.private_key(&rec)?;
                let plain = trent_crypto::asym::rsa_decrypt(&private, oaep, ciphertext)
                    .map_err(|_| KmsError::InvalidCiphertext)?;
                return Ok((rec, plain, None, name));
            }
        }
        let (rec, plain, material) = self.open(caller, ciphertext, ctx, key_id)?;
        require_symmetric_algorithm(&rec, alg)?;
        Ok((rec, plain, Some(material), SYMMETRIC_DEFAULT))
    }

    /// Wraps a secret that is not key material (import wrapping keys) under the root key.
    pub(crate) fn wrap_secret(&self, purpose: &str, id: &str, secret: &SecretBytes) -> Result<String, KmsError> {
        Ok(STANDARD.encode(self.root.wrap(purpose, id, b"", secret).map_err(KmsError::internal)?))
    }

    pub(crate) fn unwrap_secret(&self, purpose: &str, id: &str, wrapped: &str) -> Result<SecretBytes, KmsError> {
        let raw = STANDARD.decode(wrapped).map_err(KmsError::internal)?;
        self.root.unwrap(purpose, id, b"", &raw).map_err(KmsError::internal)
    }

    pub(crate) fn load_mrk(
        &self,
        tx: &mut dyn Txn,
        account: &str,
        key_id: &str,
    ) -> Result<Option<MrkRecord>, KmsError> {
        match tx.get(T_MRK, &format!("{account}/{key_id}"))? {
            Some(raw) => Ok(Some(serde_json::from_slice(&raw).map_err(KmsError::internal)?)),
            None => Ok(None),
        }
    }

    pub(crate) fn save_mrk(
        &self,
        tx: &mut dyn Txn,
        account: &str,
        key_id: &str,
        m: &MrkRecord,
    ) -> Result<(), KmsError> {
        tx.put(T_MRK, &format!("{account}/{key_id}"), &serde_json::to_vec(m).map_err(KmsError::internal)?)?;
        Ok(())
    }

    /// KeyMetadata as DescribeKey shows it (with the multi-Region configuration).
    pub fn describe(&self, rec: &KeyRecord) -> Result<crate::model::KeyMetadata, KmsError> {
        let mrk = if rec.multi_region {
            let mut tx = self.store.read()?;
            self.load_mrk(&mut *tx, &rec.account_id, &rec.key_id)?
        } else {
            None
        };
        Ok(rec.metadata_with(mrk.as_ref()))
    }

    /// Refuses rotation on a multi-Region replica: its primary rotates for it.
    pub(crate) fn require_not_replica(&self, tx: &mut dyn Txn, rec: &KeyRecord) -> Result<(), KmsError> {
        if rec.multi_region {
            if let Some(m) = self.load_mrk(tx, &rec.account_id, &rec.key_id)? {
                if m.primary_region != rec.region {
                    return Err(KmsError::UnsupportedOperation(format!(
                        "{} is a multi-Region replica: rotate its primary key in {}.",
                        rec.arn(),
                        m.primary_region
                    )));
                }
            }
        }
        Ok(())
    }

    /// Copies a multi-Region key's material (after a rotation) to every other region holding it.
    pub(crate) fn sync_replicas(&self, tx: &mut dyn Txn, rec: &KeyRecord) -> Result<(), KmsError> {
        if !rec.multi_region {
            return Ok(());
        }
        let Some(m) = self.load_mrk(tx, &rec.account_id, &rec.key_id)? else { return Ok(()) };
        for region in std::iter::once(&m.primary_region).chain(m.replicas.iter()).filter(|r| **r != rec.region) {
            let r = KeyRef { account: rec.account_id.clone(), region: region.clone(), key_id: rec.key_id.clone() };
            if let Ok(mut other) = self.load(tx, &r) {
                other.materials = rec.materials.clone();
                other.current_material = rec.current_material.clone();
                self.save(tx, &other)?;
            }
        }
        Ok(())
    }

    pub(crate) fn evict(&self, key_id: &str) {
        if let Ok(mut cache) = self.materials.lock() {
            cache.retain(|(k, _), _| k != key_id);
        }
    }

    /// Encrypts under the key's current material.
    pub(crate) fn seal(
        &self,
        rec: &KeyRecord,
        ctx: &BTreeMap<String, String>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, KmsError> {
        if rec.origin == crate::custom_key_stores::CLOUDHSM {
            return self.hsm_seal(rec, ctx, plaintext);
        }
        let key = self
            .material_key(rec, &rec.current_material)?
            .ok_or_else(|| KmsError::internal(format!("key {} has no current material", rec.key_id)))?;
        let mut mid = [0u8; blob::MATERIAL_ID_LEN];
        hex::decode_to_slice(&rec.current_material, &mut mid).map_err(KmsError::internal)?;
        blob::seal(&key, &rec.key_id, &mid, &trent_crypto::context::encode(ctx), plaintext).map_err(KmsError::internal)
    }

    /// Decrypts a ciphertext blob: finds the key it names (checking `expected_key` if the
    /// caller gave one), checks the key is usable, and opens it with the material it names.
    pub(crate) fn open(
        &self,
        caller: &Caller,
        ciphertext: &[u8],
        ctx: &BTreeMap<String, String>,
        expected_key: Option<&str>,
    ) -> Result<(KeyRecord, SecretBytes, String), KmsError> {
        self.open_checked(caller, ciphertext, ctx, expected_key, &|_| Ok(()))
    }

    /// [`Kms::open`], with `check` run on the key's record once it is known to be usable and
    /// before any material is unwrapped or anything decrypted (authorization goes first).
    pub(crate) fn open_checked(
        &self,
        caller: &Caller,
        ciphertext: &[u8],
        ctx: &BTreeMap<String, String>,
        expected_key: Option<&str>,
        check: &dyn Fn(&KeyRecord) -> Result<(), KmsError>,
    ) -> Result<(KeyRecord, SecretBytes, String), KmsError> {
        let parsed = blob::parse(ciphertext).map_err(|_| KmsError::InvalidCiphertext)?;
        let mut tx = self.store.read()?;
        let r = match expected_key {
            Some(id) => {
                let r = self.resolve(&mut *tx, caller, id, true)?;
                if r.key_id != parsed.key_id {
                    // Make sure the named key exists first: a missing key is NotFound.
                    self.load(&mut *tx, &r)?;
                    return Err(KmsError::IncorrectKey);
                }
                r
            }
            None => {
                let owner = tx.get(T_OWNER, &format!("{}/{}", caller.region, parsed.key_id))?;
                match owner {
                    Some(acct) if acct == caller.account().as_bytes() => KeyRef {
                        account: caller.account().to_string(),
                        region: caller.region.clone(),
                        key_id: parsed.key_id.to_string(),
                    },
                    Some(acct) if caller.cross_account_allowed() => KeyRef {
                        account: String::from_utf8(acct).map_err(KmsError::internal)?,
                        region: caller.region.clone(),
                        key_id: parsed.key_id.to_string(),
                    },
                    Some(_) => return Err(KmsError::Wire(trent_wire::WireError::AccessDenied(
                        "The ciphertext was made under a key in another account; cross-account use is not permitted"
                            .into(),
                    ))),
                    None => return Err(KmsError::InvalidCiphertext),
                }
            }
        };
        let rec = self.load(&mut *tx, &r)?;
        drop(tx);
        require_usable(&rec)?;
        require_symmetric(&rec)?;
        check(&rec)?;
        let mid = hex::encode(parsed.material_id);
        if rec.origin == crate::custom_key_stores::CLOUDHSM {
            let plain = self.hsm_open(&rec, &parsed, ctx)?;
            return Ok((rec, plain, mid));
        }
        let key = self.material_key(&rec, &mid)?.ok_or(KmsError::InvalidCiphertext)?;
        let plain =
            blob::open(&key, &parsed, &trent_crypto::context::encode(ctx)).map_err(|_| KmsError::InvalidCiphertext)?;
        Ok((rec, plain, mid))
    }
}

/// The key's usage must be `usage` (InvalidKeyUsageException otherwise).
pub(crate) fn require_usage(rec: &KeyRecord, usage: &str) -> Result<(), KmsError> {
    if rec.key_usage != usage {
        return Err(KmsError::InvalidKeyUsage(format!(
            "{} key usage is {}, not {usage}: it cannot be used for this operation.",
            rec.arn(),
            rec.key_usage
        )));
    }
    Ok(())
}

/// The asymmetric spec of a key whose usage is `usage`.
pub(crate) fn require_asymmetric(rec: &KeyRecord, usage: &str) -> Result<trent_crypto::asym::Spec, KmsError> {
    require_usage(rec, usage)?;
    rec.spec().ok_or_else(|| {
        KmsError::InvalidKeyUsage(format!("{} is a symmetric key: it cannot be used for this operation.", rec.arn()))
    })
}

/// The DER SubjectPublicKeyInfo of an asymmetric key.
pub(crate) fn public_key_of(rec: &KeyRecord) -> Result<Vec<u8>, KmsError> {
    let b64 = rec
        .public_key
        .as_deref()
        .ok_or_else(|| KmsError::UnsupportedOperation(format!("{} does not have a public key.", rec.arn())))?;
    STANDARD.decode(b64).map_err(KmsError::internal)
}

/// For RSA encryption: the OAEP algorithm named in the request (required, as on AWS), and no
/// encryption context (asymmetric keys do not take one).
fn oaep_algorithm(
    rec: &KeyRecord,
    alg: Option<&str>,
    ctx: &BTreeMap<String, String>,
) -> Result<(trent_crypto::asym::Oaep, &'static str), KmsError> {
    if !ctx.is_empty() {
        return Err(KmsError::validation("EncryptionContext is not supported with asymmetric KMS keys."));
    }
    match alg {
        None => Err(KmsError::validation(format!(
            "EncryptionAlgorithm is required for {} (key spec {}): use RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256.",
            rec.arn(),
            rec.key_spec
        ))),
        Some("RSAES_OAEP_SHA_1") => Ok((trent_crypto::asym::Oaep::Sha1, "RSAES_OAEP_SHA_1")),
        Some("RSAES_OAEP_SHA_256") => Ok((trent_crypto::asym::Oaep::Sha256, "RSAES_OAEP_SHA_256")),
        Some(other) => Err(KmsError::InvalidKeyUsage(format!(
            "The encryption algorithm {other} is not supported by {} (key spec {}).",
            rec.arn(),
            rec.key_spec
        ))),
    }
}

/// Cryptographic operations need an Enabled key.
pub(crate) fn require_usable(rec: &KeyRecord) -> Result<(), KmsError> {
    match rec.state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(KmsError::Disabled(format!("{} is disabled.", rec.arn()))),
        KeyState::PendingDeletion => Err(KmsError::InvalidState(format!("{} is pending deletion.", rec.arn()))),
        KeyState::PendingImport => Err(KmsError::InvalidState(format!("{} is pending import.", rec.arn()))),
        KeyState::PendingReplicaDeletion => {
            Err(KmsError::InvalidState(format!("{} is pending replica deletion.", rec.arn())))
        }
    }
}

/// Management operations that AWS refuses on a key pending deletion.
pub(crate) fn require_not_pending_deletion(rec: &KeyRecord) -> Result<(), KmsError> {
    if matches!(rec.state, KeyState::PendingDeletion | KeyState::PendingReplicaDeletion) {
        return Err(KmsError::InvalidState(format!("{} is pending deletion.", rec.arn())));
    }
    Ok(())
}

pub(crate) fn require_symmetric(rec: &KeyRecord) -> Result<(), KmsError> {
    if rec.key_spec != SYMMETRIC_DEFAULT || rec.key_usage != ENCRYPT_DECRYPT {
        return Err(KmsError::InvalidKeyUsage(format!(
            "{} key usage is {} and key spec is {}: it cannot be used for this operation.",
            rec.arn(),
            rec.key_usage,
            rec.key_spec
        )));
    }
    Ok(())
}

/// `EncryptionAlgorithm`, when given for a symmetric key, must be SYMMETRIC_DEFAULT.
pub(crate) fn require_symmetric_algorithm(rec: &KeyRecord, alg: Option<&str>) -> Result<(), KmsError> {
    match alg {
        None | Some(SYMMETRIC_DEFAULT) => Ok(()),
        Some(other) => Err(KmsError::InvalidKeyUsage(format!(
            "The encryption algorithm {other} is not supported by {} (key spec {}).",
            rec.arn(),
            rec.key_spec
        ))),
    }
}

/// The entries of a schedule index (`<ms, 20 digits>/<account>/<region>/<key id>`) that are due
/// at `now`, with the key each names. The index is ordered by time, so only due rows are read.
fn due(kms: &Kms, table: &str, now: i64) -> Result<Vec<(String, KeyRef)>, KmsError> {
    let mut tx = kms.store.read()?;
    let rows = tx.scan(table, "", None, 1000)?;
    Ok(rows
        .into_iter()
        .map(|(k, _)| k)
        .take_while(|k| k.split('/').next().and_then(|t| t.parse::<i64>().ok()).is_some_and(|t| t <= now))
        .filter_map(|entry| {
            let mut parts = entry.splitn(4, '/');
            let (_, account, region, key_id) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
            let r = KeyRef { account: account.into(), region: region.into(), key_id: key_id.into() };
            Some((entry, r))
        })
        .collect())
}

pub(crate) fn rotation_store_key(ms: i64, r: &KeyRef) -> String {
    format!("{:020}/{}", ms.max(0), r.store_key())
}

pub(crate) fn key_ref(rec: &KeyRecord) -> KeyRef {
    KeyRef { account: rec.account_id.clone(), region: rec.region.clone(), key_id: rec.key_id.clone() }
}

/// Keys that can rotate: symmetric encryption keys whose material KMS made.
pub(crate) fn require_rotatable(rec: &KeyRecord) -> Result<(), KmsError> {
    if rec.key_spec != SYMMETRIC_DEFAULT || rec.origin != "AWS_KMS" {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} cannot be rotated: only symmetric encryption keys with AWS_KMS key material support rotation.",
            rec.arn()
        )));
    }
    Ok(())
}

impl Kms {
    /// Gives `rec` new current material. Earlier material stays for decryption.
    pub(crate) fn rotate(&self, rec: &mut KeyRecord, rotation_type: &str, now_ms: i64) -> Result<(), KmsError> {
        let mut m = self.new_material(&rec.key_id, now_ms)?;
        m.rotation_type = Some(rotation_type.to_string());
        rec.current_material = m.id.clone();
        rec.materials.push(m);
        Ok(())
    }
}

/// Rotates every key whose automatic rotation is due (a server that was down rotates on start).
pub(crate) fn sweep_rotations(kms: &Kms) -> Result<usize, KmsError> {
    let now = kms.clock.now_ms();
    let mut rotated = 0;
    for (entry, r) in due(kms, T_ROTATION, now)? {
        let mut tx = kms.store.write()?;
        tx.delete(T_ROTATION, &entry)?;
        if let Some(raw) = tx.get(T_KEY, &r.store_key())? {
            let mut rec: KeyRecord = serde_json::from_slice(&raw).map_err(KmsError::internal)?;
            if let (Some(days), Some(next)) = (rec.rotation_period_days, rec.next_rotation_ms) {
                if next <= now && rec.state != KeyState::PendingDeletion {
                    kms.rotate(&mut rec, "AUTOMATIC", now)?;
                    kms.sync_replicas(&mut *tx, &rec)?;
                    let next = now + days * 86_400_000;
                    rec.next_rotation_ms = Some(next);
                    tx.put(T_ROTATION, &rotation_store_key(next, &r), b"")?;
                    kms.save(&mut *tx, &rec)?;
                    rotated += 1;
                    tracing::info!(key_id = %r.key_id, "rotated KMS key material (automatic rotation)");
                } else if next > now {
                    tx.put(T_ROTATION, &rotation_store_key(next, &r), b"")?;
                }
            }
        }
        tx.commit()?;
    }
    Ok(rotated)
}

/// After a multi-Region key is deleted in one region: take the region off the key's list, and
/// when a primary waiting for its replicas has none left, start its own waiting period.
fn forget_region(kms: &Kms, tx: &mut dyn Txn, rec: &KeyRecord, now: i64) -> Result<(), KmsError> {
    let Some(mut m) = kms.load_mrk(tx, &rec.account_id, &rec.key_id)? else { return Ok(()) };
    if m.primary_region == rec.region {
        tx.delete(T_MRK, &format!("{}/{}", rec.account_id, rec.key_id))?;
        return Ok(());
    }
    m.replicas.retain(|r| *r != rec.region);
    kms.save_mrk(tx, &rec.account_id, &rec.key_id, &m)?;
    if m.replicas.is_empty() {
        let p =
            KeyRef { account: rec.account_id.clone(), region: m.primary_region.clone(), key_id: rec.key_id.clone() };
        if let Ok(mut primary) = kms.load(tx, &p) {
            if primary.state == KeyState::PendingReplicaDeletion {
                let at = now + primary.pending_window_days.unwrap_or(30) * 86_400_000;
                primary.state = KeyState::PendingDeletion;
                primary.deletion_ms = Some(at);
                tx.put(T_DELETION, &deletion_store_key(at, &p), b"")?;
                kms.save(tx, &primary)?;
            }
        }
    }
    Ok(())
}

/// Removes imported key material past its ValidTo: the key goes back to PendingImport.
pub(crate) fn sweep_material_expiry(kms: &Kms) -> Result<usize, KmsError> {
    let now = kms.clock.now_ms();
    let mut expired = 0;
    for (entry, r) in due(kms, T_EXPIRY, now)? {
        let mut tx = kms.store.write()?;
        tx.delete(T_EXPIRY, &entry)?;
        if let Some(raw) = tx.get(T_KEY, &r.store_key())? {
            let mut rec: KeyRecord = serde_json::from_slice(&raw).map_err(KmsError::internal)?;
            if rec.valid_to_ms.is_some_and(|v| v <= now) {
                clear_imported_material(&mut rec);
                kms.save(&mut *tx, &rec)?;
                expired += 1;
                tracing::info!(key_id = %r.key_id, "imported key material expired and was deleted");
            }
        }
        tx.commit()?;
        kms.evict(&r.key_id);
    }
    Ok(expired)
}

/// Forgets a key's imported material (the key returns to PendingImport).
pub(crate) fn clear_imported_material(rec: &mut KeyRecord) {
    rec.materials.clear();
    rec.current_material.clear();
    rec.valid_to_ms = None;
    rec.expiration_model = None;
    if rec.state != KeyState::PendingDeletion {
        rec.state = KeyState::PendingImport;
    }
}

pub(crate) fn sweep_deletions(kms: &Kms) -> Result<usize, KmsError> {
    let now = kms.clock.now_ms();
    let mut deleted = 0;
    for (entry, r) in due(kms, T_DELETION, now)? {
        let mut tx = kms.store.write()?;
        tx.delete(T_DELETION, &entry)?;
        if let Some(raw) = tx.get(T_KEY, &r.store_key())? {
            let rec: KeyRecord = serde_json::from_slice(&raw).map_err(KmsError::internal)?;
            if rec.state == KeyState::PendingDeletion && rec.deletion_ms.is_some_and(|d| d <= now) {
                if rec.origin == crate::custom_key_stores::CLOUDHSM {
                    kms.hsm_destroy(&rec);
                }
                tx.delete(T_KEY, &r.store_key())?;
                tx.delete(T_OWNER, &format!("{}/{}", r.region, r.key_id))?;
                for g in kms.grants_of(&mut *tx, &r)? {
                    kms.delete_grant(&mut *tx, &g)?;
                }
                if rec.multi_region {
                    forget_region(kms, &mut *tx, &rec, now)?;
                }
                let prefix = format!("{}/{}/", r.account, r.region);
                let mut after: Option<String> = None;
                loop {
                    let page = tx.scan(T_ALIAS, &prefix, after.as_deref(), 500)?;
                    let Some((last, _)) = page.last() else { break };
                    after = Some(last.clone());
                    for (k, v) in &page {
                        let a: AliasRecord = serde_json::from_slice(v).map_err(KmsError::internal)?;
                        if a.target_key_id == r.key_id {
                            tx.delete(T_ALIAS, k)?;
                        }
                    }
                }
                deleted += 1;
                tracing::info!(key_id = %r.key_id, account = %r.account, region = %r.region, "deleted KMS key at the end of its waiting period");
            }
        }
        tx.commit()?;
        kms.evict(&r.key_id);
    }
    Ok(deleted)
}
