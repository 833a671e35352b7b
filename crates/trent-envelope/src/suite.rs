//! Algorithm suites and commitment policies.

use crate::error::{Error, Result};
use aws_lc_rs::{aead, hkdf, signature};

/// The key derivation a suite uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kdf {
    /// The data key is the encryption key (legacy suites 0x0014/0x0046/0x0078).
    Identity,
    HkdfSha256,
    HkdfSha384,
    HkdfSha512,
}

/// The footer signature a suite uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    EcdsaP256Sha256,
    EcdsaP384Sha384,
}

/// One algorithm suite of the AWS Encryption SDK.
#[derive(Debug, PartialEq, Eq)]
pub struct AlgorithmSuite {
    pub id: u16,
    pub name: &'static str,
    /// Data key (and encryption key) length in bytes: 16, 24 or 32.
    pub key_len: usize,
    pub kdf: Kdf,
    pub signing: Option<Signing>,
    pub committing: bool,
}

pub const IV_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
pub const COMMITMENT_LEN: usize = 32;

macro_rules! suites {
    ($($konst:ident = $id:literal, $name:literal, $len:literal, $kdf:ident, $sig:expr, $commit:literal;)*) => {
        $(pub const $konst: AlgorithmSuite = AlgorithmSuite {
            id: $id, name: $name, key_len: $len, kdf: Kdf::$kdf, signing: $sig, committing: $commit,
        };)*
        /// Every suite, in id order.
        pub static ALL: &[&AlgorithmSuite] = &[$(&$konst),*];
    };
}

suites! {
    AES_128_GCM_IV12_TAG16_NO_KDF = 0x0014, "AES_128_GCM_IV12_TAG16_NO_KDF", 16, Identity, None, false;
    AES_192_GCM_IV12_TAG16_NO_KDF = 0x0046, "AES_192_GCM_IV12_TAG16_NO_KDF", 24, Identity, None, false;
    AES_256_GCM_IV12_TAG16_NO_KDF = 0x0078, "AES_256_GCM_IV12_TAG16_NO_KDF", 32, Identity, None, false;
    AES_128_GCM_IV12_TAG16_HKDF_SHA256 = 0x0114, "AES_128_GCM_IV12_TAG16_HKDF_SHA256", 16, HkdfSha256, None, false;
    AES_192_GCM_IV12_TAG16_HKDF_SHA256 = 0x0146, "AES_192_GCM_IV12_TAG16_HKDF_SHA256", 24, HkdfSha256, None, false;
    AES_256_GCM_IV12_TAG16_HKDF_SHA256 = 0x0178, "AES_256_GCM_IV12_TAG16_HKDF_SHA256", 32, HkdfSha256, None, false;
    AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256 = 0x0214, "AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256", 16,
        HkdfSha256, Some(Signing::EcdsaP256Sha256), false;
    AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384 = 0x0346, "AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384", 24,
        HkdfSha384, Some(Signing::EcdsaP384Sha384), false;
    AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384 = 0x0378, "AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384", 32,
        HkdfSha384, Some(Signing::EcdsaP384Sha384), false;
    AES_256_GCM_HKDF_SHA512_COMMIT_KEY = 0x0478, "AES_256_GCM_HKDF_SHA512_COMMIT_KEY", 32, HkdfSha512, None, true;
    AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 = 0x0578, "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384", 32,
        HkdfSha512, Some(Signing::EcdsaP384Sha384), true;
}

impl AlgorithmSuite {
    /// The suite with this id.
    pub fn from_id(id: u16) -> Result<&'static AlgorithmSuite> {
        ALL.iter().copied().find(|s| s.id == id).ok_or(Error::UnknownSuite(id))
    }

    /// Parses `0x0478`, `0478`, `1144` (decimal) or the SDK's name (`AES_256_GCM_HKDF_SHA512_COMMIT_KEY`).
    pub fn parse(text: &str) -> Result<&'static AlgorithmSuite> {
        let t = text.trim();
        // The Python SDK names the three NO_KDF suites without the suffix (AES_128_GCM_IV12_TAG16).
        let named = |s: &&&AlgorithmSuite| {
            s.name.eq_ignore_ascii_case(t)
                || s.name.strip_suffix("_NO_KDF").is_some_and(|short| short.eq_ignore_ascii_case(t))
        };
        if let Some(s) = ALL.iter().find(named) {
            return Ok(s);
        }
        let hex = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"));
        let id = match hex {
            Some(h) => u16::from_str_radix(h, 16).ok(),
            None if t.len() == 4 => u16::from_str_radix(t, 16).ok(),
            None => t.parse::<u16>().ok(),
        };
        match id {
            Some(id) => Self::from_id(id),
            None => Err(Error::InvalidArgument(format!("unknown algorithm suite {t:?}"))),
        }
    }

    /// The message format version this suite is written with: 2 for committing suites, 1 otherwise.
    pub fn message_version(&self) -> u8 {
        if self.committing {
            2
        } else {
            1
        }
    }

    /// Message id length: 32 bytes in v2, 16 in v1.
    pub fn message_id_len(&self) -> usize {
        if self.committing {
            32
        } else {
            16
        }
    }

    pub(crate) fn aead(&self) -> &'static aead::Algorithm {
        match self.key_len {
            16 => &aead::AES_128_GCM,
            24 => &aead::AES_192_GCM,
            _ => &aead::AES_256_GCM,
        }
    }

    pub(crate) fn hkdf(&self) -> Option<hkdf::Algorithm> {
        match self.kdf {
            Kdf::Identity => None,
            Kdf::HkdfSha256 => Some(hkdf::HKDF_SHA256),
            Kdf::HkdfSha384 => Some(hkdf::HKDF_SHA384),
            Kdf::HkdfSha512 => Some(hkdf::HKDF_SHA512),
        }
    }

    pub(crate) fn signing_alg(&self) -> Option<&'static signature::EcdsaSigningAlgorithm> {
        self.signing.map(|s| match s {
            Signing::EcdsaP256Sha256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            Signing::EcdsaP384Sha384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        })
    }

    pub(crate) fn verification_alg(&self) -> Option<&'static signature::EcdsaVerificationAlgorithm> {
        self.signing.map(|s| match s {
            Signing::EcdsaP256Sha256 => &signature::ECDSA_P256_SHA256_ASN1,
            Signing::EcdsaP384Sha384 => &signature::ECDSA_P384_SHA384_ASN1,
        })
    }

    pub(crate) fn signing_digest(&self) -> Option<&'static aws_lc_rs::digest::Algorithm> {
        self.signing.map(|s| match s {
            Signing::EcdsaP256Sha256 => &aws_lc_rs::digest::SHA256,
            Signing::EcdsaP384Sha384 => &aws_lc_rs::digest::SHA384,
        })
    }
}

/// Which suites encryption may use and decryption may accept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CommitmentPolicy {
    /// Encrypt and decrypt only with key-committing suites (the default).
    #[default]
    RequireEncryptRequireDecrypt,
    /// Encrypt with committing suites; decrypt legacy messages too.
    RequireEncryptAllowDecrypt,
    /// Encrypt with legacy (non-committing) suites only; decrypt anything.
    ForbidEncryptAllowDecrypt,
}

impl CommitmentPolicy {
    pub fn parse(text: &str) -> Result<CommitmentPolicy> {
        match text.trim().to_ascii_uppercase().replace('-', "_").as_str() {
            "REQUIRE_ENCRYPT_REQUIRE_DECRYPT" => Ok(CommitmentPolicy::RequireEncryptRequireDecrypt),
            "REQUIRE_ENCRYPT_ALLOW_DECRYPT" => Ok(CommitmentPolicy::RequireEncryptAllowDecrypt),
            "FORBID_ENCRYPT_ALLOW_DECRYPT" => Ok(CommitmentPolicy::ForbidEncryptAllowDecrypt),
            _ => Err(Error::InvalidArgument(format!("unknown commitment policy {text:?}"))),
        }
    }

    /// The suite encryption uses when the caller names none.
    pub fn default_suite(self) -> &'static AlgorithmSuite {
        match self {
            CommitmentPolicy::ForbidEncryptAllowDecrypt => &AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384,
            _ => &AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
        }
    }

    pub fn check_encrypt(self, suite: &AlgorithmSuite) -> Result<()> {
        match (self, suite.committing) {
            (CommitmentPolicy::ForbidEncryptAllowDecrypt, true) => Err(Error::CommitmentPolicy(format!(
                "suite {} commits to its key, which FORBID_ENCRYPT_ALLOW_DECRYPT does not allow for encryption",
                suite.name
            ))),
            (CommitmentPolicy::ForbidEncryptAllowDecrypt, false) | (_, true) => Ok(()),
            (_, false) => Err(Error::CommitmentPolicy(format!(
                "suite {} does not commit to its key; the commitment policy requires a committing suite for encryption",
                suite.name
            ))),
        }
    }

    pub fn check_decrypt(self, suite: &AlgorithmSuite) -> Result<()> {
        if self == CommitmentPolicy::RequireEncryptRequireDecrypt && !suite.committing {
            return Err(Error::CommitmentPolicy(format!(
                "message uses the non-committing suite {} and the policy REQUIRE_ENCRYPT_REQUIRE_DECRYPT refuses it",
                suite.name
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_hex_id_and_sdk_name() {
        assert_eq!(AlgorithmSuite::parse("0x0478").unwrap().id, 0x0478);
        assert_eq!(AlgorithmSuite::parse("0578").unwrap().id, 0x0578);
        assert_eq!(AlgorithmSuite::parse("AES_256_GCM_HKDF_SHA512_COMMIT_KEY").unwrap().id, 0x0478);
        assert_eq!(AlgorithmSuite::parse("aes_128_gcm_iv12_tag16_no_kdf").unwrap().id, 0x0014);
        assert_eq!(AlgorithmSuite::parse("AES_192_GCM_IV12_TAG16").unwrap().id, 0x0046);
        assert!(matches!(AlgorithmSuite::parse("0x9999"), Err(Error::UnknownSuite(0x9999))));
        assert!(AlgorithmSuite::parse("AES_999").is_err());
    }

    #[test]
    fn policies_gate_committing_and_legacy_suites() {
        use CommitmentPolicy::*;
        let legacy = &AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384;
        let commit = &AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
        assert!(RequireEncryptRequireDecrypt.check_decrypt(legacy).is_err());
        assert!(RequireEncryptAllowDecrypt.check_decrypt(legacy).is_ok());
        assert!(RequireEncryptAllowDecrypt.check_encrypt(legacy).is_err());
        assert!(ForbidEncryptAllowDecrypt.check_encrypt(commit).is_err());
        assert!(ForbidEncryptAllowDecrypt.check_encrypt(legacy).is_ok());
        assert_eq!(RequireEncryptRequireDecrypt.default_suite().id, 0x0578);
        assert_eq!(ForbidEncryptAllowDecrypt.default_suite().id, 0x0378);
    }
}
