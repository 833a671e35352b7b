//! One request (or one client) must not be able to hurt the server: connection floods and
//! slow clients, invented regions, overflowing numbers, two servers on one data dir, a failed
//! first start, and files other users could read.

mod common;

use base64::Engine;
use common::*;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `command()` run under `prlimit`, so trentd's own open-file limit (soft and hard) is `nofile`.
fn command_with_file_limit(data_dir: &std::path::Path, nofile: u32) -> Command {
    command_with_file_limits(data_dir, nofile, nofile)
}

fn command_with_file_limits(data_dir: &std::path::Path, soft: u32, hard: u32) -> Command {
    let base = command(data_dir);
    let mut c = Command::new("prlimit");
    c.arg(format!("--nofile={soft}:{hard}")).arg("--").arg(base.get_program()).args(base.get_args());
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

fn soft_file_limit(pid: u32) -> u64 {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    line.split_whitespace().nth(3).unwrap().parse().unwrap()
}

/// True once the peer has closed `s` (EOF or reset), false if it is still open at `within`.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    read_until_closed(s, within).is_some()
}

/// What the peer sent before closing `s` (EOF or reset), or None if it is still open at `within`.
fn read_until_closed(s: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => return None,
            Err(_) => return Some(got),
        }
    }
}

#[test]
fn idle_and_slow_connections_past_the_file_limit_neither_starve_signed_calls_nor_stay_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command_with_file_limit(dir.path(), 1024);
    cmd.args(["--header-read-timeout-secs", "2", "--body-read-timeout-secs", "3", "--idle-timeout-secs", "4"]);
    let s = start_with(cmd, dir.path());
    assert_eq!(soft_file_limit(s.child.id()), 1024, "trentd must run with the lowered limit");

    let mut idle: Vec<TcpStream> = (0..1100).map(|_| TcpStream::connect(&s.addr).unwrap()).collect();
    let mut half_header: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut c = TcpStream::connect(&s.addr).unwrap();
            c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\n").unwrap();
            c
        })
        .collect();
    let mut half_body: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut c = TcpStream::connect(&s.addr).unwrap();
            c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"Lim").unwrap();
            c
        })
        .collect();

    // Ten real calls all succeed while the flood is open (they may wait for the idle ones to
    // time out and free a slot, but not for long).
    let started = Instant::now();
    for _ in 0..10 {
        let r = kms(&s.addr, "ListKeys", json!({}));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert!(started.elapsed() < Duration::from_secs(20), "calls took {:?}", started.elapsed());

    // And every connection that sent nothing, half a head or half a body has been closed; a
    // half body was answered 408 RequestTimeoutException first.
    for (what, conns) in [("idle", &mut idle), ("half-header", &mut half_header)] {
        for (i, c) in conns.iter_mut().enumerate() {
            assert!(closed_within(c, Duration::from_secs(15)), "{what} connection {i} is still open");
        }
    }
    for (i, c) in half_body.iter_mut().enumerate() {
        let got = read_until_closed(c, Duration::from_secs(15));
        let got = String::from_utf8_lossy(got.as_deref().unwrap_or_else(|| panic!("half-body {i} is still open")));
        assert!(got.starts_with("HTTP/1.1 408") && got.contains("RequestTimeoutException"), "{got}");
    }
    // The server is still fine afterwards.
    assert_eq!(kms(&s.addr, "ListKeys", json!({})).status, 200);
}

#[test]
fn trentd_raises_its_soft_open_file_limit_to_the_hard_limit() {
    let dir = tempfile::tempdir().unwrap();
    let s = start_with(command_with_file_limits(dir.path(), 256, 4096), dir.path());
    assert_eq!(soft_file_limit(s.child.id()), 4096);
    assert_eq!(kms(&s.addr, "ListKeys", json!({})).status, 200);
}

#[test]
fn a_kept_alive_connection_is_closed_once_idle_but_serves_requests_until_then() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.args(["--header-read-timeout-secs", "2"]);
    let s = start_with(cmd, dir.path());
    let mut c = TcpStream::connect(&s.addr).unwrap();
    let raw = Req::new("TrentService.ListKeys", b"{}").bytes(&s.addr);
    // The same request, kept alive instead of `Connection: close`.
    let keep = String::from_utf8(raw).unwrap().replace("connection: close\r\n", "");
    for _ in 0..2 {
        c.write_all(keep.as_bytes()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 4096];
        let n = c.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(closed_within(&mut c, Duration::from_secs(6)), "an idle kept-alive connection stayed open");
}

#[test]
fn a_region_aws_does_not_have_is_refused_and_an_extra_region_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.args(["--extra-region", "lab-east-1"]);
    let s = start_with(cmd, dir.path());
    for region in ["xx-region-0", "us-east-99", "aws-global"] {
        let mut r = Req::new("TrentService.ListKeys", b"{}");
        r.region = region;
        let reply = r.send(&s.addr);
        assert_eq!((reply.status, reply.code()), (400, "InvalidSignatureException"), "{region}: {}", reply.body);
        assert!(reply.body["message"].as_str().unwrap().contains("valid region"), "{}", reply.body);
    }
    for region in ["eu-west-1", "cn-north-1", "us-gov-west-1", "lab-east-1"] {
        let mut r = Req::new("TrentService.ListKeys", b"{}");
        r.region = region;
        assert_eq!(r.send(&s.addr).status, 200, "{region}");
    }
}

#[test]
fn replica_regions_must_be_real_regions() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    let key = kms(&s.addr, "CreateKey", json!({"MultiRegion": true}));
    let key_id = key.body["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    let r = kms(&s.addr, "ReplicateKey", json!({"KeyId": key_id, "ReplicaRegion": "xx-region-1"}));
    assert_eq!((r.status, r.code()), (400, "UnsupportedOperationException"), "{}", r.body);
    let r = kms(&s.addr, "ReplicateKey", json!({"KeyId": key_id, "ReplicaRegion": "eu-west-1"}));
    assert_eq!(r.status, 200, "{}", r.body);

    let body = json!({"Name": "db", "SecretString": "x", "AddReplicaRegions": [{"Region": "xx-region-1"}]}).to_string();
    let mut req = Req::new("secretsmanager.CreateSecret", body.as_bytes());
    req.service = "secretsmanager";
    let r = req.send(&s.addr);
    assert_eq!((r.status, r.code()), (400, "InvalidParameterException"), "{}", r.body);
}

fn ssm(addr: &str, op: &str, body: serde_json::Value) -> Reply {
    let target = format!("AmazonSSM.{op}");
    let body = body.to_string();
    let mut r = Req::new(&target, body.as_bytes());
    r.service = "ssm";
    r.send(addr)
}

fn secrets(addr: &str, op: &str, body: serde_json::Value) -> Reply {
    let target = format!("secretsmanager.{op}");
    let body = body.to_string();
    let mut r = Req::new(&target, body.as_bytes());
    r.service = "secretsmanager";
    r.send(addr)
}

#[test]
fn a_parameter_policy_duration_that_overflows_is_refused_and_parameters_stay_writable() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    for (kind, attr) in [("NoChangeNotification", "After"), ("ExpirationNotification", "Before")] {
        let policies = json!([
            {"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": "2099-01-01T00:00:00.000Z"}},
            {"Type": kind, "Version": "1.0", "Attributes": {attr: i64::MAX.to_string(), "Unit": "Days"}}
        ]);
        let r = ssm(
            &s.addr,
            "PutParameter",
            json!({"Name": "/p", "Value": "v", "Type": "String", "Tier": "Advanced", "Policies": policies.to_string()}),
        );
        assert_eq!((r.status, r.code()), (400, "InvalidPolicyAttributeException"), "{kind}: {}", r.body);
    }
    // The largest duration that fits, far before an expiration in the far past: the sweep's
    // subtraction saturates instead of overflowing inside its write transaction.
    let policies = json!([
        {"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": "2099-01-01T00:00:00.000Z"}},
        {"Type": "ExpirationNotification", "Version": "1.0", "Attributes": {"Before": (i64::MAX / 3_600_000).to_string(), "Unit": "Hours"}},
        {"Type": "NoChangeNotification", "Version": "1.0", "Attributes": {"After": (i64::MAX / 3_600_000).to_string(), "Unit": "Hours"}}
    ]);
    let r = ssm(
        &s.addr,
        "PutParameter",
        json!({"Name": "/big", "Value": "v", "Type": "String", "Tier": "Advanced", "Policies": policies.to_string()}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // The sweep runs every second: after it, writes still work (the writer was not poisoned).
    std::thread::sleep(Duration::from_millis(2500));
    let r = ssm(&s.addr, "PutParameter", json!({"Name": "/after", "Value": "v", "Type": "String"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = ssm(&s.addr, "GetParameter", json!({"Name": "/big"}));
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn a_secrets_next_token_at_the_largest_offset_gets_an_empty_page_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    assert_eq!(secrets(&s.addr, "CreateSecret", json!({"Name": "a", "SecretString": "x"})).status, 200);
    let token = base64::engine::general_purpose::STANDARD.encode(format!("offset:{}", usize::MAX));
    let r = secrets(&s.addr, "ListSecrets", json!({"NextToken": token}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["SecretList"], json!([]));
    assert!(r.body.get("NextToken").is_none(), "{}", r.body);
    let r = secrets(&s.addr, "ListSecretVersionIds", json!({"SecretId": "a", "NextToken": token}));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = secrets(
        &s.addr,
        "BatchGetSecretValue",
        json!({"Filters": [{"Key": "name", "Values": ["a"]}], "NextToken": token}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["SecretValues"], json!([]));
    let r = secrets(&s.addr, "ListSecrets", json!({"NextToken": "b2Zmc2V0Oi0x"})); // offset:-1
    assert_eq!((r.status, r.code()), (400, "InvalidNextTokenException"), "{}", r.body);
}

fn wait_exit(child: &mut std::process::Child) -> (std::process::ExitStatus, String, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "trentd did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut out, mut err) = (String::new(), String::new());
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (status, out, err)
}

#[test]
fn a_second_trentd_on_the_same_data_dir_exits_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path());
    let mut second = command(dir.path());
    second.env("TRENT_STORE", "sqlite");
    let mut child = second.spawn().unwrap();
    let (status, _, err) = wait_exit(&mut child);
    assert!(!status.success());
    let want = format!("is in use by another trentd (pid {})", first.child.id());
    assert!(err.contains(&want), "{err}");
    // The first one is unharmed, and once it has stopped the data dir can be used again.
    assert_eq!(kms(&first.addr, "ListKeys", json!({})).status, 200);
    stop_gracefully(first);
    let again = start(dir.path());
    assert_eq!(kms(&again.addr, "ListKeys", json!({})).status, 200);
}

#[test]
fn a_port_in_use_fails_before_the_admin_key_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let base = command(dir.path());
    let mut cmd = Command::new(base.get_program());
    cmd.args(base.get_args().map(|a| if a == "127.0.0.1:0" { port.as_ref() } else { a }));
    cmd.env("TRENT_QUOTAS", "off")
        .env_remove("TRENT_ROOT_KEY")
        .env_remove("TRENT_ADMIN_ACCESS_KEY_ID")
        .env_remove("TRENT_ADMIN_SECRET_ACCESS_KEY");
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let (status, out, err) = wait_exit(&mut child);
    assert!(!status.success());
    assert!(err.contains("cannot listen on"), "{err}");
    assert!(!out.contains("AWS_SECRET_ACCESS_KEY"), "the admin key was printed before the bind failed: {out}");
    assert!(!dir.path().join("trent.db").exists() && !dir.path().join("root.key").exists());
    drop(taken);
    // The next start is the first real one: it makes and prints the admin key.
    let mut cmd = command(dir.path());
    cmd.env_remove("TRENT_ADMIN_ACCESS_KEY_ID").env_remove("TRENT_ADMIN_SECRET_ACCESS_KEY");
    let mut s = start_with(cmd, dir.path());
    let _ = s.child.kill();
    let _ = s.child.wait();
    let mut out = String::new();
    s.child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(out.contains("AWS_SECRET_ACCESS_KEY="), "{out}");
}

#[cfg(unix)]
#[test]
fn everything_under_the_data_dir_is_readable_by_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // First with a self-signed certificate (tls/), whose handshake must also be timely.
    let mut cmd = command(&data);
    cmd.args(["--tls-self-signed", "--header-read-timeout-secs", "2"]);
    let mut child = cmd.spawn().unwrap();
    let ready = data.join("ready");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&ready).is_ok_and(|u| u.ends_with('\n')) {
        assert!(Instant::now() < deadline, "trentd (TLS) was not ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    let url = std::fs::read_to_string(&ready).unwrap();
    let addr = url.trim().trim_start_matches("https://").to_string();
    let mut silent = TcpStream::connect(&addr).unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(6)), "a silent TLS client was never dropped");
    let _ = child.kill();
    let _ = child.wait();
    // Then plain, with some writes.
    let s = start(&data);
    assert_eq!(kms(&s.addr, "CreateKey", json!({})).status, 200);
    assert_eq!(ssm(&s.addr, "PutParameter", json!({"Name": "/m", "Value": "v", "Type": "String"})).status, 200);
    let mut seen = Vec::new();
    let mut stack = vec![data.clone()];
    while let Some(d) = stack.pop() {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", d.display());
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{}", e.path().display());
                seen.push(e.path().strip_prefix(&data).unwrap().display().to_string());
            }
        }
    }
    for want in ["trent.db", "trent.db-wal", "root.key", "node-id", "tls/key.pem", "tls/cert.pem", "trentd.lock"] {
        assert!(seen.iter().any(|s| s == want), "{want} not among {seen:?}");
    }
    assert!(seen.iter().any(|s| s.starts_with("audit/")), "{seen:?}");
}
