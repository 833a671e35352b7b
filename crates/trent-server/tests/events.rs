//! Parameter Store events reach an HMAC-signed webhook (with retries) and the events file.

mod common;

use common::*;
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Received {
    signature: String,
    body: Vec<u8>,
}

/// A webhook receiver that answers 500 to the first request and 200 after.
fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { return };
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let (mut len, mut signature) = (0usize, String::new());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                if lower.starts_with("x-trent-signature:") {
                    signature = line["x-trent-signature:".len()..].trim().to_string();
                }
            }
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).unwrap();
            let status = if n == 0 { "500 Internal Server Error" } else { "200 OK" };
            let _ = conn
                .write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes());
            seen.lock().unwrap().push(Received { signature, body });
        }
    });
    (url, got)
}

fn ssm(addr: &str, op: &str, body: serde_json::Value) -> Reply {
    let target = format!("AmazonSSM.{op}");
    let body = body.to_string();
    let mut req = Req::new(&target, body.as_bytes());
    req.service = "ssm";
    req.send(addr)
}

#[test]
fn parameter_changes_reach_a_signed_webhook_with_retries_and_the_events_file() {
    let (url, got) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let events_file = dir.path().join("events.jsonl");
    let mut cmd = command(dir.path());
    cmd.arg("--event-webhook").arg(&url).arg("--events-file").arg(&events_file);
    cmd.env("TRENT_EVENT_WEBHOOK_SECRET", "hook-secret");
    let s = start_with(cmd, dir.path());
    let r = ssm(&s.addr, "PutParameter", json!({"Name": "/hooked", "Type": "String", "Value": "v"}));
    assert_eq!(r.status, 200, "{}", r.body);

    let deadline = Instant::now() + Duration::from_secs(10);
    while got.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "webhook was not retried and delivered");
        std::thread::sleep(Duration::from_millis(50));
    }
    let got = got.lock().unwrap();
    assert_eq!(got[0].body, got[1].body, "the retry carries the same event");
    let event: serde_json::Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(event["detail-type"], "Parameter Store Change");
    assert_eq!(event["detail"]["operation"], "Create");
    assert_eq!(event["detail"]["name"], "/hooked");
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"hook-secret");
    let expected = format!("sha256={}", hex::encode(aws_lc_rs::hmac::sign(&key, &got[1].body).as_ref()));
    assert_eq!(got[1].signature, expected);

    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(&events_file).unwrap_or_default();
        if let Some(line) = text.lines().next() {
            let ev: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(ev["detail"]["name"], "/hooked");
            break;
        }
        assert!(Instant::now() < deadline, "no event in the events file");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_webhook_that_is_not_http_or_https_or_an_unreadable_webhook_ca_file_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.arg("--event-webhook").arg("ftp://example.invalid/hook");
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only http:// and https://"));
    let mut cmd = command(dir.path());
    cmd.arg("--event-webhook").arg("https://example.invalid/hook");
    cmd.arg("--event-webhook-ca-file").arg(dir.path().join("missing.pem"));
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--event-webhook-ca-file"));
}
