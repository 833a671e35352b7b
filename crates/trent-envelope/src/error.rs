//! One typed error for everything the library can refuse.

use std::fmt;

/// Why an operation failed. Messages never contain key material or plaintext.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Reading the input or writing the output failed.
    Io(std::io::Error),
    /// The message ended before `what` was complete.
    Truncated { what: &'static str },
    /// A field of the message has a value the format does not allow.
    Malformed(String),
    /// The algorithm suite id is not one this library knows.
    UnknownSuite(u16),
    /// The commitment policy forbids this suite for this operation.
    CommitmentPolicy(String),
    /// The commitment key in the header does not match the data key (v2 messages).
    CommitmentMismatch,
    /// The header authentication tag did not verify.
    HeaderAuthentication,
    /// A body frame (or the non-framed body) failed its AES-GCM tag check.
    BodyAuthentication { sequence: u32 },
    /// Frames are out of order (reordered, dropped or duplicated).
    BadSequenceNumber { expected: u32, found: u32 },
    /// A frame's IV is not the one its sequence number requires.
    BadIv { sequence: u32 },
    /// The footer signature did not verify.
    SignatureInvalid,
    /// Bytes follow the end of the message.
    TrailingData,
    /// More encrypted data keys than the configured maximum.
    TooManyEncryptedDataKeys { max: usize, found: usize },
    /// The caller required an encryption context pair the message lacks (or has with another value).
    EncryptionContextMismatch { key: String },
    /// The caller's encryption context uses a reserved key (`aws-crypto-` prefix).
    ReservedEncryptionContextKey(String),
    /// No keyring could decrypt any of the message's encrypted data keys.
    NoDecryptableDataKey(Vec<String>),
    /// A keyring could not produce or wrap a data key.
    Keyring(String),
    /// A call to KMS failed.
    Kms(crate::kms::KmsError),
    /// A caller-supplied argument is invalid (frame length, key size, ...).
    InvalidArgument(String),
    /// A cryptographic primitive failed unexpectedly.
    Crypto(&'static str),
}

pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Truncated { what } => write!(f, "message is truncated: incomplete {what}"),
            Error::Malformed(m) => write!(f, "malformed message: {m}"),
            Error::UnknownSuite(id) => write!(f, "unknown algorithm suite 0x{id:04X}"),
            Error::CommitmentPolicy(m) => write!(f, "commitment policy violation: {m}"),
            Error::CommitmentMismatch => write!(f, "key commitment does not match the data key"),
            Error::HeaderAuthentication => write!(f, "header authentication failed (tampered header or wrong key)"),
            Error::BodyAuthentication { sequence } => {
                write!(f, "body authentication failed at frame {sequence} (tampered or corrupted ciphertext)")
            }
            Error::BadSequenceNumber { expected, found } => {
                write!(f, "frame sequence number {found} where {expected} was expected (frames reordered or missing)")
            }
            Error::BadIv { sequence } => write!(f, "frame {sequence} has an unexpected IV"),
            Error::SignatureInvalid => write!(f, "message signature verification failed"),
            Error::TrailingData => write!(f, "unexpected data after the end of the message"),
            Error::TooManyEncryptedDataKeys { max, found } => {
                write!(f, "message has {found} encrypted data keys, more than the maximum of {max}")
            }
            Error::EncryptionContextMismatch { key } => {
                write!(f, "required encryption context key {key:?} is missing from the message or has another value")
            }
            Error::ReservedEncryptionContextKey(k) => {
                write!(f, "encryption context key {k:?} is reserved (the aws-crypto- prefix belongs to the SDK)")
            }
            Error::NoDecryptableDataKey(reasons) => {
                if reasons.is_empty() {
                    write!(f, "no keyring could decrypt any encrypted data key")
                } else {
                    write!(f, "no keyring could decrypt any encrypted data key: {}", reasons.join("; "))
                }
            }
            Error::Keyring(m) => write!(f, "keyring error: {m}"),
            Error::Kms(e) => write!(f, "KMS error: {e}"),
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Error::Crypto(m) => write!(f, "cryptographic failure: {m}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<crate::kms::KmsError> for Error {
    fn from(e: crate::kms::KmsError) -> Self {
        Error::Kms(e)
    }
}
