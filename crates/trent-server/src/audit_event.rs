//! Building audit events: the CloudTrail-shaped record of one request, with every secret
//! removed before anything is kept. The trail that stores them is `audit.rs`.

use crate::audit::rfc3339;
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
    /// the awsJson bodies; secrets are removed from both before anything is kept.
    pub fn event(&self, request: &[u8], response: Option<&[u8]>, error: Option<(&str, String)>) -> Map<String, Value> {
        let params = redacted_object(request);
        // Data-plane answers (plaintext, data keys, secret values) are never parsed into the event.
        let elements = if self.read_only { None } else { response.and_then(redacted_object) };
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
            m.insert("errorMessage".into(), json!(message));
        }
        m.insert("requestParameters".into(), params.map_or(Value::Null, |p| camel(p, false)));
        m.insert("responseElements".into(), elements.map_or(Value::Null, |p| camel(p, false)));
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
            for member in ["KeyId", "SourceKeyId", "DestinationKeyId", "TargetKeyId", "SecretId"] {
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
                    p.get("Name").into_iter().chain(p.get("Names").and_then(|n| n.as_array()).into_iter().flatten());
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

/// Members that may carry plaintext, key material, secret values or other secrets: never
/// kept in an event, at any depth. (`Value` is kept only where it is a tag's value, beside `Key`.)
const SENSITIVE: &[&str] = &[
    "Plaintext",
    "CiphertextBlob",
    "SourceCiphertextBlob",
    "CiphertextForRecipient",
    "Message",
    "Signature",
    "Mac",
    "PublicKey",
    "PrivateKeyPlaintext",
    "PrivateKeyCiphertextBlob",
    "EncryptedKeyMaterial",
    "ImportToken",
    "SharedSecret",
    "Recipient",
    "Ciphertext",
    "KeyMaterial",
    "SecretString",
    "SecretBinary",
    "SecretValues",
    "RandomPassword",
    "Value",
    "Values",
    "Parameter",
    "Parameters",
    "Password",
    "SecretAccessKey",
    "SessionToken",
    "Credentials",
];

fn sensitive(name: &str, siblings: &Map<String, Value>) -> bool {
    if name == "Value" && siblings.contains_key("Key") {
        return false;
    }
    SENSITIVE.contains(&name)
}

/// The top-level object of an awsJson body with every sensitive member left out. Sensitive
/// members are skipped as raw JSON, so their values are never copied into a `String`.
fn redacted_object(body: &[u8]) -> Option<Value> {
    let raw: std::collections::BTreeMap<String, &serde_json::value::RawValue> = serde_json::from_slice(body).ok()?;
    let names: Map<String, Value> = raw.keys().map(|k| (k.clone(), Value::Null)).collect();
    let mut out = Map::new();
    for (k, v) in raw {
        if sensitive(&k, &names) {
            continue;
        }
        let mut v: Value = serde_json::from_str(v.get()).ok()?;
        scrub(&mut v);
        out.insert(k, v);
    }
    Some(Value::Object(out))
}

/// Defense in depth: drops sensitive members nested anywhere.
fn scrub(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let drop: Vec<String> = m.keys().filter(|k| sensitive(k, m)).cloned().collect();
            for k in drop {
                m.remove(&k);
            }
            m.values_mut().for_each(scrub);
        }
        Value::Array(a) => a.iter_mut().for_each(scrub),
        _ => {}
    }
}

/// Members whose values are maps of the caller's own keys (kept as they are).
const MAPS: &[&str] = &["EncryptionContext", "EncryptionContextSubset", "EncryptionContextEquals"];

/// CloudTrail writes request members in lowerCamelCase.
fn camel(v: Value, inside_map: bool) -> Value {
    match v {
        Value::Object(m) if !inside_map => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let is_map = MAPS.contains(&k.as_str());
                    (lower_first(&k), camel(v, is_map))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| camel(x, false)).collect()),
        other => other,
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Whether CloudTrail marks an operation read-only: it reads state or only uses a key.
pub fn read_only(op: &str) -> bool {
    const DATA: &[&str] = &[
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateRandom",
        "Sign",
        "Verify",
        "GenerateMac",
        "VerifyMac",
        "DeriveSharedSecret",
        "Decapsulate",
        "Encapsulate",
        "ValidateResourcePolicy",
        "LookupEvents",
    ];
    ["Get", "List", "Describe", "BatchGet"].iter().any(|p| op.starts_with(p)) || DATA.contains(&op)
}

/// Whether an operation changes stored state, so it needs a durable `intent` record first.
pub fn mutates(op: &str) -> bool {
    !read_only(op) || op == "GetParametersForImport"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(read_only: bool) -> Draft {
        Draft {
            event_source: "kms.amazonaws.com",
            event_name: "Encrypt".into(),
            region: "us-east-1".into(),
            request_id: "r".into(),
            event_id: "e".into(),
            event_time: time::OffsetDateTime::UNIX_EPOCH,
            source_ip: "127.0.0.1".into(),
            user_agent: "test".into(),
            tls: false,
            read_only,
            identity: Some((Principal::root("111122223333"), "AKIA1".into())),
            claimed_key_id: None,
            default_account: "000000000000".into(),
        }
    }

    #[test]
    fn plaintext_and_secrets_never_reach_an_event() {
        let req = br#"{"KeyId":"alias/a","Plaintext":"c2VjcmV0LXBsYWlu","EncryptionContext":{"Dept":"x"},
            "SecretString":"hunter2","Tags":[{"Key":"k","Value":"tagvalue"}],"Nested":{"Value":"deep-secret"}}"#;
        let resp = br#"{"CiphertextBlob":"Y2lwaGVy","KeyId":"arn:aws:kms:us-east-1:111122223333:key/1234"}"#;
        let e = Value::Object(draft(false).event(req, Some(resp), None)).to_string();
        for secret in ["c2VjcmV0LXBsYWlu", "hunter2", "deep-secret", "Y2lwaGVy"] {
            assert!(!e.contains(secret), "{secret} leaked into {e}");
        }
        assert!(e.contains("tagvalue"), "{e}");
        let v: Value = serde_json::from_str(&e).unwrap();
        assert_eq!(v["requestParameters"]["keyId"], "alias/a");
        // Encryption context keys are the caller's: not case-converted.
        assert_eq!(v["requestParameters"]["encryptionContext"]["Dept"], "x");
        assert_eq!(v["resources"][0]["ARN"], "arn:aws:kms:us-east-1:111122223333:key/1234");
        assert_eq!(v["resources"][0]["type"], "AWS::KMS::Key");
        assert_eq!(v["userIdentity"]["type"], "Root");
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

    #[test]
    fn classification() {
        assert!(read_only("Decrypt") && read_only("GetSecretValue") && read_only("ListKeys"));
        assert!(!read_only("CreateKey") && mutates("CreateKey") && mutates("GetParametersForImport"));
        assert!(!mutates("Decrypt"));
    }
}
