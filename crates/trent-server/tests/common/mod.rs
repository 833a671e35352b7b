//! Starts a real `trentd` on port 0 with its own data dir, and talks to it over plain HTTP/1.1
//! with requests signed by `trent_wire::sigv4::sign` (the botocore signer is used in tests/compat).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A fresh random root key, base64, for TRENT_ROOT_KEY (nodes that share a store share it).
pub fn random_root_key() -> String {
    let mut k = [0u8; 32];
    aws_lc_rs::rand::fill(&mut k).unwrap();
    trent_wire::json::base64_encode(&k)
}

pub const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

pub struct Server {
    pub child: Child,
    pub addr: String,
    pub data_dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn command(data_dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trentd"));
    c.arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--ready-file")
        .arg(data_dir.join("ready"))
        .arg("--sweep-interval-secs")
        .arg("1")
        .env("TRENT_ADMIN_ACCESS_KEY_ID", AKID)
        .env("TRENT_ADMIN_SECRET_ACCESS_KEY", SECRET)
        .env_remove("TRENT_ROOT_KEY")
        .env("TRENT_LOG", "warn")
        // Tests that are not about quotas must not be throttled by AWS's defaults.
        .env("TRENT_QUOTAS", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

pub fn start(data_dir: &Path) -> Server {
    start_with(command(data_dir), data_dir)
}

pub fn start_with(mut cmd: Command, data_dir: &Path) -> Server {
    let ready = data_dir.join("ready");
    let _ = std::fs::remove_file(&ready);
    let mut child = cmd.spawn().expect("spawn trentd");
    let addr = wait_ready(&mut child, &ready);
    Server { child, addr, data_dir: data_dir.to_path_buf() }
}

/// Waits until trentd has written its URL to `ready` and returns its `host:port`; fails the test
/// with trentd's stderr if it exits first, or after 20 s.
pub fn wait_ready(child: &mut std::process::Child, ready: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(url) = std::fs::read_to_string(ready) {
            if url.ends_with('\n') {
                return url.trim().trim_start_matches("http://").to_string();
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            panic!("trentd exited with {status} before it was ready: {err}");
        }
        assert!(Instant::now() < deadline, "trentd was not ready within 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops the server with SIGTERM and waits for it.
pub fn stop_gracefully(mut s: Server) {
    let pid = s.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "trentd did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["__type"].as_str().unwrap_or("")
    }
}

/// Sends raw bytes and reads the whole reply (the request says `Connection: close`).
pub fn send_raw(addr: &str, raw: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP reply: {text:?}"));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    Reply { status, body }
}

pub struct Req<'a> {
    pub target: &'a str,
    pub body: &'a [u8],
    pub region: &'a str,
    pub service: &'a str,
    pub akid: &'a str,
    pub secret: &'a str,
    pub when: time::OffsetDateTime,
    pub sign: bool,
}

impl<'a> Req<'a> {
    pub fn new(target: &'a str, body: &'a [u8]) -> Self {
        Req {
            target,
            body,
            region: "us-east-1",
            service: "kms",
            akid: AKID,
            secret: SECRET,
            when: time::OffsetDateTime::now_utc(),
            sign: true,
        }
    }

    pub fn bytes(&self, addr: &str) -> Vec<u8> {
        let mut h = http::HeaderMap::new();
        h.insert("host", addr.parse().unwrap());
        h.insert("content-type", "application/x-amz-json-1.1".parse().unwrap());
        h.insert("x-amz-target", self.target.parse().unwrap());
        if self.sign {
            trent_wire::sigv4::sign(
                "POST",
                "/",
                "",
                &mut h,
                self.body,
                self.akid,
                self.secret,
                None,
                self.region,
                self.service,
                self.when,
            );
        }
        let mut raw = format!("POST / HTTP/1.1\r\ncontent-length: {}\r\nconnection: close\r\n", self.body.len());
        for (k, v) in &h {
            raw.push_str(&format!("{}: {}\r\n", k, v.to_str().unwrap()));
        }
        raw.push_str("\r\n");
        let mut raw = raw.into_bytes();
        raw.extend_from_slice(self.body);
        raw
    }

    pub fn send(&self, addr: &str) -> Reply {
        send_raw(addr, &self.bytes(addr))
    }
}

/// A signed KMS call with default credentials and region.
pub fn kms(addr: &str, op: &str, body: serde_json::Value) -> Reply {
    let target = format!("TrentService.{op}");
    let body = body.to_string();
    Req::new(&target, body.as_bytes()).send(addr)
}
