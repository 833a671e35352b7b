//! Building audit events: the CloudTrail-shaped record of one request, with every secret
//! removed before anything is kept. The trail that stores them is `audit.rs`.

use crate::audit::rfc3339;
use crate::audit_model::{self as model, Shape};
use serde_json::{json, Map, Value};
use trent_policy::{Principal, PrincipalKind};

/// What is known about a request before it runs.
pub struct Draft {
    pub event_source: &'static str,
    pub event_name: String,
    pub region: String,
    pub request_id: String,
    pub event_id: String,
    pub event_time: time::OffsetDateTime,
    pub source_ip: String,
    pub user_agent: String,
    pub tls: bool,
    pub read_only: bool,
    /// The caller once SigV4 has verified it.
    pub identity: Option<(Principal, String)>,
    /// The access key id named in an Authorization header that did not verify.
    pub claimed_key_id: Option<String>,
    /// The account a request without a verified caller is recorded under.
    pub default_account: String,
}

impl Draft {
    fn account(&self) -> &str {
        self.identity.as_ref().map_or(&self.default_account, |(p, _)| &p.account_id)
    }

    fn partition(&self) -> &'static str {
        trent_policy::partition_for_region(&self.region)
    }

    /// The `intent` record written before a state-changing operation runs.
    pub fn intent(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("requestID".into(), json!(self.request_id));
        m.insert("eventID".into(), json!(self.event_id));
        m.insert("eventName".into(), json!(self.event_name));
        m.insert("eventSource".into(), json!(self.event_source));
        m.insert("eventTime".into(), json!(rfc3339(self.event_time)));
        m.insert("recipientAccountId".into(), json!(self.account()));
        m
    }

    fn user_identity(&self) -> Value {
        let partition = self.partition();
        match &self.identity {
            None => {
                let mut u = json!({"type": "Unknown"});
                if let Some(k) = &self.claimed_key_id {
                    u["accessKeyId"] = json!(k);
                }
                u
            }
            Some((p, key_id)) => {
                let arn = p.arn(partition);
                let acct = &p.account_id;
                match &p.kind {
                    PrincipalKind::Root => json!({
                        "type": "Root", "principalId": acct, "arn": arn, "accountId": acct, "accessKeyId": key_id,
                    }),
                    PrincipalKind::User { name, id, .. } => json!({
                        "type": "IAMUser", "principalId": id, "arn": arn, "accountId": acct,
                        "accessKeyId": key_id, "userName": name,
                    }),
                    PrincipalKind::AssumedRole { role_name, role_id, .. } => json!({
                        "type": "AssumedRole", "principalId": p.user_id(), "arn": arn, "accountId": acct,
                        "accessKeyId": key_id,
                        "sessionContext": {"sessionIssuer": {
                            "type": "Role", "principalId": role_id,
                            "arn": format!("arn:{partition}:iam::{acct}:role/{role_name}"),
                            "accountId": acct, "userName": role_name,
                        }},
                    }),
                }
            }
        }
    }

    /// The CloudTrail-shaped event for the request's outcome. `request` and `response` are
    /// the awsJson bodies (an awsQuery body as a flat JSON object of its parameters). Only
    /// members the service model declares for the operation, and that are not sensitive, are
    /// kept (`audit_model.rs`); the event is bounded in depth and size so the trail's reader
    /// always reads it back.
    pub fn event(&self, request: &[u8], response: Option<&[u8]>, error: Option<(&str, String)>) -> Map<String, Value> {
        bounded(self.unbounded_event(request, response, error)).0
    }

    /// The event as the trail takes it: bounded, serialized and checked once
    /// ([`crate::audit::AuditLog::append_checked`]); `None` if even the bounded event would not fit.
    pub fn record(
        &self,
        request: &[u8],
        response: Option<&[u8]>,
        error: Option<(&str, String)>,
    ) -> Option<trent_crypto::audit::CheckedFields> {
        bounded(self.unbounded_event(request, response, error)).1
    }

    fn unbounded_event(
        &self,
        request: &[u8],
        response: Option<&[u8]>,
        error: Option<(&str, String)>,
    ) -> Map<String, Value> {
        let op = self.operation();
        let query = matches!(self.service(), "iam" | "sts");
        let params = op.and_then(|o| {
            let mut dropped = std::collections::BTreeSet::new();
            let v = if query {
                query_parameters(request, o.input?, &mut dropped)?
            } else {
                kept_object(request, o.input, &mut dropped)?
            };
            Some(with_dropped(v, dropped))
        });
        // Data-plane answers (plaintext, data keys, secret values) are never parsed into the
        // event, nor are IAM's and STS's (XML, with credentials).
        let elements = match (op, response) {
            (Some(o), Some(body)) if !self.read_only && !query => {
                kept_object(body, o.output, &mut std::collections::BTreeSet::new())
            }
            _ => None,
        };
        let resources = self.resources(params.as_ref(), response);
        let mut m = Map::new();
        m.insert("eventVersion".into(), json!("1.08"));
        m.insert("userIdentity".into(), self.user_identity());
        m.insert("eventTime".into(), json!(rfc3339(self.event_time)));
        m.insert("eventSource".into(), json!(self.event_source));
        m.insert("eventName".into(), json!(self.event_name));
        m.insert("awsRegion".into(), json!(self.region));
        m.insert("sourceIPAddress".into(), json!(self.source_ip));
        m.insert("userAgent".into(), json!(self.user_agent));
        if let Some((code, message)) = error {
            m.insert("errorCode".into(), json!(code));
            m.insert("errorMessage".into(), json!(message.chars().take(MAX_MESSAGE_CHARS).collect::<String>()));
        }
        m.insert("requestParameters".into(), params.unwrap_or(Value::Null));
        m.insert("responseElements".into(), elements.unwrap_or(Value::Null));
        m.insert("requestID".into(), json!(self.request_id));
        m.insert("eventID".into(), json!(self.event_id));
        m.insert("readOnly".into(), json!(self.read_only));
        if !resources.is_empty() {
            m.insert("resources".into(), Value::Array(resources));
        }
        m.insert("eventType".into(), json!("AwsApiCall"));
        m.insert("managementEvent".into(), json!(true));
        m.insert("recipientAccountId".into(), json!(self.account()));
        m.insert("eventCategory".into(), json!("Management"));
        m.insert("tlsDetails".into(), json!({"clientProvidedHostHeader": Value::Null, "tls": self.tls}));
        m
    }

    /// The signing name of the event's service (`kms`, `ssm`, …).
    fn service(&self) -> &'static str {
        self.event_source.strip_suffix(".amazonaws.com").unwrap_or(self.event_source)
    }

    /// The operation in the service model, if the service serves one by that name.
    fn operation(&self) -> Option<&'static model::Operation> {
        let key = (self.service(), self.event_name.as_str());
        model::OPERATIONS.binary_search_by(|o| (o.service, o.name).cmp(&key)).ok().map(|i| &model::OPERATIONS[i])
    }

    fn resources(&self, params: Option<&Value>, response: Option<&[u8]>) -> Vec<Value> {
        #[derive(serde::Deserialize, Default)]
        #[serde(rename_all = "PascalCase", default)]
        struct Arns {
            key_id: Option<String>,
            key_metadata: Option<Meta>,
            #[serde(rename = "ARN")]
            arn: Option<String>,
        }
        #[derive(serde::Deserialize, Default)]
        #[serde(rename_all = "PascalCase", default)]
        struct Meta {
            arn: Option<String>,
        }
        let mut arns: Vec<String> = Vec::new();
        if let Some(body) = response {
            if let Ok(a) = serde_json::from_slice::<Arns>(body) {
                arns.extend(a.arn.into_iter().chain(a.key_id).chain(a.key_metadata.and_then(|m| m.arn)));
            }
        }
        let acct = self.account();
        let partition = self.partition();
        if let Some(p) = params {
            for member in ["keyId", "sourceKeyId", "destinationKeyId", "targetKeyId", "secretId"] {
                let Some(id) = p.get(member).and_then(|v| v.as_str()) else { continue };
                if id.starts_with("arn:") {
                    arns.push(id.to_string());
                } else if self.event_source == "kms.amazonaws.com" {
                    let kind = if id.starts_with("alias/") { "" } else { "key/" };
                    arns.push(format!("arn:{partition}:kms:{}:{acct}:{kind}{id}", self.region));
                }
            }
            if self.event_source == "ssm.amazonaws.com" {
                let names =
                    p.get("name").into_iter().chain(p.get("names").and_then(|n| n.as_array()).into_iter().flatten());
                for name in names.filter_map(|n| n.as_str()).take(10) {
                    if let Some(n) = name.strip_prefix("arn:") {
                        arns.push(format!("arn:{n}"));
                    } else {
                        let slash = if name.starts_with('/') { "" } else { "/" };
                        arns.push(format!("arn:{partition}:ssm:{}:{acct}:parameter{slash}{name}", self.region));
                    }
                }
            }
        }
        let mut out = Vec::new();
        for arn in arns {
            let kind = if arn.contains(":kms:") && arn.contains(":alias/") {
                "AWS::KMS::Alias"
            } else if arn.contains(":kms:") {
                "AWS::KMS::Key"
            } else if arn.contains(":ssm:") {
                "AWS::SSM::Parameter"
            } else if arn.contains(":secretsmanager:") {
                "AWS::SecretsManager::Secret"
            } else {
                continue;
            };
            let v = json!({"accountId": arn.split(':').nth(4).unwrap_or(acct), "type": kind, "ARN": arn});
            if !out.contains(&v) {
                out.push(v);
            }
        }
        out
    }
}

/// How deep below `requestParameters` (or `responseElements`) an event keeps values; a value
/// deeper than this is replaced by `{"trentTruncated": true}`.
pub const MAX_DEPTH: usize = 16;
/// The most bytes (serialized) one member of `requestParameters` / `responseElements` keeps.
pub const MAX_MEMBER_BYTES: usize = 16 * 1024;
/// The most bytes (serialized) one event takes.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
/// The longest `errorMessage` kept, in characters.
const MAX_MESSAGE_CHARS: usize = 1024;
/// How many names of members a request should not have are listed under `trentDroppedMembers`.
const MAX_DROPPED: usize = 20;

/// What replaces a value that is too deep or too large to keep.
fn truncated() -> Value {
    json!({"trentTruncated": true})
}

type Raw<'a> = &'a serde_json::value::RawValue;
type Dropped = std::collections::BTreeSet<String>;

/// Remembers the name of a member the model does not declare (never its value); only short,
/// printable names, and only so many.
fn note(dropped: &mut Dropped, name: &str) {
    if dropped.len() < MAX_DROPPED && (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_graphic()) {
        dropped.insert(name.to_string());
    }
}

fn with_dropped(mut v: Value, dropped: Dropped) -> Value {
    if let (Value::Object(m), false) = (&mut v, dropped.is_empty()) {
        m.insert("trentDroppedMembers".into(), Value::Array(dropped.into_iter().map(Value::String).collect()));
    }
    v
}

/// The members of an awsJson body that the model declares for `shape` (an operation without
/// an input or output shape declares none), in lowerCamelCase as CloudTrail writes them,
/// sensitive ones left out. Values are read as raw JSON first, so a member that is left out
/// is never parsed or copied. Not a JSON object → `None`.
fn kept_object(body: &[u8], shape: Option<usize>, dropped: &mut Dropped) -> Option<Value> {
    let raw: Raw = serde_json::from_slice(body).ok()?;
    let kept = match shape {
        Some(shape) => keep(model::SHAPES, raw, shape, 0, dropped)?,
        None => keep_members(model::SHAPES, raw, &[], 0, dropped)?,
    };
    kept.is_object().then_some(kept)
}

/// `raw` as the model's `shape` allows, at `depth` below the top object; `None` if it is not
/// of that shape.
fn keep(shapes: &[Shape], raw: Raw, shape: usize, depth: usize, dropped: &mut Dropped) -> Option<Value> {
    if depth > MAX_DEPTH {
        return Some(truncated());
    }
    let text = raw.get();
    match shapes.get(shape)? {
        Shape::Scalar if text.starts_with(['{', '[']) => None,
        Shape::Scalar => serde_json::from_str(text).ok(),
        Shape::Structure(members) => keep_members(shapes, raw, members, depth, dropped),
        Shape::List(element) => {
            let items: Vec<Raw> = serde_json::from_str(text).ok()?;
            Some(Value::Array(
                items.into_iter().filter_map(|i| keep(shapes, i, *element, depth + 1, dropped)).collect(),
            ))
        }
        Shape::Map(value) => {
            let entries: std::collections::BTreeMap<String, Raw> = serde_json::from_str(text).ok()?;
            let kept = entries.into_iter().filter_map(|(k, v)| Some((k, keep(shapes, v, *value, depth + 1, dropped)?)));
            Some(Value::Object(kept.collect()))
        }
    }
}

fn keep_members(
    shapes: &[Shape],
    raw: Raw,
    members: &[model::Member],
    depth: usize,
    dropped: &mut Dropped,
) -> Option<Value> {
    let entries: std::collections::BTreeMap<String, Raw> = serde_json::from_str(raw.get()).ok()?;
    let mut out = Map::new();
    for (name, value) in entries {
        let Some(member) = members.iter().find(|m| m.name == name) else {
            note(dropped, &name);
            continue;
        };
        if member.sensitive {
            continue;
        }
        match keep(shapes, value, member.shape, depth + 1, dropped) {
            Some(v) if depth == 0 => {
                out.insert(lower_first(&name), bound_member(v));
            }
            Some(v) => {
                out.insert(lower_first(&name), v);
            }
            None => note(dropped, &name),
        }
    }
    Some(Value::Object(out))
}

fn bound_member(v: Value) -> Value {
    if serde_json::to_string(&v).map_or(true, |s| s.len() > MAX_MEMBER_BYTES) {
        truncated()
    } else {
        v
    }
}

/// An awsQuery request (IAM, STS), given as the flat JSON object of its parameters
/// (`Tags.member.1.Key` …): a parameter is kept if the model declares its top-level member,
/// that member is not sensitive, and (for a nested parameter) nothing under it is.
fn query_parameters(body: &[u8], input: usize, dropped: &mut Dropped) -> Option<Value> {
    let flat: std::collections::BTreeMap<String, Raw> = serde_json::from_slice(body).ok()?;
    let Some(Shape::Structure(members)) = model::SHAPES.get(input) else { return None };
    let mut out = Map::new();
    for (name, value) in flat {
        let top = name.split('.').next().unwrap_or("");
        let Some(member) = members.iter().find(|m| m.name == top) else {
            note(dropped, top);
            continue;
        };
        let nested = name.len() != top.len();
        if member.sensitive || (nested && holds_sensitive(member.shape, &mut Vec::new())) {
            continue;
        }
        if !nested && model::SHAPES.get(member.shape) != Some(&Shape::Scalar) && !value.get().starts_with('"') {
            note(dropped, top);
            continue;
        }
        match serde_json::from_str::<Value>(value.get()) {
            Ok(v @ Value::String(_)) => {
                out.insert(lower_first(&name), bound_member(v));
            }
            _ => note(dropped, top),
        }
    }
    Some(Value::Object(out))
}

/// Whether any member anywhere under `shape` is sensitive.
fn holds_sensitive(shape: usize, seen: &mut Vec<usize>) -> bool {
    if seen.contains(&shape) {
        return false;
    }
    seen.push(shape);
    match model::SHAPES.get(shape) {
        None => true,
        Some(Shape::Scalar) => false,
        Some(Shape::List(e)) | Some(Shape::Map(e)) => holds_sensitive(*e, seen),
        Some(Shape::Structure(members)) => members.iter().any(|m| m.sensitive || holds_sensitive(m.shape, seen)),
    }
}

/// Bounds a whole event: over `MAX_EVENT_BYTES`, or not something the trail's line format
/// reads back, its parameters, answer and resources are replaced by the truncation marker.
/// Returns the event and, when it fits, its serialized, checked form (serialized once here).
fn bounded(mut m: Map<String, Value>) -> (Map<String, Value>, Option<trent_crypto::audit::CheckedFields>) {
    let check = |m: &Map<String, Value>| {
        let c = trent_crypto::audit::CheckedFields::from_map(m).ok()?;
        (c.as_str().len() <= MAX_EVENT_BYTES).then_some(c)
    };
    if let Some(c) = check(&m) {
        return (m, Some(c));
    }
    for member in ["requestParameters", "responseElements"] {
        if m.get(member).is_some_and(|v| !v.is_null()) {
            m.insert(member.into(), truncated());
        }
    }
    if let Some(c) = check(&m) {
        return (m, Some(c));
    }
    m.remove("resources");
    let c = check(&m);
    (m, c)
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft_for(source: &'static str, op: &str) -> Draft {
        Draft {
            event_source: source,
            event_name: op.into(),
            region: "us-east-1".into(),
            request_id: "r".into(),
            event_id: "e".into(),
            event_time: time::OffsetDateTime::UNIX_EPOCH,
            source_ip: "127.0.0.1".into(),
            user_agent: "test".into(),
            tls: false,
            read_only: read_only(source, op),
            identity: Some((Principal::root("111122223333"), "AKIA1".into())),
            claimed_key_id: None,
            default_account: "000000000000".into(),
        }
    }

    /// CloudTrail's `readOnly` for an operation, from its service's table (`false` if not served).
    fn read_only(source: &str, op: &str) -> bool {
        let signing = source.strip_suffix(".amazonaws.com").unwrap_or(source);
        crate::service::Service::ALL
            .iter()
            .find(|s| s.signing_name() == signing)
            .and_then(|s| s.operation(op))
            .is_some_and(|o| o.audit().read_only())
    }

    fn draft(read_only: bool) -> Draft {
        Draft { read_only, ..draft_for("kms.amazonaws.com", "Encrypt") }
    }

    /// The event as the trail would write it, sealed and read back.
    fn sealed(event: Map<String, Value>) -> Value {
        let (line, _) = trent_crypto::audit::seal_line(
            1,
            trent_crypto::audit::GENESIS,
            RecordKind::Event,
            &Value::Object(event).to_string(),
        )
        .expect("every event seals");
        Value::Object(trent_crypto::audit::parse_line(&line).expect("every event reads back").value)
    }
    use trent_crypto::audit::RecordKind;

    #[test]
    fn plaintext_and_secrets_never_reach_an_event() {
        let req = br#"{"KeyId":"alias/a","Plaintext":"c2VjcmV0LXBsYWlu","EncryptionContext":{"Dept":"x"},
            "SecretString":"hunter2","Tags":[{"Key":"k","Value":"tagvalue"}],"Nested":{"Value":"deep-secret"}}"#;
        let resp = br#"{"CiphertextBlob":"Y2lwaGVy","KeyId":"arn:aws:kms:us-east-1:111122223333:key/1234"}"#;
        let e = Value::Object(draft(false).event(req, Some(resp), None)).to_string();
        for secret in ["c2VjcmV0LXBsYWlu", "hunter2", "deep-secret", "Y2lwaGVy", "tagvalue"] {
            assert!(!e.contains(secret), "{secret} leaked into {e}");
        }
        let v: Value = serde_json::from_str(&e).unwrap();
        assert_eq!(v["requestParameters"]["keyId"], "alias/a");
        // Encryption context keys are the caller's: not case-converted.
        assert_eq!(v["requestParameters"]["encryptionContext"]["Dept"], "x");
        // Encrypt declares no Tags, SecretString or Nested: their names are noted, never their values.
        assert_eq!(v["requestParameters"]["trentDroppedMembers"], json!(["Nested", "SecretString", "Tags"]));
        assert_eq!(v["resources"][0]["ARN"], "arn:aws:kms:us-east-1:111122223333:key/1234");
        assert_eq!(v["resources"][0]["type"], "AWS::KMS::Key");
        assert_eq!(v["userIdentity"]["type"], "Root");
    }

    #[test]
    fn tags_of_an_operation_that_declares_them_are_kept() {
        let d = draft_for("kms.amazonaws.com", "CreateKey");
        let v = d.event(br#"{"Description":"d","Tags":[{"TagKey":"k","TagValue":"tagvalue"}]}"#, None, None);
        assert_eq!(v["requestParameters"]["tags"], json!([{"tagKey": "k", "tagValue": "tagvalue"}]));
        assert_eq!(v["requestParameters"]["description"], "d");
    }

    #[test]
    fn put_parameter_value_is_dropped_even_beside_a_key_member() {
        let d = draft_for("ssm.amazonaws.com", "PutParameter");
        let req = br#"{"Name":"/p","Value":"S3CRET","Type":"SecureString","Key":"x"}"#;
        let v = d.event(req, Some(br#"{"Version":1,"Tier":"Standard"}"#), None);
        let text = Value::Object(v.clone()).to_string();
        assert!(!text.contains("S3CRET"), "{text}");
        assert_eq!(v["requestParameters"]["name"], "/p");
        assert_eq!(v["requestParameters"]["type"], "SecureString");
        assert_eq!(v["requestParameters"]["trentDroppedMembers"], json!(["Key"]));
        assert_eq!(v["responseElements"], json!({"version": 1, "tier": "Standard"}));
    }

    #[test]
    fn a_failed_put_parameter_with_lower_case_value_keeps_only_the_name_of_it() {
        let d = draft_for("ssm.amazonaws.com", "PutParameter");
        let v = d.event(br#"{"Name":"/p","value":"S3CRET"}"#, None, Some(("ValidationException", "bad".into())));
        assert!(!Value::Object(v.clone()).to_string().contains("S3CRET"));
        assert_eq!(v["requestParameters"]["trentDroppedMembers"], json!(["value"]));
    }

    #[test]
    fn a_grant_token_is_a_credential_and_never_recorded() {
        let d = draft_for("kms.amazonaws.com", "CreateGrant");
        let req = br#"{"KeyId":"k","GranteePrincipal":"arn:aws:iam::111122223333:root","Operations":["Decrypt"],"GrantTokens":["OLDTOKEN"]}"#;
        let v = d.event(req, Some(br#"{"GrantId":"g1","GrantToken":"NEWTOKEN"}"#), None);
        let text = Value::Object(v.clone()).to_string();
        assert!(!text.contains("OLDTOKEN") && !text.contains("NEWTOKEN"), "{text}");
        assert_eq!(v["responseElements"], json!({"grantId": "g1"}));
        assert_eq!(v["requestParameters"]["operations"], json!(["Decrypt"]));
    }

    #[test]
    fn an_unknown_operation_keeps_no_parameters() {
        let d = draft_for("kms.amazonaws.com", "NoSuchOperation");
        let v = d.event(br#"{"KeyId":"k","Plaintext":"x"}"#, Some(br#"{"KeyId":"k"}"#), None);
        assert_eq!(v["requestParameters"], Value::Null);
        assert_eq!(v["responseElements"], Value::Null);
    }

    #[test]
    fn members_of_the_wrong_type_are_dropped() {
        let d = draft_for("ssm.amazonaws.com", "PutParameter");
        let v = d.event(br#"{"Name":{"Value":"S3CRET"},"Tags":"S3CRET"}"#, None, None);
        assert!(!Value::Object(v.clone()).to_string().contains("S3CRET"));
        assert_eq!(v["requestParameters"]["trentDroppedMembers"], json!(["Name", "Tags"]));
    }

    #[test]
    fn query_requests_keep_declared_parameters_only() {
        let d = draft_for("iam.amazonaws.com", "CreateUser");
        let body = br#"{"UserName":"bob","Tags.member.1.Key":"k","Tags.member.1.Value":"v","Password":"pw-S3CRET"}"#;
        let v = d.event(body, None, None);
        assert!(!Value::Object(v.clone()).to_string().contains("S3CRET"));
        assert_eq!(v["requestParameters"]["userName"], "bob");
        assert_eq!(v["requestParameters"]["tags.member.1.Key"], "k");
        assert_eq!(v["requestParameters"]["trentDroppedMembers"], json!(["Password"]));
        let d = draft_for("sts.amazonaws.com", "AssumeRole");
        let body =
            br#"{"RoleArn":"arn:aws:iam::1:role/r","RoleSessionName":"s","SerialNumber":"m","TokenCode":"123456"}"#;
        let v = d.event(body, Some(b"<xml>secret</xml>"), None);
        assert!(!Value::Object(v.clone()).to_string().contains("123456"));
        assert_eq!(v["requestParameters"]["roleSessionName"], "s");
        assert_eq!(v["responseElements"], Value::Null);
    }

    #[test]
    fn the_model_marks_secret_bearing_members_sensitive() {
        let member = |service: &str, op: &str, name: &str, output: bool| {
            let o = model::OPERATIONS.iter().find(|o| o.service == service && o.name == op).unwrap();
            let shape = if output { o.output } else { o.input }.unwrap();
            let Shape::Structure(members) = model::SHAPES[shape] else { panic!("{op} is not a structure") };
            members.iter().find(|m| m.name == name).copied().unwrap_or_else(|| panic!("{op}.{name}"))
        };
        assert!(member("ssm", "PutParameter", "Value", false).sensitive);
        assert!(!member("ssm", "PutParameter", "Name", false).sensitive);
        assert!(member("kms", "Encrypt", "Plaintext", false).sensitive);
        assert!(member("kms", "Encrypt", "CiphertextBlob", true).sensitive);
        assert!(member("kms", "Decrypt", "CiphertextBlob", false).sensitive);
        assert!(member("kms", "CreateGrant", "GrantToken", true).sensitive);
        assert!(member("kms", "CreateGrant", "GrantTokens", false).sensitive);
        assert!(member("secretsmanager", "CreateSecret", "SecretString", false).sensitive);
        assert!(member("secretsmanager", "PutSecretValue", "SecretBinary", false).sensitive);
        assert!(member("iam", "CreateAccessKey", "AccessKey", true).sensitive);
        assert!(member("sts", "AssumeRole", "Credentials", true).sensitive);
        assert!(!member("iam", "PutUserPolicy", "PolicyDocument", false).sensitive);
        // Sorted, so lookups can binary-search.
        assert!(model::OPERATIONS.windows(2).all(|w| (w[0].service, w[0].name) < (w[1].service, w[1].name)));
    }

    #[test]
    fn every_served_operation_is_in_the_model_table() {
        // An operation added without running scripts/gen-audit-model.py again would be
        // audited without any parameters.
        let served = trent_kms::Operation::ALL
            .iter()
            .map(|o| ("kms", o.name()))
            .chain(trent_ssm::Operation::ALL.iter().map(|o| ("ssm", o.name())))
            .chain(trent_secrets::Operation::ALL.iter().map(|o| ("secretsmanager", o.name())))
            .chain(trent_iam::IAM_ACTIONS.iter().map(|(n, _)| ("iam", *n)))
            .chain(trent_iam::STS_ACTIONS.iter().map(|(n, _)| ("sts", *n)))
            .chain([("cloudtrail", "LookupEvents")]);
        for (service, op) in served {
            let d = draft_for(Box::leak(format!("{service}.amazonaws.com").into_boxed_str()), op);
            assert!(d.operation().is_some(), "{service} {op} is not in audit_model.rs");
        }
    }

    #[test]
    fn a_deeply_nested_unauthenticated_body_is_bounded_and_reads_back() {
        let deep = format!("{{\"KeyId\":\"k\",\"EncryptionContext\":{}1{}}}", "{\"a\":".repeat(128), "}".repeat(128));
        let mut d = draft_for("kms.amazonaws.com", "Encrypt");
        d.identity = None;
        let v = sealed(d.event(deep.as_bytes(), None, Some(("UnrecognizedClientException", "no".into()))));
        assert_eq!(v["requestParameters"]["keyId"], "k");
        let arrays = format!("{{\"Name\":\"n\",\"Tags\":{}1{}}}", "[".repeat(500), "]".repeat(500));
        sealed(draft_for("ssm.amazonaws.com", "PutParameter").event(arrays.as_bytes(), None, None));
    }

    #[test]
    fn values_deeper_than_the_bound_are_replaced_by_a_marker() {
        // The served operations' shapes are at most 6 deep; a recursive shape (a list of
        // itself) shows the bound that holds whatever the models become.
        static RECURSIVE: &[Shape] = &[Shape::Scalar, Shape::List(1)];
        let body = format!("{}1{}", "[".repeat(40), "]".repeat(40));
        let raw: Raw = serde_json::from_str(&body).unwrap();
        let kept = keep(RECURSIVE, raw, 1, 0, &mut Dropped::new()).unwrap();
        let mut v = &kept;
        for _ in 0..=MAX_DEPTH {
            v = &v[0];
        }
        assert_eq!(*v, json!({"trentTruncated": true}));
    }

    #[test]
    fn large_members_and_events_are_replaced_by_a_marker() {
        let d = draft_for("kms.amazonaws.com", "CreateKey");
        let big = "x".repeat(MAX_MEMBER_BYTES + 1);
        let v = d.event(json!({"Description": big, "Policy": "{}"}).to_string().as_bytes(), None, None);
        assert_eq!(v["requestParameters"]["description"], json!({"trentTruncated": true}));
        assert_eq!(v["requestParameters"]["policy"], "{}");
        let part = "y".repeat(MAX_MEMBER_BYTES - 100);
        let body =
            json!({"Description": part, "Policy": part, "CustomKeyStoreId": part, "XksKeyId": part, "Origin": part});
        let v = d.event(body.to_string().as_bytes(), None, None);
        assert_eq!(v["requestParameters"], json!({"trentTruncated": true}));
        assert!(Value::Object(v).to_string().len() <= MAX_EVENT_BYTES);
    }

    #[test]
    fn read_only_events_keep_no_response_elements() {
        let resp = br#"{"Plaintext":"cGxhaW4=","KeyId":"arn:aws:kms:us-east-1:111122223333:key/k"}"#;
        let v = draft(true).event(br#"{"KeyId":"k"}"#, Some(resp), None);
        assert_eq!(v["responseElements"], Value::Null);
        assert!(!Value::Object(v).to_string().contains("cGxhaW4="));
    }

    #[test]
    fn garbage_bodies_give_null_parameters() {
        let v = draft(false).event(b"\xff not json", None, Some(("SerializationException", "bad".into())));
        assert_eq!(v["requestParameters"], Value::Null);
        assert_eq!(v["errorCode"], "SerializationException");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|n| json!(n)),
                ".{0,10}".prop_map(Value::String),
            ];
            leaf.prop_recursive(160, 600, 4, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    proptest::collection::btree_map(
                        prop_oneof![
                            Just("Name".to_string()),
                            Just("Tags".to_string()),
                            Just("Key".to_string()),
                            Just("Value".to_string()),
                            Just("KeyId".to_string()),
                            Just("EncryptionContext".to_string()),
                            ".{0,6}".prop_map(|s| s)
                        ],
                        inner,
                        0..4
                    )
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #[test]
            fn any_json_body_gives_an_event_the_trail_reads_back(
                body in json_value(),
                op in prop_oneof![
                    Just(("kms.amazonaws.com", "Encrypt")), Just(("kms.amazonaws.com", "CreateKey")),
                    Just(("ssm.amazonaws.com", "PutParameter")), Just(("iam.amazonaws.com", "CreateUser")),
                    Just(("secretsmanager.amazonaws.com", "CreateSecret")), Just(("kms.amazonaws.com", "Nope")),
                ],
            ) {
                let d = draft_for(op.0, op.1);
                let text = body.to_string();
                let v = sealed(d.event(text.as_bytes(), Some(text.as_bytes()), None));
                prop_assert_eq!(&v["eventName"], op.1);
            }
        }
    }
}
