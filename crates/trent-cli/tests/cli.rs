//! The `trent` binary end to end with raw keys (no server). Also makes `cargo test` build
//! `target/debug/trent`, which tests/compat/test_envelope.py runs.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn trent(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trent"));
    cmd.args(args).env_remove("AWS_ACCESS_KEY_ID").env_remove("AWS_PROFILE");
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn trent");
    if let Some(data) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(data).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn setup() -> (tempfile::TempDir, String) {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("aes.key"), [42u8; 32]).unwrap();
    let spec = format!("ns:key-1:{}", d.path().join("aes.key").display());
    (d, spec)
}

#[test]
fn raw_aes_file_round_trip_keeps_bytes_and_context() {
    let (d, key) = setup();
    let plain: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(d.path().join("in"), &plain).unwrap();
    let (input, ct, out) = (d.path().join("in"), d.path().join("ct"), d.path().join("out"));
    let o = trent(
        &["encrypt", "--raw-key", &key, "--context", "a=1", "--frame-size", "1000", s(&input), "-o", s(&ct)],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&ct).unwrap()[0], 2, "a v2 message");
    let o = trent(&["decrypt", "--raw-key", &key, "--context", "a=1", s(&ct), "-o", s(&out)], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), plain);
}

#[test]
fn tampered_message_exits_1_and_writes_nothing() {
    let (d, key) = setup();
    let (input, ct, out) = (d.path().join("in"), d.path().join("ct"), d.path().join("out"));
    std::fs::write(&input, vec![7u8; 10_000]).unwrap();
    assert!(trent(&["encrypt", "--raw-key", &key, s(&input), "-o", s(&ct)], None).status.success());
    let mut bytes = std::fs::read(&ct).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&ct, &bytes).unwrap();
    let o = trent(&["decrypt", "--raw-key", &key, s(&ct), "-o", s(&out)], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("authentication failed"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!out.exists());
    let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(names.iter().all(|n| !n.to_string_lossy().starts_with(".trent-")), "temporary file left: {names:?}");
}

#[test]
fn stdin_to_stdout_round_trip() {
    let (_d, key) = setup();
    let o = trent(&["encrypt", "--raw-key", &key, "-", "-o", "-"], Some(b"piped data"));
    assert!(o.status.success());
    let o = trent(&["decrypt", "--raw-key", &key, "-", "-o", "-"], Some(&o.stdout));
    assert!(o.status.success());
    assert_eq!(o.stdout, b"piped data");
}

#[test]
fn bad_arguments_fail_with_clear_messages() {
    let (d, key) = setup();
    let input = d.path().join("in");
    std::fs::write(&input, b"x").unwrap();
    std::fs::write(d.path().join("short.key"), [1u8; 20]).unwrap();
    let short = format!("ns:k:{}", d.path().join("short.key").display());
    let cases: [(&[&str], &str); 5] = [
        (&["encrypt", "--raw-key", &short, s(&input), "-o", "-"], "20 bytes"),
        (&["encrypt", s(&input), "-o", "-"], "at least one wrapping key"),
        (&["encrypt", "--raw-key", &key, "--suite", "0x0178", s(&input), "-o", "-"], "commitment"),
        (&["encrypt", "--raw-key", &key, "--suite", "0x9999", s(&input), "-o", "-"], "unknown algorithm suite"),
        (&["encrypt", "--raw-key", &key, "--context", "aws-crypto-x=1", s(&input), "-o", "-"], "reserved"),
    ];
    for (args, want) in cases {
        let o = trent(args, None);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(o.stdout.is_empty());
    }
    let o = trent(&["decrypt", s(&input), "-o", "-"], None);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--key, --discovery or --raw-key"));
}

#[test]
fn completions_and_man_page_are_printed() {
    let bin = env!("CARGO_BIN_EXE_trent");
    for (shell, marker) in [("bash", "_trent()"), ("zsh", "#compdef trent"), ("fish", "complete -c trent")] {
        let out = std::process::Command::new(bin).args(["completions", shell]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains(marker) && text.contains("no-progress"), "{shell}: {text}");
    }
    let out = std::process::Command::new(bin).arg("man").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains(".TH trent 1") && text.contains("decrypt"), "{text}");
}
