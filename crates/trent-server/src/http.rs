//! The HTTP front: one handler for every AWS call, plus trentd's own `/_trent/` routes.

use crate::{audit, App};
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use std::sync::Arc;
use trent_kms::{Caller, Operation};
use trent_wire::sigv4::RequestParts;
use trent_wire::{AwsError, ErrorBody, WireError};

/// The services served on this listener: `X-Amz-Target` prefix → (service, SigV4 signing name).
pub const SERVICES: &[(&str, Service, &str)] = &[
    ("TrentService", Service::Kms, "kms"),
    ("AmazonSSM", Service::Ssm, "ssm"),
    ("secretsmanager", Service::Secrets, "secretsmanager"),
    ("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101", Service::CloudTrail, "cloudtrail"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Kms,
    Ssm,
    Secrets,
    CloudTrail,
}

impl Service {
    /// CloudTrail's `eventSource` for the service.
    fn event_source(self) -> &'static str {
        match self {
            Service::Kms => "kms.amazonaws.com",
            Service::Ssm => "ssm.amazonaws.com",
            Service::Secrets => "secretsmanager.amazonaws.com",
            Service::CloudTrail => "cloudtrail.amazonaws.com",
        }
    }
}

pub fn router(app: Arc<App>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(app)
}

async fn handle(axum::extract::State(app): axum::extract::State<Arc<App>>, req: Request<Body>) -> Response<Body> {
    if req.method() == axum::http::Method::GET {
        match req.uri().path() {
            "/health" => return plain(StatusCode::OK, "application/json", r#"{"status":"ok"}"#.into()),
            "/ready" => return ready(&app).await,
            "/metrics" => {
                return plain(
                    StatusCode::OK,
                    "text/plain; version=0.0.4",
                    app.metrics.render(app.audit.queue_depth(), app.kms.key_cache_stats()),
                )
            }
            _ => {}
        }
    }
    let start = std::time::Instant::now();
    let (service, operation) = labels(&req);
    let request_id = uuid_v4();
    let (resp, code) = match route(app.clone(), req, &request_id).await {
        Ok(body) => (respond(StatusCode::OK, body, &request_id), "OK"),
        Err(e) => (error_response(&*e, &request_id), e.code()),
    };
    app.metrics.record(service, operation, code, start.elapsed());
    resp
}

/// Metric labels for a request: only known services and operations, else "unknown".
fn labels(req: &Request<Body>) -> (&'static str, &'static str) {
    let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    let (prefix, op) = target.rsplit_once('.').unwrap_or(("", ""));
    match SERVICES.iter().find(|(p, _, _)| *p == prefix) {
        Some((_, Service::Kms, name)) => (name, Operation::from_name(op).map(|o| o.name()).unwrap_or("unknown")),
        Some((_, Service::Ssm, name)) => {
            (name, trent_ssm::Operation::from_name(op).map(|o| o.name()).unwrap_or("unknown"))
        }
        Some((_, Service::Secrets, name)) => {
            (name, trent_secrets::Operation::from_name(op).map(|o| o.name()).unwrap_or("unknown"))
        }
        Some((_, Service::CloudTrail, name)) => (name, if op == "LookupEvents" { "LookupEvents" } else { "unknown" }),
        None => ("unknown", "unknown"),
    }
}

/// Ready when the store answers a read.
async fn ready(app: &Arc<App>) -> Response<Body> {
    let a = app.clone();
    let ok = tokio::task::spawn_blocking(move || a.kms.store_ready()).await.unwrap_or(false);
    if ok {
        plain(StatusCode::OK, "application/json", r#"{"status":"ready"}"#.into())
    } else {
        plain(StatusCode::SERVICE_UNAVAILABLE, "application/json", r#"{"status":"unavailable"}"#.into())
    }
}

fn plain(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert("content-type", HeaderValue::from_static(content_type));
    resp
}

type BoxError = Box<dyn AwsError + Send>;

fn wire(e: WireError) -> BoxError {
    Box::new(e)
}

async fn route(app: Arc<App>, req: Request<Body>, request_id: &str) -> Result<Vec<u8>, BoxError> {
    let path = req.uri().path().to_string();
    let source_ip = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    if path.starts_with("/_trent/") {
        return trent_route(&app, req, &path).await;
    }
    if req.method() != axum::http::Method::POST || path != "/" {
        return Err(wire(WireError::BadMethodOrPath));
    }
    // 1. Cap the body before reading it.
    let max = app.config.max_body_bytes;
    let declared =
        req.headers().get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(wire(WireError::RequestTooLarge(max)));
    }
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, max).await.map_err(|_| wire(WireError::RequestTooLarge(max)))?;

    // 2. Framing: which service and operation.
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let (prefix, op_name) = target.rsplit_once('.').unwrap_or((target.as_str(), ""));
    let (service, signing_name) = SERVICES
        .iter()
        .find(|(p, _, _)| *p == prefix)
        .map(|(_, s, n)| (*s, *n))
        .ok_or_else(|| wire(WireError::UnknownOperation(truncate(&target))))?;
    let (prefix, op_name) = (prefix.to_string(), truncate(op_name));
    let (claimed_key_id, claimed_region) = claimed_scope(&parts.headers);
    let mut draft = audit::Draft {
        event_source: service.event_source(),
        event_name: op_name.clone(),
        region: claimed_region.unwrap_or_else(|| "us-east-1".into()),
        request_id: request_id.to_string(),
        event_id: uuid_v4(),
        event_time: time::OffsetDateTime::now_utc(),
        source_ip: source_ip.map(|ip| ip.to_string()).unwrap_or_else(|| "127.0.0.1".into()),
        user_agent: parts
            .headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(|u| u.chars().take(1024).collect())
            .unwrap_or_default(),
        tls: app.config.tls_cert.is_some() || app.config.tls_self_signed,
        read_only: audit::read_only(&op_name),
        identity: None,
        claimed_key_id,
        default_account: app.config.account_id.clone(),
    };

    // 3-8 run off the async threads: SigV4 lookups, audit writes and crypto are blocking work.
    let join = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, BoxError> {
        let result = authorize_and_run(&app, &mut draft, &parts, &body, service, signing_name, &prefix, &op_name);
        // 8. The event with its outcome must be durable before anything is answered.
        let event = match &result {
            Ok(resp) => draft.event(&body, Some(resp), None),
            Err(e) => draft.event(&body, None, Some((e.code(), e.message()))),
        };
        if let Err(e) = app.audit.append(trent_crypto::audit::RecordKind::Event, &event) {
            tracing::error!(request_id = %draft.request_id, error = %e, "the request's audit event could not be written");
            return Err(Box::new(AuditUnavailable(service)));
        }
        result
    });
    match join.await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "request handler panicked");
            Err(Box::new(Internal))
        }
    }
}

/// SigV4 → quota → audit intent → the operation. Fills in the draft event as it learns more.
#[allow(clippy::too_many_arguments)]
fn authorize_and_run(
    app: &App,
    draft: &mut audit::Draft,
    parts: &axum::http::request::Parts,
    body: &[u8],
    service: Service,
    signing_name: &'static str,
    prefix: &str,
    op_name: &str,
) -> Result<Vec<u8>, BoxError> {
    // 3. SigV4: the verifier returns the capability everything after it needs.
    let req = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        authority: parts.uri.authority().map(|a| a.as_str()),
        body,
    };
    let now = time::OffsetDateTime::now_utc();
    let verified = app.verifier.verify(&req, signing_name, now, &app.identity).map_err(wire)?;
    let caller = Caller { principal: verified.principal().clone(), region: verified.region().to_string() };
    draft.region = caller.region.clone();
    draft.identity = Some((caller.principal.clone(), verified.access_key_id().to_string()));
    tracing::debug!(
        request_id = %draft.request_id,
        service = signing_name,
        operation = %op_name,
        region = %caller.region,
        access_key_id = verified.access_key_id(),
        "request"
    );
    let unknown = || wire(WireError::UnknownOperation(truncate(&format!("{prefix}.{op_name}"))));
    // Resolve the operation before spending quota on it.
    enum Op {
        Kms(Operation),
        Ssm(trent_ssm::Operation),
        Secrets(trent_secrets::Operation),
        CloudTrail,
    }
    let op = match service {
        Service::Kms => Op::Kms(Operation::from_name(op_name).ok_or_else(unknown)?),
        Service::Ssm => Op::Ssm(trent_ssm::Operation::from_name(op_name).ok_or_else(unknown)?),
        Service::Secrets => Op::Secrets(trent_secrets::Operation::from_name(op_name).ok_or_else(unknown)?),
        Service::CloudTrail if op_name == "LookupEvents" => Op::CloudTrail,
        Service::CloudTrail => return Err(unknown()),
    };

    // 4. Quota, before any work.
    app.quotas
        .admit(signing_name, op_name, caller.account(), &caller.region, body)
        .map_err(|e| Box::new(e) as BoxError)?;

    // 5. Policy evaluation comes here (issue 5).

    // 6. A state change runs only once its intent is on record.
    if audit::mutates(op_name) {
        if let Err(e) = app.audit.append(trent_crypto::audit::RecordKind::Intent, &draft.intent()) {
            tracing::error!(request_id = %draft.request_id, error = %e, "audit intent could not be written; request refused");
            return Err(Box::new(AuditUnavailable(service)));
        }
    }

    // 7. The operation.
    match op {
        Op::Kms(op) => app.kms.dispatch(op, &caller, body).map_err(|e| Box::new(e) as BoxError),
        Op::Ssm(op) => app.ssm.dispatch(op, &caller, body).map_err(|e| Box::new(e) as BoxError),
        Op::Secrets(op) => app.secrets.dispatch(op, &caller, body).map_err(|e| Box::new(e) as BoxError),
        Op::CloudTrail => {
            crate::cloudtrail::dispatch(&app.audit, &caller, op_name, body).map_err(|e| Box::new(e) as BoxError)
        }
    }
}

/// The access key id and region an Authorization header claims, for the audit record of a
/// request whose signature does not verify. Only the key id is kept, never a signature.
fn claimed_scope(headers: &axum::http::HeaderMap) -> (Option<String>, Option<String>) {
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else { return (None, None) };
    let Some(cred) = auth.split("Credential=").nth(1) else { return (None, None) };
    let cred = cred.split([',', ' ']).next().unwrap_or("");
    let mut parts = cred.split('/');
    let key = parts.next().filter(|k| (1..=128).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_alphanumeric()));
    let region = parts.nth(1).filter(|r| trent_wire::sigv4::valid_region(r));
    (key.map(str::to_string), region.map(str::to_string))
}

/// The audit trail could not record the request, so it was not performed.
struct AuditUnavailable(Service);

impl AwsError for AuditUnavailable {
    fn code(&self) -> &'static str {
        match self.0 {
            Service::Kms => "KMSInternalException",
            Service::Ssm => "InternalServerError",
            Service::Secrets => "InternalServiceError",
            Service::CloudTrail => "InternalFailure",
        }
    }
    fn message(&self) -> String {
        "The request was refused because its audit record could not be written. Try again later.".into()
    }
    fn status(&self) -> u16 {
        500
    }
}

/// trentd's own routes: health, and (only with --unsafe-test-clock) the test clock.
async fn trent_route(app: &App, req: Request<Body>, path: &str) -> Result<Vec<u8>, BoxError> {
    match (req.method().as_str(), path) {
        ("GET", "/_trent/health") => Ok(br#"{"status":"ok"}"#.to_vec()),
        ("POST", "/_trent/test/advance-clock") if app.config.unsafe_test_clock => {
            let body = axum::body::to_bytes(req.into_body(), 4096)
                .await
                .map_err(|_| wire(WireError::RequestTooLarge(4096)))?;
            #[derive(serde::Deserialize)]
            struct Advance {
                seconds: i64,
            }
            let a: Advance = trent_wire::json::decode(&body).map_err(wire)?;
            app.clock.advance(a.seconds);
            std::fs::write(crate::test_clock_file(&app.config), app.clock.offset_ms().to_string())
                .map_err(|_| Box::new(Internal) as BoxError)?;
            Ok(format!("{{\"now_ms\":{}}}", app.clock.now_ms()).into_bytes())
        }
        _ => Err(wire(WireError::BadMethodOrPath)),
    }
}

/// A failure with no client-visible detail.
struct Internal;

impl AwsError for Internal {
    fn code(&self) -> &'static str {
        "InternalFailure"
    }
    fn message(&self) -> String {
        "An internal error occurred. Try again later.".into()
    }
    fn status(&self) -> u16 {
        500
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(128).collect()
}

/// The one place errors become responses.
fn error_response(err: &dyn AwsError, request_id: &str) -> Response<Body> {
    if let Some(detail) = err.internal_detail() {
        tracing::error!(request_id, code = err.code(), detail, "internal error");
    } else {
        tracing::debug!(request_id, code = err.code(), "request failed");
    }
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    respond(status, ErrorBody::json_of(err), request_id)
}

fn respond(status: StatusCode, body: Vec<u8>, request_id: &str) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    let _ = trent_crypto::fill_random(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}
