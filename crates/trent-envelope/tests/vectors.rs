//! Decrypts the committed corpus made by the official Python aws-encryption-sdk
//! (scripts/gen-envelope-vectors.py), and proves tampering with any region of those messages fails.

use base64::Engine;
use serde_json::Value;
use std::path::PathBuf;
use trent_envelope::{
    context::PUBLIC_KEY_FIELD, decrypt, CommitmentPolicy, DecryptOptions, DefaultCmm, EncryptionContext, Error,
    Keyring, MultiKeyring, RawAesKeyring, RawRsaKeyring, RsaPadding,
};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn manifest() -> Value {
    serde_json::from_slice(&std::fs::read(dir().join("manifest.json")).unwrap()).unwrap()
}

fn plaintext(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 31 + 7) % 256) as u8).collect()
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).unwrap()
}

fn keyring(m: &Value, id: &str) -> Box<dyn Keyring> {
    let k = &m["keys"][id];
    let (ns, name) = (k["namespace"].as_str().unwrap(), k["name"].as_str().unwrap());
    match k["type"].as_str().unwrap() {
        "aes" => {
            let key = base64::engine::general_purpose::STANDARD.decode(k["key_base64"].as_str().unwrap()).unwrap();
            Box::new(RawAesKeyring::new(ns, name, &key).unwrap())
        }
        _ => {
            let pem = std::fs::read_to_string(dir().join(k["pem_file"].as_str().unwrap())).unwrap();
            let padding = RsaPadding::parse(k["padding"].as_str().unwrap()).unwrap();
            Box::new(RawRsaKeyring::from_private_pkcs8(ns, name, &pem_to_der(&pem), padding).unwrap())
        }
    }
}

fn cases(m: &Value) -> &Vec<Value> {
    m["cases"].as_array().unwrap()
}

fn message(case: &Value) -> Vec<u8> {
    std::fs::read(dir().join(case["file"].as_str().unwrap())).unwrap()
}

fn allow_legacy() -> DecryptOptions {
    DecryptOptions { commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt, ..Default::default() }
}

#[test]
fn every_python_sdk_vector_decrypts_with_each_of_its_keys() {
    let m = manifest();
    let mut checked = 0;
    let mut suites = std::collections::BTreeSet::new();
    for case in cases(&m) {
        let msg = message(case);
        let want = plaintext(case["plaintext_length"].as_u64().unwrap() as usize);
        let want_ec: EncryptionContext = serde_json::from_value(case["encryption_context"].clone()).unwrap();
        for key in case["keys"].as_array().unwrap() {
            let cmm = DefaultCmm::new(keyring(&m, key.as_str().unwrap()));
            let (pt, summary) =
                decrypt(&cmm, &allow_legacy(), &msg).unwrap_or_else(|e| panic!("{} with {key}: {e}", case["name"]));
            assert_eq!(*pt, want, "{}", case["name"]);
            assert_eq!(format!("0x{:04X}", summary.suite.id), case["suite"].as_str().unwrap());
            let mut ec = summary.encryption_context.clone();
            let had_public_key = ec.remove(PUBLIC_KEY_FIELD).is_some();
            assert_eq!(ec, want_ec, "{}", case["name"]);
            assert_eq!(had_public_key, summary.suite.signing.is_some());
            assert_eq!(summary.signature_verified, summary.suite.signing.is_some());
            checked += 1;
        }
        suites.insert(case["suite"].as_str().unwrap().to_string());
    }
    assert_eq!(suites.len(), 11, "the corpus covers every suite: {suites:?}");
    assert!(checked >= 50, "only {checked} decryptions");
}

#[test]
fn vectors_cover_framed_nonframed_several_edks_and_contexts() {
    let m = manifest();
    let cs = cases(&m);
    assert!(cs.iter().any(|c| c["framed"] == true));
    assert!(cs.iter().any(|c| c["framed"] == false));
    assert!(cs.iter().any(|c| c["keys"].as_array().unwrap().len() >= 3));
    assert!(cs.iter().any(|c| c["encryption_context"].as_object().unwrap().is_empty()));
    assert!(cs.iter().any(|c| c["encryption_context"].as_object().unwrap().len() >= 3));
}

#[test]
fn default_policy_refuses_legacy_vectors_and_accepts_committing_ones() {
    let m = manifest();
    for case in cases(&m) {
        let cmm = DefaultCmm::new(keyring(&m, case["keys"][0].as_str().unwrap()));
        let r = decrypt(&cmm, &DecryptOptions::default(), &message(case));
        let committing = matches!(case["suite"].as_str().unwrap(), "0x0478" | "0x0578");
        if committing {
            assert!(r.is_ok(), "{}", case["name"]);
        } else {
            assert!(matches!(r, Err(Error::CommitmentPolicy(_))), "{}: {:?}", case["name"], r.err());
        }
    }
}

#[test]
fn a_keyring_without_any_of_the_message_keys_cannot_decrypt() {
    let m = manifest();
    let case = cases(&m).iter().find(|c| c["name"] == "0578-aes256-framed-multi").unwrap();
    let wrong = RawAesKeyring::new("vectors-aes", "aes-256", &[9u8; 32]).unwrap();
    let r = decrypt(&DefaultCmm::new(wrong), &allow_legacy(), &message(case));
    assert!(matches!(r, Err(Error::NoDecryptableDataKey(_))), "{:?}", r.err());
    let other_name = RawAesKeyring::new("vectors-aes", "aes-other", &(0u8..32).collect::<Vec<_>>()).unwrap();
    assert!(decrypt(&DefaultCmm::new(other_name), &allow_legacy(), &message(case)).is_err());
}

#[test]
fn a_multi_keyring_decrypts_with_whichever_child_holds_a_key() {
    let m = manifest();
    let case = cases(&m).iter().find(|c| c["name"] == "0578-several-edks").unwrap();
    let wrong = RawAesKeyring::new("nobody", "x", &[1u8; 16]).unwrap();
    let multi = MultiKeyring::new(None, vec![Box::new(wrong), keyring(&m, "rsa-pkcs1")]).unwrap();
    let (pt, _) = decrypt(&DefaultCmm::new(multi), &DecryptOptions::default(), &message(case)).unwrap();
    assert_eq!(*pt, plaintext(9000));
}

#[test]
fn required_encryption_context_missing_from_the_vector_fails() {
    let m = manifest();
    let case = cases(&m).iter().find(|c| c["name"] == "0478-aes256-framed-multi").unwrap();
    let cmm = DefaultCmm::new(keyring(&m, "aes256"));
    let mut opts = DecryptOptions::default();
    opts.required_encryption_context.insert("tenant".into(), "trent".into());
    assert!(decrypt(&cmm, &opts, &message(case)).is_ok());
    opts.required_encryption_context.insert("tenant".into(), "someone-else".into());
    assert!(matches!(decrypt(&cmm, &opts, &message(case)), Err(Error::EncryptionContextMismatch { .. })));
    let mut opts = DecryptOptions::default();
    opts.required_encryption_context.insert("absent".into(), "x".into());
    assert!(matches!(decrypt(&cmm, &opts, &message(case)), Err(Error::EncryptionContextMismatch { .. })));
}

#[test]
fn max_encrypted_data_keys_refuses_the_four_edk_vector() {
    let m = manifest();
    let case = cases(&m).iter().find(|c| c["name"] == "0478-several-edks").unwrap();
    let cmm = DefaultCmm::new(keyring(&m, "aes256"));
    let opts = DecryptOptions { max_encrypted_data_keys: Some(3), ..Default::default() };
    assert!(matches!(decrypt(&cmm, &opts, &message(case)), Err(Error::TooManyEncryptedDataKeys { max: 3, found: 4 })));
    let opts = DecryptOptions { max_encrypted_data_keys: Some(4), ..Default::default() };
    assert!(decrypt(&cmm, &opts, &message(case)).is_ok());
}

/// Flips one bit in every byte (header, EDKs, header tag, each frame, final frame, footer): all must fail.
fn assert_every_flip_fails(name: &str, key: &str, policy: CommitmentPolicy) -> usize {
    let m = manifest();
    let case = cases(&m).iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no vector {name}"));
    let msg = message(case);
    let cmm = DefaultCmm::new(keyring(&m, key));
    let opts = DecryptOptions { commitment_policy: policy, ..Default::default() };
    assert!(decrypt(&cmm, &opts, &msg).is_ok());
    for i in 0..msg.len() {
        let mut bad = msg.clone();
        bad[i] ^= 0x01;
        assert!(decrypt(&cmm, &opts, &bad).is_err(), "{name}: flipping byte {i} of {} went unnoticed", msg.len());
    }
    msg.len()
}

#[test]
fn flipping_any_byte_of_a_signed_v2_message_fails() {
    assert!(assert_every_flip_fails("0578-aes256-framed-multi", "aes256", CommitmentPolicy::default()) > 1000);
}

#[test]
fn flipping_any_byte_of_an_unsigned_v2_message_fails() {
    assert_every_flip_fails("0478-aes128-framed-empty", "aes128", CommitmentPolicy::default());
}

#[test]
fn flipping_any_byte_of_v1_framed_and_nonframed_messages_fails() {
    let p = CommitmentPolicy::RequireEncryptAllowDecrypt;
    assert_every_flip_fails("0178-aes256-framed-multi", "aes256", p);
    assert_every_flip_fails("0014-aes128-framed-empty", "aes128", p);
    assert_every_flip_fails("0214-rsa-nonframed-multi", "rsa-oaep-sha256", p);
    assert_every_flip_fails("0478-aes192-nonframed", "aes192", CommitmentPolicy::default());
}

#[test]
fn every_truncation_and_any_trailing_byte_fail() {
    let m = manifest();
    for (name, key) in [("0578-aes256-framed-multi", "aes256"), ("0478-rsa-nonframed-multi", "rsa-oaep-sha256")] {
        let case = cases(&m).iter().find(|c| c["name"] == name).unwrap();
        let msg = message(case);
        let cmm = DefaultCmm::new(keyring(&m, key));
        let opts = DecryptOptions::default();
        for n in 0..msg.len() {
            assert!(decrypt(&cmm, &opts, &msg[..n]).is_err(), "{name}: prefix of {n} bytes accepted");
        }
        let mut longer = msg.clone();
        longer.push(0);
        assert!(matches!(decrypt(&cmm, &opts, &longer), Err(Error::TrailingData)));
    }
}

#[test]
fn swapping_two_frames_of_a_python_message_is_detected_as_reordering() {
    let m = manifest();
    let case = cases(&m).iter().find(|c| c["name"] == "0478-aes256-framed-multi").unwrap();
    let msg = message(case);
    let cmm = DefaultCmm::new(keyring(&m, "aes256"));
    // Body starts after the header; regular frames of 256 bytes are 4 + 12 + 256 + 16 = 288 bytes.
    let frame = 288;
    let (header, _) = trent_envelope::read_header(&mut msg.as_slice(), None).unwrap();
    let body_start = header.serialize().unwrap().len() + 16;
    let mut swapped = msg.clone();
    let (a, b) = (body_start, body_start + frame);
    let first = msg[a..a + frame].to_vec();
    swapped[a..a + frame].copy_from_slice(&msg[b..b + frame]);
    swapped[b..b + frame].copy_from_slice(&first);
    let r = decrypt(&cmm, &DecryptOptions::default(), &swapped);
    assert!(matches!(r, Err(Error::BadSequenceNumber { expected: 1, found: 2 })), "{:?}", r.err());
    // Dropping a frame is caught the same way.
    let mut dropped = msg[..a].to_vec();
    dropped.extend_from_slice(&msg[b..]);
    let r = decrypt(&cmm, &DecryptOptions::default(), &dropped);
    assert!(matches!(r, Err(Error::BadSequenceNumber { .. })), "{:?}", r.err());
}

/// A deterministic stand-in for the fuzzer (fuzz/fuzz_targets/envelope_message.rs): random
/// multi-byte edits, insertions, deletions and splices of real messages never panic, and never
/// decrypt to anything but an error (any edit breaks authentication).
#[test]
fn random_mutations_of_vectors_never_panic_and_never_decrypt() {
    let m = manifest();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let keys: Vec<Box<dyn Keyring>> = vec![keyring(&m, "aes128"), keyring(&m, "aes192"), keyring(&m, "aes256")];
    let cmm = DefaultCmm::new(MultiKeyring::new(None, keys).unwrap());
    let opts = DecryptOptions {
        commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
        max_body_chunk: 1 << 20,
        ..Default::default()
    };
    let aes_cases: Vec<Vec<u8>> = cases(&m)
        .iter()
        .filter(|c| c["keys"].as_array().unwrap().iter().all(|k| k.as_str().unwrap().starts_with("aes")))
        .map(message)
        .collect();
    assert!(aes_cases.len() > 10);
    for i in 0..3000 {
        let base = &aes_cases[i % aes_cases.len()];
        let mut msg = base.clone();
        for _ in 0..=(next() % 3) {
            let pos = (next() as usize) % msg.len().max(1);
            match next() % 4 {
                0 if !msg.is_empty() => msg[pos] = next() as u8,
                1 => msg.insert(pos.min(msg.len()), next() as u8),
                2 if !msg.is_empty() => {
                    msg.remove(pos);
                }
                _ => {
                    let other = &aes_cases[(next() as usize) % aes_cases.len()];
                    let cut = (next() as usize) % other.len().max(1);
                    msg.truncate(pos);
                    msg.extend_from_slice(&other[cut..]);
                }
            }
        }
        if msg == *base {
            continue;
        }
        assert!(decrypt(&cmm, &opts, &msg).is_err(), "mutation {i} decrypted");
    }
}
