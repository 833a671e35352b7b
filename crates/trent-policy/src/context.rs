//! The request context a policy is evaluated against: who asks, for what action, on which
//! resource, and the condition keys of the request.

use std::collections::BTreeMap;

use crate::principal::{Principal, PrincipalKind};

/// The kind of caller, as `aws:PrincipalType` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalType {
    /// The account root user.
    Root,
    /// An IAM user.
    User,
    /// A role session (temporary credentials from AssumeRole).
    AssumedRole,
    /// An AWS service principal such as `kms.amazonaws.com`.
    Service,
    /// A web identity (a token of an OpenID Connect provider), before it becomes a role
    /// session: only a role's trust policy sees it (`sts:AssumeRoleWithWebIdentity`).
    WebIdentity,
}

impl PrincipalType {
    /// The `aws:PrincipalType` value.
    pub fn as_str(&self) -> &'static str {
        match self {
            PrincipalType::Root => "Account",
            PrincipalType::User => "User",
            PrincipalType::AssumedRole => "AssumedRole",
            PrincipalType::Service => "Service",
            PrincipalType::WebIdentity => "WebIdentityUser",
        }
    }
}

/// The caller as the policy engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPrincipal {
    /// The caller's ARN (for a role session, the `sts` assumed-role ARN).
    pub arn: String,
    /// The caller's account id.
    pub account: String,
    pub kind: PrincipalType,
    /// The IAM user name (users only; `aws:username`).
    pub username: Option<String>,
    /// `aws:userid`: the account id for root, the user id (`AIDA…`), or `AROA…:session`.
    pub userid: String,
    /// For a role session, the role's ARN (`arn:aws:iam::ACCOUNT:role/NAME`; `aws:PrincipalArn`).
    pub role_arn: Option<String>,
    /// For a service principal, its name (`kms.amazonaws.com`).
    pub service: Option<String>,
}

impl RequestPrincipal {
    /// From an authenticated [`Principal`] in `partition`.
    pub fn from_principal(p: &Principal, partition: &str) -> Self {
        let arn = p.arn(partition);
        let account = p.account_id.clone();
        let userid = p.user_id();
        match &p.kind {
            PrincipalKind::Root => RequestPrincipal {
                arn,
                account,
                kind: PrincipalType::Root,
                username: None,
                userid,
                role_arn: None,
                service: None,
            },
            PrincipalKind::User { name, .. } => RequestPrincipal {
                arn,
                account,
                kind: PrincipalType::User,
                username: Some(name.clone()),
                userid,
                role_arn: None,
                service: None,
            },
            PrincipalKind::AssumedRole { role_name, .. } => RequestPrincipal {
                role_arn: Some(format!("arn:{partition}:iam::{}:role/{role_name}", p.account_id)),
                arn,
                account,
                kind: PrincipalType::AssumedRole,
                username: None,
                userid,
                service: None,
            },
        }
    }

    /// From a principal ARN: `…:iam::ACCOUNT:root`, `…:iam::ACCOUNT:user/path/name` or
    /// `…:sts::ACCOUNT:assumed-role/role/session`. `userid` is `aws:userid`. `None` for any
    /// other ARN.
    pub fn from_arn(arn: &str, userid: &str) -> Option<Self> {
        let a = crate::Arn::parse(arn)?;
        let account = a.account.clone();
        let base = RequestPrincipal {
            arn: arn.to_string(),
            account: a.account.clone(),
            kind: PrincipalType::Root,
            username: None,
            userid: userid.to_string(),
            role_arn: None,
            service: None,
        };
        match (a.service.as_str(), a.resource.as_str()) {
            ("iam", "root") => Some(base),
            ("iam", r) if r.starts_with("user/") => {
                let name = r.rsplit('/').next().filter(|n| !n.is_empty())?;
                Some(RequestPrincipal { kind: PrincipalType::User, username: Some(name.to_string()), ..base })
            }
            ("sts", r) if r.starts_with("assumed-role/") => {
                let mut parts = r["assumed-role/".len()..].split('/');
                let (role, _session) = (parts.next().filter(|s| !s.is_empty())?, parts.next()?);
                Some(RequestPrincipal {
                    kind: PrincipalType::AssumedRole,
                    role_arn: Some(format!("arn:{}:iam::{account}:role/{role}", a.partition)),
                    ..base
                })
            }
            _ => None,
        }
    }

    /// An AWS service principal (`kms.amazonaws.com`) acting in no account.
    pub fn service(name: &str) -> Self {
        RequestPrincipal {
            arn: name.to_string(),
            account: String::new(),
            kind: PrincipalType::Service,
            username: None,
            userid: name.to_string(),
            role_arn: None,
            service: Some(name.to_string()),
        }
    }

    /// A web identity from the OpenID Connect provider `provider_arn` (of `account`), as a
    /// role's trust policy sees it: it matches `{"Federated": "<provider_arn>"}` only.
    pub fn web_identity(provider_arn: &str, account: &str, subject: &str) -> Self {
        RequestPrincipal {
            arn: provider_arn.to_string(),
            account: account.to_string(),
            kind: PrincipalType::WebIdentity,
            username: None,
            userid: subject.to_string(),
            role_arn: None,
            service: None,
        }
    }

    /// The account-root ARN of the caller's account in the caller's partition.
    pub(crate) fn account_root_arn(&self) -> String {
        let partition = crate::Arn::parse(&self.arn).map(|a| a.partition).unwrap_or_else(|| "aws".to_string());
        format!("arn:{partition}:iam::{}:root", self.account)
    }

    /// The value of `aws:PrincipalArn`: the role ARN for a role session, else the caller's ARN.
    pub fn principal_arn(&self) -> &str {
        self.role_arn.as_deref().unwrap_or(&self.arn)
    }
}

/// Condition keys of a request: names compare case-insensitively, each key has one or more
/// string values (compared as strings, numbers, dates, … according to the operator).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConditionKeys {
    map: BTreeMap<String, Vec<String>>,
}

impl ConditionKeys {
    /// Sets `key` to `values` (replacing any earlier values).
    pub fn insert<I, S>(&mut self, key: &str, values: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.map.insert(key.to_lowercase(), values.into_iter().map(Into::into).collect());
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) {
        self.map.remove(&key.to_lowercase());
    }

    /// The values of `key`, if the request has it.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.map.get(&key.to_lowercase()).map(Vec::as_slice)
    }

    /// The value of a single-valued key (`None` if absent, empty, or multivalued).
    pub fn single(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some([v]) => Some(v.as_str()),
            _ => None,
        }
    }
}

/// Everything the engine needs to decide one request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub principal: RequestPrincipal,
    /// `service:Action`, e.g. `kms:Decrypt`.
    pub action: String,
    /// The resource's ARN.
    pub resource: String,
    pub keys: ConditionKeys,
}

impl RequestContext {
    /// A context with the global keys derived from the principal already set:
    /// `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:userid` and (users)
    /// `aws:username`.
    pub fn new(principal: RequestPrincipal, action: &str, resource: &str) -> Self {
        let mut keys = ConditionKeys::default();
        if principal.kind == PrincipalType::WebIdentity {
            keys.insert("aws:FederatedProvider", [principal.arn.as_str()]);
        } else if principal.kind != PrincipalType::Service {
            keys.insert("aws:PrincipalArn", [principal.principal_arn()]);
            keys.insert("aws:PrincipalAccount", [principal.account.as_str()]);
            keys.insert("aws:userid", [principal.userid.as_str()]);
        } else if let Some(s) = &principal.service {
            keys.insert("aws:PrincipalServiceName", [s.as_str()]);
        }
        keys.insert("aws:PrincipalType", [principal.kind.as_str()]);
        if let Some(u) = &principal.username {
            keys.insert("aws:username", [u.as_str()]);
        }
        RequestContext { principal, action: action.to_string(), resource: resource.to_string(), keys }
    }

    /// Sets condition key `key` to one value.
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.keys.insert(key, [value]);
        self
    }

    /// Sets condition key `key` to several values (an empty list is a key with no values).
    pub fn with_values<I, S>(mut self, key: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.keys.insert(key, values);
        self
    }

    /// `aws:CurrentTime` (ISO 8601, UTC) and `aws:EpochTime` from Unix seconds. The engine
    /// reads no clock; the caller supplies the time.
    pub fn with_time(mut self, epoch_secs: i64) -> Self {
        if let Ok(t) = time::OffsetDateTime::from_unix_timestamp(epoch_secs) {
            let iso = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
            self.keys.insert("aws:CurrentTime", [iso]);
            self.keys.insert("aws:EpochTime", [epoch_secs.to_string()]);
        }
        self
    }

    /// `kms:EncryptionContext:<key>` for every pair and `kms:EncryptionContextKeys` (all keys).
    pub fn with_encryption_context<'a, I>(mut self, pairs: I) -> Self
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut names = Vec::new();
        for (k, v) in pairs {
            self.keys.insert(&format!("kms:EncryptionContext:{k}"), [v]);
            names.push(k.to_string());
        }
        if !names.is_empty() {
            self.keys.insert("kms:EncryptionContextKeys", names);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_key_names_are_case_insensitive() {
        let mut k = ConditionKeys::default();
        k.insert("kms:ViaService", ["ssm.us-east-1.amazonaws.com"]);
        assert_eq!(k.single("KMS:VIASERVICE"), Some("ssm.us-east-1.amazonaws.com"));
        assert!(k.get("kms:CallerAccount").is_none());
    }

    #[test]
    fn role_session_context_uses_role_arn_for_principal_arn() {
        let p = Principal {
            account_id: "111122223333".into(),
            kind: PrincipalKind::AssumedRole {
                role_name: "app".into(),
                role_id: "AROAEXAMPLE".into(),
                session_name: "s1".into(),
            },
        };
        let ctx = RequestContext::new(RequestPrincipal::from_principal(&p, "aws"), "kms:Decrypt", "*");
        assert_eq!(ctx.keys.single("aws:PrincipalArn"), Some("arn:aws:iam::111122223333:role/app"));
        assert_eq!(ctx.keys.single("aws:userid"), Some("AROAEXAMPLE:s1"));
        assert_eq!(ctx.keys.single("aws:PrincipalType"), Some("AssumedRole"));
        assert!(ctx.keys.get("aws:username").is_none());
    }

    #[test]
    fn from_arn_recognises_root_user_and_session() {
        let r = RequestPrincipal::from_arn("arn:aws:iam::111122223333:root", "111122223333").unwrap();
        assert_eq!(r.kind, PrincipalType::Root);
        let u = RequestPrincipal::from_arn("arn:aws:iam::111122223333:user/dev/bob", "AIDA1").unwrap();
        assert_eq!(u.username.as_deref(), Some("bob"));
        let s = RequestPrincipal::from_arn("arn:aws:sts::111122223333:assumed-role/app/s", "AROA1:s").unwrap();
        assert_eq!(s.role_arn.as_deref(), Some("arn:aws:iam::111122223333:role/app"));
        assert!(RequestPrincipal::from_arn("arn:aws:kms:us-east-1:1:key/k", "x").is_none());
    }

    #[test]
    fn time_and_encryption_context_keys() {
        let u = RequestPrincipal::from_arn("arn:aws:iam::111122223333:user/bob", "AIDA1").unwrap();
        let ctx = RequestContext::new(u, "kms:Decrypt", "*")
            .with_time(1_700_000_000)
            .with_encryption_context([("Department", "IT"), ("Project", "x")]);
        assert_eq!(ctx.keys.single("aws:CurrentTime"), Some("2023-11-14T22:13:20Z"));
        assert_eq!(ctx.keys.single("kms:encryptioncontext:department"), Some("IT"));
        assert_eq!(ctx.keys.get("kms:EncryptionContextKeys").unwrap().len(), 2);
    }
}
