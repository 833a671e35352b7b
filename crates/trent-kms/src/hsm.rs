//! HSM-backed keys over PKCS#11 (custom key stores of type `AWS_CLOUDHSM`).
//!
//! Operators declare clusters at start (`--pkcs11-cluster ID=MODULE_PATH:TOKEN_LABEL`): an id of
//! AWS's cluster-id form, a PKCS#11 library, and the label of the token that plays the cluster.
//! A custom key store names a cluster; connecting it logs in to the token with the store's
//! password (the token's user PIN). A key of the store is an AES-256 secret key object **made in
//! the token** (`CKA_TOKEN`, `CKA_SENSITIVE`, not `CKA_EXTRACTABLE`, labelled with the KMS key
//! id); AES-GCM runs in the token, so the key material is never in trentd's memory.
//!
//! Each connected store keeps its login session open and a small pool of further sessions.
//! A module error that says the token or the session is gone drops the connection: the store
//! is then FAILED and its keys refuse to work until it is connected again.

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as PkError, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use trent_crypto::SecretBytes;

/// Sessions kept open per connected store, besides the login session.
const POOL_MAX: usize = 8;

/// One `--pkcs11-cluster` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    pub id: String,
    pub module: PathBuf,
    pub token_label: String,
}

/// AWS's cluster-id form: `cluster-` and 11–16 of `[2-7a-zA-Z]`.
pub fn valid_cluster_id(id: &str) -> bool {
    id.strip_prefix("cluster-").is_some_and(|rest| {
        (11..=16).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphabetic() || (b'2'..=b'7').contains(&b))
    })
}

/// Parses `ID=MODULE_PATH:TOKEN_LABEL` (the module path may not contain `:`).
pub fn parse_cluster(s: &str) -> Result<ClusterSpec, String> {
    let form = "expected ID=MODULE_PATH:TOKEN_LABEL, e.g. cluster-2a23b4cdefg=/usr/lib/softhsm/libsofthsm2.so:trent";
    let (id, rest) = s.split_once('=').ok_or(form)?;
    let (module, label) = rest.split_once(':').ok_or(form)?;
    if !valid_cluster_id(id) {
        return Err(format!("'{id}' is not a cluster id: `cluster-` and 11-16 of 2-7, a-z, A-Z"));
    }
    if module.is_empty() || label.is_empty() || label.len() > 32 {
        return Err(format!("{form} (the token label is 1-32 characters)"));
    }
    Ok(ClusterSpec { id: id.to_string(), module: PathBuf::from(module), token_label: label.to_string() })
}

/// Why a connection failed, as `ConnectionErrorCode` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    /// No such cluster, its module does not load, or no token has its label.
    ClusterNotFound,
    /// The token refused the PIN.
    InvalidCredentials,
    /// Anything else the module answered.
    InternalError,
}

impl ConnectError {
    pub fn code(self) -> &'static str {
        match self {
            ConnectError::ClusterNotFound => "CLUSTER_NOT_FOUND",
            ConnectError::InvalidCredentials => "INVALID_CREDENTIALS",
            ConnectError::InternalError => "INTERNAL_ERROR",
        }
    }
}

/// A failure of a key operation in the token.
#[derive(Debug)]
pub enum HsmError {
    /// The store is not connected (or its connection just broke).
    NotConnected,
    /// The key's object is not in the token (re-initialised, or destroyed behind Trent's back).
    KeyMissing,
    /// GCM did not authenticate.
    InvalidCiphertext,
    Module(String),
}

struct Connection {
    module: Pkcs11,
    slot: Slot,
    /// Keeps the token logged in for every session of this process.
    _login: Mutex<Session>,
    pool: Mutex<Vec<Session>>,
}

/// The configured clusters and the live connections of custom key stores.
#[derive(Default)]
pub struct Hsm {
    clusters: Vec<ClusterSpec>,
    modules: Mutex<HashMap<PathBuf, Pkcs11>>,
    connections: Mutex<HashMap<String, Arc<Connection>>>,
}

fn gone(e: &PkError) -> bool {
    matches!(
        e,
        PkError::Pkcs11(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::TokenNotPresent
                | RvError::TokenNotRecognized
                | RvError::DeviceRemoved
                | RvError::DeviceError
                | RvError::UserNotLoggedIn
                | RvError::CryptokiNotInitialized,
            _
        )
    )
}

impl Hsm {
    pub fn new(clusters: Vec<ClusterSpec>) -> Hsm {
        Hsm { clusters, ..Default::default() }
    }

    pub fn cluster(&self, id: &str) -> Option<&ClusterSpec> {
        self.clusters.iter().find(|c| c.id == id)
    }

    fn module(&self, path: &Path) -> Result<Pkcs11, ConnectError> {
        let mut modules = self.modules.lock().map_err(|_| ConnectError::InternalError)?;
        if let Some(m) = modules.get(path) {
            return Ok(m.clone());
        }
        let m = Pkcs11::new(path).map_err(|e| {
            tracing::warn!(module = %path.display(), error = %e, "PKCS#11 module does not load");
            ConnectError::ClusterNotFound
        })?;
        match m.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(PkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => {
                tracing::warn!(module = %path.display(), error = %e, "PKCS#11 module does not initialize");
                return Err(ConnectError::ClusterNotFound);
            }
        }
        modules.insert(path.to_path_buf(), m.clone());
        Ok(m)
    }

    /// Logs in to the cluster's token with `pin` and keeps the connection for `store_id`.
    pub fn connect(&self, store_id: &str, cluster_id: &str, pin: &str) -> Result<(), ConnectError> {
        let spec = self.cluster(cluster_id).ok_or(ConnectError::ClusterNotFound)?.clone();
        let module = self.module(&spec.module)?;
        let slots = module.get_slots_with_token().map_err(|_| ConnectError::InternalError)?;
        let slot = slots
            .into_iter()
            .find(|s| module.get_token_info(*s).is_ok_and(|t| t.label().trim_end() == spec.token_label))
            .ok_or(ConnectError::ClusterNotFound)?;
        let login = module.open_rw_session(slot).map_err(|_| ConnectError::InternalError)?;
        match login.login(UserType::User, Some(&AuthPin::from(pin.to_string()))) {
            Ok(()) | Err(PkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(PkError::Pkcs11(
                RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange | RvError::PinLocked,
                _,
            )) => return Err(ConnectError::InvalidCredentials),
            Err(e) => {
                tracing::warn!(cluster = cluster_id, error = %e, "PKCS#11 login failed");
                return Err(ConnectError::InternalError);
            }
        }
        let conn = Arc::new(Connection { module, slot, _login: Mutex::new(login), pool: Mutex::new(Vec::new()) });
        if let Ok(mut c) = self.connections.lock() {
            c.insert(store_id.to_string(), conn);
        }
        Ok(())
    }

    pub fn disconnect(&self, store_id: &str) {
        if let Ok(mut c) = self.connections.lock() {
            c.remove(store_id);
        }
    }

    pub fn is_connected(&self, store_id: &str) -> bool {
        self.connections.lock().is_ok_and(|c| c.contains_key(store_id))
    }

    /// Runs `f` on a pooled session of the store's connection. A module error saying the token
    /// or session is gone drops the connection.
    fn with_session<T>(
        &self,
        store_id: &str,
        f: impl FnOnce(&Session) -> Result<T, PkError>,
    ) -> Result<T, (HsmError, Option<PkError>)> {
        let conn = self
            .connections
            .lock()
            .ok()
            .and_then(|c| c.get(store_id).cloned())
            .ok_or((HsmError::NotConnected, None))?;
        let pooled = conn.pool.lock().ok().and_then(|mut p| p.pop());
        let session = match pooled {
            Some(s) => s,
            None => conn.module.open_rw_session(conn.slot).map_err(|e| {
                if gone(&e) {
                    self.disconnect(store_id);
                    (HsmError::NotConnected, Some(e))
                } else {
                    (HsmError::Module(e.to_string()), Some(e))
                }
            })?,
        };
        match f(&session) {
            Ok(v) => {
                if let Ok(mut p) = conn.pool.lock() {
                    if p.len() < POOL_MAX {
                        p.push(session);
                    }
                }
                Ok(v)
            }
            Err(e) if gone(&e) => {
                tracing::warn!(store = store_id, error = %e, "PKCS#11 token or session gone; store disconnected");
                self.disconnect(store_id);
                Err((HsmError::NotConnected, Some(e)))
            }
            Err(e) => Err((HsmError::Module(e.to_string()), Some(e))),
        }
    }

    fn find_key(session: &Session, label: &str) -> Result<Option<ObjectHandle>, PkError> {
        let found = session
            .find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY), Attribute::Label(label.as_bytes().to_vec())])?;
        Ok(found.into_iter().next())
    }

    /// Makes a new AES-256 key in the token, labelled `label` (the KMS key id).
    pub fn generate_aes(&self, store_id: &str, label: &str) -> Result<(), HsmError> {
        self.with_session(store_id, |s| {
            let template = [
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(32u64.into()),
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(label.as_bytes().to_vec()),
            ];
            s.generate_key(&Mechanism::AesKeyGen, &template).map(|_| ())
        })
        .map_err(|(e, _)| e)
    }

    /// AES-256-GCM in the token: returns ciphertext || 16-byte tag.
    pub fn encrypt(
        &self,
        store_id: &str,
        label: &str,
        iv: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, HsmError> {
        let out = self.with_session(store_id, |s| {
            let Some(key) = Self::find_key(s, label)? else { return Ok(None) };
            let mut iv = *iv;
            let params = GcmParams::new(&mut iv, aad, 128u64.into())?;
            s.encrypt(&Mechanism::AesGcm(params), key, plaintext).map(Some)
        });
        match out {
            Ok(Some(ct)) => Ok(ct),
            Ok(None) => Err(HsmError::KeyMissing),
            Err((e, _)) => Err(e),
        }
    }

    /// Decrypts ciphertext || tag in the token.
    pub fn decrypt(
        &self,
        store_id: &str,
        label: &str,
        iv: &[u8],
        aad: &[u8],
        body: &[u8],
    ) -> Result<SecretBytes, HsmError> {
        let mut iv_buf = iv.to_vec();
        let out = self.with_session(store_id, |s| {
            let Some(key) = Self::find_key(s, label)? else { return Ok(None) };
            let params = GcmParams::new(&mut iv_buf, aad, 128u64.into())?;
            match s.decrypt(&Mechanism::AesGcm(params), key, body) {
                Ok(p) => Ok(Some(Ok(SecretBytes::from_slice(&zeroize::Zeroizing::new(p))))),
                // SoftHSMv2 answers a GCM tag mismatch with CKR_GENERAL_ERROR; others with
                // CKR_ENCRYPTED_DATA_INVALID.
                Err(PkError::Pkcs11(
                    RvError::EncryptedDataInvalid
                    | RvError::EncryptedDataLenRange
                    | RvError::GeneralError
                    | RvError::FunctionFailed,
                    _,
                )) => Ok(Some(Err(HsmError::InvalidCiphertext))),
                Err(e) => Err(e),
            }
        });
        match out {
            Ok(Some(r)) => r,
            Ok(None) => Err(HsmError::KeyMissing),
            Err((e, _)) => Err(e),
        }
    }

    /// Destroys the key object labelled `label` (a key whose waiting period ended). A missing
    /// object is not an error.
    pub fn destroy(&self, store_id: &str, label: &str) -> Result<(), HsmError> {
        self.with_session(store_id, |s| {
            while let Some(k) = Self::find_key(s, label)? {
                s.destroy_object(k)?;
            }
            Ok(())
        })
        .map_err(|(e, _)| e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_specs_follow_aws_cluster_ids() {
        let c = parse_cluster("cluster-2a23b4cdefg=/usr/lib/softhsm/libsofthsm2.so:trent").unwrap();
        assert_eq!(c.id, "cluster-2a23b4cdefg");
        assert_eq!(c.module, PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"));
        assert_eq!(c.token_label, "trent");
        assert!(parse_cluster("cluster-short=/m.so:t").is_err());
        assert!(parse_cluster("cluster-2a23b4cdefg=/m.so").is_err());
        assert!(parse_cluster("cluster-1a23b4cdef0=/m.so:t").is_err()); // '0' is not in 2-7
        assert!(!valid_cluster_id("cluster-abcdefghijklmnopq"));
        assert!(valid_cluster_id("cluster-abcdefghijk"));
    }

    #[test]
    fn an_unknown_cluster_or_module_is_cluster_not_found() {
        let hsm = Hsm::new(vec![parse_cluster("cluster-2a23b4cdefg=/nonexistent/libnothing.so:t").unwrap()]);
        assert_eq!(hsm.connect("cks-1", "cluster-other123456", "1234"), Err(ConnectError::ClusterNotFound));
        assert_eq!(hsm.connect("cks-1", "cluster-2a23b4cdefg", "1234"), Err(ConnectError::ClusterNotFound));
        assert!(!hsm.is_connected("cks-1"));
        assert!(matches!(hsm.encrypt("cks-1", "k", &[0; 12], b"", b"x"), Err(HsmError::NotConnected)));
    }
}
