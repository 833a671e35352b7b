//! The access log: one line per request, written once it has been answered. It names who asked
//! (the principal's ARN, or the access key id a refused request claimed), from where, for what,
//! and how it ended — never a body, a secret or a signature.
//!
//! `http::handle` takes a [`Seen`] before routing (source address, claimed access key id, and a
//! slot in the request's extensions that the SigV4 step fills with the principal via
//! [`note_principal`]) and calls [`AccessLog::record`] with the outcome.

use axum::body::Body;
use axum::http::Request;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use trent_policy::Principal;

/// Where the access log goes (`--access-log`).
pub struct AccessLog {
    sink: Sink,
    json: bool,
}

enum Sink {
    Off,
    /// Through `tracing` at level info (target `trent::access`), with the rest of the log.
    Stderr,
    File(Mutex<std::fs::File>),
}

/// The principal a request was authenticated as, filled in by the SigV4 step.
#[derive(Clone, Default)]
struct PrincipalSlot(Arc<Mutex<Option<String>>>);

/// What the access log learns from a request before it is handled.
pub struct Seen {
    source: Option<SocketAddr>,
    claimed_key_id: Option<String>,
    principal: PrincipalSlot,
}

impl Seen {
    /// Notes the request's source and claimed access key id, and gives it a principal slot.
    pub fn attach(req: &mut Request<Body>) -> Seen {
        let source = req.extensions().get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0);
        let claimed_key_id = claimed_key_id(req.headers(), req.uri().query());
        let principal = PrincipalSlot::default();
        req.extensions_mut().insert(principal.clone());
        Seen { source, claimed_key_id, principal }
    }
}

/// Records the principal a request was authenticated as (called once SigV4 has verified it).
pub fn note_principal(extensions: &axum::http::Extensions, principal: &Principal, region: &str) {
    if let Some(slot) = extensions.get::<PrincipalSlot>() {
        if let Ok(mut p) = slot.0.lock() {
            *p = Some(principal.arn(trent_policy::partition_for_region(region)));
        }
    }
}

/// The access key id a request claims (SigV4 header or presigned query), if well formed: it is
/// client input, so anything but 1-128 letters and digits is left out.
fn claimed_key_id(headers: &axum::http::HeaderMap, query: Option<&str>) -> Option<String> {
    let from_header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split([',', ' ', '/']).next());
    let from_query = || {
        query?.split('&').find_map(|kv| kv.strip_prefix("X-Amz-Credential=")).and_then(|c| c.split(['/', '%']).next())
    };
    from_header
        .or_else(from_query)
        .filter(|k| (1..=128).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(str::to_string)
}

/// One access log line's fields.
struct Line<'a> {
    request_id: &'a str,
    principal: Option<String>,
    access_key_id: Option<&'a str>,
    source: Option<SocketAddr>,
    service: &'a str,
    operation: &'a str,
    status: u16,
    error_code: Option<&'a str>,
    latency_ms: f64,
}

impl AccessLog {
    /// `setting` is `stderr`, `off` or a file path (created 0600 if missing, appended to).
    pub fn open(setting: &str, json: bool) -> Result<AccessLog, String> {
        let sink = match setting {
            "off" => Sink::Off,
            "stderr" | "" => Sink::Stderr,
            path => {
                let mut opts = std::fs::OpenOptions::new();
                opts.append(true).create(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                let file = opts.open(path).map_err(|e| {
                    format!(
                        "opening the access log {path}: {e}; check that its directory exists and is writable, \
                         or use --access-log stderr"
                    )
                })?;
                Sink::File(Mutex::new(file))
            }
        };
        Ok(AccessLog { sink, json })
    }

    /// Logs one answered request. `code` is "OK" or the AWS error code.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        seen: &Seen,
        request_id: &str,
        service: &str,
        operation: &str,
        status: u16,
        code: &str,
        elapsed: Duration,
    ) {
        if matches!(self.sink, Sink::Off) {
            return;
        }
        let line = Line {
            request_id,
            principal: seen.principal.0.lock().ok().and_then(|p| p.clone()),
            access_key_id: seen.claimed_key_id.as_deref(),
            source: seen.source,
            service,
            operation,
            status,
            error_code: (code != "OK").then_some(code),
            latency_ms: elapsed.as_secs_f64() * 1000.0,
        };
        match &self.sink {
            Sink::Off => {}
            Sink::Stderr => tracing::info!(
                target: "trent::access",
                request_id = line.request_id,
                principal = line.principal.as_deref().unwrap_or("-"),
                access_key_id = line.access_key_id.unwrap_or("-"),
                source = %line.source.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                service = line.service,
                operation = line.operation,
                status = line.status,
                error_code = line.error_code.unwrap_or("-"),
                latency_ms = (line.latency_ms * 1000.0).round() / 1000.0,
                "request"
            ),
            Sink::File(f) => {
                let text = if self.json { line.json() } else { line.text() };
                if let Ok(mut f) = f.lock() {
                    if let Err(e) = f.write_all(text.as_bytes()) {
                        tracing::warn!(error = %e, "could not write to the access log");
                    }
                }
            }
        }
    }
}

fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

impl Line<'_> {
    fn text(&self) -> String {
        format!(
            "{} request_id={} principal={} access_key_id={} source={} service={} operation={} status={} error_code={} latency_ms={:.3}\n",
            now_rfc3339(),
            self.request_id,
            self.principal.as_deref().unwrap_or("-"),
            self.access_key_id.unwrap_or("-"),
            self.source.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
            self.service,
            self.operation,
            self.status,
            self.error_code.unwrap_or("-"),
            self.latency_ms
        )
    }

    fn json(&self) -> String {
        let v = serde_json::json!({
            "time": now_rfc3339(),
            "request_id": self.request_id,
            "principal": self.principal,
            "access_key_id": self.access_key_id,
            "source": self.source.map(|s| s.to_string()),
            "service": self.service,
            "operation": self.operation,
            "status": self.status,
            "error_code": self.error_code,
            "latency_ms": (self.latency_ms * 1000.0).round() / 1000.0,
        });
        format!("{v}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(auth: &str) -> Request<Body> {
        let mut req = Request::builder().uri("/").header("authorization", auth).body(Body::empty()).unwrap();
        req.extensions_mut().insert(axum::extract::ConnectInfo(SocketAddr::from(([10, 0, 0, 7], 5555))));
        req
    }

    #[test]
    fn a_file_line_names_principal_source_outcome_and_never_the_signature() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let log = AccessLog::open(path.to_str().unwrap(), false).unwrap();
        let mut req = request(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kms/aws4_request, \
             SignedHeaders=host, Signature=deadbeefcafe",
        );
        let seen = Seen::attach(&mut req);
        note_principal(req.extensions(), &Principal::root("111122223333"), "us-east-1");
        log.record(&seen, "req-1", "kms", "Encrypt", 200, "OK", Duration::from_millis(3));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("request_id=req-1 principal=arn:aws:iam::111122223333:root"), "{text}");
        assert!(text.contains("access_key_id=AKIDEXAMPLE source=10.0.0.7:5555 service=kms operation=Encrypt"));
        assert!(text.contains("status=200 error_code=- latency_ms=3."), "{text}");
        assert!(!text.contains("deadbeef"), "the signature must never be logged: {text}");
        assert_eq!(text.lines().count(), 1);
    }

    #[test]
    fn a_refused_request_logs_the_claimed_key_id_and_error_code_as_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.json");
        let log = AccessLog::open(path.to_str().unwrap(), true).unwrap();
        let mut req =
            request("AWS4-HMAC-SHA256 Credential=AKIDUNKNOWN/20260101/us-east-1/kms/aws4_request, Signature=x");
        let seen = Seen::attach(&mut req);
        log.record(&seen, "req-2", "kms", "Decrypt", 400, "UnrecognizedClientException", Duration::from_micros(10));
        let v: serde_json::Value = serde_json::from_str(std::fs::read_to_string(&path).unwrap().trim()).unwrap();
        assert_eq!(v["principal"], serde_json::Value::Null);
        assert_eq!(v["access_key_id"], "AKIDUNKNOWN");
        assert_eq!(v["error_code"], "UnrecognizedClientException");
        assert_eq!(v["status"], 400);
        assert_eq!(v["request_id"], "req-2");
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn a_malformed_claimed_key_id_is_left_out() {
        let mut req = request("AWS4-HMAC-SHA256 Credential=AK\"ID/x");
        assert_eq!(Seen::attach(&mut req).claimed_key_id, None);
        let mut req = Request::builder()
            .uri("/?X-Amz-Credential=AKIDQUERY%2F20260101%2Fus-east-1%2Fkms%2Faws4_request&X-Amz-Signature=ab")
            .body(Body::empty())
            .unwrap();
        assert_eq!(Seen::attach(&mut req).claimed_key_id.as_deref(), Some("AKIDQUERY"));
    }

    #[test]
    fn off_writes_nothing_and_an_unwritable_file_is_a_clear_error() {
        let log = AccessLog::open("off", false).unwrap();
        let mut req = request("");
        log.record(&Seen::attach(&mut req), "r", "kms", "Encrypt", 200, "OK", Duration::ZERO);
        let err = AccessLog::open("/nonexistent-dir/x/access.log", false).err().unwrap();
        assert!(err.contains("opening the access log /nonexistent-dir/x/access.log"), "{err}");
    }
}
