//! Asymmetric, HMAC, key-agreement and KEM keys, every primitive from aws-lc (aws-lc-rs, and
//! aws-lc-sys for Ed25519ph, which aws-lc-rs does not wrap).
//!
//! Private keys are kept as PKCS#8 v1 DER (RSA, ECC, Ed25519, ML-DSA), as the raw decapsulation
//! key (ML-KEM) or as the raw key (HMAC); public keys as DER SubjectPublicKeyInfo, which is what
//! KMS's GetPublicKey returns and what OpenSSL and Python `cryptography` read.

use crate::{CryptoError, SecretBytes};
use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::signature::{self as sig, KeyPair};
use aws_lc_rs::{agreement, digest, hmac, kem, rsa};

/// Every key spec Trent can create besides SYMMETRIC_DEFAULT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EccP256,
    EccP384,
    EccP521,
    EccSecp256k1,
    Ed25519,
    Hmac224,
    Hmac256,
    Hmac384,
    Hmac512,
    MlDsa44,
    MlDsa65,
    MlDsa87,
    MlKem512,
    MlKem768,
    MlKem1024,
}

impl Spec {
    pub const ALL: &'static [Spec] = &[
        Spec::Rsa2048,
        Spec::Rsa3072,
        Spec::Rsa4096,
        Spec::EccP256,
        Spec::EccP384,
        Spec::EccP521,
        Spec::EccSecp256k1,
        Spec::Ed25519,
        Spec::Hmac224,
        Spec::Hmac256,
        Spec::Hmac384,
        Spec::Hmac512,
        Spec::MlDsa44,
        Spec::MlDsa65,
        Spec::MlDsa87,
        Spec::MlKem512,
        Spec::MlKem768,
        Spec::MlKem1024,
    ];

    /// The KMS `KeySpec` name.
    pub fn name(self) -> &'static str {
        match self {
            Spec::Rsa2048 => "RSA_2048",
            Spec::Rsa3072 => "RSA_3072",
            Spec::Rsa4096 => "RSA_4096",
            Spec::EccP256 => "ECC_NIST_P256",
            Spec::EccP384 => "ECC_NIST_P384",
            Spec::EccP521 => "ECC_NIST_P521",
            Spec::EccSecp256k1 => "ECC_SECG_P256K1",
            Spec::Ed25519 => "ECC_NIST_EDWARDS25519",
            Spec::Hmac224 => "HMAC_224",
            Spec::Hmac256 => "HMAC_256",
            Spec::Hmac384 => "HMAC_384",
            Spec::Hmac512 => "HMAC_512",
            Spec::MlDsa44 => "ML_DSA_44",
            Spec::MlDsa65 => "ML_DSA_65",
            Spec::MlDsa87 => "ML_DSA_87",
            Spec::MlKem512 => "ML_KEM_512",
            Spec::MlKem768 => "ML_KEM_768",
            Spec::MlKem1024 => "ML_KEM_1024",
        }
    }

    pub fn from_name(name: &str) -> Option<Spec> {
        Spec::ALL.iter().copied().find(|s| s.name() == name)
    }

    pub fn is_rsa(self) -> bool {
        matches!(self, Spec::Rsa2048 | Spec::Rsa3072 | Spec::Rsa4096)
    }

    pub fn is_hmac(self) -> bool {
        matches!(self, Spec::Hmac224 | Spec::Hmac256 | Spec::Hmac384 | Spec::Hmac512)
    }

    /// Curves that can do ECDH (KMS allows KEY_AGREEMENT on the NIST curves only).
    fn ecdh(self) -> Option<&'static agreement::Algorithm> {
        match self {
            Spec::EccP256 => Some(&agreement::ECDH_P256),
            Spec::EccP384 => Some(&agreement::ECDH_P384),
            Spec::EccP521 => Some(&agreement::ECDH_P521),
            _ => None,
        }
    }

    fn ecdsa_signing(self) -> Option<&'static sig::EcdsaSigningAlgorithm> {
        match self {
            Spec::EccP256 => Some(&sig::ECDSA_P256_SHA256_ASN1_SIGNING),
            Spec::EccP384 => Some(&sig::ECDSA_P384_SHA384_ASN1_SIGNING),
            Spec::EccP521 => Some(&sig::ECDSA_P521_SHA512_ASN1_SIGNING),
            Spec::EccSecp256k1 => Some(&sig::ECDSA_P256K1_SHA256_ASN1_SIGNING),
            _ => None,
        }
    }

    fn mldsa(self) -> Option<(&'static sig::PqdsaSigningAlgorithm, &'static sig::PqdsaVerificationAlgorithm)> {
        match self {
            Spec::MlDsa44 => Some((&sig::ML_DSA_44_SIGNING, &sig::ML_DSA_44)),
            Spec::MlDsa65 => Some((&sig::ML_DSA_65_SIGNING, &sig::ML_DSA_65)),
            Spec::MlDsa87 => Some((&sig::ML_DSA_87_SIGNING, &sig::ML_DSA_87)),
            _ => None,
        }
    }

    fn mlkem(self) -> Option<(&'static kem::Algorithm<kem::AlgorithmId>, u8)> {
        match self {
            Spec::MlKem512 => Some((&kem::ML_KEM_512, 1)),
            Spec::MlKem768 => Some((&kem::ML_KEM_768, 2)),
            Spec::MlKem1024 => Some((&kem::ML_KEM_1024, 3)),
            _ => None,
        }
    }

    fn hmac(self) -> Option<(hmac::Algorithm, usize)> {
        match self {
            Spec::Hmac224 => Some((hmac::HMAC_SHA224, 28)),
            Spec::Hmac256 => Some((hmac::HMAC_SHA256, 32)),
            Spec::Hmac384 => Some((hmac::HMAC_SHA384, 48)),
            Spec::Hmac512 => Some((hmac::HMAC_SHA512, 64)),
            _ => None,
        }
    }

    /// Signing algorithms KMS allows for this spec.
    pub fn signing_algorithms(self) -> &'static [SigningAlg] {
        use SigningAlg::*;
        match self {
            Spec::Rsa2048 | Spec::Rsa3072 | Spec::Rsa4096 => {
                &[RsaPssSha256, RsaPssSha384, RsaPssSha512, RsaPkcs1Sha256, RsaPkcs1Sha384, RsaPkcs1Sha512]
            }
            Spec::EccP256 | Spec::EccSecp256k1 => &[EcdsaSha256],
            Spec::EccP384 => &[EcdsaSha384],
            Spec::EccP521 => &[EcdsaSha512],
            Spec::Ed25519 => &[Ed25519Sha512, Ed25519PhSha512],
            Spec::MlDsa44 | Spec::MlDsa65 | Spec::MlDsa87 => &[MlDsaShake256],
            _ => &[],
        }
    }

    /// The MAC algorithm of an HMAC spec.
    pub fn mac_algorithm(self) -> Option<&'static str> {
        match self {
            Spec::Hmac224 => Some("HMAC_SHA_224"),
            Spec::Hmac256 => Some("HMAC_SHA_256"),
            Spec::Hmac384 => Some("HMAC_SHA_384"),
            Spec::Hmac512 => Some("HMAC_SHA_512"),
            _ => None,
        }
    }

    pub fn can_key_agree(self) -> bool {
        self.ecdh().is_some()
    }

    pub fn is_mlkem(self) -> bool {
        self.mlkem().is_some()
    }

    /// Largest OAEP plaintext for this RSA size: k - 2·hLen - 2.
    pub fn oaep_max_plaintext(self, alg: Oaep) -> Option<usize> {
        let k = match self {
            Spec::Rsa2048 => 256,
            Spec::Rsa3072 => 384,
            Spec::Rsa4096 => 512,
            _ => return None,
        };
        Some(k - 2 * alg.hash_len() - 2)
    }

    /// The signature/ciphertext size an RSA key produces.
    pub fn rsa_modulus_bytes(self) -> Option<usize> {
        match self {
            Spec::Rsa2048 => Some(256),
            Spec::Rsa3072 => Some(384),
            Spec::Rsa4096 => Some(512),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlg {
    RsaPssSha256,
    RsaPssSha384,
    RsaPssSha512,
    RsaPkcs1Sha256,
    RsaPkcs1Sha384,
    RsaPkcs1Sha512,
    EcdsaSha256,
    EcdsaSha384,
    EcdsaSha512,
    Ed25519Sha512,
    Ed25519PhSha512,
    MlDsaShake256,
}

impl SigningAlg {
    pub const ALL: &'static [SigningAlg] = &[
        SigningAlg::RsaPssSha256,
        SigningAlg::RsaPssSha384,
        SigningAlg::RsaPssSha512,
        SigningAlg::RsaPkcs1Sha256,
        SigningAlg::RsaPkcs1Sha384,
        SigningAlg::RsaPkcs1Sha512,
        SigningAlg::EcdsaSha256,
        SigningAlg::EcdsaSha384,
        SigningAlg::EcdsaSha512,
        SigningAlg::Ed25519Sha512,
        SigningAlg::Ed25519PhSha512,
        SigningAlg::MlDsaShake256,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SigningAlg::RsaPssSha256 => "RSASSA_PSS_SHA_256",
            SigningAlg::RsaPssSha384 => "RSASSA_PSS_SHA_384",
            SigningAlg::RsaPssSha512 => "RSASSA_PSS_SHA_512",
            SigningAlg::RsaPkcs1Sha256 => "RSASSA_PKCS1_V1_5_SHA_256",
            SigningAlg::RsaPkcs1Sha384 => "RSASSA_PKCS1_V1_5_SHA_384",
            SigningAlg::RsaPkcs1Sha512 => "RSASSA_PKCS1_V1_5_SHA_512",
            SigningAlg::EcdsaSha256 => "ECDSA_SHA_256",
            SigningAlg::EcdsaSha384 => "ECDSA_SHA_384",
            SigningAlg::EcdsaSha512 => "ECDSA_SHA_512",
            SigningAlg::Ed25519Sha512 => "ED25519_SHA_512",
            SigningAlg::Ed25519PhSha512 => "ED25519_PH_SHA_512",
            SigningAlg::MlDsaShake256 => "ML_DSA_SHAKE_256",
        }
    }

    pub fn from_name(name: &str) -> Option<SigningAlg> {
        SigningAlg::ALL.iter().copied().find(|a| a.name() == name)
    }

    /// The digest a DIGEST-type message must be (None: DIGEST is not accepted).
    pub fn digest(self) -> Option<&'static digest::Algorithm> {
        use SigningAlg::*;
        match self {
            RsaPssSha256 | RsaPkcs1Sha256 | EcdsaSha256 => Some(&digest::SHA256),
            RsaPssSha384 | RsaPkcs1Sha384 | EcdsaSha384 => Some(&digest::SHA384),
            RsaPssSha512 | RsaPkcs1Sha512 | EcdsaSha512 | Ed25519PhSha512 => Some(&digest::SHA512),
            Ed25519Sha512 | MlDsaShake256 => None,
        }
    }

    fn rsa_signing(self) -> Option<&'static dyn sig::RsaEncoding> {
        use SigningAlg::*;
        Some(match self {
            RsaPssSha256 => &sig::RSA_PSS_SHA256,
            RsaPssSha384 => &sig::RSA_PSS_SHA384,
            RsaPssSha512 => &sig::RSA_PSS_SHA512,
            RsaPkcs1Sha256 => &sig::RSA_PKCS1_SHA256,
            RsaPkcs1Sha384 => &sig::RSA_PKCS1_SHA384,
            RsaPkcs1Sha512 => &sig::RSA_PKCS1_SHA512,
            _ => return None,
        })
    }

    fn rsa_verify(self) -> Option<&'static sig::RsaParameters> {
        use SigningAlg::*;
        Some(match self {
            RsaPssSha256 => &sig::RSA_PSS_2048_8192_SHA256,
            RsaPssSha384 => &sig::RSA_PSS_2048_8192_SHA384,
            RsaPssSha512 => &sig::RSA_PSS_2048_8192_SHA512,
            RsaPkcs1Sha256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            RsaPkcs1Sha384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            RsaPkcs1Sha512 => &sig::RSA_PKCS1_2048_8192_SHA512,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Raw,
    Digest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oaep {
    Sha1,
    Sha256,
}

impl Oaep {
    pub fn from_name(name: &str) -> Option<Oaep> {
        match name {
            "RSAES_OAEP_SHA_1" => Some(Oaep::Sha1),
            "RSAES_OAEP_SHA_256" => Some(Oaep::Sha256),
            _ => None,
        }
    }
    fn hash_len(self) -> usize {
        match self {
            Oaep::Sha1 => 20,
            Oaep::Sha256 => 32,
        }
    }
    fn alg(self) -> &'static rsa::OaepAlgorithm {
        match self {
            Oaep::Sha1 => &rsa::OAEP_SHA1_MGF1SHA1,
            Oaep::Sha256 => &rsa::OAEP_SHA256_MGF1SHA256,
        }
    }
}

/// What a caller did wrong (→ a client error), as opposed to our failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsymError {
    /// The input is malformed for this algorithm (wrong digest length, bad peer key, too long…).
    Invalid(String),
    /// The spec cannot do this (wrong usage or algorithm).
    Unsupported(String),
    Internal,
}

impl From<aws_lc_rs::error::Unspecified> for AsymError {
    fn from(_: aws_lc_rs::error::Unspecified) -> Self {
        AsymError::Internal
    }
}

impl From<CryptoError> for AsymError {
    fn from(_: CryptoError) -> Self {
        AsymError::Internal
    }
}

/// A new key pair: the private part as stored (wrapped) and the public SPKI (empty for HMAC).
pub struct Generated {
    pub private: SecretBytes,
    pub public_spki: Vec<u8>,
}

fn der(bytes: &[u8]) -> SecretBytes {
    SecretBytes::from_slice(bytes)
}

/// Generates a key of `spec`. For ECC, the key is an ECDH key when `agreement` is set (KMS's
/// KEY_AGREEMENT usage) and an ECDSA key otherwise; both are stored as PKCS#8.
pub fn generate(spec: Spec, agreement: bool) -> Result<Generated, AsymError> {
    if let Some((alg, len)) = spec.hmac() {
        let _ = alg;
        return Ok(Generated { private: crate::random_secret(len)?, public_spki: Vec::new() });
    }
    if spec.is_rsa() {
        let size = match spec {
            Spec::Rsa2048 => rsa::KeySize::Rsa2048,
            Spec::Rsa3072 => rsa::KeySize::Rsa3072,
            _ => rsa::KeySize::Rsa4096,
        };
        let kp = rsa::KeyPair::generate(size)?;
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&kp)?;
        let spki = kp.public_key().as_der()?;
        return Ok(Generated { private: der(pkcs8.as_ref()), public_spki: spki.as_ref().to_vec() });
    }
    if agreement {
        let alg = spec
            .ecdh()
            .ok_or_else(|| AsymError::Unsupported(format!("{} cannot be used for key agreement", spec.name())))?;
        let pk = agreement::PrivateKey::generate(alg)?;
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pk)?;
        let spki = pk.compute_public_key()?.as_der()?;
        return Ok(Generated { private: der(pkcs8.as_ref()), public_spki: spki.as_ref().to_vec() });
    }
    if let Some(alg) = spec.ecdsa_signing() {
        let kp = sig::EcdsaKeyPair::generate(alg)?;
        let pkcs8 = kp.to_pkcs8v1()?;
        let spki = kp.public_key().as_der()?;
        return Ok(Generated { private: der(pkcs8.as_ref()), public_spki: spki.as_ref().to_vec() });
    }
    if spec == Spec::Ed25519 {
        let kp = sig::Ed25519KeyPair::generate()?;
        let pkcs8 = kp.to_pkcs8v1()?;
        let spki = kp.public_key().as_der()?;
        return Ok(Generated { private: der(pkcs8.as_ref()), public_spki: spki.as_ref().to_vec() });
    }
    if let Some((alg, _)) = spec.mldsa() {
        let kp = sig::PqdsaKeyPair::generate(alg)?;
        let pkcs8 = kp.to_pkcs8v1()?;
        let spki = kp.public_key().as_der()?;
        return Ok(Generated { private: der(pkcs8.as_ref()), public_spki: spki.as_ref().to_vec() });
    }
    if let Some((alg, oid_last)) = spec.mlkem() {
        let dk = kem::DecapsulationKey::generate(alg)?;
        let private = der(dk.key_bytes()?.as_ref());
        let ek = dk.encapsulation_key()?.key_bytes()?;
        return Ok(Generated { private, public_spki: mlkem_spki(oid_last, ek.as_ref()) });
    }
    Err(AsymError::Unsupported(format!("{} keys cannot be generated", spec.name())))
}

/// DER length octets.
fn der_len(n: usize, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    der_len(content.len(), &mut out);
    out.extend_from_slice(content);
    out
}

/// SubjectPublicKeyInfo for ML-KEM (FIPS 203 OIDs 2.16.840.1.101.3.4.4.{1,2,3}, no parameters).
fn mlkem_spki(oid_last: u8, key: &[u8]) -> Vec<u8> {
    let oid = [0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, oid_last];
    let alg_id = der_tlv(0x30, &oid);
    let mut bits = vec![0u8];
    bits.extend_from_slice(key);
    let mut body = alg_id;
    body.extend(der_tlv(0x03, &bits));
    der_tlv(0x30, &body)
}

/// The raw ML-KEM encapsulation key inside an SPKI, which must be exactly the SPKI of a key of
/// `key_len` bytes for this parameter set (not just end in one: a longer or shorter key, or
/// another algorithm's OID, is refused).
fn mlkem_key_from_spki(spki: &[u8], oid_last: u8, key_len: usize) -> Option<&[u8]> {
    let key = spki.get(spki.len().checked_sub(key_len)?..)?;
    (mlkem_spki(oid_last, key) == spki).then_some(key)
}

fn check_digest(alg: SigningAlg, mt: MessageType, msg: &[u8]) -> Result<Option<digest::Digest>, AsymError> {
    match mt {
        MessageType::Raw => Ok(None),
        MessageType::Digest => {
            let d = alg.digest().ok_or_else(|| {
                AsymError::Invalid(format!("The signing algorithm {} does not accept MessageType DIGEST.", alg.name()))
            })?;
            digest::Digest::import_less_safe(msg, d).map(Some).map_err(|_| {
                AsymError::Invalid(format!(
                    "Digest is invalid length for algorithm {}: it must be {} bytes.",
                    alg.name(),
                    d.output_len
                ))
            })
        }
    }
}

fn require_alg(spec: Spec, alg: SigningAlg) -> Result<(), AsymError> {
    if spec.signing_algorithms().contains(&alg) {
        Ok(())
    } else {
        Err(AsymError::Unsupported(format!(
            "{} keys do not support the signing algorithm {}.",
            spec.name(),
            alg.name()
        )))
    }
}

/// Ed25519 private key as aws-lc's 64-byte form (seed || public key).
fn ed25519_expanded(private_pkcs8: &SecretBytes) -> Result<(SecretBytes, [u8; 32]), AsymError> {
    let kp = sig::Ed25519KeyPair::from_pkcs8(private_pkcs8.expose()).map_err(|_| AsymError::Internal)?;
    let seed = kp.seed()?;
    let seed_bin = AsBigEndian::<aws_lc_rs::encoding::Curve25519SeedBin>::as_be_bytes(&seed)?;
    let mut public = [0u8; 32];
    public.copy_from_slice(kp.public_key().as_ref());
    let mut full = SecretBytes::zeroed(64);
    full.as_mut_slice()[..32].copy_from_slice(seed_bin.as_ref());
    full.as_mut_slice()[32..].copy_from_slice(&public);
    Ok((full, public))
}

fn ed25519ph_digest(mt: MessageType, msg: &[u8]) -> Result<[u8; 64], AsymError> {
    let mut d = [0u8; 64];
    match mt {
        MessageType::Digest => {
            if msg.len() != 64 {
                return Err(AsymError::Invalid(
                    "Digest is invalid length for algorithm ED25519_PH_SHA_512: it must be 64 bytes.".into(),
                ));
            }
            d.copy_from_slice(msg);
        }
        MessageType::Raw => d.copy_from_slice(digest::digest(&digest::SHA512, msg).as_ref()),
    }
    Ok(d)
}

/// Signs `msg` (a message, or its digest when `mt` is Digest).
#[allow(unsafe_code)] // Ed25519ph through aws-lc-sys (see the SAFETY note)
pub fn sign(
    spec: Spec,
    private: &SecretBytes,
    alg: SigningAlg,
    mt: MessageType,
    msg: &[u8],
) -> Result<Vec<u8>, AsymError> {
    require_alg(spec, alg)?;
    if let Some(enc) = alg.rsa_signing() {
        let digest = check_digest(alg, mt, msg)?;
        let kp = rsa::KeyPair::from_pkcs8(private.expose()).map_err(|_| AsymError::Internal)?;
        let mut out = vec![0u8; kp.public_modulus_len()];
        match digest {
            Some(d) => kp.sign_digest(enc, &d, &mut out)?,
            None => kp.sign(enc, &aws_lc_rs::rand::SystemRandom::new(), msg, &mut out)?,
        }
        return Ok(out);
    }
    if let Some(ecdsa) = spec.ecdsa_signing() {
        let digest = check_digest(alg, mt, msg)?;
        let kp = sig::EcdsaKeyPair::from_pkcs8(ecdsa, private.expose()).map_err(|_| AsymError::Internal)?;
        let s = match digest {
            Some(d) => kp.sign_digest(&d)?,
            None => kp.sign(&aws_lc_rs::rand::SystemRandom::new(), msg)?,
        };
        return Ok(s.as_ref().to_vec());
    }
    match alg {
        SigningAlg::Ed25519Sha512 => {
            if mt != MessageType::Raw {
                return Err(AsymError::Invalid("ED25519_SHA_512 accepts only MessageType RAW.".into()));
            }
            let kp = sig::Ed25519KeyPair::from_pkcs8(private.expose()).map_err(|_| AsymError::Internal)?;
            Ok(kp.sign(msg).as_ref().to_vec())
        }
        SigningAlg::Ed25519PhSha512 => {
            let d = ed25519ph_digest(mt, msg)?;
            let (full, _) = ed25519_expanded(private)?;
            let mut out = [0u8; 64];
            // SAFETY: every buffer has the length aws-lc documents (64-byte signature, 64-byte
            // SHA-512 digest, 64-byte private key) and no context is passed.
            let ok = unsafe {
                aws_lc_sys::ED25519ph_sign_digest(
                    out.as_mut_ptr(),
                    d.as_ptr(),
                    full.expose().as_ptr(),
                    std::ptr::null(),
                    0,
                )
            };
            if ok != 1 {
                return Err(AsymError::Internal);
            }
            Ok(out.to_vec())
        }
        SigningAlg::MlDsaShake256 => {
            if mt != MessageType::Raw {
                return Err(AsymError::Invalid("ML_DSA_SHAKE_256 accepts MessageType RAW only on this server.".into()));
            }
            let (salg, _) = spec.mldsa().ok_or(AsymError::Internal)?;
            let kp = sig::PqdsaKeyPair::from_pkcs8(salg, private.expose()).map_err(|_| AsymError::Internal)?;
            let mut out = vec![0u8; salg.signature_len()];
            let n = kp.sign(msg, &mut out)?;
            out.truncate(n);
            Ok(out)
        }
        _ => Err(AsymError::Internal),
    }
}

/// Checks a signature. `Ok(false)` means it does not verify.
#[allow(unsafe_code)] // Ed25519ph through aws-lc-sys (see the SAFETY note)
pub fn verify(
    spec: Spec,
    public_spki: &[u8],
    alg: SigningAlg,
    mt: MessageType,
    msg: &[u8],
    signature: &[u8],
) -> Result<bool, AsymError> {
    require_alg(spec, alg)?;
    let digest = match alg {
        SigningAlg::Ed25519PhSha512 => None,
        SigningAlg::Ed25519Sha512 | SigningAlg::MlDsaShake256 if mt != MessageType::Raw => {
            return Err(AsymError::Invalid(format!("{} accepts only MessageType RAW.", alg.name())))
        }
        _ => check_digest(alg, mt, msg)?,
    };
    let verified = if let Some(params) = alg.rsa_verify() {
        let key = sig::UnparsedPublicKey::new(params, public_spki);
        match &digest {
            Some(d) => key.verify_digest(d, signature).is_ok(),
            None => key.verify(msg, signature).is_ok(),
        }
    } else if spec.ecdsa_signing().is_some() {
        let params: &'static sig::EcdsaVerificationAlgorithm = match spec {
            Spec::EccP256 => &sig::ECDSA_P256_SHA256_ASN1,
            Spec::EccP384 => &sig::ECDSA_P384_SHA384_ASN1,
            Spec::EccP521 => &sig::ECDSA_P521_SHA512_ASN1,
            _ => &sig::ECDSA_P256K1_SHA256_ASN1,
        };
        let key = sig::UnparsedPublicKey::new(params, public_spki);
        match &digest {
            Some(d) => key.verify_digest(d, signature).is_ok(),
            None => key.verify(msg, signature).is_ok(),
        }
    } else if alg == SigningAlg::Ed25519Sha512 {
        sig::UnparsedPublicKey::new(&sig::ED25519, public_spki).verify(msg, signature).is_ok()
    } else if alg == SigningAlg::Ed25519PhSha512 {
        let d = ed25519ph_digest(mt, msg)?;
        let raw = public_spki
            .get(public_spki.len().saturating_sub(32)..)
            .filter(|r| r.len() == 32)
            .ok_or(AsymError::Internal)?;
        if signature.len() != 64 {
            return Ok(false);
        }
        // SAFETY: 64-byte digest, 64-byte signature (checked), 32-byte public key, no context.
        unsafe {
            aws_lc_sys::ED25519ph_verify_digest(d.as_ptr(), signature.as_ptr(), raw.as_ptr(), std::ptr::null(), 0) == 1
        }
    } else if let Some((_, valg)) = spec.mldsa() {
        sig::UnparsedPublicKey::new(valg, public_spki).verify(msg, signature).is_ok()
    } else {
        return Err(AsymError::Internal);
    };
    Ok(verified)
}

/// RSA-OAEP encryption with the public key; the output is the raw OAEP ciphertext.
pub fn rsa_encrypt(spec: Spec, public_spki: &[u8], alg: Oaep, plaintext: &[u8]) -> Result<Vec<u8>, AsymError> {
    let max = spec.oaep_max_plaintext(alg).ok_or(AsymError::Internal)?;
    if plaintext.len() > max {
        return Err(AsymError::Invalid(format!(
            "Plaintext is too long: {} with {:?} accepts at most {max} bytes.",
            spec.name(),
            alg
        )));
    }
    let pk = rsa::PublicEncryptingKey::from_der(public_spki).map_err(|_| AsymError::Internal)?;
    let key = rsa::OaepPublicEncryptingKey::new(pk)?;
    let mut out = vec![0u8; key.ciphertext_size()];
    let n = key.encrypt(alg.alg(), plaintext, &mut out, None)?.len();
    out.truncate(n);
    Ok(out)
}

/// RSA-OAEP decryption. Any failure is reported the same way (no padding oracle).
pub fn rsa_decrypt(private: &SecretBytes, alg: Oaep, ciphertext: &[u8]) -> Result<SecretBytes, CryptoError> {
    let pk = rsa::PrivateDecryptingKey::from_pkcs8(private.expose()).map_err(|_| CryptoError::Internal)?;
    let key = rsa::OaepPrivateDecryptingKey::new(pk).map_err(|_| CryptoError::Internal)?;
    let mut out = SecretBytes::zeroed(key.min_output_size());
    let n = key.decrypt(alg.alg(), ciphertext, out.as_mut_slice(), None).map_err(|_| CryptoError::Invalid)?.len();
    Ok(SecretBytes::from_slice(&out.expose()[..n]))
}

/// HMAC of `msg` under an HMAC key of `spec`.
pub fn mac(spec: Spec, key: &SecretBytes, msg: &[u8]) -> Result<Vec<u8>, AsymError> {
    let (alg, _) = spec.hmac().ok_or(AsymError::Internal)?;
    Ok(hmac::sign(&hmac::Key::new(alg, key.expose()), msg).as_ref().to_vec())
}

/// Constant-time MAC check.
pub fn mac_verify(spec: Spec, key: &SecretBytes, msg: &[u8], tag: &[u8]) -> Result<bool, AsymError> {
    let (alg, _) = spec.hmac().ok_or(AsymError::Internal)?;
    Ok(hmac::verify(&hmac::Key::new(alg, key.expose()), msg, tag).is_ok())
}

/// Raw ECDH shared secret (the x-coordinate) with a peer's DER SPKI public key on the same curve.
pub fn ecdh(spec: Spec, private: &SecretBytes, peer_spki: &[u8]) -> Result<SecretBytes, AsymError> {
    let alg = spec.ecdh().ok_or(AsymError::Internal)?;
    let invalid = || {
        AsymError::Invalid(format!(
            "PublicKey must be a DER-encoded X.509 SubjectPublicKeyInfo of a point on {}.",
            spec.name()
        ))
    };
    // Only the named-curve form with an uncompressed point: aws-lc also takes explicit curve
    // parameters (Wycheproof ecdh_secp256r1 #359, "no cofactor", must be refused).
    if !named_curve_spki(spec, peer_spki) {
        return Err(invalid());
    }
    let pk = agreement::PrivateKey::from_private_key_der(alg, private.expose()).map_err(|_| AsymError::Internal)?;
    let peer = agreement::UnparsedPublicKey::new(alg, peer_spki);
    agreement::agree(&pk, peer, invalid(), |s| Ok(SecretBytes::from_slice(s)))
}

/// True when `spki` is exactly an id-ecPublicKey SubjectPublicKeyInfo with the named-curve OID of
/// `spec` and an uncompressed point of the curve's size (the point itself is checked by aws-lc).
fn named_curve_spki(spec: Spec, spki: &[u8]) -> bool {
    const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    let (curve, coord): (&[u8], usize) = match spec {
        Spec::EccP256 => (&[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07], 32),
        Spec::EccP384 => (&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22], 48),
        Spec::EccP521 => (&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23], 66),
        Spec::EccSecp256k1 => (&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a], 32),
        _ => return false,
    };
    let mut alg_id = vec![0x30, (EC_PUBLIC_KEY.len() + curve.len()) as u8];
    alg_id.extend_from_slice(EC_PUBLIC_KEY);
    alg_id.extend_from_slice(curve);
    let mut bits = vec![0x00, 0x04];
    bits.resize(2 + 2 * coord, 0);
    let mut body = alg_id;
    body.extend(der_tlv(0x03, &bits));
    let expected = der_tlv(0x30, &body);
    // Same framing; the point's bytes are whatever the peer sent.
    let point_at = expected.len() - 2 * coord;
    spki.len() == expected.len() && spki[..point_at] == expected[..point_at]
}

/// ML-KEM encapsulation to the key's own public key: (ciphertext, shared secret).
pub fn encapsulate(spec: Spec, public_spki: &[u8]) -> Result<(Vec<u8>, SecretBytes), AsymError> {
    let (alg, oid_last) = spec.mlkem().ok_or(AsymError::Internal)?;
    let len = match spec {
        Spec::MlKem512 => 800,
        Spec::MlKem768 => 1184,
        _ => 1568,
    };
    let raw = mlkem_key_from_spki(public_spki, oid_last, len).ok_or(AsymError::Internal)?;
    let ek = kem::EncapsulationKey::new(alg, raw).map_err(|_| AsymError::Internal)?;
    let (ct, ss) = ek.encapsulate()?;
    Ok((ct.as_ref().to_vec(), SecretBytes::from_slice(ss.as_ref())))
}

/// ML-KEM decapsulation. A ciphertext of the wrong length is the caller's error; a well-formed
/// but wrong ciphertext yields ML-KEM's implicit-rejection secret, as the standard requires.
pub fn decapsulate(spec: Spec, private: &SecretBytes, ciphertext: &[u8]) -> Result<SecretBytes, AsymError> {
    let (alg, _) = spec.mlkem().ok_or(AsymError::Internal)?;
    let dk = kem::DecapsulationKey::new(alg, private.expose()).map_err(|_| AsymError::Internal)?;
    let ss = dk
        .decapsulate(kem::Ciphertext::from(ciphertext))
        .map_err(|_| AsymError::Invalid(format!("The ciphertext is not a valid {} ciphertext.", spec.name())))?;
    Ok(SecretBytes::from_slice(ss.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signing_spec_signs_and_verifies_raw_and_rejects_a_flipped_bit() {
        for spec in [
            Spec::Rsa2048,
            Spec::EccP256,
            Spec::EccP384,
            Spec::EccP521,
            Spec::EccSecp256k1,
            Spec::Ed25519,
            Spec::MlDsa44,
        ] {
            let g = generate(spec, false).unwrap();
            for &alg in spec.signing_algorithms() {
                let s = sign(spec, &g.private, alg, MessageType::Raw, b"release v1.0").unwrap();
                assert!(
                    verify(spec, &g.public_spki, alg, MessageType::Raw, b"release v1.0", &s).unwrap(),
                    "{spec:?} {alg:?}"
                );
                assert!(!verify(spec, &g.public_spki, alg, MessageType::Raw, b"release v1.1", &s).unwrap());
                let mut bad = s.clone();
                bad[s.len() / 2] ^= 1;
                assert!(!verify(spec, &g.public_spki, alg, MessageType::Raw, b"release v1.0", &bad).unwrap());
            }
        }
    }

    #[test]
    fn digest_signatures_equal_raw_signatures_semantically() {
        let g = generate(Spec::EccP384, false).unwrap();
        let d = digest::digest(&digest::SHA384, b"msg");
        let s = sign(Spec::EccP384, &g.private, SigningAlg::EcdsaSha384, MessageType::Digest, d.as_ref()).unwrap();
        assert!(verify(Spec::EccP384, &g.public_spki, SigningAlg::EcdsaSha384, MessageType::Raw, b"msg", &s).unwrap());
        let e = sign(Spec::EccP384, &g.private, SigningAlg::EcdsaSha384, MessageType::Digest, &[0u8; 32]).unwrap_err();
        assert!(matches!(e, AsymError::Invalid(_)));
        let g = generate(Spec::Ed25519, false).unwrap();
        let d = digest::digest(&digest::SHA512, b"msg");
        let s = sign(Spec::Ed25519, &g.private, SigningAlg::Ed25519PhSha512, MessageType::Digest, d.as_ref()).unwrap();
        assert!(
            verify(Spec::Ed25519, &g.public_spki, SigningAlg::Ed25519PhSha512, MessageType::Raw, b"msg", &s).unwrap()
        );
        assert!(
            !verify(Spec::Ed25519, &g.public_spki, SigningAlg::Ed25519Sha512, MessageType::Raw, b"msg", &s).unwrap()
        );
    }

    #[test]
    fn wrong_algorithm_for_spec_is_unsupported() {
        let g = generate(Spec::EccP256, false).unwrap();
        assert!(matches!(
            sign(Spec::EccP256, &g.private, SigningAlg::EcdsaSha384, MessageType::Raw, b"x"),
            Err(AsymError::Unsupported(_))
        ));
    }

    #[test]
    fn oaep_round_trips_and_enforces_the_size_limit() {
        let g = generate(Spec::Rsa2048, false).unwrap();
        for alg in [Oaep::Sha1, Oaep::Sha256] {
            let max = Spec::Rsa2048.oaep_max_plaintext(alg).unwrap();
            let ct = rsa_encrypt(Spec::Rsa2048, &g.public_spki, alg, &vec![7u8; max]).unwrap();
            assert_eq!(ct.len(), 256);
            assert_eq!(rsa_decrypt(&g.private, alg, &ct).unwrap().expose(), vec![7u8; max].as_slice());
            assert!(matches!(
                rsa_encrypt(Spec::Rsa2048, &g.public_spki, alg, &vec![7u8; max + 1]),
                Err(AsymError::Invalid(_))
            ));
            let mut bad = ct.clone();
            bad[10] ^= 1;
            assert!(rsa_decrypt(&g.private, alg, &bad).is_err());
        }
        assert_eq!(Spec::Rsa2048.oaep_max_plaintext(Oaep::Sha1), Some(214));
        assert_eq!(Spec::Rsa4096.oaep_max_plaintext(Oaep::Sha256), Some(446));
    }

    #[test]
    fn ecdh_agrees_from_both_sides_and_rejects_other_curves() {
        let a = generate(Spec::EccP256, true).unwrap();
        let b = generate(Spec::EccP256, true).unwrap();
        let ab = ecdh(Spec::EccP256, &a.private, &b.public_spki).unwrap();
        let ba = ecdh(Spec::EccP256, &b.private, &a.public_spki).unwrap();
        assert!(ab.ct_eq(ba.expose()));
        assert_eq!(ab.len(), 32);
        let other = generate(Spec::EccP384, true).unwrap();
        assert!(matches!(ecdh(Spec::EccP256, &a.private, &other.public_spki), Err(AsymError::Invalid(_))));
        assert!(matches!(ecdh(Spec::EccP256, &a.private, b"junk"), Err(AsymError::Invalid(_))));
        // Regression (Wycheproof ecdh_secp256r1 #359): the same point with explicit curve
        // parameters instead of the named-curve OID is refused.
        let explicit = hex::decode(
            "308201303081e906072a8648ce3d02013081dd020101302c06072a8648ce3d0101022100ffffffff000000010000\
             00000000000000000000ffffffffffffffffffffffff30440420ffffffff0000000100000000000000000000000\
             0fffffffffffffffffffffffc04205ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b\
             0441046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a\
             7c0f9e162bce33576b315ececbb6406837bf51f5022100ffffffff00000000ffffffffffffffffbce6faada7179e84\
             f3b9cac2fc632551034200041510264c189c3d523ff9916abd7069efa6968d8dc7ddb6457d7869b53ea60cdcfafb7\
             ed4786da15d29ee59256f536da3575a4888c1bb0a95b256f4a7e9fd764a",
        )
        .unwrap();
        assert!(matches!(ecdh(Spec::EccP256, &a.private, &explicit), Err(AsymError::Invalid(_))));
    }

    #[test]
    fn hmac_and_mlkem_work() {
        let k = generate(Spec::Hmac384, false).unwrap();
        assert_eq!(k.private.len(), 48);
        let t = mac(Spec::Hmac384, &k.private, b"m").unwrap();
        assert_eq!(t.len(), 48);
        assert!(mac_verify(Spec::Hmac384, &k.private, b"m", &t).unwrap());
        assert!(!mac_verify(Spec::Hmac384, &k.private, b"n", &t).unwrap());
        for spec in [Spec::MlKem512, Spec::MlKem768, Spec::MlKem1024] {
            let g = generate(spec, false).unwrap();
            let (ct, ss) = encapsulate(spec, &g.public_spki).unwrap();
            assert!(decapsulate(spec, &g.private, &ct).unwrap().ct_eq(ss.expose()));
            assert!(decapsulate(spec, &g.private, &ct[1..]).is_err());
        }
    }

    #[test]
    fn mlkem_encapsulation_takes_only_an_exact_spki() {
        // Regression (Wycheproof mlkem_*_encaps "Public key is too long"): the key used to be
        // the SPKI's last bytes, so an SPKI holding a longer key encapsulated to its tail.
        let g = generate(Spec::MlKem512, false).unwrap();
        assert!(encapsulate(Spec::MlKem512, &g.public_spki).is_ok());
        let key = &g.public_spki[g.public_spki.len() - 800..];
        let mut longer = key.to_vec();
        longer.insert(0, 7);
        assert!(encapsulate(Spec::MlKem512, &mlkem_spki(1, &longer)).is_err(), "a 801-byte key");
        assert!(encapsulate(Spec::MlKem512, &mlkem_spki(1, &key[1..])).is_err(), "a 799-byte key");
        assert!(encapsulate(Spec::MlKem512, &mlkem_spki(2, key)).is_err(), "the ML-KEM-768 OID");
        let mut junk = vec![0u8; 3];
        junk.extend_from_slice(key);
        assert!(encapsulate(Spec::MlKem512, &junk).is_err(), "not an SPKI");
        assert!(encapsulate(Spec::MlKem512, &[]).is_err());
    }
}

/// How key material to import is wrapped (KMS `WrappingAlgorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportWrap {
    RsaPkcs1V15,
    RsaOaep(Oaep),
    /// CKM_RSA_AES_KEY_WRAP: RSA-OAEP of an ephemeral AES-256 key, then AES key wrap with
    /// padding (RFC 5649) of the material under that key.
    RsaAesKeyWrap(Oaep),
}

impl ImportWrap {
    pub fn from_name(name: &str) -> Option<ImportWrap> {
        Some(match name {
            "RSAES_PKCS1_V1_5" => ImportWrap::RsaPkcs1V15,
            "RSAES_OAEP_SHA_1" => ImportWrap::RsaOaep(Oaep::Sha1),
            "RSAES_OAEP_SHA_256" => ImportWrap::RsaOaep(Oaep::Sha256),
            "RSA_AES_KEY_WRAP_SHA_1" => ImportWrap::RsaAesKeyWrap(Oaep::Sha1),
            "RSA_AES_KEY_WRAP_SHA_256" => ImportWrap::RsaAesKeyWrap(Oaep::Sha256),
            _ => return None,
        })
    }
}

/// Unwraps imported key material with the wrapping key's private half (PKCS#8).
pub fn unwrap_import(
    wrap: ImportWrap,
    wrapping_private: &SecretBytes,
    wrapped: &[u8],
) -> Result<SecretBytes, CryptoError> {
    match wrap {
        ImportWrap::RsaOaep(alg) => rsa_decrypt(wrapping_private, alg, wrapped),
        ImportWrap::RsaPkcs1V15 => {
            let pk =
                rsa::PrivateDecryptingKey::from_pkcs8(wrapping_private.expose()).map_err(|_| CryptoError::Internal)?;
            let key = rsa::Pkcs1PrivateDecryptingKey::new(pk).map_err(|_| CryptoError::Internal)?;
            let mut out = SecretBytes::zeroed(key.min_output_size());
            let n = key.decrypt(wrapped, out.as_mut_slice()).map_err(|_| CryptoError::Invalid)?.len();
            Ok(SecretBytes::from_slice(&out.expose()[..n]))
        }
        ImportWrap::RsaAesKeyWrap(alg) => {
            let pk =
                rsa::PrivateDecryptingKey::from_pkcs8(wrapping_private.expose()).map_err(|_| CryptoError::Internal)?;
            let k = pk.key_size_bytes();
            if wrapped.len() <= k {
                return Err(CryptoError::Invalid);
            }
            let aes = rsa_decrypt(wrapping_private, alg, &wrapped[..k])?;
            aes_kwp_unwrap(&aes, &wrapped[k..])
        }
    }
}

/// AES-256 key wrap with padding (RFC 5649, KWP) unwrap: the second half of
/// CKM_RSA_AES_KEY_WRAP. A KEK that is not 32 bytes, or a wrapped value that does not check, is
/// `CryptoError::Invalid`.
pub fn aes_kwp_unwrap(kek: &SecretBytes, wrapped: &[u8]) -> Result<SecretBytes, CryptoError> {
    use aws_lc_rs::key_wrap::{KeyEncryptionKey, KeyWrapPadded, AES_256};
    let kek = KeyEncryptionKey::new(&AES_256, kek.expose()).map_err(|_| CryptoError::Invalid)?;
    let mut out = SecretBytes::zeroed(wrapped.len());
    let n = kek.unwrap_with_padding(wrapped, out.as_mut_slice()).map_err(|_| CryptoError::Invalid)?.len();
    Ok(SecretBytes::from_slice(&out.expose()[..n]))
}

/// Checks imported private-key material (PKCS#8 DER) against the key spec and derives its public
/// key. HMAC material is checked by length only (AWS's ranges).
pub fn import_private(spec: Spec, agreement: bool, material: &SecretBytes) -> Result<Generated, AsymError> {
    let bad = |what: &str| AsymError::Invalid(format!("The imported key material is not {what} for {}.", spec.name()));
    if spec.is_hmac() {
        let (min, max) = match spec {
            Spec::Hmac224 => (28, 64),
            Spec::Hmac256 => (32, 64),
            Spec::Hmac384 => (48, 128),
            _ => (64, 128),
        };
        if !(min..=max).contains(&material.len()) {
            return Err(bad(&format!("between {min} and {max} bytes")));
        }
        return Ok(Generated { private: material.clone(), public_spki: Vec::new() });
    }
    let der = material.expose();
    let spki = if spec.is_rsa() {
        let kp = rsa::KeyPair::from_pkcs8(der).map_err(|_| bad("an RSA private key in PKCS#8 DER"))?;
        if Some(kp.public_modulus_len()) != spec.rsa_modulus_bytes() {
            return Err(bad("an RSA key of the right size"));
        }
        kp.public_key().as_der()?.as_ref().to_vec()
    } else if agreement {
        let alg = spec.ecdh().ok_or(AsymError::Internal)?;
        let pk = agreement::PrivateKey::from_private_key_der(alg, der)
            .map_err(|_| bad("an EC private key on this curve"))?;
        pk.compute_public_key()?.as_der()?.as_ref().to_vec()
    } else if let Some(alg) = spec.ecdsa_signing() {
        let kp = sig::EcdsaKeyPair::from_pkcs8(alg, der)
            .map_err(|_| bad("an EC private key on this curve in PKCS#8 DER"))?;
        kp.public_key().as_der()?.as_ref().to_vec()
    } else if spec == Spec::Ed25519 {
        let kp = sig::Ed25519KeyPair::from_pkcs8(der).map_err(|_| bad("an Ed25519 private key in PKCS#8 DER"))?;
        kp.public_key().as_der()?.as_ref().to_vec()
    } else {
        return Err(AsymError::Unsupported(format!("{} keys cannot have imported key material.", spec.name())));
    };
    Ok(Generated { private: material.clone(), public_spki: spki })
}

#[cfg(test)]
mod import_tests {
    use super::*;
    use aws_lc_rs::key_wrap::{KeyEncryptionKey, KeyWrapPadded, AES_256};

    #[test]
    fn every_wrapping_algorithm_unwraps() {
        let wk = generate(Spec::Rsa2048, false).unwrap();
        let material = [5u8; 32];
        for alg in [Oaep::Sha1, Oaep::Sha256] {
            let wrapped = rsa_encrypt(Spec::Rsa2048, &wk.public_spki, alg, &material).unwrap();
            assert_eq!(unwrap_import(ImportWrap::RsaOaep(alg), &wk.private, &wrapped).unwrap().expose(), &material);
            let aes = [9u8; 32];
            let mut wrapped = rsa_encrypt(Spec::Rsa2048, &wk.public_spki, alg, &aes).unwrap();
            let kek = KeyEncryptionKey::new(&AES_256, &aes).unwrap();
            let mut out = vec![0u8; material.len() + 16];
            let n = kek.wrap_with_padding(&material, &mut out).unwrap().len();
            wrapped.extend_from_slice(&out[..n]);
            assert_eq!(
                unwrap_import(ImportWrap::RsaAesKeyWrap(alg), &wk.private, &wrapped).unwrap().expose(),
                &material
            );
            assert!(unwrap_import(ImportWrap::RsaAesKeyWrap(alg), &wk.private, &wrapped[..wrapped.len() - 1]).is_err());
        }
        let pk = rsa::PublicEncryptingKey::from_der(&wk.public_spki).unwrap();
        let enc = rsa::Pkcs1PublicEncryptingKey::new(pk).unwrap();
        let mut out = vec![0u8; enc.ciphertext_size()];
        let n = enc.encrypt(&material, &mut out).unwrap().len();
        assert_eq!(unwrap_import(ImportWrap::RsaPkcs1V15, &wk.private, &out[..n]).unwrap().expose(), &material);
    }

    #[test]
    fn imported_private_keys_are_checked_against_the_spec() {
        let ec = generate(Spec::EccP256, false).unwrap();
        let imported = import_private(Spec::EccP256, false, &ec.private).unwrap();
        assert_eq!(imported.public_spki, ec.public_spki);
        assert!(import_private(Spec::EccP384, false, &ec.private).is_err());
        assert!(import_private(Spec::Rsa2048, false, &ec.private).is_err());
        assert!(import_private(Spec::Hmac256, false, &SecretBytes::from_slice(&[1; 31])).is_err());
        assert!(import_private(Spec::Hmac256, false, &SecretBytes::from_slice(&[1; 32])).is_ok());
    }
}
