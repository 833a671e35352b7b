//! AWS Signature Version 4: verification (the server's gate) and signing (tests, benchmarks).
//!
//! [`Verifier::verify`] applies the checks in this order, each with AWS's error:
//! 1. no `Authorization` header → `MissingAuthenticationTokenException`;
//! 2. a header that does not parse as `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`,
//!    or no `X-Amz-Date` → `IncompleteSignatureException`;
//! 3. `X-Amz-Date` outside the allowed skew → `InvalidSignatureException` "Signature expired";
//! 4. the credential scope: its date must be the request's date, its terminator `aws4_request`,
//!    and its service the service of the target (an `ssm` signature never authorizes KMS);
//! 5. `host`, `x-amz-date` and every `x-amz-*` header present must be signed (an unsigned
//!    `X-Amz-Target` would let a captured body be replayed against another operation);
//! 6. the payload is hashed here; `UNSIGNED-PAYLOAD`/streaming are refused, and a declared
//!    `x-amz-content-sha256` must equal the real hash;
//! 7. only then the access key is looked up (unknown → `UnrecognizedClientException`);
//! 8. the expected signature is compared in constant time (`InvalidSignatureException`).
//!
//! On success it returns a [`Verified`], which only this module can construct: the server's
//! handlers take it as a capability, so an operation cannot run on an unverified request.

use crate::WireError;
use aws_lc_rs::{digest, hmac};
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;
use time::{OffsetDateTime, PrimitiveDateTime};
use zeroize::Zeroizing;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const AMZ_DATE_FORMAT: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

/// A secret access key and who it belongs to. Signing keys derived from it are cached here,
/// so a credential that is reloaded or removed takes its cache with it.
pub struct Credential<P> {
    secret: Zeroizing<String>,
    pub principal: P,
    cache: Mutex<Vec<(String, Zeroizing<[u8; 32]>)>>,
}

impl<P> Credential<P> {
    pub fn new(secret: Zeroizing<String>, principal: P) -> Self {
        Credential { secret, principal, cache: Mutex::new(Vec::new()) }
    }

    fn signing_key(&self, scope_key: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
        if let Ok(cache) = self.cache.lock() {
            if let Some((_, k)) = cache.iter().find(|(s, _)| s == scope_key) {
                return **k;
            }
        }
        let k = derive_signing_key(&self.secret, date, region, service);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= 8 {
                cache.remove(0);
            }
            cache.push((scope_key.to_string(), Zeroizing::new(k)));
        }
        k
    }
}

impl<P: std::fmt::Debug> std::fmt::Debug for Credential<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential").field("principal", &self.principal).field("secret", &"<redacted>").finish()
    }
}

/// Where the verifier finds secret keys. `session_token` is the `X-Amz-Security-Token`, if any.
pub trait CredentialLookup<P> {
    fn lookup(&self, access_key_id: &str, session_token: Option<&str>) -> Option<Arc<Credential<P>>>;

    /// Like [`CredentialLookup::lookup`], with the reason for a refusal: an unknown key or a
    /// wrong or missing session token is `UnrecognizedClient`, an expired session
    /// `ExpiredToken`. The verifier calls this one.
    fn lookup_checked(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<Arc<Credential<P>>, WireError> {
        self.lookup(access_key_id, session_token).ok_or(WireError::UnrecognizedClient)
    }
}

/// A request whose signature checked out. Only [`Verifier::verify`] can make one.
#[derive(Debug)]
pub struct Verified<P> {
    principal: P,
    access_key_id: String,
    region: String,
}

impl<P> Verified<P> {
    pub fn principal(&self) -> &P {
        &self.principal
    }
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }
    pub fn region(&self) -> &str {
        &self.region
    }
}

/// What the verifier needs of the HTTP request.
pub struct RequestParts<'a> {
    pub method: &'a str,
    /// The path as sent (still percent-encoded), e.g. `/`.
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    pub headers: &'a http::HeaderMap,
    /// The authority from the request URI, used when there is no Host header (HTTP/2).
    pub authority: Option<&'a str>,
    pub body: &'a [u8],
}

#[derive(Debug, Clone)]
pub struct Verifier {
    /// Largest allowed difference between `X-Amz-Date` and the server clock.
    pub max_skew: time::Duration,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier { max_skew: time::Duration::minutes(5) }
    }
}

struct ParsedAuth<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    terminator: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn incomplete(msg: impl Into<String>) -> WireError {
    WireError::IncompleteSignature(msg.into())
}

fn parse_authorization(value: &str) -> Result<ParsedAuth<'_>, WireError> {
    let rest = value
        .strip_prefix(ALGORITHM)
        .ok_or_else(|| incomplete(format!("Unsupported AWS 'algorithm': only {ALGORITHM} is accepted")))?;
    if !rest.starts_with(' ') {
        return Err(incomplete(format!("Unsupported AWS 'algorithm': only {ALGORITHM} is accepted")));
    }
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=').ok_or_else(|| {
            incomplete("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters")
        })?;
        let slot = match k.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(v.trim()).is_some() {
            return Err(incomplete(format!("Authorization header names '{}' twice", k.trim())));
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(incomplete(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters",
        ));
    };
    let parts: Vec<&str> = credential.split('/').collect();
    if parts.len() != 5 || parts.iter().any(|p| p.is_empty()) {
        return Err(incomplete("Credential must have the form <access key>/<date>/<region>/<service>/aws4_request"));
    }
    if signed.is_empty() {
        return Err(incomplete("SignedHeaders must not be empty"));
    }
    let signed_headers: Vec<&str> = signed.split(';').collect();
    if signed_headers.iter().any(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase())) {
        return Err(incomplete("SignedHeaders must be lowercase header names separated by ';'"));
    }
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(incomplete("Signature must be 64 hexadecimal characters"));
    }
    Ok(ParsedAuth {
        access_key_id: parts[0],
        date: parts[1],
        region: parts[2],
        service: parts[3],
        terminator: parts[4],
        signed_headers,
        signature,
    })
}

fn header_str<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// True for a well-formed region name (whether or not it is served: see
/// [`crate::regions::is_known`]).
pub fn valid_region(r: &str) -> bool {
    crate::regions::well_formed(r)
}

impl Verifier {
    /// Verifies `req` as a call to `service` (the signing name of the target, e.g. `kms`).
    pub fn verify<P: Clone, L: CredentialLookup<P> + ?Sized>(
        &self,
        req: &RequestParts<'_>,
        service: &str,
        now: OffsetDateTime,
        lookup: &L,
    ) -> Result<Verified<P>, WireError> {
        let headers = req.headers;
        let auth = match headers.get(http::header::AUTHORIZATION) {
            None => return Err(WireError::MissingAuthenticationToken),
            Some(v) => v.to_str().map_err(|_| incomplete("Authorization header is not valid ASCII"))?,
        };
        if headers.get_all(http::header::AUTHORIZATION).iter().count() > 1 {
            return Err(incomplete("Only one Authorization header is allowed"));
        }
        let parsed = parse_authorization(auth)?;

        let amz_date = header_str(headers, "x-amz-date")
            .ok_or_else(|| incomplete("Authorization header requires existence of a 'X-Amz-Date' header."))?;
        let when = PrimitiveDateTime::parse(amz_date, AMZ_DATE_FORMAT)
            .map_err(|_| incomplete("X-Amz-Date must have the form YYYYMMDD'T'HHMMSS'Z'"))?
            .assume_utc();
        let skew = self.max_skew;
        if when < now - skew || when > now + skew {
            let fmt = |t: OffsetDateTime| t.format(AMZ_DATE_FORMAT).unwrap_or_default();
            let msg = if when < now - skew {
                format!(
                    "Signature expired: {} is now earlier than {} ({} - {} min.)",
                    amz_date,
                    fmt(now - skew),
                    fmt(now),
                    skew.whole_minutes()
                )
            } else {
                format!(
                    "Signature not yet current: {} is still later than {} ({} + {} min.)",
                    amz_date,
                    fmt(now + skew),
                    fmt(now),
                    skew.whole_minutes()
                )
            };
            return Err(WireError::InvalidSignature(msg));
        }

        if parsed.date != &amz_date[..8] {
            return Err(WireError::InvalidSignature(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'",
                parsed.date,
                &amz_date[..8]
            )));
        }
        if parsed.terminator != "aws4_request" {
            return Err(WireError::InvalidSignature(format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
                parsed.terminator
            )));
        }
        if parsed.service != service {
            return Err(WireError::InvalidSignature(format!(
                "Credential should be scoped to correct service: '{service}'. "
            )));
        }
        // Only regions that exist (or that the operator added) are served: HTTP 400
        // InvalidSignatureException (SignatureDoesNotMatch for IAM/STS), as AWS answers a scope
        // naming a region the service does not have.
        if !crate::regions::is_known(parsed.region) {
            return Err(WireError::InvalidSignature(format!(
                "Credential should be scoped to a valid region, not '{}'. ",
                parsed.region
            )));
        }

        let signed = &parsed.signed_headers;
        let has_host = headers.contains_key(http::header::HOST) || req.authority.is_some();
        if !signed.contains(&"host") || !has_host {
            return Err(WireError::InvalidSignature("The 'host' header must be present and signed.".into()));
        }
        for name in headers.keys() {
            let n = name.as_str();
            if n.starts_with("x-amz-") && !signed.contains(&n) {
                return Err(WireError::InvalidSignature(format!("The '{n}' header must be signed.")));
            }
        }
        for name in signed {
            if *name != "host" && !headers.contains_key(*name) {
                return Err(WireError::InvalidSignature(format!("Signed header '{name}' is not in the request.")));
            }
        }

        let payload_hash = hex::encode(digest::digest(&digest::SHA256, req.body));
        if let Some(declared) = headers.get("x-amz-content-sha256") {
            let declared = declared.to_str().unwrap_or("");
            if declared == "UNSIGNED-PAYLOAD" || declared.starts_with("STREAMING-") {
                return Err(WireError::InvalidSignature(format!("'{declared}' is not accepted: sign the payload.")));
            }
            if !declared.eq_ignore_ascii_case(&payload_hash) {
                return Err(WireError::InvalidSignature(
                    "The provided 'x-amz-content-sha256' header does not match what was computed.".into(),
                ));
            }
        }

        let token = header_str(headers, "x-amz-security-token");
        let cred = lookup.lookup_checked(parsed.access_key_id, token)?;

        let creq = canonical_request(req, signed, &payload_hash);
        let scope = format!("{}/{}/{}/aws4_request", parsed.date, parsed.region, parsed.service);
        let sts = string_to_sign(amz_date, &scope, &creq);
        let key = cred.signing_key(&scope, parsed.date, parsed.region, parsed.service);
        let expected = hmac_sha256(&key, sts.as_bytes());
        let provided = hex::decode(parsed.signature).unwrap_or_default();
        if provided.len() != expected.len() || !bool::from(provided.as_slice().ct_eq(&expected)) {
            return Err(WireError::InvalidSignature(
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".into(),
            ));
        }
        Ok(Verified {
            principal: cred.principal.clone(),
            access_key_id: parsed.access_key_id.to_string(),
            region: parsed.region.to_string(),
        })
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn derive_signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut k_secret = Zeroizing::new(Vec::with_capacity(4 + secret.len()));
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret.as_bytes());
    let k_date = Zeroizing::new(hmac_sha256(&k_secret, date.as_bytes()));
    let k_region = Zeroizing::new(hmac_sha256(&*k_date, region.as_bytes()));
    let k_service = Zeroizing::new(hmac_sha256(&*k_region, service.as_bytes()));
    hmac_sha256(&*k_service, b"aws4_request")
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

fn uri_encode(input: &[u8], keep_slash: bool, out: &mut String) {
    for &b in input {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = ((b[i + 1] as char).to_digit(16), (b[i + 2] as char).to_digit(16)) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The canonical URI for non-S3 services: dot segments removed, then every byte of the path
/// as sent URI-encoded again (so an encoded `%2F` becomes `%252F`), as botocore does.
fn canonical_uri(path: &str) -> String {
    let path = if path.is_empty() { "/" } else { path };
    let mut segs: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    let mut normalized = String::from("/");
    normalized.push_str(&segs.join("/"));
    if path.ends_with('/') && !segs.is_empty() {
        normalized.push('/');
    }
    let mut out = String::with_capacity(normalized.len());
    uri_encode(normalized.as_bytes(), true, &mut out);
    out
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let (mut ek, mut ev) = (String::new(), String::new());
            uri_encode(&percent_decode(k), false, &mut ek);
            uri_encode(&percent_decode(v), false, &mut ev);
            (ek, ev)
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

fn canonical_header_value(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(v);
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn canonical_request(req: &RequestParts<'_>, signed: &[&str], payload_hash: &str) -> String {
    let mut c = String::with_capacity(256);
    c.push_str(req.method);
    c.push('\n');
    c.push_str(&canonical_uri(req.path));
    c.push('\n');
    c.push_str(&canonical_query(req.query));
    c.push('\n');
    for name in signed {
        c.push_str(name);
        c.push(':');
        let values: Vec<String> =
            req.headers.get_all(*name).iter().map(|v| canonical_header_value(v.as_bytes())).collect();
        if values.is_empty() && *name == "host" {
            c.push_str(req.authority.unwrap_or(""));
        } else {
            c.push_str(&values.join(","));
        }
        c.push('\n');
    }
    c.push('\n');
    c.push_str(&signed.join(";"));
    c.push('\n');
    c.push_str(payload_hash);
    c
}

fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(digest::digest(&digest::SHA256, canonical_request.as_bytes()))
    )
}

/// Signs a request: adds `x-amz-date` and `authorization` (and `x-amz-security-token` if given)
/// to `headers`, signing every header present. For tests and the benchmark load generator.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    method: &str,
    path: &str,
    query: &str,
    headers: &mut http::HeaderMap,
    body: &[u8],
    access_key_id: &str,
    secret: &str,
    session_token: Option<&str>,
    region: &str,
    service: &str,
    now: OffsetDateTime,
) {
    let amz_date = now.format(AMZ_DATE_FORMAT).unwrap_or_default();
    let insert = |h: &mut http::HeaderMap, k: &'static str, v: &str| {
        if let Ok(v) = http::HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    insert(headers, "x-amz-date", &amz_date);
    if let Some(t) = session_token {
        insert(headers, "x-amz-security-token", t);
    }
    let mut names: Vec<String> = headers.keys().map(|k| k.as_str().to_string()).collect();
    names.sort();
    names.dedup();
    let signed: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    let payload_hash = hex::encode(digest::digest(&digest::SHA256, body));
    let req = RequestParts { method, path, query, headers, authority: None, body };
    let creq = canonical_request(&req, &signed, &payload_hash);
    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let sts = string_to_sign(&amz_date, &scope, &creq);
    let sig = hex::encode(hmac_sha256(&derive_signing_key(secret, date, region, service), sts.as_bytes()));
    let auth =
        format!("{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={}, Signature={sig}", signed.join(";"));
    insert(headers, "authorization", &auth);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    const AKID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    struct Keys(HashMap<String, Arc<Credential<String>>>);
    impl CredentialLookup<String> for Keys {
        fn lookup(&self, id: &str, _t: Option<&str>) -> Option<Arc<Credential<String>>> {
            self.0.get(id).cloned()
        }
    }
    fn keys() -> Keys {
        let mut m = HashMap::new();
        m.insert(AKID.to_string(), Arc::new(Credential::new(Zeroizing::new(SECRET.to_string()), "alice".to_string())));
        Keys(m)
    }

    fn t(s: &str) -> OffsetDateTime {
        PrimitiveDateTime::parse(s, AMZ_DATE_FORMAT).unwrap().assume_utc()
    }

    /// AWS's published example (IAM ListUsers, 2015-08-30): signing key, canonical request hash
    /// and signature as the SigV4 documentation prints them.
    #[test]
    fn matches_the_aws_documentation_example() {
        let key = derive_signing_key(SECRET, "20150830", "us-east-1", "iam");
        assert_eq!(hex::encode(key), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
        let mut h = http::HeaderMap::new();
        h.insert("content-type", "application/x-www-form-urlencoded; charset=utf-8".parse().unwrap());
        h.insert("host", "iam.amazonaws.com".parse().unwrap());
        h.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
        let req = RequestParts {
            method: "GET",
            path: "/",
            query: "Action=ListUsers&Version=2010-05-08",
            headers: &h,
            authority: None,
            body: b"",
        };
        let creq = canonical_request(
            &req,
            &["content-type", "host", "x-amz-date"],
            &hex::encode(digest::digest(&digest::SHA256, b"")),
        );
        assert_eq!(
            hex::encode(digest::digest(&digest::SHA256, creq.as_bytes())),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        let sts = string_to_sign("20150830T123600Z", "20150830/us-east-1/iam/aws4_request", &creq);
        assert_eq!(
            hex::encode(hmac_sha256(&key, sts.as_bytes())),
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    fn signed_request(now: OffsetDateTime, body: &[u8]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert("host", "localhost:4599".parse().unwrap());
        h.insert("x-amz-target", "TrentService.ListKeys".parse().unwrap());
        h.insert("content-type", "application/x-amz-json-1.1".parse().unwrap());
        sign("POST", "/", "", &mut h, body, AKID, SECRET, None, "us-east-1", "kms", now);
        h
    }

    fn verify(
        h: &http::HeaderMap,
        body: &[u8],
        service: &str,
        now: OffsetDateTime,
    ) -> Result<Verified<String>, WireError> {
        let req = RequestParts { method: "POST", path: "/", query: "", headers: h, authority: None, body };
        Verifier::default().verify(&req, service, now, &keys())
    }

    #[test]
    fn accepts_its_own_signature_and_names_principal_and_region() {
        let now = t("20261123T120000Z");
        let v = verify(&signed_request(now, b"{}"), b"{}", "kms", now).unwrap();
        assert_eq!(v.principal(), "alice");
        assert_eq!(v.region(), "us-east-1");
        assert_eq!(v.access_key_id(), AKID);
    }

    #[test]
    fn missing_authorization_is_missing_token() {
        let now = t("20261123T120000Z");
        let mut h = signed_request(now, b"{}");
        h.remove("authorization");
        assert_eq!(verify(&h, b"{}", "kms", now).unwrap_err(), WireError::MissingAuthenticationToken);
    }

    #[test]
    fn tampered_body_header_or_target_fails() {
        let now = t("20261123T120000Z");
        let h = signed_request(now, b"{}");
        assert!(matches!(verify(&h, b"{ }", "kms", now), Err(WireError::InvalidSignature(_))));
        let mut h2 = h.clone();
        h2.insert("x-amz-target", "TrentService.ScheduleKeyDeletion".parse().unwrap());
        assert!(matches!(verify(&h2, b"{}", "kms", now), Err(WireError::InvalidSignature(_))));
    }

    #[test]
    fn expired_and_future_dates_are_refused() {
        let signed_at = t("20261123T120000Z");
        let h = signed_request(signed_at, b"{}");
        let late = verify(&h, b"{}", "kms", signed_at + time::Duration::minutes(6)).unwrap_err();
        assert!(matches!(&late, WireError::InvalidSignature(m) if m.starts_with("Signature expired")), "{late:?}");
        let early = verify(&h, b"{}", "kms", signed_at - time::Duration::minutes(6)).unwrap_err();
        assert!(matches!(early, WireError::InvalidSignature(_)));
        assert!(verify(&h, b"{}", "kms", signed_at + time::Duration::minutes(4)).is_ok());
    }

    #[test]
    fn signature_for_another_service_does_not_authorize() {
        let now = t("20261123T120000Z");
        let h = signed_request(now, b"{}");
        let e = verify(&h, b"{}", "ssm", now).unwrap_err();
        assert!(matches!(&e, WireError::InvalidSignature(m) if m.contains("'ssm'")), "{e:?}");
    }

    #[test]
    fn unknown_access_key_is_unrecognized_client() {
        let now = t("20261123T120000Z");
        let mut h = http::HeaderMap::new();
        h.insert("host", "localhost".parse().unwrap());
        sign("POST", "/", "", &mut h, b"{}", "AKIANOBODY", SECRET, None, "us-east-1", "kms", now);
        assert_eq!(verify(&h, b"{}", "kms", now).unwrap_err(), WireError::UnrecognizedClient);
    }

    #[test]
    fn unsigned_amz_header_and_unsigned_payload_are_refused() {
        let now = t("20261123T120000Z");
        let mut h = signed_request(now, b"{}");
        h.insert("x-amz-extra", "1".parse().unwrap());
        assert!(
            matches!(verify(&h, b"{}", "kms", now), Err(WireError::InvalidSignature(m)) if m.contains("x-amz-extra"))
        );
        let mut h = http::HeaderMap::new();
        h.insert("host", "localhost".parse().unwrap());
        h.insert("x-amz-content-sha256", "UNSIGNED-PAYLOAD".parse().unwrap());
        sign("POST", "/", "", &mut h, b"{}", AKID, SECRET, None, "us-east-1", "kms", now);
        assert!(
            matches!(verify(&h, b"{}", "kms", now), Err(WireError::InvalidSignature(m)) if m.contains("UNSIGNED-PAYLOAD"))
        );
    }

    #[test]
    fn malformed_headers_are_incomplete_signature() {
        let now = t("20261123T120000Z");
        for bad in [
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request",
            "AWS3 Credential=x",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/kms, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=zz",
        ] {
            let mut h = signed_request(now, b"{}");
            h.insert("authorization", bad.parse().unwrap());
            assert!(matches!(verify(&h, b"{}", "kms", now), Err(WireError::IncompleteSignature(_))), "{bad}");
        }
    }

    #[test]
    fn host_from_uri_authority_when_no_host_header() {
        let now = t("20261123T120000Z");
        let h = signed_request(now, b"{}");
        let mut h2 = h.clone();
        h2.remove("host");
        let req = RequestParts {
            method: "POST",
            path: "/",
            query: "",
            headers: &h2,
            authority: Some("localhost:4599"),
            body: b"{}",
        };
        assert!(Verifier::default().verify(&req, "kms", now, &keys()).is_ok());
    }

    #[test]
    fn canonical_uri_double_encodes_and_removes_dot_segments() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/a/./b/../c"), "/a/c");
        assert_eq!(canonical_uri("/a%2Fb"), "/a%252Fb");
        assert_eq!(canonical_query("b=2&a=1&a=0"), "a=0&a=1&b=2");
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_authorization_never_panics(s in "\\PC{0,200}") {
            let _ = parse_authorization(&s);
        }

        #[test]
        fn any_signed_body_verifies_and_any_change_fails(body in proptest::collection::vec(any::<u8>(), 0..64), flip in 0usize..64) {
            let now = t("20261123T120000Z");
            let h = signed_request(now, &body);
            prop_assert!(verify(&h, &body, "kms", now).is_ok());
            if !body.is_empty() {
                let mut b2 = body.clone();
                let i = flip % b2.len();
                b2[i] ^= 0x80;
                prop_assert!(verify(&h, &b2, "kms", now).is_err());
            }
        }
    }
}
