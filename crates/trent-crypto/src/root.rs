//! The root key: wraps every piece of key material stored at rest.
//!
//! Wrapped form: `0x01 || iv(12) || AES-256-GCM(material) || tag(16)`, with AAD
//! `"trent-wrap-v1" || len(purpose) || purpose || len(id) || id || len(sub) || sub`,
//! so a wrapped blob cannot be moved to another key id or material id.

use crate::aead::{Aes256Gcm, IV_LEN, KEY_LEN, TAG_LEN};
use crate::{CryptoError, SecretBytes};

const WRAP_VERSION: u8 = 1;
const CHECK_PLAINTEXT: &[u8] = b"trent root key check v1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootKeyError {
    /// Not 32 bytes after decoding.
    BadLength(usize),
    /// The key does not open this store's check value: it is the wrong key.
    Mismatch,
    Crypto(CryptoError),
}

impl std::fmt::Display for RootKeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RootKeyError::BadLength(n) => write!(f, "root key must be 32 bytes, got {n}"),
            RootKeyError::Mismatch => f.write_str("root key does not match the one this store was created with"),
            RootKeyError::Crypto(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RootKeyError {}

/// The 256-bit root key. Never printed; the raw bytes are dropped after the key schedule is built.
pub struct RootKey {
    aead: Aes256Gcm,
}

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootKey(<redacted>)")
    }
}

fn wrap_aad(purpose: &str, id: &str, sub: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32 + purpose.len() + id.len() + sub.len());
    aad.extend_from_slice(b"trent-wrap-v1");
    for part in [purpose.as_bytes(), id.as_bytes(), sub] {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part);
    }
    aad
}

impl RootKey {
    pub fn from_bytes(bytes: &SecretBytes) -> Result<Self, RootKeyError> {
        if bytes.len() != KEY_LEN {
            return Err(RootKeyError::BadLength(bytes.len()));
        }
        Ok(RootKey { aead: Aes256Gcm::from_secret(bytes).map_err(RootKeyError::Crypto)? })
    }

    pub fn generate() -> Result<(Self, SecretBytes), RootKeyError> {
        let bytes = crate::random_secret(KEY_LEN).map_err(RootKeyError::Crypto)?;
        Ok((Self::from_bytes(&bytes)?, bytes))
    }

    /// Wraps `secret` for storage, bound to `(purpose, id, sub)`.
    pub fn wrap(&self, purpose: &str, id: &str, sub: &[u8], secret: &SecretBytes) -> Result<Vec<u8>, CryptoError> {
        let (iv, ct) = self.aead.seal(&wrap_aad(purpose, id, sub), secret.expose())?;
        let mut out = Vec::with_capacity(1 + IV_LEN + ct.len());
        out.push(WRAP_VERSION);
        out.extend_from_slice(&iv);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Unwraps what [`RootKey::wrap`] produced with the same binding.
    pub fn unwrap(&self, purpose: &str, id: &str, sub: &[u8], wrapped: &[u8]) -> Result<SecretBytes, CryptoError> {
        if wrapped.len() < 1 + IV_LEN + TAG_LEN || wrapped[0] != WRAP_VERSION {
            return Err(CryptoError::Invalid);
        }
        self.aead.open(&wrapped[1..1 + IV_LEN], &wrap_aad(purpose, id, sub), &wrapped[1 + IV_LEN..])
    }

    /// A value stored beside the data, so a later start can tell a wrong root key at once.
    pub fn check_value(&self) -> Result<Vec<u8>, CryptoError> {
        self.wrap("root-check", "", b"", &SecretBytes::from_slice(CHECK_PLAINTEXT))
    }

    pub fn verify_check_value(&self, check: &[u8]) -> Result<(), RootKeyError> {
        match self.unwrap("root-check", "", b"", check) {
            Ok(p) if p.ct_eq(CHECK_PLAINTEXT) => Ok(()),
            _ => Err(RootKeyError::Mismatch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_material_is_bound_to_its_key_and_material_id() {
        let (root, _) = RootKey::generate().unwrap();
        let secret = SecretBytes::from_slice(&[9u8; 32]);
        let w = root.wrap("kms-key", "key-1", b"mat-1", &secret).unwrap();
        assert!(root.unwrap("kms-key", "key-1", b"mat-1", &w).unwrap().ct_eq(&[9u8; 32]));
        assert!(root.unwrap("kms-key", "key-2", b"mat-1", &w).is_err());
        assert!(root.unwrap("kms-key", "key-1", b"mat-2", &w).is_err());
        assert!(root.unwrap("access-key", "key-1", b"mat-1", &w).is_err());
    }

    #[test]
    fn wrong_root_key_is_detected_by_check_value() {
        let (a, _) = RootKey::generate().unwrap();
        let (b, _) = RootKey::generate().unwrap();
        let check = a.check_value().unwrap();
        assert!(a.verify_check_value(&check).is_ok());
        assert_eq!(b.verify_check_value(&check), Err(RootKeyError::Mismatch));
    }

    #[test]
    fn root_key_must_be_32_bytes() {
        assert_eq!(RootKey::from_bytes(&SecretBytes::from_slice(&[0u8; 16])).unwrap_err(), RootKeyError::BadLength(16));
    }

    #[test]
    fn ambiguous_bindings_do_not_collide() {
        assert_ne!(wrap_aad("a", "bc", b""), wrap_aad("ab", "c", b""));
    }
}
