//! Access keys and session credentials: stored with their secrets wrapped under the root key,
//! looked up by the SigV4 verifier, and cached in memory (with the signing keys derived from
//! them).
//!
//! * `iam_access_key` (key: access key id): long-term `AKIA…` keys of account roots and IAM
//!   users — the same records and wrapping the first admin keys were stored with, so existing
//!   data directories keep working.
//! * `iam_session` (key: access key id): `ASIA…` credentials from `AssumeRole`, each with the
//!   SHA-256 of its session token and its expiry. A request signed with one must carry the
//!   token (`X-Amz-Security-Token`); it is compared in constant time, and an expired session
//!   is refused with `ExpiredTokenException`.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use subtle::ConstantTimeEq;
use trent_crypto::{RootKey, SecretBytes};
use trent_policy::Principal;
use trent_store::{Store, StoreError};
use trent_wire::sigv4::{Credential, CredentialLookup};
use trent_wire::WireError;
use zeroize::Zeroizing;

pub const T_ACCESS_KEY: &str = "iam_access_key";
pub const T_SESSION: &str = "iam_session";
const WRAP_PURPOSE: &str = "access-key-secret";
const SESSION_WRAP_PURPOSE: &str = "session-secret";
/// How long an expired session is kept so that it is refused as expired, not as unknown.
pub const SESSION_RETENTION_MS: i64 = 7 * 86_400_000;

/// A long-term access key. `created_ms` is absent in records written before IAM existed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessKeyRecord {
    pub access_key_id: String,
    pub principal: Principal,
    pub status: String,
    /// base64 of the root-key-wrapped secret access key.
    #[serde(default)]
    pub secret_wrapped: String,
    #[serde(default)]
    pub created_ms: i64,
}

impl AccessKeyRecord {
    pub fn new(id: &str, principal: Principal) -> Self {
        AccessKeyRecord {
            access_key_id: id.into(),
            principal,
            status: "Active".into(),
            secret_wrapped: String::new(),
            created_ms: 0,
        }
    }
}

/// Temporary credentials issued by `AssumeRole`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub access_key_id: String,
    pub principal: Principal,
    pub secret_wrapped: String,
    /// Hex SHA-256 of the session token (the token itself is never stored).
    pub token_sha256: String,
    pub expires_ms: i64,
}

type Now = Arc<dyn Fn() -> i64 + Send + Sync>;

pub struct Identity {
    store: Arc<dyn Store>,
    root: Arc<RootKey>,
    cache: RwLock<HashMap<String, Cached>>,
    now_ms: RwLock<Now>,
}

/// A cached credential, with the wrapped secret it was made from and when it was last checked
/// against the store: after [`REVALIDATE`] the record is read again, so a key deactivated,
/// deleted or re-keyed through another node stops working here within a second.
struct Cached {
    cred: Arc<Credential<Principal>>,
    wrapped: String,
    checked: std::time::Instant,
}

/// How long a cached credential is trusted without reading its record again.
pub const REVALIDATE: std::time::Duration = std::time::Duration::from_secs(1);

fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn real_now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const ANY: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `prefix` followed by `n` characters of `A-Z2-7` from the CSPRNG (AWS's id alphabet).
pub fn random_id(prefix: &str, n: usize) -> Result<String, trent_crypto::CryptoError> {
    let r = trent_crypto::random_secret(n)?;
    Ok(prefix.chars().chain(r.expose().iter().map(|b| UPPER[(*b % 32) as usize] as char)).collect())
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data))
}

impl Identity {
    pub fn new(store: Arc<dyn Store>, root: Arc<RootKey>) -> Self {
        Identity { store, root, cache: RwLock::new(HashMap::new()), now_ms: RwLock::new(Arc::new(real_now_ms)) }
    }

    /// The clock session expiry is read from (the server passes its business clock, which
    /// tests may move with `--unsafe-test-clock`).
    pub fn set_clock(&self, now_ms: impl Fn() -> i64 + Send + Sync + 'static) {
        if let Ok(mut n) = self.now_ms.write() {
            *n = Arc::new(now_ms);
        }
    }

    pub fn now_ms(&self) -> i64 {
        match self.now_ms.read() {
            Ok(n) => n(),
            Err(_) => real_now_ms(),
        }
    }

    /// A new `AKIA…` id and a 40-character secret, from the CSPRNG.
    pub fn generate_key_pair() -> Result<(String, Zeroizing<String>), trent_crypto::CryptoError> {
        Self::generate_pair("AKIA")
    }

    fn generate_pair(prefix: &str) -> Result<(String, Zeroizing<String>), trent_crypto::CryptoError> {
        let id = random_id(prefix, 16)?;
        let r = trent_crypto::random_secret(40)?;
        let secret = Zeroizing::new(r.expose().iter().map(|b| ANY[(*b % 64) as usize] as char).collect::<String>());
        Ok((id, secret))
    }

    fn wrap(&self, purpose: &str, id: &str, secret: &str) -> Result<String, StoreError> {
        let wrapped =
            self.root.wrap(purpose, id, b"", &SecretBytes::from_slice(secret.as_bytes())).map_err(internal)?;
        Ok(STANDARD.encode(wrapped))
    }

    fn unwrap(&self, purpose: &str, id: &str, wrapped: &str) -> Result<Zeroizing<String>, StoreError> {
        let wrapped = STANDARD.decode(wrapped).map_err(internal)?;
        let secret = self.root.unwrap(purpose, id, b"", &wrapped).map_err(internal)?;
        Ok(Zeroizing::new(String::from_utf8(secret.expose().to_vec()).map_err(internal)?))
    }

    /// Stores (or replaces) an access key and its secret.
    pub fn put(&self, rec: &AccessKeyRecord, secret: &str) -> Result<(), StoreError> {
        let mut rec = rec.clone();
        rec.secret_wrapped = self.wrap(WRAP_PURPOSE, &rec.access_key_id, secret)?;
        let mut t = self.store.write()?;
        t.put(T_ACCESS_KEY, &rec.access_key_id, &serde_json::to_vec(&rec).map_err(internal)?)?;
        t.commit()?;
        self.forget(&rec.access_key_id);
        Ok(())
    }

    /// Drops a key from the cache (after its status changed or it was deleted).
    pub fn forget(&self, id: &str) {
        if let Ok(mut c) = self.cache.write() {
            c.remove(id);
        }
    }

    /// The stored record of an access key (its secret still wrapped).
    pub fn record(&self, id: &str) -> Result<Option<AccessKeyRecord>, StoreError> {
        let Some(raw) = self.store.read()?.get(T_ACCESS_KEY, id)? else { return Ok(None) };
        serde_json::from_slice(&raw).map(Some).map_err(internal)
    }

    /// Every access key of `account_id` whose principal matches `filter`.
    pub fn records_where(&self, filter: impl Fn(&AccessKeyRecord) -> bool) -> Result<Vec<AccessKeyRecord>, StoreError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let rows = self.store.read()?.scan(T_ACCESS_KEY, "", after.as_deref(), 1000)?;
            let done = rows.len() < 1000;
            for (k, v) in rows {
                if let Ok(r) = serde_json::from_slice::<AccessKeyRecord>(&v) {
                    if filter(&r) {
                        out.push(r);
                    }
                }
                after = Some(k);
            }
            if done {
                return Ok(out);
            }
        }
    }

    /// Replaces a record without touching its secret (status changes).
    pub fn update_record(&self, rec: &AccessKeyRecord) -> Result<(), StoreError> {
        let mut t = self.store.write()?;
        t.put(T_ACCESS_KEY, &rec.access_key_id, &serde_json::to_vec(rec).map_err(internal)?)?;
        t.commit()?;
        self.forget(&rec.access_key_id);
        Ok(())
    }

    /// Deletes an access key; whether it existed.
    pub fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let mut t = self.store.write()?;
        let gone = t.delete(T_ACCESS_KEY, id)?;
        t.commit()?;
        self.forget(id);
        Ok(gone)
    }

    fn load(&self, id: &str) -> Result<Option<(AccessKeyRecord, Zeroizing<String>)>, StoreError> {
        let Some(rec) = self.record(id)? else { return Ok(None) };
        let secret = self.unwrap(WRAP_PURPOSE, id, &rec.secret_wrapped)?;
        Ok(Some((rec, secret)))
    }

    /// `None` if the key does not exist; otherwise whether its secret is `secret`.
    pub fn secret_matches(&self, id: &str, secret: &str) -> Result<Option<bool>, StoreError> {
        Ok(self.load(id)?.map(|(_, s)| SecretBytes::from_slice(s.as_bytes()).ct_eq(secret.as_bytes())))
    }

    pub fn has_keys_for(&self, account_id: &str) -> Result<bool, StoreError> {
        Ok(!self.records_where(|r| r.principal.account_id == account_id)?.is_empty())
    }

    /// Issues session credentials for `principal` valid until `expires_ms`: the `ASIA…` id, the
    /// secret and the session token.
    pub fn issue_session(
        &self,
        principal: Principal,
        expires_ms: i64,
    ) -> Result<(String, Zeroizing<String>, Zeroizing<String>), StoreError> {
        let (id, secret) = Self::generate_pair("ASIA").map_err(internal)?;
        let raw = trent_crypto::random_secret(96).map_err(internal)?;
        let token = Zeroizing::new(format!("TRNT{}", URL_SAFE_NO_PAD.encode(raw.expose())));
        let rec = SessionRecord {
            access_key_id: id.clone(),
            principal,
            secret_wrapped: self.wrap(SESSION_WRAP_PURPOSE, &id, &secret)?,
            token_sha256: sha256_hex(token.as_bytes()),
            expires_ms,
        };
        let mut t = self.store.write()?;
        t.put(T_SESSION, &id, &serde_json::to_vec(&rec).map_err(internal)?)?;
        t.commit()?;
        Ok((id, secret, token))
    }

    /// Deletes session credentials that expired more than [`SESSION_RETENTION_MS`] ago (until
    /// then they keep answering `ExpiredToken`, as AWS does, rather than "invalid"). Returns how
    /// many were deleted.
    pub fn sweep_expired_sessions(&self) -> Result<usize, StoreError> {
        let now = self.now_ms() - SESSION_RETENTION_MS;
        let mut expired = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let rows = self.store.read()?.scan(T_SESSION, "", after.as_deref(), 1000)?;
            let done = rows.len() < 1000;
            for (k, v) in rows {
                if serde_json::from_slice::<SessionRecord>(&v).is_ok_and(|r| r.expires_ms <= now) {
                    expired.push(k.clone());
                }
                after = Some(k);
            }
            if done {
                break;
            }
        }
        for chunk in expired.chunks(500) {
            let mut t = self.store.write()?;
            for k in chunk {
                t.delete(T_SESSION, k)?;
            }
            t.commit()?;
        }
        Ok(expired.len())
    }

    fn session(&self, id: &str, token: Option<&str>) -> Result<Arc<Credential<Principal>>, WireError> {
        let token = token.ok_or(WireError::UnrecognizedClient)?;
        let raw = match self.store.read().and_then(|mut t| t.get(T_SESSION, id)) {
            Ok(Some(raw)) => raw,
            Ok(None) => return Err(WireError::UnrecognizedClient),
            Err(e) => {
                tracing::error!(error = %e, "session lookup failed");
                return Err(WireError::UnrecognizedClient);
            }
        };
        let rec: SessionRecord = serde_json::from_slice(&raw).map_err(|_| WireError::UnrecognizedClient)?;
        let presented = sha256_hex(token.as_bytes());
        if !bool::from(presented.as_bytes().ct_eq(rec.token_sha256.as_bytes())) {
            return Err(WireError::UnrecognizedClient);
        }
        if self.now_ms() >= rec.expires_ms {
            return Err(WireError::ExpiredToken);
        }
        let secret = self.unwrap(SESSION_WRAP_PURPOSE, id, &rec.secret_wrapped).map_err(|e| {
            tracing::error!(error = %e, "session secret could not be unwrapped");
            WireError::UnrecognizedClient
        })?;
        Ok(Arc::new(Credential::new(secret, rec.principal)))
    }
}

impl CredentialLookup<Principal> for Identity {
    fn lookup(&self, access_key_id: &str, session_token: Option<&str>) -> Option<Arc<Credential<Principal>>> {
        self.lookup_checked(access_key_id, session_token).ok()
    }

    fn lookup_checked(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<Arc<Credential<Principal>>, WireError> {
        if access_key_id.starts_with("ASIA") {
            return self.session(access_key_id, session_token);
        }
        if session_token.is_some() {
            // A long-term key never comes with a session token.
            return Err(WireError::UnrecognizedClient);
        }
        let cached = self.cache.read().ok().and_then(|c| {
            c.get(access_key_id).map(|e| (e.cred.clone(), e.wrapped.clone(), e.checked.elapsed() < REVALIDATE))
        });
        let stale = match cached {
            Some((cred, _, true)) => return Ok(cred),
            Some((cred, wrapped, false)) => Some((cred, wrapped)),
            None => None,
        };
        if let Some((cred, wrapped)) = stale {
            // Still the same active key: keep the credential (and its derived signing keys).
            match self.record(access_key_id) {
                Ok(Some(rec)) if rec.status == "Active" && rec.secret_wrapped == wrapped => {
                    if let Ok(mut c) = self.cache.write() {
                        if let Some(e) = c.get_mut(access_key_id) {
                            e.checked = std::time::Instant::now();
                        }
                    }
                    return Ok(cred);
                }
                Ok(_) => {
                    if let Ok(mut c) = self.cache.write() {
                        c.remove(access_key_id);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "access key lookup failed");
                    return Err(WireError::UnrecognizedClient);
                }
            }
        }
        let (rec, secret) = match self.load(access_key_id) {
            Ok(Some(found)) => found,
            Ok(None) => return Err(WireError::UnrecognizedClient),
            Err(e) => {
                tracing::error!(error = %e, "access key lookup failed");
                return Err(WireError::UnrecognizedClient);
            }
        };
        if rec.status != "Active" {
            return Err(WireError::UnrecognizedClient);
        }
        let wrapped = rec.secret_wrapped.clone();
        let cred = Arc::new(Credential::new(secret, rec.principal));
        if let Ok(mut c) = self.cache.write() {
            let checked = std::time::Instant::now();
            c.insert(access_key_id.to_string(), Cached { cred: cred.clone(), wrapped, checked });
        }
        Ok(cred)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    fn identity() -> (tempfile::TempDir, Arc<dyn Store>, Identity) {
        let d = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(trent_store::sqlite::SqliteStore::open(&d.path().join("t.db")).unwrap());
        let (root, _) = RootKey::generate().unwrap();
        let id = Identity::new(store.clone(), Arc::new(root));
        (d, store, id)
    }

    #[test]
    fn generated_keys_look_like_aws_keys_and_differ() {
        let (a, sa) = Identity::generate_key_pair().unwrap();
        let (b, _) = Identity::generate_key_pair().unwrap();
        assert!(a.starts_with("AKIA") && a.len() == 20 && a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(sa.len(), 40);
        assert_ne!(a, b);
    }

    #[test]
    fn secrets_are_stored_wrapped_and_looked_up() {
        let (_d, store, id) = identity();
        id.put(&AccessKeyRecord::new("AKIATEST", Principal::root("111122223333")), "s3cr3t-value").unwrap();
        let raw = store.read().unwrap().get(T_ACCESS_KEY, "AKIATEST").unwrap().unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("s3cr3t-value"), "secret stored in the clear");
        assert_eq!(id.secret_matches("AKIATEST", "s3cr3t-value").unwrap(), Some(true));
        assert_eq!(id.secret_matches("AKIATEST", "other").unwrap(), Some(false));
        assert!(id.lookup("AKIATEST", None).is_some());
        assert!(id.lookup("AKIATEST", Some("token")).is_none());
        assert!(id.lookup("AKIANOPE", None).is_none());
        assert!(id.has_keys_for("111122223333").unwrap());
        assert!(!id.has_keys_for("000000000000").unwrap());
    }

    #[test]
    fn a_key_changed_by_another_node_is_seen_within_a_second() {
        let (_d, store, id) = identity();
        id.put(&AccessKeyRecord::new("AKIANODE", Principal::root("111122223333")), "secret-1").unwrap();
        let first = id.lookup("AKIANODE", None).unwrap();
        // Another node deactivates the key: written straight to the shared store, so this
        // node's cache is not told.
        let other = Identity::new(store.clone(), id.root.clone());
        let mut rec = other.record("AKIANODE").unwrap().unwrap();
        rec.status = "Inactive".into();
        let mut t = store.write().unwrap();
        t.put(T_ACCESS_KEY, "AKIANODE", &serde_json::to_vec(&rec).unwrap()).unwrap();
        t.commit().unwrap();
        std::thread::sleep(REVALIDATE + std::time::Duration::from_millis(100));
        assert!(id.lookup("AKIANODE", None).is_none(), "a deactivated key still works after a second");
        // Re-activated with the same secret: works again.
        rec.status = "Active".into();
        let mut t = store.write().unwrap();
        t.put(T_ACCESS_KEY, "AKIANODE", &serde_json::to_vec(&rec).unwrap()).unwrap();
        t.commit().unwrap();
        let again = id.lookup("AKIANODE", None).unwrap();
        // An unchanged key keeps its cached credential after revalidation.
        std::thread::sleep(REVALIDATE + std::time::Duration::from_millis(100));
        assert!(Arc::ptr_eq(&again, &id.lookup("AKIANODE", None).unwrap()));
        drop(first);
    }

    #[test]
    fn records_written_before_iam_still_load() {
        let (_d, store, id) = identity();
        id.put(&AccessKeyRecord::new("AKIAOLD", Principal::root("111122223333")), "old-secret").unwrap();
        // Strip created_ms as the pre-IAM format had no such field.
        let raw = store.read().unwrap().get(T_ACCESS_KEY, "AKIAOLD").unwrap().unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        v.as_object_mut().unwrap().remove("created_ms");
        let mut t = store.write().unwrap();
        t.put(T_ACCESS_KEY, "AKIAOLD", &serde_json::to_vec(&v).unwrap()).unwrap();
        t.commit().unwrap();
        id.forget("AKIAOLD");
        assert!(id.lookup("AKIAOLD", None).is_some());
    }

    #[test]
    fn session_needs_its_exact_token_and_expires() {
        let (_d, store, id) = identity();
        let now = Arc::new(AtomicI64::new(1_000_000));
        let n = now.clone();
        id.set_clock(move || n.load(Ordering::Relaxed));
        let (akid, _secret, token) = id.issue_session(Principal::root("111122223333"), 1_000_000 + 900_000).unwrap();
        assert!(akid.starts_with("ASIA") && akid.len() == 20);
        let raw = store.read().unwrap().get(T_SESSION, &akid).unwrap().unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains(token.as_str()), "token stored in the clear");
        assert!(id.lookup_checked(&akid, Some(&token)).is_ok());
        assert_eq!(id.lookup_checked(&akid, None).unwrap_err(), WireError::UnrecognizedClient);
        let mut forged = token.to_string();
        forged.push('x');
        assert_eq!(id.lookup_checked(&akid, Some(&forged)).unwrap_err(), WireError::UnrecognizedClient);
        assert_eq!(id.lookup_checked("ASIANOSUCHSESSION000", Some(&token)).unwrap_err(), WireError::UnrecognizedClient);
        assert_eq!(id.sweep_expired_sessions().unwrap(), 0, "a live session must survive the sweep");
        now.store(1_000_000 + 900_000, Ordering::Relaxed);
        assert_eq!(id.lookup_checked(&akid, Some(&token)).unwrap_err(), WireError::ExpiredToken);
        assert_eq!(id.sweep_expired_sessions().unwrap(), 0, "kept a while to answer ExpiredToken");
        now.store(1_000_000 + 900_000 + SESSION_RETENTION_MS, Ordering::Relaxed);
        assert_eq!(id.sweep_expired_sessions().unwrap(), 1);
        assert!(store.read().unwrap().get(T_SESSION, &akid).unwrap().is_none());
        assert_eq!(id.lookup_checked(&akid, Some(&token)).unwrap_err(), WireError::UnrecognizedClient);
    }
}
