//! trentd as a process: authentication, framing, limits, restart, crash, root key, bootstrap.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

fn b64(b: &[u8]) -> String {
    trent_wire::json::base64_encode(b)
}

#[test]
fn signed_call_succeeds_and_unsigned_call_is_missing_authentication_token() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    let r = kms(&s.addr, "CreateKey", json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["KeyMetadata"]["KeyState"], "Enabled");
    let mut unsigned = Req::new("TrentService.ListKeys", b"{}");
    unsigned.sign = false;
    let r = unsigned.send(&s.addr);
    assert_eq!((r.status, r.code()), (403, "MissingAuthenticationTokenException"));
}

#[test]
fn bad_signatures_get_their_aws_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    let mut old = Req::new("TrentService.ListKeys", b"{}");
    old.when = time::OffsetDateTime::now_utc() - time::Duration::minutes(10);
    let r = old.send(&s.addr);
    assert_eq!(r.code(), "InvalidSignatureException");
    assert!(r.body["message"].as_str().unwrap().starts_with("Signature expired"), "{}", r.body);

    let mut ssm = Req::new("TrentService.ListKeys", b"{}");
    ssm.service = "ssm";
    assert_eq!(ssm.send(&s.addr).code(), "InvalidSignatureException");

    let mut stranger = Req::new("TrentService.ListKeys", b"{}");
    stranger.akid = "AKIAUNKNOWNKEY000000";
    assert_eq!(stranger.send(&s.addr).code(), "UnrecognizedClientException");

    let mut wrong = Req::new("TrentService.ListKeys", b"{}");
    wrong.secret = "not-the-secret";
    assert_eq!(wrong.send(&s.addr).code(), "InvalidSignatureException");

    // A body changed after signing.
    let raw = Req::new("TrentService.ListKeys", b"{\"Limit\":1}").bytes(&s.addr);
    let tampered = String::from_utf8(raw).unwrap().replace("{\"Limit\":1}", "{\"Limit\":2}");
    assert_eq!(send_raw(&s.addr, tampered.as_bytes()).code(), "InvalidSignatureException");

    let mut garbage = Req::new("TrentService.ListKeys", b"{}").bytes(&s.addr);
    let text = String::from_utf8(garbage.clone()).unwrap();
    let start_auth = text.find("authorization: ").unwrap();
    let end_auth = start_auth + text[start_auth..].find("\r\n").unwrap();
    garbage =
        format!("{}authorization: AWS4-HMAC-SHA256 nonsense{}", &text[..start_auth], &text[end_auth..]).into_bytes();
    assert_eq!(send_raw(&s.addr, &garbage).code(), "IncompleteSignatureException");
}

#[test]
fn framing_errors_are_aws_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    let r = Req::new("TrentService.Frobnicate", b"{}").send(&s.addr);
    assert_eq!((r.status, r.code()), (400, "UnknownOperationException"));
    let r = Req::new("NoSuchService.ListKeys", b"{}").send(&s.addr);
    assert_eq!(r.code(), "UnknownOperationException");
    let r = Req::new("TrentService.ListKeys", b"{\"Limit\":").send(&s.addr);
    assert_eq!(r.code(), "SerializationException");
    let r = Req::new("TrentService.DescribeKey", b"{\"KeyId\": 5}").send(&s.addr);
    assert_eq!(r.code(), "SerializationException");
    let r = kms(&s.addr, "DescribeKey", json!({"KeyId": ""}));
    assert_eq!(r.code(), "ValidationException");
    assert!(r.body["message"].as_str().unwrap().starts_with("1 validation error detected: Value '' at 'keyId'"));
}

#[test]
fn oversized_body_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    // Declares 100 MB, sends 10 bytes: the answer must come at once, not after a hang.
    let raw = format!(
        "POST / HTTP/1.1\r\nhost: {}\r\nx-amz-target: TrentService.ListKeys\r\ncontent-length: 100000000\r\nconnection: close\r\n\r\n0123456789",
        s.addr
    );
    let r = send_raw(&s.addr, raw.as_bytes());
    assert_eq!((r.status, r.code()), (413, "RequestEntityTooLargeException"));
    // A chunked body with no declared length is cut off at the limit too.
    let big = vec![b'a'; 2 * 1024 * 1024];
    let mut raw = format!(
        "POST / HTTP/1.1\r\nhost: {}\r\nx-amz-target: TrentService.ListKeys\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{:x}\r\n",
        s.addr,
        big.len()
    )
    .into_bytes();
    raw.extend_from_slice(&big);
    raw.extend_from_slice(b"\r\n0\r\n\r\n");
    assert_eq!(send_raw(&s.addr, &raw).status, 413);
}

#[test]
fn garbage_bodies_never_produce_a_5xx_or_kill_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    let key = kms(&s.addr, "CreateKey", json!({})).body["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"x\"".to_vec(),
        b"{\"KeyId\": null}".to_vec(),
        b"{\"KeyId\": [1,2]}".to_vec(),
        b"\xff\xfe\x00".to_vec(),
        format!("{{\"KeyId\": \"{key}\", \"Plaintext\": \"\"}}").into_bytes(),
        format!("{{\"KeyId\": \"{key}\", \"CiphertextBlob\": \"AAAA\", \"NumberOfBytes\": -1}}").into_bytes(),
        format!(
            "{{\"KeyId\": \"{}\", \"Limit\": 99999999999999999999}}",
            "k".repeat(5000)
        )
        .into_bytes(),
        "{\"AliasName\": \"alias/\u{1F600}\", \"TargetKeyId\": \"arn:aws:kms:::\"}"
            .as_bytes()
            .to_vec(),
        b"{\"CiphertextBlob\": \"AQ==\"}".to_vec(),
        b"{\"EncryptionContext\": {\"a\": 1}}".to_vec(),
        b"{\"Tags\": [{\"TagKey\": \"a\"}]}".to_vec(),
        format!("{{\"KeyId\": \"{key}\", \"Message\": \"AA==\", \"MessageType\": \"DIGEST\", \"SigningAlgorithm\": \"ECDSA_SHA_256\", \"Signature\": \"AA==\"}}").into_bytes(),
        format!("{{\"KeyId\": \"{key}\", \"PublicKey\": \"MIIB\", \"KeyAgreementAlgorithm\": \"ECDH\", \"KeyPairSpec\": \"RSA_2048\"}}").into_bytes(),
        format!("{{\"KeyId\": \"{key}\", \"MacAlgorithm\": \"HMAC_SHA_256\", \"Mac\": \"AA==\", \"Message\": \"AA==\", \"EncapsulationAlgorithm\": \"ML_KEM\", \"SharedSecretCiphertextBlob\": \"AA==\"}}").into_bytes(),
        vec![b'{'; 10000],
    ];
    for op in [
        "CreateKey",
        "DescribeKey",
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateRandom",
        "CreateAlias",
        "ListAliases",
        "ListKeys",
        "TagResource",
        "ScheduleKeyDeletion",
        "PutKeyPolicy",
    ] {
        let target = format!("TrentService.{op}");
        for body in &bodies {
            let r = Req::new(&target, body).send(&s.addr);
            assert!(
                r.status == 200 || (r.status < 500 && !r.code().is_empty()),
                "{op} with {:?} gave {} {}",
                String::from_utf8_lossy(body),
                r.status,
                r.body
            );
        }
    }
    assert_eq!(kms(&s.addr, "ListKeys", json!({})).status, 200, "server still serving");
}

#[test]
fn keys_aliases_and_ciphertexts_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    let key = kms(&s.addr, "CreateKey", json!({"Description": "keep me"})).body["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    kms(&s.addr, "CreateAlias", json!({"AliasName": "alias/keep", "TargetKeyId": key}));
    let ct = kms(&s.addr, "Encrypt", json!({"KeyId": "alias/keep", "Plaintext": b64(b"still here")})).body
        ["CiphertextBlob"]
        .clone();
    stop_gracefully(s);
    let s = start(dir.path());
    let r = kms(&s.addr, "DescribeKey", json!({"KeyId": "alias/keep"}));
    assert_eq!(r.body["KeyMetadata"]["Description"], "keep me");
    let r = kms(&s.addr, "Decrypt", json!({"CiphertextBlob": ct}));
    assert_eq!(r.body["Plaintext"], b64(b"still here"));
}

#[test]
fn every_acknowledged_write_survives_kill_9_during_load() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    let addr = s.addr.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (addr, stop) = (addr.clone(), stop.clone());
        workers.push(std::thread::spawn(move || {
            let mut acked = Vec::new();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                // A dead server makes send_raw panic inside this thread: catch and stop.
                let Ok(r) = std::panic::catch_unwind(|| kms(&addr, "CreateKey", json!({}))) else {
                    break;
                };
                let Some(key) = r.body["KeyMetadata"]["KeyId"].as_str().map(String::from) else {
                    break;
                };
                let pt = format!("worker {w} message {i}");
                let Ok(r) = std::panic::catch_unwind(|| {
                    kms(&addr, "Encrypt", json!({"KeyId": key, "Plaintext": b64(pt.as_bytes())}))
                }) else {
                    acked.push((key, None));
                    break;
                };
                acked.push((key, r.body["CiphertextBlob"].as_str().map(|c| (c.to_string(), pt))));
            }
            acked
        }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let mut s = s;
    s.child.kill().unwrap(); // SIGKILL
    s.child.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked: Vec<_> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    drop(s);
    assert!(acked.len() >= 4, "the load made too few keys to mean anything: {}", acked.len());
    let s = start(dir.path());
    for (key, ct) in &acked {
        let r = kms(&s.addr, "DescribeKey", json!({"KeyId": key}));
        assert_eq!(r.status, 200, "acknowledged key {key} lost: {}", r.body);
        if let Some((ct, pt)) = ct {
            let r = kms(&s.addr, "Decrypt", json!({"CiphertextBlob": ct}));
            assert_eq!(r.body["Plaintext"], b64(pt.as_bytes()), "acknowledged ciphertext of {key} does not decrypt");
        }
    }
    // The audit trail survived too: its chain verifies across the crash (a torn, unacknowledged
    // last record is cut off at start), and every acknowledged CreateKey has its event.
    drop(s);
    let mut verifier = trent_crypto::audit::ChainVerifier::new(None);
    let mut created = std::collections::HashSet::new();
    let mut files: Vec<_> = std::fs::read_dir(dir.path().join("audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    for f in files {
        for (n, line) in std::fs::read_to_string(&f).unwrap().lines().enumerate() {
            let v = verifier.feed(line).unwrap_or_else(|e| panic!("{}:{}: {e}", f.display(), n + 1));
            let v = serde_json::Value::Object(v.value);
            if v["eventName"] == "CreateKey" {
                if let Some(k) = v["responseElements"]["keyMetadata"]["keyId"].as_str() {
                    created.insert(k.to_string());
                }
            }
        }
    }
    for (key, _) in &acked {
        assert!(created.contains(key), "acknowledged CreateKey of {key} has no audit event");
    }
}

#[test]
fn wrong_root_key_stops_the_server_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    stop_gracefully(s);
    let mut cmd = command(dir.path());
    cmd.env("TRENT_ROOT_KEY", b64(&[7u8; 32]));
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("root key does not match"), "{err}");
    // Missing root.key for an existing store: refuse, do not start over.
    std::fs::rename(dir.path().join("root.key"), dir.path().join("root.key.bak")).unwrap();
    let out = command(dir.path()).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("restore the root key"));
    assert!(!dir.path().join("root.key").exists(), "must not generate a new root key over an existing store");
}

#[cfg(unix)]
#[test]
fn root_key_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let _s = start(dir.path());
    let mode = std::fs::metadata(dir.path().join("root.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn generated_admin_key_is_printed_once_and_works() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.env_remove("TRENT_ADMIN_ACCESS_KEY_ID").env_remove("TRENT_ADMIN_SECRET_ACCESS_KEY");
    let mut s = start_with(cmd, dir.path());
    let mut stdout = s.child.stdout.take().unwrap();
    stop_gracefully(s);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
    let grab = |name: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}=")))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("{text}"))
    };
    let (id, secret) = (grab("AWS_ACCESS_KEY_ID"), grab("AWS_SECRET_ACCESS_KEY"));
    let mut cmd = command(dir.path());
    cmd.env_remove("TRENT_ADMIN_ACCESS_KEY_ID").env_remove("TRENT_ADMIN_SECRET_ACCESS_KEY");
    let mut s = start_with(cmd, dir.path());
    let mut req = Req::new("TrentService.ListKeys", b"{}");
    req.akid = &id;
    req.secret = &secret;
    assert_eq!(req.send(&s.addr).status, 200);
    let mut stdout = s.child.stdout.take().unwrap();
    stop_gracefully(s);
    let mut again = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut again).unwrap();
    assert!(!again.contains("AWS_SECRET_ACCESS_KEY="), "the secret must be printed only on first start");
}

#[test]
fn a_new_admin_key_in_the_environment_is_added_on_a_later_start() {
    let dir = tempfile::tempdir().unwrap();
    stop_gracefully(start(dir.path()));
    let mut cmd = command(dir.path());
    cmd.env("TRENT_ADMIN_ACCESS_KEY_ID", "test").env("TRENT_ADMIN_SECRET_ACCESS_KEY", "test");
    let s = start_with(cmd, dir.path());
    let mut req = Req::new("TrentService.ListKeys", b"{}");
    req.akid = "test";
    req.secret = "test";
    assert_eq!(req.send(&s.addr).status, 200);
    assert_eq!(Req::new("TrentService.ListKeys", b"{}").send(&s.addr).status, 200, "the first admin key still works");
}
