//! Trent's cryptography, with no I/O.
//!
//! * [`SecretBytes`]: key material and plaintext that zeroize on drop, never print,
//!   and compare only in constant time.
//! * [`aead`]: AES-256-GCM over aws-lc-rs.
//! * [`RootKey`]: wraps key material at rest, bound to its key id and material id.
//! * [`blob`]: the versioned ciphertext-blob format that KMS returns (see `docs/CIPHERTEXT.md`).
//! * [`context`]: the unambiguous canonical encoding of an encryption context.
//!
//! Every primitive comes from aws-lc-rs; nothing here is hand-rolled.
#![deny(unsafe_code)]

pub mod aead;
pub mod asym;
pub mod audit;
pub mod blob;
pub mod context;
mod root;
mod secret;

pub use root::{RootKey, RootKeyError};
pub use secret::SecretBytes;

/// Errors from the primitives. Deliberately carries no detail: a failed open says nothing
/// about why, and no error ever contains key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// Authentication failed, or the input was malformed.
    Invalid,
    /// The system random generator or a primitive failed unexpectedly.
    Internal,
}

impl std::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CryptoError::Invalid => f.write_str("invalid or unauthenticated input"),
            CryptoError::Internal => f.write_str("internal cryptographic failure"),
        }
    }
}

impl std::error::Error for CryptoError {}

/// Fills `buf` from the system CSPRNG (aws-lc-rs).
pub fn fill_random(buf: &mut [u8]) -> Result<(), CryptoError> {
    aws_lc_rs::rand::fill(buf).map_err(|_| CryptoError::Internal)
}

/// `n` random bytes as a [`SecretBytes`].
pub fn random_secret(n: usize) -> Result<SecretBytes, CryptoError> {
    let mut v = SecretBytes::zeroed(n);
    fill_random(v.as_mut_slice())?;
    Ok(v)
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}
