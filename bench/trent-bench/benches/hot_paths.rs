//! Micro-benchmarks of trentd's per-request hot paths, through the crates' public functions.
//!
//! `cd bench && cargo bench` (or `bench/run --micro`). Each group is short (1 s warm-up,
//! 2 s measurement) so the whole file runs in well under a minute on two cores.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use trent_crypto::aead::Aes256Gcm;
use trent_crypto::blob;
use trent_wire::json::SecretBlob;
use trent_wire::sigv4::{self, Credential, CredentialLookup, RequestParts, Verifier};
use zeroize::Zeroizing;

const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

struct Keys(HashMap<String, Arc<Credential<String>>>);

impl CredentialLookup<String> for Keys {
    fn lookup(&self, id: &str, _token: Option<&str>) -> Option<Arc<Credential<String>>> {
        self.0.get(id).cloned()
    }
}

fn keys() -> Keys {
    let mut m = HashMap::new();
    m.insert(AKID.to_string(), Arc::new(Credential::new(Zeroizing::new(SECRET.to_string()), "admin".to_string())));
    Keys(m)
}

/// An Encrypt request body as the AWS SDKs send it.
fn encrypt_body(n: usize) -> Vec<u8> {
    format!(r#"{{"KeyId":"{KEY_ID}","Plaintext":"{}"}}"#, STANDARD.encode(vec![0x5a; n])).into_bytes()
}

fn signed_headers(body: &[u8], now: time::OffsetDateTime) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert("host", "127.0.0.1:4599".parse().unwrap());
    h.insert("content-type", "application/x-amz-json-1.1".parse().unwrap());
    h.insert("x-amz-target", "TrentService.Encrypt".parse().unwrap());
    sigv4::sign("POST", "/", "", &mut h, body, AKID, SECRET, None, "us-east-1", "kms", now);
    h
}

fn sigv4_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("sigv4");
    let now = time::OffsetDateTime::now_utc();
    let lookup = keys();
    let verifier = Verifier::default();
    for (name, n) in [("64B", 64), ("4KB", 4096)] {
        let body = encrypt_body(n);
        let headers = signed_headers(&body, now);
        g.throughput(Throughput::Bytes(body.len() as u64));
        // The server's check of one request (signing key cached after the first call, as in trentd).
        g.bench_function(format!("verify_encrypt_{name}"), |b| {
            b.iter(|| {
                let req = RequestParts {
                    method: "POST",
                    path: "/",
                    query: "",
                    headers: &headers,
                    authority: None,
                    body: &body,
                };
                verifier.verify(black_box(&req), "kms", now, &lookup).unwrap()
            })
        });
        // The client's cost, for scale: the load generator pays it on every request.
        g.bench_function(format!("sign_encrypt_{name}"), |b| b.iter(|| signed_headers(black_box(&body), now)));
    }
    g.bench_function("derive_signing_key", |b| {
        b.iter(|| sigv4::derive_signing_key(black_box(SECRET), "20261123", "us-east-1", "kms"))
    });
    g.finish();
}

fn aead_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("aes256gcm");
    let key = Aes256Gcm::new(&[7u8; 32]).unwrap();
    for (name, n) in [("64B", 64usize), ("4KB", 4096)] {
        let pt = vec![0x42u8; n];
        g.throughput(Throughput::Bytes(n as u64));
        g.bench_function(format!("seal_{name}"), |b| b.iter(|| key.seal(b"aad", black_box(&pt)).unwrap()));
    }
    g.finish();
}

fn blob_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("blob");
    let key = Aes256Gcm::new(&[9u8; 32]).unwrap();
    let material = [0xAB; blob::MATERIAL_ID_LEN];
    let ctx = trent_crypto::context::encode(&BTreeMap::new());
    for (name, n) in [("64B", 64usize), ("4KB", 4096)] {
        let pt = vec![0x42u8; n];
        let sealed = blob::seal(&key, KEY_ID, &material, &ctx, &pt).unwrap();
        g.throughput(Throughput::Bytes(n as u64));
        g.bench_function(format!("seal_{name}"), |b| {
            b.iter(|| blob::seal(&key, KEY_ID, &material, &ctx, black_box(&pt)).unwrap())
        });
        g.bench_function(format!("parse_{name}"), |b| b.iter(|| blob::parse(black_box(&sealed)).unwrap().key_id.len()));
        g.bench_function(format!("parse_open_{name}"), |b| {
            b.iter(|| {
                let p = blob::parse(black_box(&sealed)).unwrap();
                blob::open(&key, &p, &ctx).unwrap()
            })
        });
    }
    g.finish();
}

/// The shape of trent-kms's Encrypt request (its own type is crate-internal to the handler).
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(dead_code)]
struct EncryptRequest {
    key_id: Option<String>,
    plaintext: Option<SecretBlob>,
    encryption_context: Option<BTreeMap<String, String>>,
    grant_tokens: Option<Vec<String>>,
    encryption_algorithm: Option<String>,
    dry_run: Option<bool>,
}

fn json_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("json");
    for (name, n) in [("64B", 64usize), ("4KB", 4096)] {
        let body = encrypt_body(n);
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(format!("decode_encrypt_{name}"), |b| {
            b.iter(|| trent_wire::json::decode::<EncryptRequest>(black_box(&body)).unwrap())
        });
    }
    let ctx_body = br#"{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","Plaintext":"aGVsbG8gd29ybGQ=","EncryptionContext":{"purpose":"bench","tenant":"acme","app":"payments"}}"#;
    g.bench_function("decode_encrypt_with_context", |b| {
        b.iter(|| trent_wire::json::decode::<EncryptRequest>(black_box(ctx_body)).unwrap())
    });
    g.finish();
}

/// KMS Sign as trentd runs it today: `asym::sign` parses the PKCS#8 private key on every call,
/// then signs. `pkcs8_parse_*` is that parse alone (aws-lc-rs), i.e. what a parsed-key cache saves.
fn asym_benches(c: &mut Criterion) {
    use trent_crypto::asym::{self, MessageType, SigningAlg, Spec};
    let mut g = c.benchmark_group("asym");
    let msg = [0x42u8; 64];
    let rsa = asym::generate(Spec::Rsa2048, false).unwrap();
    let ecc = asym::generate(Spec::EccP256, false).unwrap();
    g.bench_function("sign_rsa2048_pss_sha256", |b| {
        b.iter(|| {
            asym::sign(Spec::Rsa2048, &rsa.private, SigningAlg::RsaPssSha256, MessageType::Raw, black_box(&msg))
                .unwrap()
        })
    });
    g.bench_function("sign_ecdsa_p256_sha256", |b| {
        b.iter(|| {
            asym::sign(Spec::EccP256, &ecc.private, SigningAlg::EcdsaSha256, MessageType::Raw, black_box(&msg)).unwrap()
        })
    });
    g.bench_function("pkcs8_parse_rsa2048", |b| {
        b.iter(|| aws_lc_rs::rsa::KeyPair::from_pkcs8(black_box(rsa.private.expose())).unwrap())
    });
    g.bench_function("pkcs8_parse_ecdsa_p256", |b| {
        b.iter(|| {
            aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                black_box(ecc.private.expose()),
            )
            .unwrap()
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2)).sample_size(50)
}

criterion_group! {
    name = hot_paths;
    config = config();
    targets = sigv4_benches, aead_benches, blob_benches, json_benches, asym_benches
}
criterion_main!(hot_paths);
