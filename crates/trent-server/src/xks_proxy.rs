//! Trent as an AWS KMS External Key Store (XKS) proxy: the four operations of the XKS Proxy API
//! v1 (aws/aws-kms-xksproxy-api-spec), so that a KMS — AWS's, or another trentd — can keep an
//! external key store's keys here.
//!
//! ```text
//! POST /{uriPrefix}/kms/xks/v1/keys/{keyId}/metadata   GetKeyMetadata
//! POST /{uriPrefix}/kms/xks/v1/keys/{keyId}/encrypt    Encrypt   (AES-256-GCM, the request's AAD)
//! POST /{uriPrefix}/kms/xks/v1/keys/{keyId}/decrypt    Decrypt
//! POST /{uriPrefix}/kms/xks/v1/health                  GetHealthStatus
//! ```
//!
//! * Configured with `--xks-proxy URI_PREFIX=ACCESS_KEY_ID:SECRET` (repeatable; env
//!   `TRENT_XKS_PROXY`, comma-separated). Several credentials for one prefix are all accepted
//!   (the spec's credential rotation). Without any, these paths are not served.
//! * On the same listener as the AWS APIs; [`XksProxy::serves`] picks the requests out in
//!   `http.rs` by their path (`…/kms/xks/v1/…`).
//! * SigV4 with service `kms-xks-proxy`, verified against the prefix's credentials only (the
//!   same verifier as the AWS APIs: clock skew, signed headers, payload hash).
//! * `{keyId}` is the key id of a key of the admin account (`--account-id`) in the region the
//!   request is signed for (the calling KMS's region). Only Enabled `SYMMETRIC_DEFAULT` keys
//!   encrypt and decrypt; the crypto and the ciphertext layout are in `trent-kms/src/xks_api.rs`.
//! * Answers and errors as the spec gives them: JSON, `{"errorName", "errorMessage"}` with the
//!   spec's status codes (401 for any SigV4 failure, 404 for an unknown path prefix or key, …).
//! * Every request that reaches here is audited (event source `kms-xks-proxy`) with its
//!   `requestMetadata`, before it is answered; plaintext and AAD never are.

use crate::{access_log, App};
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use trent_kms::KmsError;
use trent_wire::sigv4::{Credential, CredentialLookup, RequestParts};
use trent_wire::AwsError;
use zeroize::Zeroizing;

/// The SigV4 service name of XKS requests, also the metric and audit label.
pub const SERVICE: &str = "kms-xks-proxy";
const MARKER: &str = "kms/xks/v1";
/// Largest plaintext or ciphertext accepted (the spec requires 4300 bytes at least).
const MAX_DATA: usize = 8 * 1024;
/// Largest requestMetadata string kept (ARNs are up to 2048 characters).
const MAX_METADATA_STRING: usize = 4096;
/// The requestMetadata members the audit record keeps.
const METADATA_FIELDS: [&str; 7] =
    ["awsPrincipalArn", "awsSourceVpc", "awsSourceVpce", "kmsKeyArn", "kmsOperation", "kmsRequestId", "kmsViaService"];

/// One `--xks-proxy` value. Its `Debug` hides the secret.
#[derive(Clone)]
pub struct Spec {
    pub prefix: String,
    pub access_key_id: String,
    secret: Zeroizing<String>,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}:<redacted>", self.prefix, self.access_key_id)
    }
}

/// Parses `URI_PREFIX=ACCESS_KEY_ID:SECRET`. The prefix (may be empty, may contain `/`) is what
/// comes before `/kms/xks/v1`; the access key id and secret follow AWS's rules for an external
/// key store's credential (20–30 of `A-Z2-7`; 43–64 of `A-Za-z0-9+/=`), so that AWS KMS accepts them.
pub fn parse_spec(s: &str) -> Result<Spec, String> {
    let form = "expected URI_PREFIX=ACCESS_KEY_ID:SECRET_ACCESS_KEY";
    let (prefix, cred) = s.split_once('=').ok_or(form)?;
    let (akid, secret) = cred.split_once(':').ok_or(form)?;
    let prefix = prefix.trim_matches('/');
    if prefix.len() > 128 - MARKER.len() - 2
        || !prefix.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_'))
        || prefix.split('/').any(|seg| seg.is_empty() && !prefix.is_empty())
    {
        return Err(format!(
            "the URI prefix '{prefix}' must be at most {} characters of a-z, A-Z, 0-9, '/', '-' and '_', without empty segments",
            128 - MARKER.len() - 2
        ));
    }
    if !(20..=30).contains(&akid.len()) || !akid.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)) {
        return Err("the access key id must be 20-30 characters of A-Z and 2-7 (AWS KMS's rule)".into());
    }
    if !(43..=64).contains(&secret.len())
        || !secret.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    {
        return Err("the secret access key must be 43-64 characters of A-Z, a-z, 0-9, '+', '/' and '=' (AWS KMS's rule; e.g. `openssl rand -base64 32`)".into());
    }
    Ok(Spec { prefix: prefix.to_string(), access_key_id: akid.to_string(), secret: Zeroizing::new(secret.to_string()) })
}

/// The credentials of one URI prefix.
struct Prefix {
    path: String,
    keys: HashMap<String, Arc<Credential<String>>>,
}

impl CredentialLookup<String> for Prefix {
    fn lookup(&self, access_key_id: &str, session_token: Option<&str>) -> Option<Arc<Credential<String>>> {
        if session_token.is_some() {
            return None;
        }
        self.keys.get(access_key_id).cloned()
    }
}

/// The configured URI prefixes and their credentials.
#[derive(Default)]
pub struct XksProxy {
    prefixes: Vec<Prefix>,
}

impl XksProxy {
    pub fn new(specs: &[Spec]) -> Result<XksProxy, String> {
        let mut prefixes: Vec<Prefix> = Vec::new();
        for s in specs {
            let i = match prefixes.iter().position(|p| p.path == s.prefix) {
                Some(i) => i,
                None => {
                    prefixes.push(Prefix { path: s.prefix.clone(), keys: HashMap::new() });
                    prefixes.len() - 1
                }
            };
            let cred = Arc::new(Credential::new(s.secret.clone(), s.prefix.clone()));
            if prefixes[i].keys.insert(s.access_key_id.clone(), cred).is_some() {
                return Err(format!("--xks-proxy names access key id {} twice for '{}'", s.access_key_id, s.prefix));
            }
        }
        Ok(XksProxy { prefixes })
    }

    /// True when XKS proxy prefixes are configured and `path` is an XKS proxy path.
    pub fn serves(&self, path: &str) -> bool {
        !self.prefixes.is_empty() && split_path(path).is_some()
    }
}

/// `/[prefix/]kms/xks/v1[/rest]` → (prefix, rest).
fn split_path(path: &str) -> Option<(&str, &str)> {
    let p = path.strip_prefix('/')?;
    let at = p.rfind(MARKER)?;
    let after = &p[at + MARKER.len()..];
    if (at > 0 && p.as_bytes()[at - 1] != b'/') || !(after.is_empty() || after.starts_with('/')) {
        return None;
    }
    let prefix = p[..at].strip_suffix('/').unwrap_or(&p[..at]);
    Some((prefix, after.strip_prefix('/').unwrap_or(after)))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Health,
    Metadata(String),
    Encrypt(String),
    Decrypt(String),
}

impl Op {
    fn parse(rest: &str) -> Option<Op> {
        if rest == "health" {
            return Some(Op::Health);
        }
        let mut parts = rest.split('/');
        let (keys, id, op) = (parts.next()?, parts.next()?, parts.next()?);
        if keys != "keys" || parts.next().is_some() {
            return None;
        }
        match op {
            "metadata" => Some(Op::Metadata(id.to_string())),
            "encrypt" => Some(Op::Encrypt(id.to_string())),
            "decrypt" => Some(Op::Decrypt(id.to_string())),
            _ => None,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Op::Health => "GetHealthStatus",
            Op::Metadata(_) => "GetKeyMetadata",
            Op::Encrypt(_) => "Encrypt",
            Op::Decrypt(_) => "Decrypt",
        }
    }

    fn key_id(&self) -> Option<&str> {
        match self {
            Op::Health => None,
            Op::Metadata(k) | Op::Encrypt(k) | Op::Decrypt(k) => Some(k),
        }
    }
}

/// An error as the XKS proxy API answers it.
#[derive(Debug)]
pub struct XksError {
    name: &'static str,
    status: u16,
    message: String,
}

impl XksError {
    fn new(name: &'static str, status: u16, message: impl Into<String>) -> Self {
        XksError { name, status, message: message.into() }
    }
    fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", 400, message)
    }
    fn invalid_uri(path: &str) -> Self {
        let shown: String = path.chars().take(100).collect();
        Self::new("InvalidUriPathException", 404, format!("The URI path {shown} is not valid for this XKS proxy."))
    }
    fn internal() -> Self {
        Self::new("InternalException", 500, "The XKS proxy could not complete the request. Try again later.")
    }
    /// The body: `errorMessage` in printable ASCII, under 512 characters, as the spec requires.
    fn body(&self) -> Vec<u8> {
        let msg: String =
            self.message.chars().map(|c| if (' '..='~').contains(&c) { c } else { '?' }).take(500).collect();
        json!({"errorName": self.name, "errorMessage": msg}).to_string().into_bytes()
    }
}

fn from_kms(e: KmsError) -> XksError {
    match e {
        KmsError::NotFound(m) => XksError::new("KeyNotFoundException", 404, m),
        KmsError::Disabled(m) | KmsError::InvalidState(m) => XksError::new("InvalidStateException", 400, m),
        KmsError::InvalidKeyUsage(m) => XksError::new("InvalidKeyUsageException", 400, m),
        KmsError::InvalidCiphertext => XksError::new(
            "InvalidCiphertextException",
            400,
            "The ciphertext, initialization vector, additional authenticated data, ciphertext metadata or authentication tag is corrupted, missing, or otherwise invalid.",
        ),
        other => {
            if let Some(detail) = other.internal_detail() {
                tracing::error!(detail, "XKS proxy request failed");
            } else {
                tracing::error!(code = other.code(), "XKS proxy request failed");
            }
            XksError::internal()
        }
    }
}

/// What the audit record learns as the request goes.
struct Audit {
    prefix: String,
    op: &'static str,
    key_id: Option<String>,
    access_key_id: Option<String>,
    verified: bool,
    region: Option<String>,
    metadata: Option<Map<String, Value>>,
    key_arn: Option<String>,
    source_ip: String,
    user_agent: String,
    request_id: String,
}

impl Audit {
    fn event(&self, app: &App, error: Option<&XksError>) -> Map<String, Value> {
        let now = time::OffsetDateTime::now_utc();
        let mut m = Map::new();
        m.insert("eventVersion".into(), json!("1.08"));
        let mut ident = json!({"type": "XksProxyCredential", "uriPrefix": self.prefix});
        if let Some(k) = &self.access_key_id {
            ident["accessKeyId"] = json!(k);
            ident["verified"] = json!(self.verified);
        }
        m.insert("userIdentity".into(), ident);
        m.insert("eventTime".into(), json!(crate::audit::rfc3339(now)));
        m.insert("eventSource".into(), json!(SERVICE));
        m.insert("eventName".into(), json!(self.op));
        m.insert("awsRegion".into(), json!(self.region.clone().unwrap_or_else(|| "us-east-1".into())));
        m.insert("sourceIPAddress".into(), json!(self.source_ip));
        m.insert("userAgent".into(), json!(self.user_agent));
        if let Some(e) = error {
            m.insert("errorCode".into(), json!(e.name));
            m.insert("errorMessage".into(), json!(e.message.chars().take(500).collect::<String>()));
        }
        let mut params = Map::new();
        if let Some(k) = &self.key_id {
            params.insert("keyId".into(), json!(k));
        }
        if let Some(md) = &self.metadata {
            params.insert("requestMetadata".into(), Value::Object(md.clone()));
        }
        m.insert("requestParameters".into(), Value::Object(params));
        m.insert("responseElements".into(), Value::Null);
        m.insert("requestID".into(), json!(self.request_id));
        m.insert("eventID".into(), json!(crate::http::uuid_v4()));
        m.insert("readOnly".into(), json!(matches!(self.op, "GetKeyMetadata" | "GetHealthStatus")));
        if let Some(arn) = &self.key_arn {
            m.insert(
                "resources".into(),
                json!([{"ARN": arn, "type": "AWS::KMS::Key", "accountId": app.config.account_id}]),
            );
        }
        m.insert("eventType".into(), json!("AwsApiCall"));
        m.insert("managementEvent".into(), json!(false));
        m.insert("recipientAccountId".into(), json!(app.config.account_id));
        m.insert("eventCategory".into(), json!("Data"));
        m
    }
}

/// Serves one XKS proxy request (those [`XksProxy::serves`] picks out).
pub async fn handle(app: Arc<App>, mut req: Request<Body>) -> Response<Body> {
    let start = std::time::Instant::now();
    let request_id = crate::http::uuid_v4();
    let seen = access_log::Seen::attach(&mut req);
    let (op, result) = serve(app.clone(), req, &request_id).await;
    let (status, body, code) = match result {
        Ok(body) => (200, body, "OK"),
        Err(e) => {
            tracing::debug!(request_id, code = e.name, "XKS proxy request failed");
            (e.status, e.body(), e.name)
        }
    };
    app.metrics.record(SERVICE, op, code, start.elapsed());
    app.access_log.record(&seen, &request_id, SERVICE, op, status, code, start.elapsed());
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

async fn serve(app: Arc<App>, req: Request<Body>, request_id: &str) -> (&'static str, Result<Vec<u8>, XksError>) {
    let path = req.uri().path().to_string();
    let source_ip = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "127.0.0.1".to_string(), |c| c.0.ip().to_string());
    let user_agent: String = req
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(|u| u.chars().take(1024).collect())
        .unwrap_or_default();
    // The path: a configured prefix and one of the four operations, else 404.
    let split = split_path(&path);
    let prefix_idx = split.and_then(|(p, _)| app.xks.prefixes.iter().position(|x| x.path == p));
    let op = split.and_then(|(_, rest)| Op::parse(rest));
    let label = op.as_ref().map_or("unknown", Op::name);
    let mut audit = Audit {
        prefix: split.map_or("", |(p, _)| p).chars().take(128).collect(),
        op: label,
        key_id: op.as_ref().and_then(Op::key_id).map(|k| k.chars().take(128).collect()),
        access_key_id: claimed_access_key_id(req.headers()),
        verified: false,
        region: None,
        metadata: None,
        key_arn: None,
        source_ip,
        user_agent,
        request_id: request_id.to_string(),
    };
    let early = match (prefix_idx, op) {
        (Some(i), Some(op)) if req.method() == axum::http::Method::POST => Ok((i, op)),
        (Some(_), Some(_)) => Err(XksError::new(
            "ValidationException",
            405,
            format!("{} is not allowed: the XKS proxy API takes POST requests only.", req.method()),
        )),
        _ => Err(XksError::invalid_uri(&path)),
    };
    // The body, capped before it is read.
    let max = app.config.max_body_bytes;
    let (parts, body) = req.into_parts();
    let early = match early {
        Ok(x) => {
            let declared = parts
                .headers
                .get(axum::http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
            if declared.is_some_and(|n| n > max as u64) {
                Err(XksError::new(
                    "UnsupportedOperationException",
                    501,
                    format!("The request body is over {max} bytes."),
                ))
            } else {
                match axum::body::to_bytes(body, max).await {
                    Ok(b) => Ok((x, b)),
                    Err(e) => Err(match crate::serve::body_timeout(e) {
                        Some(_) => XksError::validation("The request body was not received in time."),
                        None => XksError::new(
                            "UnsupportedOperationException",
                            501,
                            format!("The request body is over {max} bytes."),
                        ),
                    }),
                }
            }
        }
        Err(e) => Err(e),
    };
    let join = tokio::task::spawn_blocking(move || {
        let result = early.and_then(|((i, op), body)| run(&app, i, &op, &parts, &body, &mut audit));
        // The event, with its outcome, is durable before anything is answered.
        if let Err(e) =
            app.audit.append(trent_crypto::audit::RecordKind::Event, &audit.event(&app, result.as_ref().err()))
        {
            tracing::error!(request_id = %audit.request_id, error = %e, "the XKS request's audit event could not be written");
            return Err(XksError::internal());
        }
        result
    });
    let result = match join.await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "XKS proxy handler panicked");
            Err(XksError::internal())
        }
    };
    (label, result)
}

/// The access key id an Authorization header names (for the audit record of a request whose
/// signature does not verify). Only the id, never a signature.
fn claimed_access_key_id(headers: &axum::http::HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let cred = auth.split("Credential=").nth(1)?.split([',', ' ', '/']).next()?;
    ((1..=128).contains(&cred.len()) && cred.bytes().all(|b| b.is_ascii_alphanumeric())).then(|| cred.to_string())
}

/// SigV4 → the body → the operation.
fn run(
    app: &App,
    prefix: usize,
    op: &Op,
    parts: &axum::http::request::Parts,
    body: &[u8],
    audit: &mut Audit,
) -> Result<Vec<u8>, XksError> {
    let creds = &app.xks.prefixes[prefix];
    let req = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        authority: parts.uri.authority().map(|a| a.as_str()),
        body,
    };
    let verified = app
        .verifier
        .verify(&req, SERVICE, time::OffsetDateTime::now_utc(), creds)
        .map_err(|e| XksError::new("AuthenticationFailedException", 401, e.message()))?;
    audit.access_key_id = Some(verified.access_key_id().to_string());
    audit.verified = true;
    audit.region = Some(verified.region().to_string());
    let region = verified.region();

    let body: Value =
        serde_json::from_slice(body).map_err(|_| XksError::validation("The request body is not valid JSON."))?;
    let body = body.as_object().ok_or_else(|| XksError::validation("The request body must be a JSON object."))?;
    audit.metadata = Some(request_metadata(body, op)?);
    let account = app.config.account_id.as_str();
    if let Some(id) = op.key_id() {
        if id.is_empty()
            || id.len() > 128
            || !id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            return Err(XksError::validation(
                "The external key id must be 1-128 characters of A-Z, a-z, 0-9, '-', '.' and '_'.",
            ));
        }
    }
    match op {
        Op::Health => Ok(health(app)),
        Op::Metadata(id) => {
            let md = app.kms.xks_key_metadata(account, region, id).map_err(from_kms)?;
            audit.key_arn = Some(md.arn);
            Ok(json!({"keySpec": md.key_spec, "keyUsage": md.key_usage, "keyStatus": md.key_status})
                .to_string()
                .into_bytes())
        }
        Op::Encrypt(id) => encrypt(app, account, region, id, body, audit),
        Op::Decrypt(id) => decrypt(app, account, region, id, body, audit),
    }
}

/// `requestMetadata`: an object with the members the operation requires, as strings.
fn request_metadata(body: &Map<String, Value>, op: &Op) -> Result<Map<String, Value>, XksError> {
    let md = match body.get("requestMetadata") {
        Some(Value::Object(m)) => m,
        Some(_) => return Err(XksError::validation("requestMetadata must be an object.")),
        None => return Err(XksError::validation("requestMetadata is required.")),
    };
    let required: &[&str] = match op {
        Op::Health => &["kmsRequestId", "kmsOperation"],
        Op::Metadata(_) => &["awsPrincipalArn", "kmsOperation", "kmsRequestId"],
        Op::Encrypt(_) | Op::Decrypt(_) => &["awsPrincipalArn", "kmsKeyArn", "kmsOperation", "kmsRequestId"],
    };
    for name in required {
        if !md.contains_key(*name) {
            return Err(XksError::validation(format!("requestMetadata.{name} is required.")));
        }
    }
    let mut kept = Map::new();
    for name in METADATA_FIELDS {
        match md.get(name) {
            None => {}
            Some(Value::String(s)) if s.chars().count() <= MAX_METADATA_STRING => {
                kept.insert(name.into(), json!(s));
            }
            Some(Value::String(_)) => {
                return Err(XksError::validation(format!(
                    "requestMetadata.{name} is longer than {MAX_METADATA_STRING} characters."
                )))
            }
            Some(_) => return Err(XksError::validation(format!("requestMetadata.{name} must be a string."))),
        }
    }
    Ok(kept)
}

/// A base64 member: `Ok(None)` when absent; wrong type or encoding is a ValidationException.
fn b64(body: &Map<String, Value>, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, XksError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => STANDARD
            .decode(s.as_bytes())
            .map(|v| Some(Zeroizing::new(v)))
            .map_err(|_| XksError::validation(format!("{name} is not valid base64."))),
        Some(_) => Err(XksError::validation(format!("{name} must be a base64 string."))),
    }
}

fn required_b64(body: &Map<String, Value>, name: &str) -> Result<Zeroizing<Vec<u8>>, XksError> {
    b64(body, name)?.ok_or_else(|| XksError::validation(format!("{name} is required.")))
}

fn algorithm(body: &Map<String, Value>) -> Result<(), XksError> {
    match body.get("encryptionAlgorithm") {
        Some(Value::String(s)) if s == "AES_GCM" => Ok(()),
        Some(_) => Err(XksError::validation("encryptionAlgorithm must be AES_GCM.")),
        None => Err(XksError::validation("encryptionAlgorithm is required.")),
    }
}

fn aad(body: &Map<String, Value>) -> Result<Zeroizing<Vec<u8>>, XksError> {
    let aad = b64(body, "additionalAuthenticatedData")?.unwrap_or_default();
    if aad.len() > trent_kms::xks_api::XKS_MAX_AAD {
        return Err(XksError::new(
            "UnsupportedOperationException",
            501,
            format!("additionalAuthenticatedData is over {} bytes.", trent_kms::xks_api::XKS_MAX_AAD),
        ));
    }
    Ok(aad)
}

fn too_large(name: &str) -> XksError {
    XksError::new("UnsupportedOperationException", 501, format!("{name} is over {MAX_DATA} bytes."))
}

fn encrypt(
    app: &App,
    account: &str,
    region: &str,
    id: &str,
    body: &Map<String, Value>,
    audit: &mut Audit,
) -> Result<Vec<u8>, XksError> {
    let plaintext = required_b64(body, "plaintext")?;
    if plaintext.is_empty() {
        return Err(XksError::validation("plaintext must not be empty."));
    }
    if plaintext.len() > MAX_DATA {
        return Err(too_large("plaintext"));
    }
    algorithm(body)?;
    let cdiv = match body.get("ciphertextDataIntegrityValueAlgorithm") {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) if s == "SHA_256" => true,
        Some(_) => return Err(XksError::validation("ciphertextDataIntegrityValueAlgorithm must be SHA_256.")),
    };
    let aad = aad(body)?;
    audit.key_arn = Some(trent_kms::model::key_arn(region, account, id));
    let sealed = app.kms.xks_encrypt(account, region, id, &aad, &plaintext).map_err(from_kms)?;
    let mut out = json!({
        "ciphertext": STANDARD.encode(&sealed.ciphertext),
        "ciphertextMetadata": STANDARD.encode(&sealed.metadata),
        "initializationVector": STANDARD.encode(sealed.iv),
        "authenticationTag": STANDARD.encode(sealed.tag),
    });
    if cdiv {
        // The spec's order: the hash over what is returned first, then a decryption of it.
        let mut h = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for part in [&aad[..], &sealed.metadata[..], &sealed.iv[..], &sealed.ciphertext[..], &sealed.tag[..]] {
            h.update(part);
        }
        out["ciphertextDataIntegrityValue"] = json!(STANDARD.encode(h.finish().as_ref()));
        let back = app
            .kms
            .xks_decrypt(account, region, id, &aad, &sealed.metadata, &sealed.iv, &sealed.ciphertext, &sealed.tag)
            .map_err(from_kms)?;
        if back.expose() != &plaintext[..] {
            tracing::error!("XKS encrypt: the ciphertext did not decrypt to the plaintext");
            return Err(XksError::internal());
        }
    }
    Ok(out.to_string().into_bytes())
}

fn decrypt(
    app: &App,
    account: &str,
    region: &str,
    id: &str,
    body: &Map<String, Value>,
    audit: &mut Audit,
) -> Result<Vec<u8>, XksError> {
    let ciphertext = required_b64(body, "ciphertext")?;
    if ciphertext.len() > MAX_DATA {
        return Err(too_large("ciphertext"));
    }
    algorithm(body)?;
    let iv = required_b64(body, "initializationVector")?;
    if iv.len() != 12 && iv.len() != 16 {
        return Err(XksError::validation("initializationVector must be 12 or 16 bytes."));
    }
    let tag = required_b64(body, "authenticationTag")?;
    if tag.len() != 16 {
        return Err(XksError::validation("authenticationTag must be 16 bytes."));
    }
    let metadata = b64(body, "ciphertextMetadata")?.unwrap_or_default();
    if metadata.len() > 20 {
        return Err(XksError::validation("ciphertextMetadata must be at most 20 bytes."));
    }
    let aad = aad(body)?;
    audit.key_arn = Some(trent_kms::model::key_arn(region, account, id));
    let plain = app.kms.xks_decrypt(account, region, id, &aad, &metadata, &iv, &ciphertext, &tag).map_err(from_kms)?;
    let encoded = Zeroizing::new(STANDARD.encode(plain.expose()));
    let mut out = Vec::with_capacity(encoded.len() + 16);
    out.extend_from_slice(br#"{"plaintext":""#);
    out.extend_from_slice(encoded.as_bytes());
    out.extend_from_slice(br#""}"#);
    Ok(out)
}

/// GetHealthStatus, deep: the store answers and AES-GCM round-trips under a throwaway key.
fn health(app: &App) -> Vec<u8> {
    let crypto_ok = (|| {
        let key = trent_crypto::random_secret(trent_crypto::aead::KEY_LEN).ok()?;
        let gcm = trent_crypto::aead::Aes256Gcm::from_secret(&key).ok()?;
        let (iv, ct) = gcm.seal(b"health", b"trent xks health check").ok()?;
        let back = gcm.open(&iv, b"health", &ct).ok()?;
        Some(back.expose() == b"trent xks health check")
    })()
    .unwrap_or(false);
    let status = if crypto_ok && app.kms.store_ready() { "ACTIVE" } else { "UNAVAILABLE" };
    let version = env!("CARGO_PKG_VERSION");
    json!({
        "xksProxyFleetSize": 1,
        "xksProxyVendor": "Trent",
        "xksProxyModel": format!("Trent XKS proxy {version}"),
        "ekmVendor": "Trent",
        "ekmFleetDetails": [{
            "id": app.node_id,
            "model": format!("Trent {version} ({} store)", app.store.backend()),
            "healthStatus": status,
        }],
    })
    .to_string()
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_prefix_and_operation() {
        assert_eq!(split_path("/kms/xks/v1/health"), Some(("", "health")));
        assert_eq!(split_path("/a/b/kms/xks/v1/keys/k1/encrypt"), Some(("a/b", "keys/k1/encrypt")));
        assert_eq!(split_path("/akms/xks/v1/health"), None);
        assert_eq!(split_path("/kms/xks/v12/health"), None);
        assert_eq!(split_path("/"), None);
        assert_eq!(Op::parse("keys/k1/metadata"), Some(Op::Metadata("k1".into())));
        assert_eq!(Op::parse("keys/k1/encrypt/x"), None);
        assert_eq!(Op::parse("keys/k1/sign"), None);
        assert_eq!(Op::parse("health"), Some(Op::Health));
    }

    #[test]
    fn specs_follow_aws_rules_and_hide_the_secret() {
        let s = parse_spec("/tenant-1/x=AKIAI2SFODNN7EXAMPLE:FYtE5EFA5FT0mCc3DrGUe2sti527BitkQ0Zr9MO9fvE=").unwrap();
        assert_eq!((s.prefix.as_str(), s.access_key_id.as_str()), ("tenant-1/x", "AKIAI2SFODNN7EXAMPLE"));
        assert!(!format!("{s:?}").contains("FYtE5"));
        assert!(parse_spec("p=AKIAI2SFODNN7EXAMPLE").is_err());
        assert!(parse_spec("p=short:FYtE5EFA5FT0mCc3DrGUe2sti527BitkQ0Zr9MO9fvE=").is_err());
        assert!(parse_spec("p=AKIAI2SFODNN7EXAMPLE:tooshort").is_err());
        assert!(parse_spec("p?x=AKIAI2SFODNN7EXAMPLE:FYtE5EFA5FT0mCc3DrGUe2sti527BitkQ0Zr9MO9fvE=").is_err());
        assert!(parse_spec("a//b=AKIAI2SFODNN7EXAMPLE:FYtE5EFA5FT0mCc3DrGUe2sti527BitkQ0Zr9MO9fvE=").is_err());
        let empty = parse_spec("=AKIAI2SFODNN7EXAMPLE:FYtE5EFA5FT0mCc3DrGUe2sti527BitkQ0Zr9MO9fvE=").unwrap();
        assert_eq!(empty.prefix, "");
        assert!(XksProxy::new(&[s.clone(), s]).is_err());
    }

    #[test]
    fn error_messages_are_printable_ascii_and_short() {
        let e = XksError::validation(format!("bad \u{7} value é {}", "x".repeat(900)));
        let v: Value = serde_json::from_slice(&e.body()).unwrap();
        let m = v["errorMessage"].as_str().unwrap();
        assert!(m.len() < 512 && m.bytes().all(|b| (0x20..=0x7e).contains(&b)));
        assert_eq!(v["errorName"], "ValidationException");
    }
}
