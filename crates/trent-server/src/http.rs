//! The HTTP front: one handler for every AWS call, plus trentd's own `/_trent/` routes.

use crate::App;
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
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Kms,
    Ssm,
    Secrets,
}

pub fn router(app: Arc<App>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(app)
}

async fn handle(axum::extract::State(app): axum::extract::State<Arc<App>>, req: Request<Body>) -> Response<Body> {
    if req.method() == axum::http::Method::GET {
        match req.uri().path() {
            "/health" => return plain(StatusCode::OK, "application/json", r#"{"status":"ok"}"#.into()),
            "/ready" => return ready(&app).await,
            "/metrics" => return plain(StatusCode::OK, "text/plain; version=0.0.4", app.metrics.render()),
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
    let (prefix, op) = target.split_once('.').unwrap_or(("", ""));
    match SERVICES.iter().find(|(p, _, _)| *p == prefix) {
        Some((_, Service::Kms, name)) => (name, Operation::from_name(op).map(|o| o.name()).unwrap_or("unknown")),
        Some((_, Service::Ssm, name)) => {
            (name, trent_ssm::Operation::from_name(op).map(|o| o.name()).unwrap_or("unknown"))
        }
        Some((_, Service::Secrets, name)) => {
            (name, trent_secrets::Operation::from_name(op).map(|o| o.name()).unwrap_or("unknown"))
        }
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
    let (prefix, op_name) = target.split_once('.').unwrap_or((target.as_str(), ""));
    let (service, signing_name) = SERVICES
        .iter()
        .find(|(p, _, _)| *p == prefix)
        .map(|(_, s, n)| (*s, *n))
        .ok_or_else(|| wire(WireError::UnknownOperation(truncate(&target))))?;
    let (prefix, op_name) = (prefix.to_string(), op_name.to_string());
    let request_id = request_id.to_string();

    // 3-6 run off the async threads: SigV4 lookups and crypto are blocking work.
    let join = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, BoxError> {
        let query = parts.uri.query().unwrap_or("");
        let authority = parts.uri.authority().map(|a| a.as_str());
        let req = RequestParts {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query,
            headers: &parts.headers,
            authority,
            body: &body,
        };
        let now = time::OffsetDateTime::now_utc();
        let verified = app.verifier.verify(&req, signing_name, now, &app.identity).map_err(wire)?;
        let caller = Caller { principal: verified.principal().clone(), region: verified.region().to_string() };
        let unknown = || wire(WireError::UnknownOperation(truncate(&format!("{prefix}.{op_name}"))));
        tracing::debug!(
            request_id,
            service = signing_name,
            operation = %op_name,
            region = %caller.region,
            access_key_id = verified.access_key_id(),
            "request"
        );
        match service {
            Service::Kms => {
                let op = Operation::from_name(&op_name).ok_or_else(unknown)?;
                app.kms.dispatch(op, &caller, &body).map_err(|e| Box::new(e) as BoxError)
            }
            Service::Ssm => {
                let op = trent_ssm::Operation::from_name(&op_name).ok_or_else(unknown)?;
                app.ssm.dispatch(op, &caller, &body).map_err(|e| Box::new(e) as BoxError)
            }
            Service::Secrets => {
                let op = trent_secrets::Operation::from_name(&op_name).ok_or_else(unknown)?;
                app.secrets.dispatch(op, &caller, &body).map_err(|e| Box::new(e) as BoxError)
            }
        }
    });
    match join.await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "request handler panicked");
            Err(Box::new(Internal))
        }
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
