//! Operator and developer experience: `--dev`, `--listen` forms, `--config`/`--print-config`,
//! the access log, `--version`, completions and man page, and startup errors that say what to do.

mod common;

use common::*;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn trentd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trentd"));
    for v in [
        "TRENT_ADMIN_ACCESS_KEY_ID",
        "TRENT_ADMIN_SECRET_ACCESS_KEY",
        "TRENT_ROOT_KEY",
        "TRENT_QUOTAS",
        "TRENT_CONFIG",
        "TRENT_LISTEN",
        "TRENT_DATA_DIR",
        "TRENT_ACCOUNT_ID",
        "TRENT_STORE",
        "TRENT_DEV",
        "TRENT_ACCESS_LOG",
        "TRENT_LOG_FORMAT",
    ] {
        c.env_remove(v);
    }
    c.env("TRENT_LOG", "info").stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

/// Runs trentd to completion (for commands that exit at once).
fn output(c: &mut Command) -> (i32, String, String) {
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Sends a signed KMS request with the given credentials; returns (status, x-amzn-RequestId).
fn signed_call(addr: &str, akid: &str, secret: &str, op: &str) -> (u16, String) {
    let target = format!("TrentService.{op}");
    let mut req = Req::new(&target, b"{}");
    req.akid = akid;
    req.secret = secret;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&req.bytes(addr)).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let id = text
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("x-amzn-requestid: ").map(|v| v.trim().to_string()))
        .unwrap_or_default();
    (status, id)
}

fn terminate(child: &mut std::process::Child) -> (String, String) {
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "trentd did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (mut out, mut err) = (String::new(), String::new());
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (out, err)
}

#[test]
fn dev_mode_serves_test_test_without_quotas_prints_the_export_line_and_removes_its_data_at_exit() {
    let scratch = tempfile::tempdir().unwrap();
    let ready = scratch.path().join("ready");
    let mut child = trentd()
        .args(["--dev", "--listen", "127.0.0.1:0", "--ready-file"])
        .arg(&ready)
        .env("TMPDIR", scratch.path())
        .spawn()
        .unwrap();
    let addr = wait_ready(&mut child, &ready);
    // Quotas are off: more CreateKey calls in a burst than AWS's 5 per second allow.
    for _ in 0..12 {
        let (status, _) = signed_call(&addr, "test", "test", "CreateKey");
        assert_eq!(status, 200);
    }
    let (status, _) = signed_call(&addr, "test", "wrong", "ListKeys");
    assert_eq!(status, 400);
    let (out, err) = terminate(&mut child);
    let export = format!(
        "export AWS_ENDPOINT_URL=http://{addr} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1"
    );
    assert!(out.contains(&export), "{out}");
    let data_dir =
        out.split("data in ").nth(1).and_then(|r| r.split(" (").next()).expect("the banner names the data dir");
    assert!(data_dir.starts_with(scratch.path().to_str().unwrap()), "{data_dir}");
    assert!(!std::path::Path::new(data_dir).exists(), "the --dev data dir {data_dir} must be removed at exit: {err}");
    assert!(!err.contains("ThrottlingException"), "{err}");
}

#[test]
fn dev_mode_keeps_a_data_dir_that_was_given() {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let data = dir.path().join("data");
    // `4599x` is not a port: refused before anything starts.
    let (code, _, err) = output(trentd().args(["--dev", "--listen", "4599x"]).arg("--data-dir").arg(&data));
    assert_eq!(code, 2, "{err}");
    assert!(!data.exists());
    let mut child = trentd()
        .args(["--dev", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(&data)
        .arg("--ready-file")
        .arg(&ready)
        .spawn()
        .unwrap();
    let addr = wait_ready(&mut child, &ready);
    assert_eq!(signed_call(&addr, "test", "test", "ListKeys").0, 200);
    terminate(&mut child);
    assert!(data.join("trent.db").exists(), "a given --data-dir is kept");
}

#[test]
fn dev_mode_refuses_to_listen_beyond_loopback() {
    for listen in ["0.0.0.0:0", ":0", "[::]:0"] {
        let (code, _, err) = output(trentd().args(["--dev", "--listen", listen]));
        assert_eq!(code, 2, "{listen}: {err}");
        assert!(err.contains("loopback") && err.contains("test/test"), "{err}");
    }
}

#[test]
fn listen_accepts_a_host_name_a_bare_port_and_all_interfaces() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    for (listen, expect_prefix) in
        [("localhost:0", None), (free.to_string().as_str(), Some(format!("127.0.0.1:{free}"))), (":0", None)]
    {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = trentd();
        cmd.args(["--listen", listen, "--quotas", "off"])
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--ready-file")
            .arg(dir.path().join("ready"))
            .env("TRENT_ADMIN_ACCESS_KEY_ID", AKID)
            .env("TRENT_ADMIN_SECRET_ACCESS_KEY", SECRET)
            .env("TRENT_LOG", "warn");
        let s = start_with(cmd, dir.path());
        if let Some(p) = &expect_prefix {
            assert_eq!(&s.addr, p);
        }
        let port = s.addr.rsplit(':').next().unwrap().to_string();
        // Whatever the form, the server answers on loopback at that port.
        let r = kms(&format!("127.0.0.1:{port}"), "ListKeys", serde_json::json!({}));
        assert_eq!(r.status, 200, "{listen}");
        stop_gracefully(s);
    }
    let (code, _, err) = output(trentd().args(["--listen", "no-such-host.invalid:4599"]));
    assert_eq!(code, 2);
    assert!(err.contains("cannot resolve host name `no-such-host.invalid`"), "{err}");
}

#[test]
fn config_file_values_lose_to_env_which_loses_to_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trentd.toml");
    std::fs::write(
        &file,
        "listen = \"localhost:4700\"\naccount-id = \"111111111111\"\nmax-body-bytes = 2048\n\
         quota = [\"kms:symmetric=1000\", \"kms:rsa=50\"]\nstore = \"postgres://u:hunter2@db/trent\"\n\
         tls-self-signed = true\n",
    )
    .unwrap();
    let (code, out, err) = output(
        trentd()
            .arg("--config")
            .arg(&file)
            .args(["--print-config", "--max-body-bytes", "4096"])
            .env("TRENT_ACCOUNT_ID", "222222222222"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("listen = \"localhost:4700\"  # config file"), "{out}");
    assert!(out.contains("account-id = 222222222222  # environment"), "{out}");
    assert!(out.contains("max-body-bytes = 4096  # flag"), "{out}");
    assert!(out.contains("quota = [\"kms:symmetric=1000\", \"kms:rsa=50\"]  # config file"), "{out}");
    assert!(out.contains("tls-self-signed = true  # config file"), "{out}");
    assert!(out.contains("data-dir = \"./trent-data\"  # default"), "{out}");
    assert!(out.contains("postgres://u:***@db/trent") && !out.contains("hunter2"), "the password is masked: {out}");
    // The printed configuration reads back as a configuration file (TRENT_CONFIG this time).
    let again = dir.path().join("again.toml");
    std::fs::write(&again, out.lines().filter(|l| !l.starts_with("store")).collect::<Vec<_>>().join("\n")).unwrap();
    let (code, out2, err) = output(trentd().arg("--print-config").env("TRENT_CONFIG", &again));
    assert_eq!(code, 0, "{err}");
    assert!(out2.contains("max-body-bytes = 4096  # config file"), "{out2}");
}

#[test]
fn config_file_with_an_unknown_key_is_refused_naming_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:0\"\nlisten-address = \"x\"\n").unwrap();
    let (code, _, err) = output(trentd().arg("--config").arg(&file));
    assert_eq!(code, 2);
    assert!(err.contains("unknown key `listen-address`") && err.contains(file.to_str().unwrap()), "{err}");
    std::fs::write(&file, "account-id = [\"1\", \"2\"]\n").unwrap();
    let (code, _, err) = output(trentd().arg("--config").arg(&file));
    assert_eq!(code, 2);
    assert!(err.contains("`account-id` takes one value"), "{err}");
    let (code, _, err) = output(trentd().arg("--config").arg(dir.path().join("missing.toml")));
    assert_eq!(code, 2);
    assert!(err.contains("reading the configuration file"), "{err}");
}

#[test]
fn access_log_has_one_line_per_request_with_its_request_id_principal_or_refused_key() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let mut cmd = command(dir.path());
    cmd.arg("--access-log").arg(&log).args(["--log-format", "json"]);
    let s = start_with(cmd, dir.path());
    let (ok, ok_id) = signed_call(&s.addr, AKID, SECRET, "ListKeys");
    let (bad, bad_id) = signed_call(&s.addr, "AKIDNOBODYKNOWS", SECRET, "ListKeys");
    assert_eq!((ok, bad), (200, 400));
    stop_gracefully(s);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["request_id"], ok_id.as_str());
    assert_eq!(lines[0]["principal"], "arn:aws:iam::000000000000:root");
    assert_eq!(lines[0]["operation"], "ListKeys");
    assert_eq!(lines[0]["status"], 200);
    assert!(lines[0]["source"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(lines[1]["request_id"], bad_id.as_str());
    assert_eq!(lines[1]["principal"], serde_json::Value::Null);
    assert_eq!(lines[1]["access_key_id"], "AKIDNOBODYKNOWS");
    assert_eq!(lines[1]["error_code"], "UnrecognizedClientException");
    assert!(!text.contains(SECRET) && !text.contains("Signature"), "{text}");
}

#[test]
fn access_log_goes_to_stderr_at_info_by_default_and_off_silences_it() {
    for (setting, expect) in [(None, true), (Some("off"), false)] {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = command(dir.path());
        cmd.env("TRENT_LOG", "info");
        if let Some(s) = setting {
            cmd.args(["--access-log", s]);
        }
        let mut s = start_with(cmd, dir.path());
        let (_, id) = signed_call(&s.addr, AKID, SECRET, "ListKeys");
        let mut err_pipe = s.child.stderr.take().unwrap();
        stop_gracefully(s);
        let mut err = String::new();
        err_pipe.read_to_string(&mut err).unwrap();
        assert_eq!(err.contains(&id), expect, "{setting:?}: {err}");
    }
}

#[test]
fn version_names_the_git_commit_and_metrics_carry_build_info() {
    let (code, out, _) = output(trentd().arg("--version"));
    assert_eq!(code, 0);
    assert!(out.starts_with(&format!("trentd {} (commit ", env!("CARGO_PKG_VERSION"))), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    let mut t = std::net::TcpStream::connect(&s.addr).unwrap();
    t.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").unwrap();
    let mut m = String::new();
    t.read_to_string(&mut m).unwrap();
    assert!(m.contains("trent_build_info{version=\"") && m.contains("trent_start_time_seconds "), "{m}");
    stop_gracefully(s);
}

#[test]
fn completions_and_man_page_are_generated() {
    for (shell, marker) in [("bash", "_trentd()"), ("zsh", "#compdef trentd"), ("fish", "complete -c trentd")] {
        let (code, out, err) = output(trentd().args(["completions", shell]));
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(marker) && out.contains("data-dir"), "{shell}: {out}");
    }
    let (code, _, err) = output(trentd().args(["completions", "tcsh"]));
    assert_eq!(code, 2);
    assert!(err.contains("bash|zsh|fish"), "{err}");
    let (code, out, _) = output(trentd().arg("man"));
    assert_eq!(code, 0);
    assert!(out.contains(".TH trentd 1") && out.contains("data\\-dir"), "{out}");
}

#[test]
fn a_data_dir_in_the_way_of_a_file_is_named_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("afile");
    std::fs::write(&file, "x").unwrap();
    let (code, _, err) = output(trentd().arg("--data-dir").arg(&file).args(["--listen", "127.0.0.1:0"]));
    assert_eq!(code, 1);
    assert!(err.contains(&format!("creating the directory {}", file.display())), "{err}");
    assert!(err.contains("remove it, or choose another --data-dir"), "{err}");
}

#[test]
fn the_root_key_can_come_from_the_file_trent_root_key_file_names_and_a_missing_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key_file = dir.path().join("creds-root.key");
    let (code, _, err) = output(
        trentd().args(["--listen", "127.0.0.1:0"]).arg("--data-dir").arg(&data).env("TRENT_ROOT_KEY_FILE", &key_file),
    );
    assert_eq!(code, 1);
    assert!(err.contains("TRENT_ROOT_KEY_FILE") && err.contains(key_file.to_str().unwrap()), "{err}");
    assert!(!data.join("root.key").exists(), "a named root key file is never replaced by a new key");
    use base64::Engine;
    std::fs::write(&key_file, base64::engine::general_purpose::STANDARD.encode([7u8; 32])).unwrap();
    let ready = dir.path().join("ready");
    let mut child = trentd()
        .args(["--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(&data)
        .arg("--ready-file")
        .arg(&ready)
        .env("TRENT_ROOT_KEY_FILE", &key_file)
        .env("TRENT_ADMIN_ACCESS_KEY_ID", AKID)
        .env("TRENT_ADMIN_SECRET_ACCESS_KEY", SECRET)
        .spawn()
        .unwrap();
    let addr = wait_ready(&mut child, &ready);
    assert_eq!(signed_call(&addr, AKID, SECRET, "ListKeys").0, 200);
    terminate(&mut child);
    assert!(!data.join("root.key").exists());
}

#[test]
fn the_systemd_unit_verifies_where_systemd_is_present() {
    let Ok(out) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed here: the unit is not checked");
        return;
    };
    assert!(out.status.success());
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../packaging/systemd/trentd.service"))
        .unwrap();
    for needed in [
        "StateDirectory=trent",
        "--data-dir /var/lib/trent",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "LimitNOFILE=",
        "Restart=on-failure",
        "LoadCredential=root.key:",
        "TRENT_ROOT_KEY_FILE=%d/root.key",
    ] {
        assert!(unit.contains(needed), "the unit lacks {needed}");
    }
    // Verified as installed, with the binary this test built in trentd's place.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trentd.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/trentd", env!("CARGO_BIN_EXE_trentd"))).unwrap();
    let (code, out, err) = output(Command::new("systemd-analyze").arg("verify").arg(&path));
    assert_eq!(code, 0, "systemd-analyze verify: {out}{err}");
    assert!(!err.contains("trentd.service:"), "systemd-analyze verify warns: {err}");
}

#[test]
fn the_packaged_example_configuration_is_valid() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../packaging/trentd.toml");
    let (code, out, err) = output(trentd().args(["--config", file, "--print-config"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("data-dir = \"/var/lib/trent\"  # config file"), "{out}");
    assert!(out.contains("quotas = \"off\"  # config file"), "{out}");
}
