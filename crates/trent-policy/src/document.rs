//! The IAM policy language: parsing a JSON policy document into a [`Policy`] and rejecting a
//! malformed one with a reason that can go into KMS `MalformedPolicyDocumentException` or IAM
//! `MalformedPolicyDocument`.

use serde_json::{Map, Value};

use crate::condition::{Condition, Operator};

/// The largest key policy KMS accepts, in bytes (32 KB).
pub const KEY_POLICY_MAX_BYTES: usize = 32 * 1024;

/// IAM's size quotas for policy documents, in characters not counting white space
/// (see [`iam_policy_size`]): inline user policies (all of a user's together), inline role
/// policies (all of a role's together), managed policies, and role trust policies.
pub const USER_INLINE_POLICIES_MAX_CHARS: usize = 2_048;
pub const ROLE_INLINE_POLICIES_MAX_CHARS: usize = 10_240;
pub const MANAGED_POLICY_MAX_CHARS: usize = 6_144;
pub const TRUST_POLICY_MAX_CHARS: usize = 2_048;

/// A policy's size as IAM counts it for its quotas: characters, white space excluded.
pub fn iam_policy_size(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// Where a policy is attached; it decides which elements a statement must or must not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to a user or role: no `Principal`, needs `Resource`.
    Identity,
    /// Attached to a resource (a KMS key policy): needs `Principal` and `Resource`.
    Resource,
    /// A role's trust policy: needs `Principal`, has no `Resource`.
    Trust,
}

/// `Version`: `2012-10-17` enables policy variables; `2008-10-17` (also the default when the
/// element is missing) takes `${…}` literally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V2008_10_17,
    V2012_10_17,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// One entry of a `Principal`/`NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalEntry {
    /// `"*"` or `{"AWS": "*"}`: everyone.
    Anyone,
    /// An account: `"111122223333"` or `arn:aws:iam::111122223333:root`.
    Account(String),
    /// A user, role or role-session ARN.
    Arn(String),
    /// `{"Service": "kms.amazonaws.com"}`.
    Service(String),
    /// `Federated` or `CanonicalUser`: kept, never matched by Trent's principals.
    Other(String),
}

/// `Action`/`NotAction`, `Resource`/`NotResource`, `Principal`/`NotPrincipal`: values and whether
/// the element is the `Not` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element<T> {
    pub values: Vec<T>,
    pub negated: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Option<Element<PrincipalEntry>>,
    pub action: Element<String>,
    pub resource: Option<Element<String>>,
    pub conditions: Vec<Condition>,
}

/// A parsed, validated policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub version: Version,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

/// Why a policy document is malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub reason: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for PolicyError {}

fn err<T>(reason: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError { reason: reason.into() })
}

/// Checks `text` as a policy of `kind`; `Err` carries the reason.
pub fn validate(text: &str, kind: PolicyKind) -> Result<(), PolicyError> {
    Policy::parse(text, kind).map(|_| ())
}

/// Checks a KMS key policy: at most [`KEY_POLICY_MAX_BYTES`] and a valid resource policy.
pub fn validate_key_policy(text: &str) -> Result<Policy, PolicyError> {
    if text.len() > KEY_POLICY_MAX_BYTES {
        return err(format!(
            "The key policy is {} bytes; a key policy can be at most {KEY_POLICY_MAX_BYTES} bytes.",
            text.len()
        ));
    }
    Policy::parse(text, PolicyKind::Resource)
}

impl Policy {
    /// Parses and validates `text` as a policy of `kind`.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => return err(format!("Syntax errors in policy: {e}.")),
        };
        Policy::from_value(&value, kind)
    }

    /// Validates an already-decoded JSON document.
    pub fn from_value(value: &Value, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let Value::Object(doc) = value else {
            return err("Syntax errors in policy: the policy document must be a JSON object.");
        };
        for k in doc.keys() {
            if !matches!(k.as_str(), "Version" | "Id" | "Statement") {
                return err(format!("Policy document contains an unknown element: {k}."));
            }
        }
        let version = match doc.get("Version") {
            None => Version::V2008_10_17,
            Some(Value::String(v)) if v == "2012-10-17" => Version::V2012_10_17,
            Some(Value::String(v)) if v == "2008-10-17" => Version::V2008_10_17,
            Some(v) => {
                return err(format!(
                    "The policy failed legacy parsing: Version {v} is not supported (use \"2012-10-17\" or \"2008-10-17\")."
                ))
            }
        };
        let id = match doc.get("Id") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return err("Id must be a string."),
        };
        let raw: Vec<&Map<String, Value>> = match doc.get("Statement") {
            None => return err("Policy document must contain a Statement."),
            Some(Value::Object(s)) => vec![s],
            Some(Value::Array(items)) => {
                let mut v = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::Object(s) => v.push(s),
                        _ => return err("Each Statement must be a JSON object."),
                    }
                }
                v
            }
            Some(_) => return err("Statement must be an object or an array of objects."),
        };
        if raw.is_empty() {
            return err("Policy document must contain at least one Statement.");
        }
        let mut statements = Vec::with_capacity(raw.len());
        for s in raw {
            statements.push(parse_statement(s, kind)?);
        }
        if kind == PolicyKind::Identity {
            let mut sids: Vec<&str> = statements.iter().filter_map(|s| s.sid.as_deref()).collect();
            sids.sort_unstable();
            if sids.windows(2).any(|w| w[0] == w[1]) {
                return err("Statement IDs (SID) in a single policy must be unique.");
            }
        }
        Ok(Policy { version, id, statements })
    }

    /// Every principal the policy names (in `Principal` or `NotPrincipal`), for a caller that
    /// must check they exist (KMS rejects a key policy naming an unknown user or role).
    pub fn principals(&self) -> impl Iterator<Item = &PrincipalEntry> {
        self.statements.iter().filter_map(|s| s.principal.as_ref()).flat_map(|p| p.values.iter())
    }

    /// Whether `${…}` variables are substituted (Version 2012-10-17).
    pub fn variables_enabled(&self) -> bool {
        self.version == Version::V2012_10_17
    }
}

/// Exactly one of `a` and `b` (e.g. `Action` / `NotAction`); `Ok(None)` when neither.
fn one_of<'a>(s: &'a Map<String, Value>, a: &str, b: &str) -> Result<Option<(&'a Value, bool)>, PolicyError> {
    match (s.get(a), s.get(b)) {
        (Some(_), Some(_)) => err(format!("A statement cannot contain both {a} and {b}.")),
        (Some(v), None) => Ok(Some((v, false))),
        (None, Some(v)) => Ok(Some((v, true))),
        (None, None) => Ok(None),
    }
}

/// A string or a non-empty array of strings.
fn strings(v: &Value, element: &str) -> Result<Vec<String>, PolicyError> {
    let out: Vec<String> = match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                match i {
                    Value::String(s) => out.push(s.clone()),
                    _ => return err(format!("{element} must be a string or an array of strings.")),
                }
            }
            out
        }
        _ => return err(format!("{element} must be a string or an array of strings.")),
    };
    if out.is_empty() {
        return err(format!("{element} must not be empty."));
    }
    Ok(out)
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn check_action(a: &str) -> Result<(), PolicyError> {
    if a == "*" {
        return Ok(());
    }
    match a.split_once(':') {
        Some((prefix, name))
            if !prefix.is_empty()
                && !name.is_empty()
                && prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !name.chars().any(|c| c.is_whitespace() || c == ':') =>
        {
            Ok(())
        }
        _ => err(format!(
            "Action \"{a}\" is not valid: actions must be \"*\" or prefaced by a vendor, e.g. kms:Decrypt, iam:*."
        )),
    }
}

fn check_resource(r: &str) -> Result<(), PolicyError> {
    if r == "*" {
        return Ok(());
    }
    let parts: Vec<&str> = r.splitn(6, ':').collect();
    if parts.len() == 6 && parts[0] == "arn" && !parts[1].is_empty() && !parts[2].is_empty() && !parts[5].is_empty() {
        Ok(())
    } else {
        err(format!("Resource {r} must be in ARN format or \"*\"."))
    }
}

fn aws_principal(s: &str) -> Result<PrincipalEntry, PolicyError> {
    let bad = || err(format!("Policy contains a statement with one or more invalid principals: \"AWS\": \"{s}\"."));
    if s == "*" {
        return Ok(PrincipalEntry::Anyone);
    }
    if is_account_id(s) {
        return Ok(PrincipalEntry::Account(s.to_string()));
    }
    if s.contains('*') || s.contains('?') {
        return bad();
    }
    let Some(arn) = crate::Arn::parse(s) else { return bad() };
    if !is_account_id(&arn.account) || !arn.region.is_empty() {
        return bad();
    }
    let r = arn.resource.as_str();
    let named = |prefix: &str| r.strip_prefix(prefix).is_some_and(|rest| !rest.is_empty() && !rest.ends_with('/'));
    match arn.service.as_str() {
        "iam" if r == "root" => Ok(PrincipalEntry::Account(arn.account)),
        "iam" if named("user/") || named("role/") => Ok(PrincipalEntry::Arn(s.to_string())),
        "sts" if named("assumed-role/") || named("federated-user/") => Ok(PrincipalEntry::Arn(s.to_string())),
        _ => bad(),
    }
}

fn parse_principal(v: &Value) -> Result<Vec<PrincipalEntry>, PolicyError> {
    match v {
        Value::String(s) if s == "*" => Ok(vec![PrincipalEntry::Anyone]),
        Value::Object(m) => {
            if m.is_empty() {
                return err("Principal must not be empty.");
            }
            let mut out = Vec::new();
            for (k, v) in m {
                let values = strings(v, &format!("Principal {k}"))?;
                for s in values {
                    out.push(match k.as_str() {
                        "AWS" => aws_principal(&s)?,
                        "Service" if !s.is_empty() && !s.contains(char::is_whitespace) => {
                            if s == "*" {
                                PrincipalEntry::Anyone
                            } else {
                                PrincipalEntry::Service(s)
                            }
                        }
                        "Federated" | "CanonicalUser" if !s.is_empty() => PrincipalEntry::Other(s),
                        "Service" | "Federated" | "CanonicalUser" => {
                            return err(format!("Policy contains a statement with an invalid {k} principal: \"{s}\"."))
                        }
                        _ => {
                            return err(format!(
                                "Invalid principal type \"{k}\" (use AWS, Service, Federated or CanonicalUser)."
                            ))
                        }
                    });
                }
            }
            Ok(out)
        }
        _ => err("Principal must be \"*\" or an object such as {\"AWS\": \"arn:aws:iam::111122223333:root\"}."),
    }
}

fn parse_statement(s: &Map<String, Value>, kind: PolicyKind) -> Result<Statement, PolicyError> {
    const KNOWN: &[&str] =
        &["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"];
    if let Some(k) = s.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return err(format!("Statement contains an unknown element: {k}."));
    }
    let sid = match s.get("Sid") {
        None => None,
        Some(Value::String(v)) => Some(v.clone()),
        Some(_) => return err("Sid must be a string."),
    };
    let effect = match s.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(e) => return err(format!("Effect must be \"Allow\" or \"Deny\", not {e}.")),
        None => return err("Statement must contain an Effect."),
    };
    let principal = match one_of(s, "Principal", "NotPrincipal")? {
        Some((v, negated)) => Some(Element { values: parse_principal(v)?, negated }),
        None => None,
    };
    match (kind, &principal) {
        (PolicyKind::Identity, Some(_)) => return err("Policy document should not specify a principal."),
        (PolicyKind::Resource | PolicyKind::Trust, None) => {
            return err("Policy contains a statement with no Principal (a statement needs Principal or NotPrincipal).")
        }
        _ => {}
    }
    let action = match one_of(s, "Action", "NotAction")? {
        Some((v, negated)) => {
            let values = strings(v, if negated { "NotAction" } else { "Action" })?;
            for a in &values {
                check_action(a)?;
            }
            Element { values, negated }
        }
        None => return err("Policy statement must contain actions."),
    };
    let resource = match one_of(s, "Resource", "NotResource")? {
        Some(_) if kind == PolicyKind::Trust => return err("Has prohibited field Resource."),
        Some((v, negated)) => {
            let values = strings(v, if negated { "NotResource" } else { "Resource" })?;
            for r in &values {
                check_resource(r)?;
            }
            Some(Element { values, negated })
        }
        None if kind == PolicyKind::Trust => None,
        None => return err("Policy statement must contain resources."),
    };
    let conditions = match s.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(m)) => parse_conditions(m)?,
        Some(_) => return err("Condition must be an object of condition operators."),
    };
    Ok(Statement { sid, effect, principal, action, resource, conditions })
}

fn parse_conditions(m: &Map<String, Value>) -> Result<Vec<Condition>, PolicyError> {
    let mut out = Vec::new();
    for (op_name, block) in m {
        let op = Operator::parse(op_name)
            .ok_or_else(|| PolicyError { reason: format!("Invalid Condition type: {op_name}.") })?;
        let Value::Object(keys) = block else {
            return err(format!("Condition {op_name} must be an object of condition keys."));
        };
        if keys.is_empty() {
            return err(format!("Condition {op_name} must name at least one condition key."));
        }
        for (key, v) in keys {
            match key.split_once(':') {
                Some((p, rest)) if !p.is_empty() && !rest.is_empty() => {}
                _ => return err(format!("Condition key {key} must be prefaced by a vendor, e.g. aws:SourceIp.")),
            }
            let scalar = |x: &Value| -> Result<String, PolicyError> {
                match x {
                    Value::String(s) => Ok(s.clone()),
                    Value::Bool(b) => Ok(b.to_string()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => err(format!("Condition {op_name} {key}: values must be strings, numbers or booleans.")),
                }
            };
            let values = match v {
                Value::Array(items) => items.iter().map(scalar).collect::<Result<Vec<_>, _>>()?,
                x => vec![scalar(x)?],
            };
            if values.is_empty() {
                return err(format!("Condition {op_name} {key} must have at least one value."));
            }
            out.push(Condition { op, key: key.clone(), values });
        }
    }
    Ok(out)
}

/// AWS's default key policy: the account may do everything, which enables IAM policies.
pub fn default_key_policy(partition: &str, account: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:{partition}:iam::{account}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str, kind: PolicyKind) -> String {
        Policy::parse(text, kind).unwrap_err().reason
    }

    #[test]
    fn single_statement_object_and_array_both_parse() {
        let one = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#;
        let arr = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:*"],"Resource":["*"]}]}"#;
        assert_eq!(
            Policy::parse(one, PolicyKind::Identity).unwrap(),
            Policy::parse(arr, PolicyKind::Identity).unwrap()
        );
    }

    #[test]
    fn default_key_policy_is_a_valid_key_policy() {
        let p = validate_key_policy(&default_key_policy("aws", "111122223333")).unwrap();
        assert_eq!(
            p.statements[0].principal.as_ref().unwrap().values,
            vec![PrincipalEntry::Account("111122223333".into())]
        );
    }

    #[test]
    fn missing_version_means_2008_without_variables() {
        let p =
            Policy::parse(r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#, PolicyKind::Identity)
                .unwrap();
        assert!(!p.variables_enabled());
    }

    #[test]
    fn rejects_bad_json_and_non_objects() {
        assert!(reason("{", PolicyKind::Identity).starts_with("Syntax errors in policy"));
        assert!(reason("[]", PolicyKind::Identity).starts_with("Syntax errors in policy"));
    }

    #[test]
    fn rejects_unknown_version_and_elements() {
        let r = reason(r#"{"Version":"2020-01-01","Statement":[]}"#, PolicyKind::Identity);
        assert!(r.contains("legacy parsing"), "{r}");
        let r = reason(r#"{"Version":"2012-10-17","Statment":[]}"#, PolicyKind::Identity);
        assert!(r.contains("unknown element: Statment"), "{r}");
        let r = reason(
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*","Condtion":{}}}"#,
            PolicyKind::Identity,
        );
        assert!(r.contains("Condtion"), "{r}");
    }

    #[test]
    fn rejects_missing_or_bad_effect() {
        let r = reason(r#"{"Statement":{"Action":"kms:*","Resource":"*"}}"#, PolicyKind::Identity);
        assert!(r.contains("Effect"));
        let r = reason(r#"{"Statement":{"Effect":"allow","Action":"kms:*","Resource":"*"}}"#, PolicyKind::Identity);
        assert!(r.contains("\"Allow\" or \"Deny\""));
    }

    #[test]
    fn rejects_action_without_vendor_prefix_and_both_action_forms() {
        let r = reason(r#"{"Statement":{"Effect":"Allow","Action":"Decrypt","Resource":"*"}}"#, PolicyKind::Identity);
        assert!(r.contains("prefaced by a vendor"), "{r}");
        let r = reason(
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*","NotAction":"kms:Decrypt","Resource":"*"}}"#,
            PolicyKind::Identity,
        );
        assert!(r.contains("both Action and NotAction"));
        let r = reason(r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#, PolicyKind::Identity);
        assert_eq!(r, "Policy statement must contain actions.");
        let r = reason(r#"{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#, PolicyKind::Identity);
        assert!(r.contains("must not be empty"));
    }

    #[test]
    fn rejects_resource_that_is_not_an_arn() {
        let r = reason(r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"key/1"}}"#, PolicyKind::Identity);
        assert!(r.contains("must be in ARN format"), "{r}");
        let r = reason(r#"{"Statement":{"Effect":"Allow","Action":"kms:*"}}"#, PolicyKind::Identity);
        assert_eq!(r, "Policy statement must contain resources.");
    }

    #[test]
    fn principal_rules_depend_on_the_policy_kind() {
        let with = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#;
        let without = r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#;
        assert_eq!(reason(with, PolicyKind::Identity), "Policy document should not specify a principal.");
        assert!(reason(without, PolicyKind::Resource).contains("no Principal"));
        assert!(Policy::parse(with, PolicyKind::Resource).is_ok());
        let trust =
            r#"{"Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;
        assert!(Policy::parse(trust, PolicyKind::Trust).is_ok());
        assert_eq!(reason(with, PolicyKind::Trust), "Has prohibited field Resource.");
    }

    #[test]
    fn rejects_invalid_principals() {
        for p in [
            r#"{"AWS":"bob"}"#,
            r#"{"AWS":"arn:aws:iam::111122223333:user/*"}"#,
            r#"{"AWS":"arn:aws:iam::1111:root"}"#,
            r#"{"AWS":"arn:aws:kms:us-east-1:111122223333:key/k"}"#,
            r#"{"Nobody":"x"}"#,
            r#"{}"#,
            r#""bob""#,
            r#"{"AWS":[]}"#,
        ] {
            let doc =
                format!(r#"{{"Statement":{{"Effect":"Allow","Principal":{p},"Action":"kms:*","Resource":"*"}}}}"#);
            assert!(Policy::parse(&doc, PolicyKind::Resource).is_err(), "{p} was accepted");
        }
    }

    #[test]
    fn accepts_account_id_role_session_and_service_principals() {
        let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["111122223333",
            "arn:aws:iam::111122223333:role/app","arn:aws:sts::111122223333:assumed-role/app/s"],
            "Service":"logs.amazonaws.com"},"Action":"kms:*","Resource":"*"}}"#;
        let p = Policy::parse(doc, PolicyKind::Resource).unwrap();
        let vals = &p.statements[0].principal.as_ref().unwrap().values;
        assert_eq!(vals.len(), 4);
        assert_eq!(p.principals().count(), 4);
        assert!(p.principals().any(|e| *e == PrincipalEntry::Arn("arn:aws:iam::111122223333:role/app".into())));
        assert!(vals.contains(&PrincipalEntry::Service("logs.amazonaws.com".into())));
    }

    #[test]
    fn rejects_unknown_condition_operator_and_bad_values() {
        let c = |cond: &str| {
            reason(
                &format!(r#"{{"Statement":{{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{cond}}}}}"#),
                PolicyKind::Identity,
            )
        };
        assert!(c(r#"{"StringEqualz":{"aws:username":"a"}}"#).contains("Invalid Condition type: StringEqualz"));
        assert!(c(r#"{"NullIfExists":{"aws:username":"true"}}"#).contains("Invalid Condition type"));
        assert!(c(r#"{"StringEquals":{"username":"a"}}"#).contains("prefaced by a vendor"));
        assert!(c(r#"{"StringEquals":{"aws:username":{"a":1}}}"#).contains("strings, numbers or booleans"));
        assert!(c(r#"{"StringEquals":"x"}"#).contains("must be an object"));
        assert!(c(r#"{"StringEquals":{"aws:username":[]}}"#).contains("at least one value"));
    }

    #[test]
    fn numbers_and_booleans_in_conditions_become_strings() {
        let doc = r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*",
            "Condition":{"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"s3:max-keys":10}}}}"#;
        let p = Policy::parse(doc, PolicyKind::Identity).unwrap();
        let vals: Vec<&str> = p.statements[0].conditions.iter().map(|c| c.values[0].as_str()).collect();
        assert!(vals.contains(&"true") && vals.contains(&"10"));
    }

    #[test]
    fn identity_policies_need_unique_sids() {
        let doc = r#"{"Statement":[{"Sid":"A","Effect":"Allow","Action":"kms:*","Resource":"*"},
            {"Sid":"A","Effect":"Deny","Action":"kms:*","Resource":"*"}]}"#;
        assert!(reason(doc, PolicyKind::Identity).contains("unique"));
    }

    #[test]
    fn iam_policy_size_ignores_white_space() {
        assert_eq!(iam_policy_size("{ \"a\" :\n\t1 }"), 7);
        assert!(iam_policy_size(&default_key_policy("aws", "111122223333")) < MANAGED_POLICY_MAX_CHARS);
    }

    #[test]
    fn key_policy_over_32_kb_is_rejected() {
        let big = format!(
            r#"{{"Id":"{}","Statement":{{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}}}"#,
            "x".repeat(KEY_POLICY_MAX_BYTES)
        );
        assert!(validate_key_policy(&big).unwrap_err().reason.contains("at most 32768 bytes"));
    }
}
