//! `trent-envelope`: envelope encryption compatible with the AWS Encryption SDK message format.
//!
//! - Message format v2 (written and read) and v1 (read, and written for legacy suites under
//!   `FORBID_ENCRYPT_ALLOW_DECRYPT`); framed bodies (written and read) and non-framed bodies (read).
//! - Suites 0x0478 and 0x0578 (default) for encryption; legacy suites 0x0014…0x0378 for decryption
//!   when the [`CommitmentPolicy`] allows them.
//! - Keyrings: [`RawAesKeyring`], [`RawRsaKeyring`], [`KmsKeyring`], [`KmsDiscoveryKeyring`] and
//!   [`MultiKeyring`]; the [`DefaultCmm`] and the [`CachingCmm`].
//! - Streaming in bounded memory: [`encrypt_stream`] / [`decrypt_stream`]. Decryption writes a
//!   frame's plaintext only after its tag verified, and returns `Ok` only after the footer
//!   signature (signed suites) verified: keep output only on `Ok`.
//!
//! Every primitive is aws-lc-rs. Data keys live in zeroizing, redacted [`DataKey`]s.
#![forbid(unsafe_code)]

pub mod caching;
pub mod context;
pub mod error;
pub mod header;
pub mod kms;
pub mod materials;
pub mod message;
mod pipeline;
pub mod raw;
pub mod suite;

pub use caching::{CacheLimits, CachingCmm};
pub use context::EncryptionContext;
pub use error::{Error, Result};
pub use header::{read_header, ContentType, Header};
pub use kms::{DiscoveryFilter, KmsClient, KmsDiscoveryKeyring, KmsError, KmsKeyring};
pub use materials::{DataKey, DefaultCmm, EncryptedDataKey, Keyring, MaterialsManager, MultiKeyring};
pub use message::{
    decrypt, decrypt_stream, encrypt, encrypt_stream, DecryptOptions, DecryptSummary, EncryptOptions, EncryptSummary,
    DEFAULT_FRAME_LENGTH,
};
pub use raw::{RawAesKeyring, RawRsaKeyring, RsaPadding};
pub use suite::{AlgorithmSuite, CommitmentPolicy};

#[cfg(test)]
mod tests;
