//! Parameter Store events, shaped as EventBridge delivers them ("Parameter Store Change" and
//! "Parameter Store Policy Action"). They are emitted after the write is committed, to an
//! [`EventSink`] the server provides (files, webhooks); emitting never blocks or fails a call.

use serde_json::{json, Value};
use trent_kms::Caller;

/// Where events go. Implementations must return at once (queue, don't deliver inline).
pub trait EventSink: Send + Sync {
    fn emit(&self, event: Value);
}

/// Drops every event (tests, or a server with no sinks configured).
pub struct NoEvents;

impl EventSink for NoEvents {
    fn emit(&self, _event: Value) {}
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

fn envelope(caller: &Caller, now_ms: i64, detail_type: &str, arn: &str, detail: Value) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": detail_type,
        "source": "aws.ssm",
        "account": caller.account(),
        "time": rfc3339(now_ms),
        "region": caller.region,
        "resources": [arn],
        "detail": detail,
    })
}

/// `operation` is Create, Update, Delete, LabelParameterVersion or UnlabelParameterVersion.
pub(crate) fn change(caller: &Caller, now_ms: i64, operation: &str, name: &str, kind: &str, extra: Value) -> Value {
    let arn = crate::params::param_arn(caller, name);
    let mut detail = json!({"operation": operation, "name": name, "type": kind});
    if let (Some(d), Some(e)) = (detail.as_object_mut(), extra.as_object()) {
        d.extend(e.clone());
    }
    envelope(caller, now_ms, "Parameter Store Change", &arn, detail)
}

pub(crate) fn policy_action(
    caller: &Caller,
    now_ms: i64,
    name: &str,
    kind: &str,
    policy_type: &str,
    reason: &str,
) -> Value {
    let arn = crate::params::param_arn(caller, name);
    envelope(
        caller,
        now_ms,
        "Parameter Store Policy Action",
        &arn,
        json!({
            "parameter-name": name,
            "parameter-type": kind,
            "policy-type": policy_type,
            "action-status": "Finished",
            "action-reason": reason,
        }),
    )
}
