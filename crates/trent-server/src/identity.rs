//! Access keys: stored with their secret wrapped under the root key, looked up by the SigV4
//! verifier, and cached in memory (with the signing keys derived from them).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use trent_crypto::{RootKey, SecretBytes};
use trent_policy::Principal;
use trent_store::{Store, StoreError};
use trent_wire::sigv4::{Credential, CredentialLookup};
use zeroize::Zeroizing;

const T_ACCESS_KEY: &str = "iam_access_key";
const WRAP_PURPOSE: &str = "access-key-secret";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessKeyRecord {
    pub access_key_id: String,
    pub principal: Principal,
    pub status: String,
    /// base64 of the root-key-wrapped secret access key.
    #[serde(default)]
    pub secret_wrapped: String,
}

impl AccessKeyRecord {
    pub fn new(id: &str, principal: Principal) -> Self {
        AccessKeyRecord { access_key_id: id.into(), principal, status: "Active".into(), secret_wrapped: String::new() }
    }
}

pub struct Identity {
    store: Arc<dyn Store>,
    root: Arc<RootKey>,
    cache: RwLock<HashMap<String, Arc<Credential<Principal>>>>,
}

fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl Identity {
    pub fn new(store: Arc<dyn Store>, root: Arc<RootKey>) -> Self {
        Identity { store, root, cache: RwLock::new(HashMap::new()) }
    }

    /// A new `AKIA…` id and a 40-character secret, from the CSPRNG.
    pub fn generate_key_pair() -> Result<(String, Zeroizing<String>), trent_crypto::CryptoError> {
        const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        const ANY: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let r = trent_crypto::random_secret(56)?;
        let id: String =
            "AKIA".chars().chain(r.expose()[..16].iter().map(|b| UPPER[(*b % 32) as usize] as char)).collect();
        let secret =
            Zeroizing::new(r.expose()[16..].iter().map(|b| ANY[(*b % 64) as usize] as char).collect::<String>());
        Ok((id, secret))
    }

    /// Stores (or replaces) an access key and its secret.
    pub fn put(&self, rec: &AccessKeyRecord, secret: &str) -> Result<(), StoreError> {
        let wrapped = self
            .root
            .wrap(WRAP_PURPOSE, &rec.access_key_id, b"", &SecretBytes::from_slice(secret.as_bytes()))
            .map_err(internal)?;
        let mut rec = rec.clone();
        rec.secret_wrapped = STANDARD.encode(wrapped);
        let mut t = self.store.write()?;
        t.put(T_ACCESS_KEY, &rec.access_key_id, &serde_json::to_vec(&rec).map_err(internal)?)?;
        t.commit()?;
        if let Ok(mut c) = self.cache.write() {
            c.remove(&rec.access_key_id);
        }
        Ok(())
    }

    fn load(&self, id: &str) -> Result<Option<(AccessKeyRecord, Zeroizing<String>)>, StoreError> {
        let Some(raw) = self.store.read()?.get(T_ACCESS_KEY, id)? else {
            return Ok(None);
        };
        let rec: AccessKeyRecord = serde_json::from_slice(&raw).map_err(internal)?;
        let wrapped = STANDARD.decode(&rec.secret_wrapped).map_err(internal)?;
        let secret = self.root.unwrap(WRAP_PURPOSE, id, b"", &wrapped).map_err(internal)?;
        let secret = Zeroizing::new(String::from_utf8(secret.expose().to_vec()).map_err(internal)?);
        Ok(Some((rec, secret)))
    }

    /// `None` if the key does not exist; otherwise whether its secret is `secret`.
    pub fn secret_matches(&self, id: &str, secret: &str) -> Result<Option<bool>, StoreError> {
        Ok(self.load(id)?.map(|(_, s)| SecretBytes::from_slice(s.as_bytes()).ct_eq(secret.as_bytes())))
    }

    pub fn has_keys_for(&self, account_id: &str) -> Result<bool, StoreError> {
        let rows = self.store.read()?.scan(T_ACCESS_KEY, "", None, 10_000)?;
        Ok(rows.iter().any(|(_, v)| {
            serde_json::from_slice::<AccessKeyRecord>(v).is_ok_and(|r| r.principal.account_id == account_id)
        }))
    }
}

impl CredentialLookup<Principal> for Identity {
    fn lookup(&self, access_key_id: &str, session_token: Option<&str>) -> Option<Arc<Credential<Principal>>> {
        if session_token.is_some() {
            // Temporary credentials arrive with STS; until then a token never matches.
            return None;
        }
        if let Some(c) = self.cache.read().ok().and_then(|c| c.get(access_key_id).cloned()) {
            return Some(c);
        }
        let (rec, secret) = match self.load(access_key_id) {
            Ok(Some(found)) => found,
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(error = %e, "access key lookup failed");
                return None;
            }
        };
        if rec.status != "Active" {
            return None;
        }
        let cred = Arc::new(Credential::new(secret, rec.principal));
        if let Ok(mut c) = self.cache.write() {
            c.insert(access_key_id.to_string(), cred.clone());
        }
        Some(cred)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let d = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(trent_store::sqlite::SqliteStore::open(&d.path().join("t.db")).unwrap());
        let (root, _) = RootKey::generate().unwrap();
        let id = Identity::new(store.clone(), Arc::new(root));
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
}
