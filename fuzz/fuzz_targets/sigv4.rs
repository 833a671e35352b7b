//! SigV4 verification of arbitrary requests: the `Authorization` header, the query string, the
//! other headers, the body. Two modes: a request made entirely of fuzzer bytes (must be refused
//! with a typed error, never a panic), and a correctly signed request that the fuzzer then alters
//! (a changed body, method, path, query or signed header must be refused; the untouched one must verify).
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use trent_wire::sigv4::{sign, Credential, CredentialLookup, RequestParts, Verifier};

const AKID: &str = "AKIAFUZZFUZZFUZZFUZZ";
const SECRET: &str = "fuzzsecretfuzzsecretfuzzsecretfuzzsecret";

struct Keys(Arc<Credential<String>>);
impl CredentialLookup<String> for Keys {
    fn lookup(&self, id: &str, _token: Option<&str>) -> Option<Arc<Credential<String>>> {
        (id == AKID).then(|| self.0.clone())
    }
}

#[derive(Arbitrary, Debug)]
enum Change {
    Body(Vec<u8>),
    Method(String),
    Path(String),
    Query(String),
    /// Replace the value of the n-th header (they are all signed).
    Header(u8, Vec<u8>),
    /// Replace the Authorization header with fuzzer text.
    Authorization(String),
    /// Insert an extra x-amz-* header (which must be signed, so this is refused).
    AmzHeader(String, Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    /// Seconds after the epoch-ish base the request is made at; the server clock is fixed.
    skew: i16,
    service: bool,
    change: Option<Change>,
    raw: bool,
}

fn header_map(pairs: &[(String, Vec<u8>)]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (k, v) in pairs {
        if let (Ok(k), Ok(v)) = (http::HeaderName::from_bytes(k.as_bytes()), http::HeaderValue::from_bytes(v)) {
            h.append(k, v);
        }
    }
    h
}

fuzz_target!(|input: Input| {
    let keys = Keys(Arc::new(Credential::new(zeroize::Zeroizing::new(SECRET.into()), "fuzz".to_string())));
    let verifier = Verifier::default();
    let now = time::OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
    let service = if input.service { "kms" } else { "ssm" };
    let mut headers = header_map(&input.headers);
    if input.raw {
        let req = RequestParts {
            method: &input.method,
            path: &input.path,
            query: &input.query,
            headers: &headers,
            authority: None,
            body: &input.body,
        };
        let _ = verifier.verify(&req, service, now, &keys);
        return;
    }
    // A correctly signed request (signed at now + skew seconds).
    headers.remove(http::header::AUTHORIZATION);
    headers.remove("x-amz-date");
    headers.remove("x-amz-security-token");
    headers.remove("x-amz-content-sha256");
    if !headers.contains_key(http::header::HOST) {
        headers.insert(http::header::HOST, http::HeaderValue::from_static("localhost"));
    }
    let at = now + time::Duration::seconds(input.skew as i64);
    let (method, path, query) = ("POST", "/", input.query.as_str());
    sign(method, path, query, &mut headers, &input.body, AKID, SECRET, None, "us-east-1", service, at);
    let within = (input.skew as i64).abs() <= 300;
    let mut body = input.body.clone();
    let (mut m, mut p, mut q) = (method.to_string(), path.to_string(), query.to_string());
    let mut changed = false;
    // Equivalent spellings can canonicalize alike (e.g. a query's parameter order, a path's
    // dot segments, a header value's spacing), so a change is only required to fail where it
    // is plainly significant.
    let significant =
        matches!(input.change, Some(Change::Body(_)) | Some(Change::AmzHeader(..)) | Some(Change::Method(_)));
    match input.change {
        None => {}
        Some(Change::Body(b)) => {
            changed = b != body;
            body = b;
        }
        Some(Change::Method(x)) => {
            changed = x != m;
            m = x;
        }
        Some(Change::Path(x)) => {
            changed = x != p;
            p = x;
        }
        Some(Change::Query(x)) => {
            changed = x != q;
            q = x;
        }
        Some(Change::Header(n, v)) => {
            let names: Vec<http::HeaderName> = headers.keys().cloned().collect();
            let name = &names[n as usize % names.len()];
            if let Ok(v) = http::HeaderValue::from_bytes(&v) {
                changed = headers.get(name) != Some(&v);
                headers.insert(name.clone(), v);
            }
        }
        Some(Change::Authorization(a)) => {
            if let Ok(v) = http::HeaderValue::from_str(&a) {
                changed = headers.get(http::header::AUTHORIZATION) != Some(&v);
                headers.insert(http::header::AUTHORIZATION, v);
            }
        }
        Some(Change::AmzHeader(k, v)) => {
            let name = format!("x-amz-{}", k.to_ascii_lowercase());
            if let (Ok(k), Ok(v)) = (http::HeaderName::from_bytes(name.as_bytes()), http::HeaderValue::from_bytes(&v)) {
                if !headers.contains_key(&k) {
                    headers.insert(k, v);
                    changed = true;
                }
            }
        }
    }
    let req = RequestParts { method: &m, path: &p, query: &q, headers: &headers, authority: None, body: &body };
    let r = verifier.verify(&req, service, now, &keys);
    if changed {
        assert!(!(significant && r.is_ok()), "a changed request verified");
    } else {
        let what = if within { "was refused" } else { "out of skew verified" };
        assert_eq!(r.is_ok(), within, "a signed request {what}: {:?}", r.err());
    }
});
