//! CloudTrail's LookupEvents (awsJson1.1, target
//! `com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents`, signing name
//! `cloudtrail`) over the audit trail: the caller's account and region, newest first.

use crate::audit::AuditLog;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trent_kms::Caller;
use trent_wire::{AwsError, WireError};

/// CloudTrail's errors for LookupEvents.
#[derive(Debug)]
pub enum CloudTrailError {
    Wire(WireError),
    InvalidLookupAttributes(String),
    InvalidTimeRange,
    InvalidMaxResults,
    InvalidNextToken,
    InvalidEventCategory,
    UnsupportedOperation(String),
    Internal(String),
}

impl From<WireError> for CloudTrailError {
    fn from(e: WireError) -> Self {
        CloudTrailError::Wire(e)
    }
}

impl AwsError for CloudTrailError {
    fn code(&self) -> &'static str {
        match self {
            CloudTrailError::Wire(w) => w.code(),
            CloudTrailError::InvalidLookupAttributes(_) => "InvalidLookupAttributesException",
            CloudTrailError::InvalidTimeRange => "InvalidTimeRangeException",
            CloudTrailError::InvalidMaxResults => "InvalidMaxResultsException",
            CloudTrailError::InvalidNextToken => "InvalidNextTokenException",
            CloudTrailError::InvalidEventCategory => "InvalidEventCategoryException",
            CloudTrailError::UnsupportedOperation(_) => "UnsupportedOperationException",
            CloudTrailError::Internal(_) => "InternalFailure",
        }
    }
    fn message(&self) -> String {
        match self {
            CloudTrailError::Wire(w) => w.message(),
            CloudTrailError::InvalidLookupAttributes(m) => m.clone(),
            CloudTrailError::InvalidTimeRange => "Start time must be before end time.".into(),
            CloudTrailError::InvalidMaxResults => "MaxResults must be between 1 and 50.".into(),
            CloudTrailError::InvalidNextToken => "Invalid NextToken.".into(),
            CloudTrailError::InvalidEventCategory => "EventCategory must be insight.".into(),
            CloudTrailError::UnsupportedOperation(op) => {
                format!("Trent's CloudTrail serves LookupEvents only, not {op}.")
            }
            CloudTrailError::Internal(_) => "An internal error occurred. Try again later.".into(),
        }
    }
    fn status(&self) -> u16 {
        match self {
            CloudTrailError::Wire(w) => w.status(),
            CloudTrailError::Internal(_) => 500,
            _ => 400,
        }
    }
    fn internal_detail(&self) -> Option<String> {
        match self {
            CloudTrailError::Internal(d) => Some(d.clone()),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    #[serde(default)]
    lookup_attributes: Vec<Attribute>,
    #[serde(default)]
    start_time: Option<f64>,
    #[serde(default)]
    end_time: Option<f64>,
    #[serde(default)]
    event_category: Option<String>,
    #[serde(default)]
    max_results: Option<i64>,
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Attribute {
    attribute_key: String,
    attribute_value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    events: Vec<Event>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Event {
    event_id: String,
    event_name: String,
    read_only: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_key_id: Option<String>,
    event_time: f64,
    event_source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    resources: Vec<Resource>,
    cloud_trail_event: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Resource {
    resource_type: String,
    resource_name: String,
}

const KEYS: &[&str] =
    &["EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource", "AccessKeyId"];

/// Serves one CloudTrail operation.
pub fn dispatch(log: &AuditLog, caller: &Caller, op: &str, body: &[u8]) -> Result<Vec<u8>, CloudTrailError> {
    if op != "LookupEvents" {
        return Err(CloudTrailError::UnsupportedOperation(op.chars().take(64).collect()));
    }
    let req: Request = trent_wire::json::decode(body)?;
    if req.lookup_attributes.len() > 1 {
        return Err(CloudTrailError::InvalidLookupAttributes("You can specify only one lookup attribute.".into()));
    }
    let filter = match req.lookup_attributes.first() {
        Some(a) => {
            if !KEYS.contains(&a.attribute_key.as_str()) {
                return Err(CloudTrailError::Wire(WireError::Validation(format!(
                    "1 validation error detected: Value '{}' at 'lookupAttributes.1.member.attributeKey' failed to \
                     satisfy constraint: Member must satisfy enum value set: [{}]",
                    a.attribute_key.chars().take(64).collect::<String>(),
                    KEYS.join(", ")
                ))));
            }
            if a.attribute_value.is_empty() || a.attribute_value.chars().count() > 2000 {
                return Err(CloudTrailError::InvalidLookupAttributes(
                    "The attribute value must be 1 to 2000 characters.".into(),
                ));
            }
            Some((a.attribute_key.as_str(), a.attribute_value.as_str()))
        }
        None => None,
    };
    if let (Some(s), Some(e)) = (req.start_time, req.end_time) {
        if s > e {
            return Err(CloudTrailError::InvalidTimeRange);
        }
    }
    let max = match req.max_results {
        None => 50,
        Some(n) if (1..=50).contains(&n) => n as usize,
        Some(_) => return Err(CloudTrailError::InvalidMaxResults),
    };
    let before: Option<Position> = match &req.next_token {
        None => None,
        Some(t) => Some(Position::parse(t).ok_or(CloudTrailError::InvalidNextToken)?),
    };
    if let Some(c) = &req.event_category {
        if c != "insight" {
            return Err(CloudTrailError::InvalidEventCategory);
        }
        // Trent records management events only; there are no Insights events.
        return trent_wire::json::encode(&Response { events: Vec::new(), next_token: None }).map_err(Into::into);
    }
    let start_ms = req.start_time.map(|s| (s * 1000.0) as i64);
    let end_ms = req.end_time.map(|s| (s * 1000.0) as i64);

    // The caller's account and region, newest first, through the index (`audit_index`): a call
    // reads only the events it returns (plus one, to know whether more follow). Ties in time are
    // broken by node and sequence number, which also make the NextToken position.
    let query = crate::audit_index::Query {
        account: caller.account(),
        region: caller.region.as_str(),
        filter,
        start_ms,
        end_ms,
        before: before.map(|b| (b.ms, b.node, b.seq)),
        max,
    };
    let (found, more) = log
        .lookup(&query, |line| {
            let event = parse_event(line)?;
            if event.get("recipientAccountId").and_then(Value::as_str) != Some(caller.account())
                || event.get("awsRegion").and_then(Value::as_str) != Some(caller.region.as_str())
            {
                return None;
            }
            let ms = event.get("eventTime").and_then(Value::as_str).and_then(parse_time_ms).unwrap_or(0);
            if end_ms.is_some_and(|e| ms > e) || start_ms.is_some_and(|s| ms < s) {
                return None;
            }
            let e = to_lookup(event, ms);
            filter.is_none_or(|(k, v)| matches(&e, k, v)).then_some(e)
        })
        .map_err(CloudTrailError::Internal)?;
    let next_token = if more {
        found.last().map(|((ms, node, seq), _)| Position { ms: *ms, node: node.clone(), seq: *seq }.token())
    } else {
        None
    };
    let resp = Response { events: found.into_iter().map(|(_, e)| e).collect(), next_token };
    trent_wire::json::encode(&resp).map_err(Into::into)
}

/// The members of an event line the index reads, borrowed from the line (the indexer runs for
/// every record: no JSON tree, no copy of the members it skips).
#[derive(serde::Deserialize)]
struct IndexView<'a> {
    #[serde(rename = "trentRecord", borrow)]
    record: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "recipientAccountId", borrow)]
    account: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "awsRegion", borrow)]
    region: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "eventTime", borrow)]
    time: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "eventID", borrow)]
    event_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "eventName", borrow)]
    event_name: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "eventSource", borrow)]
    event_source: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "readOnly")]
    read_only: Option<bool>,
    #[serde(rename = "userIdentity", borrow)]
    identity: Option<IdentityView<'a>>,
    #[serde(borrow)]
    resources: Option<Vec<ResourceView<'a>>>,
}

#[derive(serde::Deserialize)]
struct IdentityView<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "userName", borrow)]
    user_name: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    arn: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "accessKeyId", borrow)]
    access_key_id: Option<std::borrow::Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct ResourceView<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "ARN", borrow)]
    arn: Option<std::borrow::Cow<'a, str>>,
}

/// How an `event` line is found in the index: every lookup attribute value it matches (the
/// same values [`matches`] compares a parsed event with).
pub(crate) fn index_entry(line: &str) -> Option<crate::audit_index::Entry> {
    if !line.contains("\"trentRecord\":\"event\"") {
        return None;
    }
    let v: IndexView<'_> = serde_json::from_str(line).ok()?;
    if v.record.as_deref() != Some("event") {
        return None;
    }
    let account = v.account?.into_owned();
    let region = v.region?.into_owned();
    let ms = v.time.as_deref().and_then(parse_time_ms).unwrap_or(0);
    let owned = |c: Option<std::borrow::Cow<'_, str>>| c.map(|c| c.into_owned()).unwrap_or_default();
    let mut attrs = vec![
        ("EventId", owned(v.event_id)),
        ("EventName", owned(v.event_name)),
        ("ReadOnly", v.read_only.unwrap_or(false).to_string()),
        ("EventSource", owned(v.event_source)),
    ];
    if let Some(id) = &v.identity {
        let username = match id.kind.as_deref() {
            Some("Root") => Some("root".to_string()),
            Some("IAMUser") => id.user_name.as_deref().map(str::to_string),
            Some("AssumedRole") => id.arn.as_deref().and_then(|a| a.rsplit('/').next()).map(str::to_string),
            _ => None,
        };
        attrs.extend(username.map(|u| ("Username", u)));
        attrs.extend(id.access_key_id.as_deref().map(|k| ("AccessKeyId", k.to_string())));
    }
    for r in v.resources.unwrap_or_default() {
        let (Some(kind), Some(arn)) = (r.kind, r.arn) else { continue };
        let (kind, arn) = (kind.into_owned(), arn.into_owned());
        if !attrs.contains(&("ResourceType", kind.clone())) {
            attrs.push(("ResourceType", kind));
        }
        if let Some((_, id)) = arn.rsplit_once('/') {
            if !attrs.contains(&("ResourceName", id.to_string())) {
                attrs.push(("ResourceName", id.to_string()));
            }
        }
        if !attrs.contains(&("ResourceName", arn.clone())) {
            attrs.push(("ResourceName", arn));
        }
    }
    attrs.retain(|(_, v)| !v.is_empty() && v.chars().count() <= 2000);
    Some(crate::audit_index::Entry { account, region, ms, attrs })
}

/// Where a page ends: events strictly older than this come next.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Position {
    ms: i64,
    node: String,
    seq: u64,
}

impl Position {
    fn token(&self) -> String {
        format!("{}.{}.{}", self.ms, hex::encode(&self.node), self.seq)
    }
    fn parse(t: &str) -> Option<Position> {
        let mut p = t.splitn(3, '.');
        let ms = p.next()?.parse().ok()?;
        let node = String::from_utf8(hex::decode(p.next()?).ok()?).ok()?;
        if node.len() > 64 || !node.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return None;
        }
        let seq = p.next()?.parse().ok()?;
        Some(Position { ms, node, seq })
    }
}

/// An `event` line's CloudTrail members (without the chain's).
fn parse_event(line: &str) -> Option<serde_json::Map<String, Value>> {
    if !line.contains("\"trentRecord\":\"event\"") {
        return None;
    }
    let Value::Object(mut m) = serde_json::from_str::<Value>(line).ok()? else { return None };
    m.retain(|k, _| !k.starts_with("trent"));
    Some(m)
}

fn parse_time_ms(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

fn to_lookup(event: serde_json::Map<String, Value>, ms: i64) -> Event {
    let s = |k: &str| event.get(k).and_then(Value::as_str).map(str::to_string);
    let ident = event.get("userIdentity");
    let id = |k: &str| ident.and_then(|u| u.get(k)).and_then(Value::as_str).map(str::to_string);
    let username = match id("type").as_deref() {
        Some("Root") => Some("root".to_string()),
        Some("IAMUser") => id("userName"),
        Some("AssumedRole") => id("arn").and_then(|a| a.rsplit('/').next().map(str::to_string)),
        _ => None,
    };
    let resources = event
        .get("resources")
        .and_then(Value::as_array)
        .map(|rs| {
            rs.iter()
                .filter_map(|r| {
                    Some(Resource {
                        resource_type: r.get("type")?.as_str()?.to_string(),
                        resource_name: r.get("ARN")?.as_str()?.to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Event {
        event_id: s("eventID").unwrap_or_default(),
        event_name: s("eventName").unwrap_or_default(),
        read_only: event.get("readOnly").and_then(Value::as_bool).unwrap_or(false).to_string(),
        access_key_id: id("accessKeyId"),
        event_time: ms as f64 / 1000.0,
        event_source: s("eventSource").unwrap_or_default(),
        username,
        resources,
        cloud_trail_event: Value::Object(event).to_string(),
    }
}

fn matches(e: &Event, key: &str, value: &str) -> bool {
    match key {
        "EventId" => e.event_id == value,
        "EventName" => e.event_name == value,
        "ReadOnly" => e.read_only == value,
        "Username" => e.username.as_deref() == Some(value),
        "EventSource" => e.event_source == value,
        "AccessKeyId" => e.access_key_id.as_deref() == Some(value),
        "ResourceType" => e.resources.iter().any(|r| r.resource_type == value),
        "ResourceName" => e
            .resources
            .iter()
            .any(|r| r.resource_name == value || r.resource_name.rsplit_once('/').is_some_and(|(_, id)| id == value)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(fields: Value) -> String {
        let prev = trent_crypto::audit::GENESIS;
        trent_crypto::audit::seal_line(7, prev, trent_crypto::audit::RecordKind::Event, &fields.to_string()).unwrap().0
    }

    /// The index finds an event by exactly the attribute values LookupEvents matches it by.
    #[test]
    fn index_entries_are_what_lookup_matches() {
        let events = [
            serde_json::json!({
                "eventTime": "2026-12-07T10:00:00Z", "eventSource": "kms.amazonaws.com", "eventName": "Encrypt",
                "awsRegion": "eu-west-1", "recipientAccountId": "111122223333", "readOnly": true, "eventID": "e-1",
                "userIdentity": {"type": "IAMUser", "userName": "bob \"the\" builder", "accessKeyId": "AKIA1", "arn": "x"},
                "resources": [{"type": "AWS::KMS::Key", "ARN": "arn:aws:kms:eu-west-1:111122223333:key/k1", "accountId": "1"}],
                "requestParameters": {"keyId": "k1", "nested": [{"a": [1, 2, {"b": null}]}]},
            }),
            serde_json::json!({
                "eventTime": "2026-12-07T10:00:01.250Z", "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole",
                "awsRegion": "us-east-1", "recipientAccountId": "111122223333", "readOnly": false, "eventID": "e-2",
                "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/r/sess", "accessKeyId": null},
            }),
            serde_json::json!({
                "eventTime": "2026-12-07T10:00:02Z", "eventSource": "kms.amazonaws.com", "eventName": "Decrypt",
                "awsRegion": "us-east-1", "recipientAccountId": "111122223333", "readOnly": true, "eventID": "e-3",
                "userIdentity": {"type": "Unknown"}, "resources": null,
            }),
        ];
        for ev in events {
            let l = line(ev);
            let entry = index_entry(&l).expect("an event line is indexed");
            let parsed = parse_event(&l).unwrap();
            let ms = parsed.get("eventTime").and_then(Value::as_str).and_then(parse_time_ms).unwrap();
            assert_eq!(entry.ms, ms);
            let e = to_lookup(parsed, ms);
            for (k, v) in &entry.attrs {
                assert!(matches(&e, k, v), "{k}={v}");
            }
            // Every attribute the event matches by is indexed.
            let mut expected = vec![
                ("EventId", e.event_id.clone()),
                ("EventName", e.event_name.clone()),
                ("ReadOnly", e.read_only.clone()),
                ("EventSource", e.event_source.clone()),
            ];
            expected.extend(e.username.clone().map(|u| ("Username", u)));
            expected.extend(e.access_key_id.clone().map(|k| ("AccessKeyId", k)));
            for r in &e.resources {
                expected.push(("ResourceType", r.resource_type.clone()));
                expected.push(("ResourceName", r.resource_name.clone()));
            }
            for x in expected {
                assert!(entry.attrs.contains(&x), "{x:?} in {:?}", entry.attrs);
            }
        }
        // Digests and intents are not indexed.
        let digest = trent_crypto::audit::seal_line(
            1,
            trent_crypto::audit::GENESIS,
            trent_crypto::audit::RecordKind::Intent,
            r#"{"eventID":"x","recipientAccountId":"1","awsRegion":"r"}"#,
        )
        .unwrap()
        .0;
        assert!(index_entry(&digest).is_none());
    }
}
