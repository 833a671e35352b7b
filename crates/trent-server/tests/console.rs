//! The web console over raw HTTP (the browser tests are tests/compat/test_console.py): sign-in,
//! the session cookie, CSRF, escaping, and that a console action is an audited API call.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

struct Page {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Page {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next()?.strip_prefix(&format!("{name}=")).map(str::to_string))
            .find(|v| !v.is_empty())
    }
    /// The value of the first `<input … name="{name}" value="…">`.
    fn input(&self, name: &str) -> String {
        let at = self.body.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("no {name} field"));
        let rest = &self.body[at + name.len() + 15..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

fn http(addr: &str, method: &str, path: &str, cookie: &str, form: &str) -> Page {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut raw = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    if !cookie.is_empty() {
        raw.push_str(&format!("cookie: {cookie}\r\n"));
    }
    if method == "POST" {
        raw.push_str(&format!("content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n", form.len()));
    }
    raw.push_str("\r\n");
    raw.push_str(form);
    s.write_all(raw.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines.filter_map(|l| l.split_once(": ")).map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Page { status, headers, body: body.to_string() }
}

fn enc(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[test]
fn console_sign_in_session_csrf_escaping_and_audited_actions() {
    let dir = tempfile::tempdir().unwrap();
    let srv = common::start(dir.path());
    let a = srv.addr.as_str();

    // Signed out: pages redirect to sign-in; the sign-in page has the headers and a pre-token.
    let p = http(a, "GET", "/console/keys", "", "");
    assert_eq!((p.status, p.header("location")), (303, Some("/console/signin?ended=1")));
    let p = http(a, "GET", "/console/signin", "", "");
    assert_eq!(p.status, 200);
    assert!(p.header("content-security-policy").unwrap().starts_with("default-src 'self'"));
    assert_eq!(p.header("x-frame-options"), Some("DENY"));
    assert!(p.body.contains("Access key ID") && p.body.contains("Secret access key") && p.body.contains("Sign in"));
    let pre = p.cookie("trent_console_pre").expect("pre-token cookie");
    assert_eq!(p.input("pre"), pre);
    let pre_cookie = format!("trent_console_pre={pre}");

    // Without the pre-token the sign-in form is refused; with a wrong secret it fails (401).
    let good = format!("access_key_id={}&secret_access_key={}", common::AKID, enc(common::SECRET));
    assert_eq!(http(a, "POST", "/console/signin", &pre_cookie, &good).status, 403);
    let bad = format!("pre={pre}&access_key_id={}&secret_access_key=wrong", common::AKID);
    let p = http(a, "POST", "/console/signin", &pre_cookie, &bad);
    assert_eq!(p.status, 401);
    assert!(p.body.contains("Sign-in failed") && p.body.contains("SignatureDoesNotMatch"));
    assert!(p.cookie("trent_console").is_none());

    // Sign in.
    let p = http(a, "POST", "/console/signin", &pre_cookie, &format!("pre={pre}&{good}"));
    assert_eq!((p.status, p.header("location")), (303, Some("/console/")));
    let set = p.headers.iter().find(|(k, v)| k == "set-cookie" && v.starts_with("trent_console=")).unwrap();
    assert!(set.1.contains("HttpOnly") && set.1.contains("SameSite=Strict") && !set.1.contains("Secure"));
    let token = p.cookie("trent_console").unwrap();
    assert_eq!(token.len(), 64);
    assert!(!p.body.contains(common::SECRET) && !set.1.contains(common::SECRET));
    let cookie = format!("trent_console={token}");

    let p = http(a, "GET", "/console/keys", &cookie, "");
    assert_eq!(p.status, 200);
    assert!(p.body.contains("Keys in us-east-1"));
    let csrf = p.input("csrf");

    // CSRF: no token, a wrong one → 403 and nothing created.
    let form = "spec=SYMMETRIC_DEFAULT&usage=ENCRYPT_DECRYPT&description=x";
    assert_eq!(http(a, "POST", "/console/keys/create", &cookie, form).status, 403);
    let wrong = format!("{form}&csrf={}", "0".repeat(64));
    assert_eq!(http(a, "POST", "/console/keys/create", &cookie, &wrong).status, 403);
    let listed = common::kms(a, "ListKeys", serde_json::json!({}));
    assert_eq!(listed.body["Keys"].as_array().unwrap().len(), 0);

    // With the token: created, as an audited API call; the description is escaped on the page.
    let xss = "<script>alert(1)</script>\"'";
    let form =
        format!("csrf={csrf}&spec=SYMMETRIC_DEFAULT&usage=ENCRYPT_DECRYPT&alias=console-test&description={}", enc(xss));
    let p = http(a, "POST", "/console/keys/create", &cookie, &form);
    assert_eq!(p.status, 303, "{}", p.body);
    let location = p.header("location").unwrap().to_string();
    let key = common::kms(a, "DescribeKey", serde_json::json!({"KeyId": "alias/console-test"}));
    assert_eq!(key.body["KeyMetadata"]["Description"], xss);
    let p = http(a, "GET", &location, &cookie, "");
    assert_eq!(p.status, 200);
    assert!(p.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;'"), "escaped");
    assert!(!p.body.contains("<script>alert"));

    let trail = std::fs::read_dir(dir.path().join("audit"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("trail-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect::<String>();
    let create = trail
        .lines()
        .find(|l| l.contains("\"eventName\":\"CreateKey\"") && l.contains("\"userAgent\":\"trent-console\""));
    assert!(create.is_some(), "CreateKey by the console is in the audit trail");
    assert!(trail.contains("\"errorCode\":\"SignatureDoesNotMatch\""), "the failed sign-in is audited");
    assert!(!trail.contains(common::SECRET) && !trail.contains(&token), "no secret or session token in the trail");

    // Sign out: the cookie no longer opens anything.
    assert_eq!(http(a, "POST", "/console/signout", &cookie, &format!("csrf={csrf}")).status, 303);
    assert_eq!(http(a, "GET", "/console/keys", &cookie, "").status, 303);
}
