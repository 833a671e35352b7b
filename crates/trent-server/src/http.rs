//! The HTTP front: one handler for every AWS call, plus trentd's own `/_trent/` routes.

use crate::service::{Op, Service};
use crate::{audit, App};
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use std::sync::Arc;
use trent_kms::Caller;
use trent_wire::sigv4::RequestParts;
use trent_wire::{AwsError, ErrorBody, WireError};

/// An awsQuery request (IAM, STS): no `X-Amz-Target`, a form body; the service is the one the
/// SigV4 credential scope names (`iam`, else `sts`).
fn query_service(headers: &axum::http::HeaderMap) -> Option<Service> {
    if headers.contains_key("x-amz-target") {
        return None;
    }
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
        return None;
    }
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    let scope_service = auth.split("Credential=").nth(1).and_then(|c| c.split([',', ' ']).next()?.split('/').nth(3));
    Some(if scope_service == Some("iam") { Service::Iam } else { Service::Sts })
}

/// The XML namespace of an awsQuery request (IAM, STS), for errors answered before routing.
pub(crate) fn query_xmlns(headers: &axum::http::HeaderMap) -> Option<&'static str> {
    query_service(headers).and_then(Service::xmlns)
}

/// What `handle` learns from `route` for metrics and the response format.
struct Meta {
    service: &'static str,
    operation: &'static str,
    xmlns: Option<&'static str>,
}

pub fn router(app: Arc<App>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(app)
}

pub(crate) async fn handle(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    mut req: Request<Body>,
) -> Response<Body> {
    if crate::console::is_console_path(req.uri().path()) {
        return crate::console::handle(app, req).await;
    }
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
    if app.xks.serves(req.uri().path()) {
        return crate::xks_proxy::handle(app, req).await;
    }
    let start = std::time::Instant::now();
    let (service, operation) = labels(&req);
    let mut meta = Meta { service, operation, xmlns: None };
    let request_id = uuid_v4();
    let seen = crate::access_log::Seen::attach(&mut req);
    let (resp, code) = match route(app.clone(), req, &request_id, &mut meta).await {
        Ok(body) => (respond(StatusCode::OK, body, &request_id, meta.xmlns.is_some()), "OK"),
        Err(e) => (error_response(&*e, &request_id, meta.xmlns), e.code()),
    };
    app.metrics.record(meta.service, meta.operation, code, start.elapsed());
    let status = resp.status().as_u16();
    app.access_log.record(&seen, &request_id, meta.service, meta.operation, status, code, start.elapsed());
    resp
}

/// Metric labels for a request: only known services and operations, else "unknown".
/// (awsQuery requests are labelled in `route`, once the body is read.)
fn labels(req: &Request<Body>) -> (&'static str, &'static str) {
    let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    let (prefix, op) = target.rsplit_once('.').unwrap_or(("", ""));
    match Service::from_target_prefix(prefix) {
        Some(s) => (s.signing_name(), s.operation(op).map_or("unknown", Op::name)),
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

pub(crate) type BoxError = Box<dyn AwsError + Send>;

fn wire(e: WireError) -> BoxError {
    Box::new(e)
}

async fn route(app: Arc<App>, req: Request<Body>, request_id: &str, meta: &mut Meta) -> Result<Vec<u8>, BoxError> {
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
    let body = axum::body::to_bytes(body, max).await.map_err(|e| match crate::serve::body_timeout(e) {
        Some(t) => wire(WireError::RequestTimeout(t.to_string())),
        None => wire(WireError::RequestTooLarge(max)),
    })?;

    // 2. Framing: which service and operation (`None`: not served, refused after SigV4).
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let (service, prefix, op_name, op) = if let Some(q) = query_service(&parts.headers) {
        let action = trent_wire::query::decode(&body).map(|r| r.action).unwrap_or_default();
        let op = q.operation(&action);
        meta.service = q.signing_name();
        meta.xmlns = q.xmlns();
        meta.operation = op.map_or("unknown", Op::name);
        (q, String::new(), truncate(&action), op)
    } else {
        let (prefix, op_name) = target.rsplit_once('.').unwrap_or((target.as_str(), ""));
        let service =
            Service::from_target_prefix(prefix).ok_or_else(|| wire(WireError::UnknownOperation(truncate(&target))))?;
        (service, prefix.to_string(), truncate(op_name), service.operation(op_name))
    };
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
        read_only: op.is_some_and(|o| o.audit().read_only()),
        identity: None,
        claimed_key_id,
        default_account: app.config.account_id.clone(),
    };

    // 3-8. A read or use of a symmetric key, with a store this process alone writes, runs on
    // the async thread: with the store's read cache it does no blocking I/O, and its audit
    // event is awaited without holding a thread. Everything else (state changes, which wait
    // for their intent record; asymmetric cryptography; reads from PostgreSQL) runs on the
    // blocking pool.
    if inline(&app, op, &body) {
        let (result, event) = perform(&app, &mut draft, &parts, &body, service, op, &prefix, &op_name);
        let written = match event {
            Some(fields) => app.audit.append_async(trent_crypto::audit::RecordKind::Event, fields).await,
            None => Err(audit::AuditError("the event does not fit the trail's line format".into())),
        };
        return audited(result, written, &draft.request_id, service);
    }
    let join = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, BoxError> {
        let (result, event) = perform(&app, &mut draft, &parts, &body, service, op, &prefix, &op_name);
        let written = event
            .ok_or_else(|| audit::AuditError("the event does not fit the trail's line format".into()))
            .and_then(|fields| app.audit.append_checked(trent_crypto::audit::RecordKind::Event, fields));
        audited(result, written, &draft.request_id, service)
    });
    match join.await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "request handler panicked");
            Err(Box::new(Internal))
        }
    }
}

/// Whether a request runs on the async thread (see `route`): its operation changes nothing
/// (no intent record to wait for), uses no asymmetric key (the quota class tells, from the
/// request's members), and the store is this process's own (served from its read cache).
fn inline(app: &App, op: Option<Op>, body: &[u8]) -> bool {
    let Some(op) = op else { return true };
    if op.audit().needs_intent() || app.store.backend() != "sqlite" {
        return false;
    }
    match op.quota() {
        trent_wire::Quota::Own(_) | trent_wire::Quota::Shared(..) | trent_wire::Quota::KmsSymmetric => true,
        // No algorithm member: symmetric (the body is parsed only when one might name RSA).
        trent_wire::Quota::KmsEncryption if !contains(body, b"EncryptionAlgorithm") => true,
        trent_wire::Quota::KmsEncryption => {
            let members = crate::service::parse_body(body);
            crate::quota::classify("kms", op.name(), op.quota(), "us-east-1", &members).0 == "kms:symmetric"
        }
        trent_wire::Quota::KmsSigning | trent_wire::Quota::KmsEcc | trent_wire::Quota::KmsDataKeyPair => false,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Step 8 for work already run (the console's calls, `console/api.rs`): the event with its
/// outcome must be durable before anything is answered. Blocking: call it off the async threads.
pub(crate) fn record_event(
    app: &App,
    draft: &audit::Draft,
    body: &[u8],
    service: Service,
    result: Result<Vec<u8>, BoxError>,
) -> Result<Vec<u8>, BoxError> {
    let written = event_record(draft, body, service, &result)
        .ok_or_else(|| audit::AuditError("the event does not fit the trail's line format".into()))
        .and_then(|fields| app.audit.append_checked(trent_crypto::audit::RecordKind::Event, fields));
    audited(result, written, &draft.request_id, service)
}

/// Steps 3-7 and the request's audit event (not yet written). A panic in the work still leaves
/// the request's audit event, with the service's internal error, and gets the client an
/// AWS-shaped 500.
#[allow(clippy::too_many_arguments)]
fn perform(
    app: &App,
    draft: &mut audit::Draft,
    parts: &axum::http::request::Parts,
    body: &[u8],
    service: Service,
    op: Option<Op>,
    prefix: &str,
    op_name: &str,
) -> (Result<Vec<u8>, BoxError>, Option<trent_crypto::audit::CheckedFields>) {
    let request_id = draft.request_id.clone();
    let result =
        run_caught(service, &request_id, || authorize_and_run(app, draft, parts, body, service, op, prefix, op_name));
    let event = event_record(draft, body, service, &result);
    (result, event)
}

/// The request's audit event with its outcome, serialized and checked. awsQuery bodies are
/// recorded as their parameters (secrets removed by the audit module); their XML answers,
/// which carry secret keys and tokens, never are.
fn event_record(
    draft: &audit::Draft,
    body: &[u8],
    service: Service,
    result: &Result<Vec<u8>, BoxError>,
) -> Option<trent_crypto::audit::CheckedFields> {
    let audit_body = if service.xmlns().is_some() { query_as_json(body) } else { body.to_vec() };
    match result {
        Ok(_) if service.xmlns().is_some() => draft.record(&audit_body, None, None),
        Ok(resp) => draft.record(&audit_body, Some(resp), None),
        Err(e) => draft.record(&audit_body, None, Some((e.code(), e.message()))),
    }
}

/// 8. The event with its outcome must be durable before anything is answered.
fn audited(
    result: Result<Vec<u8>, BoxError>,
    written: Result<u64, audit::AuditError>,
    request_id: &str,
    service: Service,
) -> Result<Vec<u8>, BoxError> {
    if let Err(e) = written {
        tracing::error!(request_id, error = %e, "the request's audit event could not be written");
        return Err(Box::new(AuditUnavailable(service)));
    }
    result
}

/// Runs a request's work; a panic in it becomes the service's internal error (logged here,
/// never sent), so the request still gets its audit event and an AWS-shaped 500.
pub(crate) fn run_caught(
    service: Service,
    request_id: &str,
    work: impl FnOnce() -> Result<Vec<u8>, BoxError>,
) -> Result<Vec<u8>, BoxError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|_| {
        tracing::error!(request_id, "request handler panicked");
        Err(Box::new(Panicked(service)))
    })
}

/// A request whose handler panicked.
struct Panicked(Service);

impl AwsError for Panicked {
    fn code(&self) -> &'static str {
        self.0.internal_error_code()
    }
    fn message(&self) -> String {
        "An internal error occurred. Try again later.".into()
    }
    fn status(&self) -> u16 {
        500
    }
}

/// An awsQuery body as a JSON object of its parameters (for the audit record's
/// `requestParameters`; `Action` and `Version` left out). Not a form body → `{}`.
fn query_as_json(body: &[u8]) -> Vec<u8> {
    let Ok(req) = trent_wire::query::decode(body) else { return b"{}".to_vec() };
    let mut m = serde_json::Map::new();
    for name in req.params.names() {
        if let Some(v) = req.params.get(name) {
            m.insert(name.to_string(), serde_json::Value::String(v.to_string()));
        }
    }
    serde_json::to_vec(&m).unwrap_or_else(|_| b"{}".to_vec())
}

/// SigV4 → quota → policy evaluation → audit intent → the operation. Fills in the draft event as it learns more.
#[allow(clippy::too_many_arguments)]
pub(crate) fn authorize_and_run(
    app: &App,
    draft: &mut audit::Draft,
    parts: &axum::http::request::Parts,
    body: &[u8],
    service: Service,
    op: Option<Op>,
    prefix: &str,
    op_name: &str,
) -> Result<Vec<u8>, BoxError> {
    let signing_name = service.signing_name();
    if service == Service::Sts && is_unsigned(parts) && trent_iam::UNSIGNED_STS_ACTIONS.contains(&op_name) {
        return unsigned_sts(app, draft, body, op_name);
    }
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
    let verified = app.verifier.verify(&req, signing_name, now, &*app.identity).map_err(|e| {
        if service.xmlns().is_some() {
            Box::new(QueryAuthError(e)) as BoxError
        } else {
            wire(e)
        }
    })?;
    let caller = Caller::new(verified.principal().clone(), verified.region().to_string());
    draft.region = caller.region.clone();
    draft.identity = Some((caller.principal.clone(), verified.access_key_id().to_string()));
    crate::access_log::note_principal(&parts.extensions, &caller.principal, &caller.region);
    tracing::debug!(
        request_id = %draft.request_id,
        service = signing_name,
        operation = %op_name,
        region = %caller.region,
        access_key_id = verified.access_key_id(),
        "request"
    );
    let test_panic = app.config.unsafe_test_clock && parts.headers.contains_key("x-trent-test-panic");
    run_authenticated(app, draft, caller, body, service, op, prefix, op_name, test_panic)
}

/// Steps 4-7 of the request path for a caller already authenticated (by SigV4, or by a
/// console session that SigV4-verified the same access key at sign-in): quota → policy
/// evaluation → audit intent → the operation.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_authenticated(
    app: &App,
    draft: &mut audit::Draft,
    caller: Caller,
    body: &[u8],
    service: Service,
    op: Option<Op>,
    prefix: &str,
    op_name: &str,
    test_panic: bool,
) -> Result<Vec<u8>, BoxError> {
    let signing_name = service.signing_name();
    // The operation must be served before quota is spent on it.
    let op = op.ok_or_else(|| wire(WireError::UnknownOperation(truncate(&format!("{prefix}.{op_name}")))))?;
    // The body's members, parsed once for quota and policy evaluation.
    let members = crate::service::parse_body(body);

    // 4. Quota, before any work.
    app.quotas
        .admit(signing_name, op_name, op.quota(), caller.account(), &caller.region, &members)
        .map_err(|e| Box::new(e) as BoxError)?;

    // 5. Policy evaluation: the account root has every identity permission in its own account
    // (key policies and secret resource policies still bind it); everyone else needs a policy.
    // It mints the context the operation requires.
    let env = crate::identity::Env {
        source_ip: &draft.source_ip,
        secure_transport: draft.tls,
        now_secs: app.clock.now_ms().div_euclid(1000),
    };
    let authorized = op.authorize(app, caller, &members, &env)?;

    // 6. A state change runs only once its intent is on record.
    if op.audit().needs_intent() {
        if let Err(e) = app.audit.append(trent_crypto::audit::RecordKind::Intent, &draft.intent()) {
            tracing::error!(request_id = %draft.request_id, error = %e, "audit intent could not be written; request refused");
            return Err(Box::new(AuditUnavailable(service)));
        }
    }

    // 7. The operation. (`x-trent-test-panic`, honoured only with --unsafe-test-clock, makes it
    // panic, to test that a panicking handler still leaves its audit event.)
    if test_panic {
        panic!("x-trent-test-panic");
    }
    authorized.dispatch(app, body, &draft.request_id, &env)
}

/// A request with neither an Authorization header nor a presigned query.
fn is_unsigned(parts: &axum::http::request::Parts) -> bool {
    !parts.headers.contains_key("authorization")
        && !parts.uri.query().unwrap_or("").to_ascii_lowercase().contains("x-amz-signature")
}

/// An STS action that authenticates by what it carries (`AssumeRoleWithWebIdentity`: its
/// token), sent unsigned as the SDKs do: quota (under the role's account), audit intent, then
/// trent-iam verifies the token and the role's trust policy.
fn unsigned_sts(app: &App, draft: &mut audit::Draft, body: &[u8], op_name: &str) -> Result<Vec<u8>, BoxError> {
    let account = trent_wire::query::decode(body)
        .ok()
        .and_then(|r| r.params.get("RoleArn").and_then(trent_policy::Arn::parse).map(|a| a.account))
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| draft.default_account.clone());
    app.quotas
        .admit("sts", op_name, trent_wire::Quota::Own(2.0), &account, &draft.region, &serde_json::Map::new())
        .map_err(|e| Box::new(e) as BoxError)?;
    if let Err(e) = app.audit.append(trent_crypto::audit::RecordKind::Intent, &draft.intent()) {
        tracing::error!(request_id = %draft.request_id, error = %e, "audit intent could not be written; request refused");
        return Err(Box::new(AuditUnavailable(Service::Sts)));
    }
    app.iam.dispatch_unsigned(body, &draft.request_id).map(|r| r.to_vec()).map_err(|e| Box::new(e) as BoxError)
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

/// An authentication failure of an IAM or STS request, under the codes those services use
/// (`InvalidClientTokenId`, `SignatureDoesNotMatch`, `ExpiredToken`, …).
struct QueryAuthError(WireError);

impl AwsError for QueryAuthError {
    fn code(&self) -> &'static str {
        match &self.0 {
            WireError::UnrecognizedClient => "InvalidClientTokenId",
            WireError::InvalidSignature(_) => "SignatureDoesNotMatch",
            WireError::ExpiredToken => "ExpiredToken",
            WireError::IncompleteSignature(_) => "IncompleteSignature",
            WireError::MissingAuthenticationToken => "MissingAuthenticationToken",
            other => other.code(),
        }
    }
    fn message(&self) -> String {
        self.0.message()
    }
    fn status(&self) -> u16 {
        match &self.0 {
            WireError::UnrecognizedClient | WireError::InvalidSignature(_) | WireError::MissingAuthenticationToken => {
                403
            }
            other => other.status(),
        }
    }
}

/// The audit trail could not record the request, so it was not performed.
struct AuditUnavailable(Service);

impl AwsError for AuditUnavailable {
    fn code(&self) -> &'static str {
        self.0.internal_error_code()
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
        // A server started without --seal shamir is never sealed (docs/SEAL.md).
        ("GET", "/_trent/seal-status") => Ok(br#"{"sealed":false}"#.to_vec()),
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

pub(crate) fn truncate(s: &str) -> String {
    s.chars().take(128).collect()
}

/// The one place errors become responses.
fn error_response(err: &dyn AwsError, request_id: &str, xmlns: Option<&str>) -> Response<Body> {
    if let Some(detail) = err.internal_detail() {
        tracing::error!(request_id, code = err.code(), detail, "internal error");
    } else {
        tracing::debug!(request_id, code = err.code(), "request failed");
    }
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match xmlns {
        Some(ns) => respond(status, trent_wire::query::error_response(err, Some(ns), request_id), request_id, true),
        None => respond(status, ErrorBody::json_of(err), request_id, false),
    }
}

fn respond(status: StatusCode, body: Vec<u8>, request_id: &str, xml: bool) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    let ct = if xml { trent_wire::query::CONTENT_TYPE } else { "application/x-amz-json-1.1" };
    h.insert("content-type", HeaderValue::from_static(ct));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

/// A random (version 4) UUID: request ids and event ids.
pub(crate) fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    let _ = trent_crypto::fill_random(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_handler_becomes_the_services_internal_error() {
        let r = run_caught(Service::Ssm, "r1", || panic!("boom"));
        let e = r.expect_err("a panic is an error");
        assert_eq!((e.code(), e.status()), ("InternalServerError", 500));
        assert!(!e.message().contains("boom"));
        let r = run_caught(Service::Kms, "r2", || Ok(b"{}".to_vec()));
        assert_eq!(r.ok(), Some(b"{}".to_vec()));
        let e = run_caught(Service::Kms, "r3", || panic!("boom")).err().unwrap();
        assert_eq!(e.code(), "KMSInternalException");
    }
}
