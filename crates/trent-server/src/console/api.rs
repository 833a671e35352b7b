//! Every console action is an AWS API call as the signed-in principal, through the request
//! path's own stages (`http::run_authenticated`: quota → policy evaluation → audit intent →
//! the operation; `http::record_event`: the durable audit event), with userAgent
//! `trent-console`. The only step the console replaces is SigV4, which it runs once, at
//! sign-in, on a request signed with the pair the user typed (see [`sign_in`]).

use super::session::Session;
use crate::audit;
use crate::http::{authorize_and_run, record_event, run_authenticated, run_caught, uuid_v4};
use crate::service::{Op, Service};
use crate::App;
use serde_json::Value;
use trent_kms::Caller;
use trent_policy::Principal;

/// The userAgent of every console call in the audit trail.
pub const USER_AGENT: &str = "trent-console";

/// An AWS error an API call answered, as the page shows it.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(code: &str, message: &str) -> ApiError {
        ApiError { code: code.to_string(), message: message.to_string() }
    }
}

/// Who is calling, from where.
pub struct Ctx<'a> {
    pub app: &'a App,
    pub session: &'a Session,
    pub source_ip: &'a str,
}

fn tls(app: &App) -> bool {
    app.config.tls_cert.is_some() || app.config.tls_self_signed
}

fn draft(app: &App, service: Service, op_name: &str, op: Option<Op>, region: &str, source_ip: &str) -> audit::Draft {
    audit::Draft {
        event_source: service.event_source(),
        event_name: op_name.to_string(),
        region: region.to_string(),
        request_id: uuid_v4(),
        event_id: uuid_v4(),
        event_time: time::OffsetDateTime::now_utc(),
        source_ip: source_ip.to_string(),
        user_agent: USER_AGENT.to_string(),
        tls: tls(app),
        read_only: op.is_some_and(|o| o.audit().read_only()),
        identity: None,
        claimed_key_id: None,
        default_account: app.config.account_id.clone(),
    }
}

impl Ctx<'_> {
    /// Runs `op_name` of `service` with `body` (JSON for awsJson services, a form for IAM) as
    /// the session's principal in the session's region. Blocking: call off the async threads.
    pub fn raw(&self, service: Service, op_name: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
        let app = self.app;
        let s = self.session;
        let op = service.operation(op_name);
        let mut d = draft(app, service, op_name, op, &s.region, self.source_ip);
        d.identity = Some((s.principal.clone(), s.access_key_id.clone()));
        let caller = Caller::new(s.principal.clone(), s.region.clone());
        let start = std::time::Instant::now();
        let request_id = d.request_id.clone();
        let prefix = service.target_prefix().unwrap_or("");
        let result = run_caught(service, &request_id, || {
            run_authenticated(app, &mut d, caller, body, service, op, prefix, op_name, false)
        });
        let result = record_event(app, &d, body, service, result);
        let code = match &result {
            Ok(_) => "OK",
            Err(e) => e.code(),
        };
        app.metrics.record(service.signing_name(), op.map_or("unknown", Op::name), code, start.elapsed());
        result.map_err(|e| ApiError { code: e.code().to_string(), message: e.message() })
    }

    /// A JSON call; the answer parsed.
    pub fn call(&self, service: Service, op_name: &str, body: Value) -> Result<Value, ApiError> {
        let bytes = serde_json::to_vec(&body).map_err(|_| ApiError::new("InternalFailure", "bad request body"))?;
        let out = self.raw(service, op_name, &bytes)?;
        if out.is_empty() {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_slice(&out).map_err(|_| ApiError::new("InternalFailure", "the answer was not JSON"))
    }

    pub fn kms(&self, op: &str, body: Value) -> Result<Value, ApiError> {
        self.call(Service::Kms, op, body)
    }
    pub fn ssm(&self, op: &str, body: Value) -> Result<Value, ApiError> {
        self.call(Service::Ssm, op, body)
    }
    pub fn sm(&self, op: &str, body: Value) -> Result<Value, ApiError> {
        self.call(Service::Secrets, op, body)
    }
    pub fn cloudtrail(&self, body: Value) -> Result<Value, ApiError> {
        self.call(Service::CloudTrail, "LookupEvents", body)
    }

    /// An IAM (awsQuery) call; the XML answer as text.
    pub fn iam(&self, action: &str, params: &[(&str, &str)]) -> Result<String, ApiError> {
        let mut body = format!("Action={}&Version=2010-05-08", enc(action));
        for (k, v) in params {
            body.push('&');
            body.push_str(&enc(k));
            body.push('=');
            body.push_str(&enc(v));
        }
        let out = self.raw(Service::Iam, action, body.as_bytes())?;
        String::from_utf8(out).map_err(|_| ApiError::new("InternalFailure", "the answer was not UTF-8"))
    }
}

/// Percent-encodes a form value.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sign-in: the pair is checked by SigV4 itself. The console signs an STS
/// `GetCallerIdentity` request with the access key id and secret the user typed and runs it
/// through the whole request path (SigV4 → quota → … → audit event, userAgent
/// `trent-console`), so a wrong pair is refused and audited exactly as a wrong CLI call is.
/// The secret is used for this one signature and not kept.
pub fn sign_in(
    app: &App,
    access_key_id: &str,
    secret: &str,
    region: &str,
    source_ip: &str,
) -> Result<Principal, ApiError> {
    let service = Service::Sts;
    let op_name = "GetCallerIdentity";
    let body: &[u8] = b"Action=GetCallerIdentity&Version=2011-06-15";
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("host", axum::http::HeaderValue::from_static("trent-console.invalid"));
    headers.insert(
        "content-type",
        axum::http::HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
    );
    headers.insert("user-agent", axum::http::HeaderValue::from_static(USER_AGENT));
    let now = time::OffsetDateTime::now_utc();
    trent_wire::sigv4::sign("POST", "/", "", &mut headers, body, access_key_id, secret, None, region, "sts", now);
    let mut req = axum::http::Request::new(());
    *req.method_mut() = axum::http::Method::POST;
    *req.headers_mut() = headers;
    let (parts, ()) = req.into_parts();
    let op = service.operation(op_name);
    let mut d = draft(app, service, op_name, op, region, source_ip);
    let claimed = (1..=128).contains(&access_key_id.len()) && access_key_id.bytes().all(|b| b.is_ascii_alphanumeric());
    d.claimed_key_id = claimed.then(|| access_key_id.to_string());
    let request_id = d.request_id.clone();
    let start = std::time::Instant::now();
    let result =
        run_caught(service, &request_id, || authorize_and_run(app, &mut d, &parts, body, service, op, "", op_name));
    let result = record_event(app, &d, body, service, result);
    let code = match &result {
        Ok(_) => "OK",
        Err(e) => e.code(),
    };
    app.metrics.record(service.signing_name(), op_name, code, start.elapsed());
    match result {
        Ok(_) => d.identity.map(|(p, _)| p).ok_or_else(|| ApiError::new("InternalFailure", "no identity")),
        Err(e) => Err(ApiError { code: e.code().to_string(), message: e.message() }),
    }
}

/// The text of every `<tag>…</tag>` in `xml` (IAM's answers), unescaped. Enough for the
/// flat lists IAM returns; not a general XML parser.
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(xml_unescape(&after[..j]));
        rest = &after[j + close.len()..];
    }
    out
}

/// The `<member>` blocks of `xml` (one per list item).
pub fn xml_members(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<member>") {
        let after = &rest[i + 8..];
        let Some(j) = after.find("</member>") else { break };
        out.push(after[..j].to_string());
        rest = &after[j + 9..];
    }
    out
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_percent_encoded() {
        assert_eq!(enc("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(enc("Abc-1_2.3~"), "Abc-1_2.3~");
    }

    #[test]
    fn xml_lists_are_read_back_unescaped() {
        let x = "<Users><member><UserName>a&amp;b</UserName></member><member><UserName>&lt;c&gt;</UserName></member></Users>";
        assert_eq!(xml_members(x).len(), 2);
        assert_eq!(xml_values(x, "UserName"), vec!["a&b".to_string(), "<c>".to_string()]);
        assert!(xml_values("<A>unterminated", "A").is_empty());
    }
}
