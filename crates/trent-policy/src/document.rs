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
    /// `{"Federated": "arn:aws:iam::111122223333:oidc-provider/HOST/PATH"}`: a web identity
    /// from that OpenID Connect provider (`sts:AssumeRoleWithWebIdentity`).
    Federated(String),
    /// `CanonicalUser`: kept, never matched by Trent's principals.
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

/// Why a policy document is malformed, as a type each service maps to its own error (IAM
/// `MalformedPolicyDocument`, KMS and Secrets Manager `MalformedPolicyDocumentException`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyErrorKind {
    /// Not JSON, not a JSON object, or an element of the wrong JSON type.
    Syntax,
    /// An element the policy grammar does not have (top level or in a statement).
    UnknownElement,
    /// `Version` is neither `2012-10-17` nor `2008-10-17`.
    Version,
    /// No `Statement`, or an empty list of statements.
    MissingStatement,
    /// `Effect` missing or not exactly `Allow` / `Deny`.
    Effect,
    /// Both `Action` and `NotAction` (or `Resource`/`NotResource`, `Principal`/`NotPrincipal`).
    ConflictingElements,
    /// A statement without `Action`/`NotAction`.
    MissingAction,
    /// An action (or condition key) without a vendor prefix, such as `Encrypt` for `kms:Encrypt`.
    VendorPrefix,
    /// A statement without `Resource`/`NotResource` where one is required.
    MissingResource,
    /// A resource that is neither `*` nor an ARN.
    InvalidResource,
    /// `Resource` in a role trust policy.
    ProhibitedResource,
    /// `Principal` in an identity policy.
    PrincipalNotAllowed,
    /// A resource or trust policy statement without `Principal`/`NotPrincipal`.
    MissingPrincipal,
    /// A principal that is not `*`, an account, a user/role/session ARN or a service.
    InvalidPrincipal,
    /// `NotPrincipal` with `"Effect": "Allow"`, which AWS does not support.
    NotPrincipalWithAllow,
    /// A condition operator the policy language does not have.
    ConditionOperator,
    /// A `Condition` block of the wrong shape (keys, values).
    InvalidCondition,
    /// Two statements with the same `Sid` in an identity policy.
    DuplicateSid,
    /// A `Sid` that is not alphanumeric in an IAM identity or trust policy.
    InvalidSid,
    /// Larger than the service allows (the KMS 32 KB key policy quota).
    TooLarge,
}

/// Why a policy document is malformed: its [`PolicyErrorKind`] and a message in AWS's words
/// where AWS's are known (IAM's, which the other services share). The message never contains
/// the whole document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub kind: PolicyErrorKind,
    pub reason: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for PolicyError {}

fn err<T>(kind: PolicyErrorKind, reason: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError { kind, reason: reason.into() })
}

use PolicyErrorKind as K;

/// IAM's answer to a document it cannot read.
pub const SYNTAX_ERRORS: &str = "Syntax errors in policy.";
/// IAM's answer to a bad `Version` or `Effect`.
pub const LEGACY_PARSING: &str = "The policy failed legacy parsing";
/// IAM's answer to an action or condition key without a vendor prefix.
pub const VENDOR_PREFIX: &str = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";

/// Checks `text` as a new policy of `kind` ([`Policy::parse_new`]); `Err` carries the reason.
pub fn validate(text: &str, kind: PolicyKind) -> Result<(), PolicyError> {
    Policy::parse_new(text, kind).map(|_| ())
}

/// Checks a new KMS key policy: at most [`KEY_POLICY_MAX_BYTES`] and a valid new resource policy.
pub fn validate_key_policy(text: &str) -> Result<Policy, PolicyError> {
    if text.len() > KEY_POLICY_MAX_BYTES {
        return err(
            K::TooLarge,
            format!(
                "The key policy is {} bytes; a key policy can be at most {KEY_POLICY_MAX_BYTES} bytes.",
                text.len()
            ),
        );
    }
    Policy::parse_new(text, PolicyKind::Resource)
}

impl Policy {
    /// [`Policy::parse`] through a process-wide cache of parsed documents, for stored policies
    /// read on every request (key policies, identity policies): a document is parsed once,
    /// then found by its text. Bounded (emptied when full); errors are not cached.
    pub fn parse_cached(text: &str, kind: PolicyKind) -> Result<std::sync::Arc<Policy>, PolicyError> {
        use std::collections::HashMap;
        use std::sync::{Arc, Mutex, OnceLock};
        type Cache = Mutex<HashMap<(bool, String), Arc<Policy>>>;
        const MAX: usize = 4096;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
        let k = (kind == PolicyKind::Identity, text.to_string());
        if let Some(p) = cache.lock().ok().and_then(|c| c.get(&k).cloned()) {
            return Ok(p);
        }
        let p = Arc::new(Policy::parse(text, kind)?);
        if let Ok(mut c) = cache.lock() {
            if c.len() >= MAX {
                c.clear();
            }
            c.insert(k, p.clone());
        }
        Ok(p)
    }

    /// Parses and validates `text` as a policy of `kind`.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(_) => return err(K::Syntax, SYNTAX_ERRORS),
        };
        Policy::from_value(&value, kind)
    }

    /// Validates an already-decoded JSON document.
    pub fn from_value(value: &Value, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let Value::Object(doc) = value else {
            return err(K::Syntax, SYNTAX_ERRORS);
        };
        for k in doc.keys() {
            if !matches!(k.as_str(), "Version" | "Id" | "Statement") {
                return err(K::UnknownElement, SYNTAX_ERRORS);
            }
        }
        let version = match doc.get("Version") {
            None => Version::V2008_10_17,
            Some(Value::String(v)) if v == "2012-10-17" => Version::V2012_10_17,
            Some(Value::String(v)) if v == "2008-10-17" => Version::V2008_10_17,
            Some(_) => return err(K::Version, LEGACY_PARSING),
        };
        let id = match doc.get("Id") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return err(K::Syntax, SYNTAX_ERRORS),
        };
        let raw: Vec<&Map<String, Value>> = match doc.get("Statement") {
            None => return err(K::MissingStatement, SYNTAX_ERRORS),
            Some(Value::Object(s)) => vec![s],
            Some(Value::Array(items)) => {
                let mut v = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::Object(s) => v.push(s),
                        _ => return err(K::Syntax, SYNTAX_ERRORS),
                    }
                }
                v
            }
            Some(_) => return err(K::Syntax, SYNTAX_ERRORS),
        };
        if raw.is_empty() {
            return err(K::MissingStatement, SYNTAX_ERRORS);
        }
        let mut statements = Vec::with_capacity(raw.len());
        for s in raw {
            statements.push(parse_statement(s, kind)?);
        }
        if kind == PolicyKind::Identity {
            let mut sids: Vec<&str> = statements.iter().filter_map(|s| s.sid.as_deref()).collect();
            sids.sort_unstable();
            if sids.windows(2).any(|w| w[0] == w[1]) {
                return err(K::DuplicateSid, "Statement IDs (SID) in a single policy must be unique.");
            }
        }
        Ok(Policy { version, id, statements })
    }

    /// What a service accepts when a policy is *written*: the grammar of [`Policy::parse`] plus
    /// the rules AWS applies to a new document that evaluation does not depend on ([`Policy::check_new`]).
    /// Reading a stored document uses [`Policy::parse`] alone, so a document stored before one of
    /// these rules existed keeps the meaning it had instead of becoming unreadable.
    pub fn parse_new(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let p = Policy::parse(text, kind)?;
        p.check_new(kind)?;
        Ok(p)
    }

    /// The write-time rules: no `NotPrincipal` with `Allow`; a `Service` principal is a service
    /// name such as `logs.amazonaws.com`; in IAM's own documents (identity and trust policies)
    /// a `Sid` is alphanumeric.
    pub fn check_new(&self, kind: PolicyKind) -> Result<(), PolicyError> {
        for s in &self.statements {
            if let Some(sid) = &s.sid {
                if kind != PolicyKind::Resource && !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return err(
                        K::InvalidSid,
                        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
                    );
                }
            }
            let Some(p) = &s.principal else { continue };
            if p.negated && s.effect == Effect::Allow {
                return err(
                    K::NotPrincipalWithAllow,
                    "NotPrincipal is not supported with \"Effect\": \"Allow\"; use it only with Deny.",
                );
            }
            for e in &p.values {
                if let PrincipalEntry::Service(name) = e {
                    if !is_service_name(name) {
                        return err(
                            K::InvalidPrincipal,
                            format!("Invalid principal in policy: \"Service\":\"{}\"", clip(name)),
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// A policy that denies every action on every resource: what a stored identity policy that
    /// can no longer be read stands for, so that losing it can never lose its `Deny`s.
    pub fn deny_all() -> Policy {
        let all = || Element { values: vec!["*".to_string()], negated: false };
        Policy {
            version: Version::V2012_10_17,
            id: None,
            statements: vec![Statement {
                sid: Some("UnreadableStoredPolicy".into()),
                effect: Effect::Deny,
                principal: None,
                action: all(),
                resource: Some(all()),
                conditions: Vec::new(),
            }],
        }
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
        (Some(_), Some(_)) => err(K::ConflictingElements, SYNTAX_ERRORS),
        (Some(v), None) => Ok(Some((v, false))),
        (None, Some(v)) => Ok(Some((v, true))),
        (None, None) => Ok(None),
    }
}

/// A string or a non-empty array of strings.
fn strings(v: &Value) -> Result<Vec<String>, PolicyError> {
    let out: Vec<String> = match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                match i {
                    Value::String(s) => out.push(s.clone()),
                    _ => return err(K::Syntax, SYNTAX_ERRORS),
                }
            }
            out
        }
        _ => return err(K::Syntax, SYNTAX_ERRORS),
    };
    if out.is_empty() {
        return err(K::Syntax, SYNTAX_ERRORS);
    }
    Ok(out)
}

/// At most 128 characters of a value quoted in a message.
fn clip(s: &str) -> String {
    s.chars().take(128).collect()
}

/// A service principal is a DNS-style name such as `logs.amazonaws.com` or
/// `logs.us-east-1.amazonaws.com`: dot-separated labels of lower-case letters, digits and `-`.
fn is_service_name(s: &str) -> bool {
    s.contains('.')
        && s.len() <= 255
        && s.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn check_action(a: &str) -> Result<(), PolicyError> {
    if a == "*" {
        return Ok(());
    }
    if a.matches(':').count() > 1 {
        return err(K::VendorPrefix, "Actions/Condition can contain only one colon.");
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
        _ => err(K::VendorPrefix, VENDOR_PREFIX),
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
        err(K::InvalidResource, format!("Resource {} must be in ARN format or \"*\".", clip(r)))
    }
}

fn aws_principal(s: &str) -> Result<PrincipalEntry, PolicyError> {
    let bad = || err(K::InvalidPrincipal, format!("Invalid principal in policy: \"AWS\":\"{}\"", clip(s)));
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
                return err(K::InvalidPrincipal, "Invalid principal in policy: {}");
            }
            let mut out = Vec::new();
            for (k, v) in m {
                let values = strings(v)?;
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
                        "Federated" if !s.is_empty() => PrincipalEntry::Federated(s),
                        "CanonicalUser" if !s.is_empty() => PrincipalEntry::Other(s),
                        "Service" | "Federated" | "CanonicalUser" => {
                            return err(
                                K::InvalidPrincipal,
                                format!("Invalid principal in policy: \"{k}\":\"{}\"", clip(&s)),
                            )
                        }
                        _ => return err(K::InvalidPrincipal, format!("Invalid principal in policy: \"{}\"", clip(k))),
                    });
                }
            }
            Ok(out)
        }
        _ => err(
            K::InvalidPrincipal,
            "Invalid principal in policy: the Principal must be \"*\" or an object such as {\"AWS\": \"111122223333\"}",
        ),
    }
}

fn parse_statement(s: &Map<String, Value>, kind: PolicyKind) -> Result<Statement, PolicyError> {
    const KNOWN: &[&str] =
        &["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"];
    if s.keys().any(|k| !KNOWN.contains(&k.as_str())) {
        return err(K::UnknownElement, SYNTAX_ERRORS);
    }
    let sid = match s.get("Sid") {
        None => None,
        Some(Value::String(v)) => Some(v.clone()),
        Some(_) => return err(K::Syntax, SYNTAX_ERRORS),
    };
    let effect = match s.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(_) => return err(K::Effect, LEGACY_PARSING),
        None => return err(K::Effect, "Missing required field Effect"),
    };
    let raw_principal = one_of(s, "Principal", "NotPrincipal")?;
    match (kind, raw_principal.is_some()) {
        (PolicyKind::Identity, true) => {
            return err(K::PrincipalNotAllowed, "Policy document should not specify a principal.")
        }
        (PolicyKind::Resource | PolicyKind::Trust, false) => {
            return err(K::MissingPrincipal, "Missing required field Principal")
        }
        _ => {}
    }
    let principal = match raw_principal {
        Some((v, negated)) => Some(Element { values: parse_principal(v)?, negated }),
        None => None,
    };
    let action = match one_of(s, "Action", "NotAction")? {
        Some((v, negated)) => {
            let values = strings(v)?;
            for a in &values {
                check_action(a)?;
            }
            Element { values, negated }
        }
        None => return err(K::MissingAction, "Policy statement must contain actions."),
    };
    let resource = match one_of(s, "Resource", "NotResource")? {
        Some(_) if kind == PolicyKind::Trust => return err(K::ProhibitedResource, "Has prohibited field Resource"),
        Some((v, negated)) => {
            let values = strings(v)?;
            for r in &values {
                check_resource(r)?;
            }
            Some(Element { values, negated })
        }
        None if kind == PolicyKind::Trust => None,
        None => return err(K::MissingResource, "Policy statement must contain resources."),
    };
    let conditions = match s.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(m)) => parse_conditions(m)?,
        Some(_) => return err(K::InvalidCondition, SYNTAX_ERRORS),
    };
    Ok(Statement { sid, effect, principal, action, resource, conditions })
}

fn parse_conditions(m: &Map<String, Value>) -> Result<Vec<Condition>, PolicyError> {
    let mut out = Vec::new();
    for (op_name, block) in m {
        let op = Operator::parse(op_name).ok_or_else(|| PolicyError {
            kind: K::ConditionOperator,
            reason: format!("Invalid Condition type : {}", clip(op_name)),
        })?;
        let Value::Object(keys) = block else {
            return err(K::InvalidCondition, SYNTAX_ERRORS);
        };
        if keys.is_empty() {
            return err(K::InvalidCondition, SYNTAX_ERRORS);
        }
        for (key, v) in keys {
            match key.split_once(':') {
                Some((p, rest)) if !p.is_empty() && !rest.is_empty() => {}
                _ => return err(K::VendorPrefix, VENDOR_PREFIX),
            }
            let scalar = |x: &Value| -> Result<String, PolicyError> {
                match x {
                    Value::String(s) => Ok(s.clone()),
                    Value::Bool(b) => Ok(b.to_string()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => err(K::InvalidCondition, SYNTAX_ERRORS),
                }
            };
            let values = match v {
                Value::Array(items) => items.iter().map(scalar).collect::<Result<Vec<_>, _>>()?,
                x => vec![scalar(x)?],
            };
            if values.is_empty() {
                return err(K::InvalidCondition, SYNTAX_ERRORS);
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

    fn kind_of(text: &str, kind: PolicyKind) -> PolicyErrorKind {
        Policy::parse(text, kind).unwrap_err().kind
    }

    /// An identity statement with `extra` JSON members.
    fn identity(extra: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":{{{extra}}}}}"#)
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
        for bad in ["{", "[]", "", "   ", "null", "\"x\"", "{} x", "not json"] {
            assert_eq!(reason(bad, PolicyKind::Identity), SYNTAX_ERRORS, "{bad:?}");
            assert_eq!(kind_of(bad, PolicyKind::Resource), PolicyErrorKind::Syntax, "{bad:?}");
        }
    }

    #[test]
    fn rejects_unknown_version_and_elements() {
        let r = reason(r#"{"Version":"2020-01-01","Statement":[]}"#, PolicyKind::Identity);
        assert_eq!(r, LEGACY_PARSING);
        let r = reason(r#"{"Version":20121017,"Statement":[]}"#, PolicyKind::Identity);
        assert_eq!(r, LEGACY_PARSING);
        let doc = r#"{"Version":"2012-10-17","Statment":[]}"#;
        assert_eq!(reason(doc, PolicyKind::Identity), SYNTAX_ERRORS);
        assert_eq!(kind_of(doc, PolicyKind::Identity), PolicyErrorKind::UnknownElement);
        let r = reason(
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*","Condtion":{}}}"#,
            PolicyKind::Identity,
        );
        assert_eq!(r, SYNTAX_ERRORS);
    }

    #[test]
    fn rejects_missing_or_bad_effect() {
        let r = reason(r#"{"Statement":{"Action":"kms:*","Resource":"*"}}"#, PolicyKind::Identity);
        assert_eq!(r, "Missing required field Effect");
        for e in [r#""allow""#, r#""Permit""#, "true", r#"["Allow"]"#] {
            let doc = identity(&format!(r#""Effect":{e},"Action":"kms:*","Resource":"*""#));
            assert_eq!(reason(&doc, PolicyKind::Identity), LEGACY_PARSING, "{e}");
            assert_eq!(kind_of(&doc, PolicyKind::Identity), PolicyErrorKind::Effect, "{e}");
        }
    }

    #[test]
    fn rejects_action_without_vendor_prefix_and_both_action_forms() {
        let r = reason(r#"{"Statement":{"Effect":"Allow","Action":"Decrypt","Resource":"*"}}"#, PolicyKind::Identity);
        assert_eq!(r, VENDOR_PREFIX);
        // The key policy that would leave a key usable by no one: refused, not stored.
        let r = reason(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"Encrypt","Resource":"*"}}"#,
            PolicyKind::Resource,
        );
        assert_eq!(r, VENDOR_PREFIX);
        for a in [":Decrypt", "kms:", "km s:Decrypt", "kms:Decrypt:x"] {
            let doc = identity(&format!(r#""Effect":"Allow","Action":"{a}","Resource":"*""#));
            assert_eq!(kind_of(&doc, PolicyKind::Identity), PolicyErrorKind::VendorPrefix, "{a}");
        }
        let r = reason(
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*","NotAction":"kms:Decrypt","Resource":"*"}}"#,
            PolicyKind::Identity,
        );
        assert_eq!(r, SYNTAX_ERRORS);
        let r = reason(r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#, PolicyKind::Identity);
        assert_eq!(r, "Policy statement must contain actions.");
        let r = reason(r#"{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#, PolicyKind::Identity);
        assert_eq!(r, SYNTAX_ERRORS);
    }

    #[test]
    fn rejects_resource_that_is_not_an_arn() {
        let r = reason(r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"key/1"}}"#, PolicyKind::Identity);
        assert_eq!(r, "Resource key/1 must be in ARN format or \"*\".");
        let r = reason(r#"{"Statement":{"Effect":"Allow","Action":"kms:*"}}"#, PolicyKind::Identity);
        assert_eq!(r, "Policy statement must contain resources.");
    }

    #[test]
    fn principal_rules_depend_on_the_policy_kind() {
        let with = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#;
        let without = r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#;
        assert_eq!(reason(with, PolicyKind::Identity), "Policy document should not specify a principal.");
        assert_eq!(reason(without, PolicyKind::Resource), "Missing required field Principal");
        assert_eq!(kind_of(without, PolicyKind::Trust), PolicyErrorKind::MissingPrincipal);
        // An identity policy with a principal, even an invalid one, is refused for having one.
        let bad_principal =
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"kms:*","Resource":"*"}}"#;
        assert_eq!(kind_of(bad_principal, PolicyKind::Identity), PolicyErrorKind::PrincipalNotAllowed);
        assert!(Policy::parse(with, PolicyKind::Resource).is_ok());
        let trust =
            r#"{"Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;
        assert!(Policy::parse(trust, PolicyKind::Trust).is_ok());
        assert_eq!(reason(with, PolicyKind::Trust), "Has prohibited field Resource");
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
            let e = Policy::parse(&doc, PolicyKind::Resource).expect_err(p);
            assert!(matches!(e.kind, PolicyErrorKind::InvalidPrincipal | PolicyErrorKind::Syntax), "{p}: {e:?}");
            assert!(Policy::parse(&doc, PolicyKind::Trust).is_err(), "{p} was accepted in a trust policy");
        }
    }

    #[test]
    fn service_principals_must_be_service_names() {
        for svc in ["bob", "", "kms amazonaws.com", "KMS.amazonaws.com", ".amazonaws.com", "kms..amazonaws.com"] {
            let doc = format!(
                r#"{{"Statement":{{"Effect":"Allow","Principal":{{"Service":"{svc}"}},"Action":"sts:AssumeRole"}}}}"#
            );
            let e = Policy::parse_new(&doc, PolicyKind::Trust).expect_err(svc);
            assert_eq!(e.kind, PolicyErrorKind::InvalidPrincipal, "{svc}");
            assert_eq!(e.reason, format!(r#"Invalid principal in policy: "Service":"{svc}""#));
        }
        for svc in ["ec2.amazonaws.com", "logs.us-east-1.amazonaws.com", "s3.amazonaws.com.cn"] {
            let doc = format!(
                r#"{{"Statement":{{"Effect":"Allow","Principal":{{"Service":"{svc}"}},"Action":"sts:AssumeRole"}}}}"#
            );
            assert!(Policy::parse_new(&doc, PolicyKind::Trust).is_ok(), "{svc}");
        }
        // Read as stored: a document written before the rule is not made unreadable by it.
        let old = r#"{"Statement":{"Effect":"Allow","Principal":{"Service":"bob"},"Action":"sts:AssumeRole"}}"#;
        assert!(Policy::parse(old, PolicyKind::Trust).is_ok());
    }

    #[test]
    fn iam_sids_are_alphanumeric_key_policy_sids_need_not_be() {
        let with_sid = |sid: &str, principal: &str| {
            format!(r#"{{"Statement":{{"Sid":"{sid}",{principal}"Effect":"Allow","Action":"kms:*","Resource":"*"}}}}"#)
        };
        let e = Policy::parse_new(&with_sid("my-sid", ""), PolicyKind::Identity).unwrap_err();
        assert_eq!(e.kind, PolicyErrorKind::InvalidSid);
        assert!(e.reason.starts_with("Statement IDs (SID) must be alpha-numeric."), "{}", e.reason);
        assert!(Policy::parse_new(&with_sid("Sid1", ""), PolicyKind::Identity).is_ok());
        assert!(Policy::parse_new(&with_sid("", ""), PolicyKind::Identity).is_ok());
        assert!(Policy::parse(&with_sid("my-sid", ""), PolicyKind::Identity).is_ok(), "stored documents still read");
        let key = with_sid("Enable IAM User Permissions", r#""Principal":{"AWS":"111122223333"},"#);
        assert!(validate_key_policy(&key).is_ok());
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
        assert_eq!(c(r#"{"StringEqualz":{"aws:username":"a"}}"#), "Invalid Condition type : StringEqualz");
        assert!(c(r#"{"NullIfExists":{"aws:username":"true"}}"#).starts_with("Invalid Condition type"));
        assert_eq!(c(r#"{"StringEquals":{"username":"a"}}"#), VENDOR_PREFIX);
        assert_eq!(c(r#"{"StringEquals":{"aws:username":{"a":1}}}"#), SYNTAX_ERRORS);
        assert_eq!(c(r#"{"StringEquals":"x"}"#), SYNTAX_ERRORS);
        assert_eq!(c(r#"{"StringEquals":{"aws:username":[]}}"#), SYNTAX_ERRORS);
        assert_eq!(c(r#""StringEquals""#), SYNTAX_ERRORS);
        let doc = identity(
            r#""Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringEqualz":{"aws:username":"a"}}"#,
        );
        assert_eq!(kind_of(&doc, PolicyKind::Identity), PolicyErrorKind::ConditionOperator);
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
        assert_eq!(reason(doc, PolicyKind::Identity), "Statement IDs (SID) in a single policy must be unique.");
        assert_eq!(kind_of(doc, PolicyKind::Identity), PolicyErrorKind::DuplicateSid);
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
        let e = validate_key_policy(&big).unwrap_err();
        assert_eq!(e.kind, PolicyErrorKind::TooLarge);
        assert!(e.reason.contains("32768 bytes"), "{}", e.reason);
        assert!(!e.reason.contains("xxxx"), "the message must not echo the policy");
    }

    #[test]
    fn statement_shape_errors_are_syntax_errors() {
        for doc in [
            r#"{"Version":"2012-10-17"}"#,
            r#"{"Version":"2012-10-17","Statement":[]}"#,
            r#"{"Version":"2012-10-17","Statement":"Allow"}"#,
            r#"{"Version":"2012-10-17","Statement":["x"]}"#,
            r#"{"Version":"2012-10-17","Statement":{"Sid":1,"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#,
            r#"{"Version":"2012-10-17","Id":{},"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#,
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":{"kms":"*"},"Resource":"*"}}"#,
        ] {
            assert_eq!(reason(doc, PolicyKind::Identity), SYNTAX_ERRORS, "{doc}");
        }
        let missing = r#"{"Version":"2012-10-17","Statement":[]}"#;
        assert_eq!(kind_of(missing, PolicyKind::Identity), PolicyErrorKind::MissingStatement);
    }

    #[test]
    fn not_principal_is_refused_with_allow_and_kept_with_deny() {
        let allow =
            r#"{"Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}}"#;
        let new = |kind| Policy::parse_new(allow, kind).unwrap_err().kind;
        assert_eq!(new(PolicyKind::Resource), PolicyErrorKind::NotPrincipalWithAllow);
        assert_eq!(validate_key_policy(allow).unwrap_err().kind, PolicyErrorKind::NotPrincipalWithAllow);
        // A document stored before the rule still reads as it did.
        assert!(Policy::parse(allow, PolicyKind::Resource).unwrap().statements[0].principal.as_ref().unwrap().negated);
        let deny = allow.replace("Allow", "Deny");
        let p = Policy::parse_new(&deny, PolicyKind::Resource).unwrap();
        assert!(p.statements[0].principal.as_ref().unwrap().negated);
    }

    #[test]
    fn every_reason_has_a_kind_and_no_message_echoes_a_long_value() {
        let long = "a".repeat(1000);
        let doc = format!(
            r#"{{"Statement":{{"Effect":"Allow","Principal":{{"AWS":"{long}"}},"Action":"kms:*","Resource":"*"}}}}"#
        );
        let e = Policy::parse(&doc, PolicyKind::Resource).unwrap_err();
        assert_eq!(e.kind, PolicyErrorKind::InvalidPrincipal);
        assert!(e.reason.starts_with("Invalid principal in policy: \"AWS\":\""), "{}", e.reason);
        assert!(e.reason.len() < 200, "{}", e.reason);
        let doc = format!(r#"{{"Statement":{{"Effect":"Allow","Action":"kms:*","Resource":"{long}"}}}}"#);
        let e = Policy::parse(&doc, PolicyKind::Identity).unwrap_err();
        assert_eq!(e.kind, PolicyErrorKind::InvalidResource);
        assert!(e.reason.len() < 200, "{}", e.reason);
    }
}
