//! Stored records of users, roles and managed policies, and the checks their names need.
//!
//! | table | key | value |
//! |---|---|---|
//! | `iam_user` | `<account>/<user name, lower case>` | [`UserRecord`] |
//! | `iam_role` | `<account>/<role name, lower case>` | [`RoleRecord`] |
//! | `iam_policy` | `<account>/<policy name, lower case>` | [`ManagedPolicyRecord`] |
//!
//! IAM names are unique without regard to case, and keep the case they were created with.

use crate::IamError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const T_USER: &str = "iam_user";
pub const T_ROLE: &str = "iam_role";
pub const T_POLICY: &str = "iam_policy";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    pub path: String,
    pub id: String,
    pub created_ms: i64,
    /// Inline policies: name → document.
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    /// ARNs of attached managed policies.
    #[serde(default)]
    pub attached: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleRecord {
    pub name: String,
    pub path: String,
    pub id: String,
    pub created_ms: i64,
    pub trust_policy: String,
    #[serde(default)]
    pub description: Option<String>,
    pub max_session_secs: i64,
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    #[serde(default)]
    pub attached: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManagedPolicyRecord {
    pub name: String,
    pub path: String,
    pub id: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub document: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub attachment_count: i64,
}

pub fn store_key(account: &str, name: &str) -> String {
    format!("{account}/{}", name.to_lowercase())
}

pub fn user_arn(partition: &str, account: &str, path: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:user{path}{name}")
}

pub fn role_arn(partition: &str, account: &str, path: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:role{path}{name}")
}

pub fn policy_arn(partition: &str, account: &str, path: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:policy{path}{name}")
}

fn constraint(value: &str, member: &str, what: &str) -> IamError {
    let shown: String = value.chars().take(256).collect();
    IamError::Validation(format!(
        "1 validation error detected: Value '{shown}' at '{member}' failed to satisfy constraint: {what}"
    ))
}

/// `[\w+=,.@-]+` with a length range: user, role, policy and session names.
pub fn check_name(value: &str, member: &str, max: usize) -> Result<(), IamError> {
    check_name_len(value, member, 1, max)
}

pub fn check_name_len(value: &str, member: &str, min: usize, max: usize) -> Result<(), IamError> {
    let n = value.chars().count();
    if n < min {
        return Err(constraint(value, member, &format!("Member must have length greater than or equal to {min}")));
    }
    if n > max {
        return Err(constraint(value, member, &format!("Member must have length less than or equal to {max}")));
    }
    if !value.chars().all(|c| c.is_alphanumeric() || c == '_' || "+=,.@-".contains(c)) {
        return Err(constraint(value, member, "Member must satisfy regular expression pattern: [\\w+=,.@-]+"));
    }
    Ok(())
}

/// A path: `/` or `/…/` of printable ASCII, at most 512 characters.
pub fn check_path(value: &str, member: &str) -> Result<(), IamError> {
    if value.is_empty() || value.len() > 512 {
        return Err(constraint(value, member, "Member must have length less than or equal to 512"));
    }
    let ok = value == "/"
        || (value.len() >= 3
            && value.starts_with('/')
            && value.ends_with('/')
            && value.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    if !ok {
        return Err(constraint(
            value,
            member,
            "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
        ));
    }
    Ok(())
}

/// Parses an identity policy document with the engine's grammar, or `MalformedPolicyDocument`
/// with IAM's message; then, for a managed policy (`max_chars`), its size quota. Inline
/// policies are sized together by their caller (the quota is per user or role).
pub fn check_identity_policy(text: &str, max_chars: Option<usize>) -> Result<(), IamError> {
    if text.is_empty() || text.len() > 131_072 {
        return Err(constraint("***", "policyDocument", "Member must have length less than or equal to 131072"));
    }
    trent_policy::Policy::parse_new(text, trent_policy::PolicyKind::Identity)
        .map_err(|e| IamError::MalformedPolicyDocument(e.reason))?;
    if let Some(max) = max_chars {
        if trent_policy::iam_policy_size(text) > max {
            return Err(IamError::LimitExceeded(format!("Cannot exceed quota for PolicySize: {max}")));
        }
    }
    Ok(())
}

/// Parses a trust policy (a resource policy naming who may assume the role).
pub fn check_trust_policy(text: &str) -> Result<(), IamError> {
    if text.is_empty() || text.len() > 131_072 {
        return Err(constraint(
            "***",
            "assumeRolePolicyDocument",
            "Member must have length less than or equal to 131072",
        ));
    }
    trent_policy::Policy::parse_new(text, trent_policy::PolicyKind::Trust)
        .map_err(|e| IamError::MalformedPolicyDocument(e.reason))?;
    let max = trent_policy::TRUST_POLICY_MAX_CHARS;
    if trent_policy::iam_policy_size(text) > max {
        return Err(IamError::LimitExceeded(format!("Cannot exceed quota for ACLSizePerRole: {max}")));
    }
    Ok(())
}

/// Percent-encodes a policy document the way IAM returns documents (botocore decodes it).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `iam_oidc_provider`: `<account>/<provider id>` → [`OidcProviderRecord`], where the provider
/// id is the URL without its scheme (`issuer.example.com/path`; the host in lower case), as
/// in the provider's ARN `arn:aws:iam::ACCOUNT:oidc-provider/<provider id>`.
pub const T_OIDC_PROVIDER: &str = "iam_oidc_provider";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OidcProviderRecord {
    /// The issuer URL, scheme included (`https://issuer.example.com/path`).
    pub url: String,
    pub client_ids: Vec<String>,
    pub thumbprints: Vec<String>,
    pub created_ms: i64,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

impl OidcProviderRecord {
    /// The provider id: the URL without scheme (the ARN's resource after `oidc-provider/`).
    pub fn id(&self) -> &str {
        provider_id(&self.url).unwrap_or(&self.url)
    }
}

pub fn oidc_provider_arn(partition: &str, account: &str, id: &str) -> String {
    format!("arn:{partition}:iam::{account}:oidc-provider/{id}")
}

pub fn oidc_store_key(account: &str, id: &str) -> String {
    format!("{account}/{id}")
}

/// The provider id of an issuer URL (`https://host/path` → `host/path`), `None` if the URL
/// has no http(s) scheme.
pub fn provider_id(url: &str) -> Option<&str> {
    url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))
}

/// Whether `host` (of an issuer URL, port removed) is a loopback address: the only hosts
/// plain-http issuers are accepted for (tests).
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks and normalises an OpenID Connect provider URL as `CreateOpenIDConnectProvider`
/// takes it: `https://host[:port][/path]` (the host lower-cased, no trailing slash, no query
/// or fragment), 1–255 characters; `http://` only for a loopback host.
pub fn normalize_issuer_url(url: &str) -> Result<String, IamError> {
    let bad = |why: &str| IamError::InvalidInput(format!("Invalid Url {}: {why}", crate::truncate(url)));
    if url.is_empty() || url.chars().count() > 255 {
        return Err(constraint(url, "url", "Member must have length less than or equal to 255"));
    }
    let (scheme, rest) = if let Some(r) = url.strip_prefix("https://") {
        ("https", r)
    } else if let Some(r) = url.strip_prefix("http://") {
        ("http", r)
    } else {
        return Err(bad("the URL must begin with https://"));
    };
    if rest.contains(['?', '#', '@', ' ', '\\']) || rest.chars().any(|c| c.is_control() || !c.is_ascii()) {
        return Err(bad("the URL must have no query, fragment, user information or spaces"));
    }
    let rest = rest.trim_end_matches('/');
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = if let Some(r) = authority.strip_prefix('[') {
        match r.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => return Err(bad("the host is not valid")),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return Err(bad("the port is not a number"));
    }
    if host.is_empty() || path.contains("//") {
        return Err(bad("the URL has no host"));
    }
    if scheme == "http" && !is_loopback_host(host) {
        return Err(bad("the URL must begin with https:// (http:// is accepted only for a loopback address)"));
    }
    Ok(format!("{scheme}://{}{path}", authority.to_ascii_lowercase()))
}
