//! Trent's IAM and STS over the awsQuery protocol: users, access keys, roles with trust
//! policies, inline and managed identity policies, `GetCallerIdentity` and `AssumeRole`.
//!
//! * One file per action under [`ops`] (`CreateUser` → `ops/create_user.rs`), each with
//!   `handle(&Iam, &Caller, &Params) -> Result<Option<XmlWriter>, IamError>`; the tables
//!   [`IAM_ACTIONS`] and [`STS_ACTIONS`] are the single list of actions served.
//! * [`Iam::dispatch`] decodes the form body, authorizes the caller (the account root may do
//!   everything in its account; users and role sessions need an identity policy allowing
//!   `iam:<Action>` on the resource), runs the action and writes the XML response.
//! * [`Iam::identity_policies`] gives the other services the caller's identity policies (inline
//!   and attached managed), for the policy engine.
//! * [`credentials`]: access keys and session credentials, and the SigV4 credential lookup.
//!
//! Storage: `iam_user`, `iam_role`, `iam_policy` ([`model`]), `iam_access_key`, `iam_session`
//! ([`credentials`]).
#![forbid(unsafe_code)]

pub mod credentials;
mod error;
pub mod model;
pub mod oidc;
pub mod ops;

pub use credentials::{AccessKeyRecord, Identity};
pub use error::IamError;

use model::{ManagedPolicyRecord, RoleRecord, UserRecord, T_POLICY, T_ROLE, T_USER};
use std::sync::Arc;
use trent_policy::{Policy, PolicyKind, Principal, PrincipalKind, RequestContext, RequestPrincipal};
use trent_store::{Store, Txn};
use trent_wire::query::{Params, XmlWriter, IAM_XMLNS, STS_XMLNS};
use zeroize::Zeroizing;

/// Who is calling, and in which region (from the verified SigV4 scope).
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub region: String,
}

impl Caller {
    pub fn account(&self) -> &str {
        &self.principal.account_id
    }
    pub fn partition(&self) -> &'static str {
        trent_policy::partition_for_region(&self.region)
    }
    pub fn arn(&self) -> String {
        self.principal.arn(self.partition())
    }
}

/// Which of the two awsQuery services a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Iam,
    Sts,
}

type Handler = fn(&Iam, &Caller, &Params) -> Result<Option<XmlWriter>, IamError>;

/// Every IAM action served.
pub const IAM_ACTIONS: &[(&str, Handler)] = &[
    ("AddClientIDToOpenIDConnectProvider", ops::add_client_id_to_open_id_connect_provider::handle),
    ("AttachRolePolicy", ops::attach_role_policy::handle),
    ("AttachUserPolicy", ops::attach_user_policy::handle),
    ("CreateAccessKey", ops::create_access_key::handle),
    ("CreateOpenIDConnectProvider", ops::create_open_id_connect_provider::handle),
    ("CreatePolicy", ops::create_policy::handle),
    ("CreateRole", ops::create_role::handle),
    ("CreateUser", ops::create_user::handle),
    ("DeleteAccessKey", ops::delete_access_key::handle),
    ("DeleteOpenIDConnectProvider", ops::delete_open_id_connect_provider::handle),
    ("DeletePolicy", ops::delete_policy::handle),
    ("DeleteRole", ops::delete_role::handle),
    ("DeleteRolePolicy", ops::delete_role_policy::handle),
    ("DeleteUser", ops::delete_user::handle),
    ("DeleteUserPolicy", ops::delete_user_policy::handle),
    ("DetachRolePolicy", ops::detach_role_policy::handle),
    ("DetachUserPolicy", ops::detach_user_policy::handle),
    ("GetOpenIDConnectProvider", ops::get_open_id_connect_provider::handle),
    ("GetPolicy", ops::get_policy::handle),
    ("GetPolicyVersion", ops::get_policy_version::handle),
    ("GetRole", ops::get_role::handle),
    ("GetRolePolicy", ops::get_role_policy::handle),
    ("GetUser", ops::get_user::handle),
    ("GetUserPolicy", ops::get_user_policy::handle),
    ("ListAccessKeys", ops::list_access_keys::handle),
    ("ListAttachedRolePolicies", ops::list_attached_role_policies::handle),
    ("ListAttachedUserPolicies", ops::list_attached_user_policies::handle),
    ("ListOpenIDConnectProviders", ops::list_open_id_connect_providers::handle),
    ("ListPolicies", ops::list_policies::handle),
    ("ListRolePolicies", ops::list_role_policies::handle),
    ("ListRoles", ops::list_roles::handle),
    ("ListUserPolicies", ops::list_user_policies::handle),
    ("ListUsers", ops::list_users::handle),
    ("PutRolePolicy", ops::put_role_policy::handle),
    ("PutUserPolicy", ops::put_user_policy::handle),
    ("RemoveClientIDFromOpenIDConnectProvider", ops::remove_client_id_from_open_id_connect_provider::handle),
    ("UpdateAccessKey", ops::update_access_key::handle),
    ("UpdateAssumeRolePolicy", ops::update_assume_role_policy::handle),
    ("UpdateOpenIDConnectProviderThumbprint", ops::update_open_id_connect_provider_thumbprint::handle),
];

/// Every STS action served.
pub const STS_ACTIONS: &[(&str, Handler)] = &[
    ("AssumeRole", ops::assume_role::handle),
    ("AssumeRoleWithWebIdentity", ops::assume_role_with_web_identity::handle),
    ("GetCallerIdentity", ops::get_caller_identity::handle),
    ("GetSessionToken", ops::get_session_token::handle),
];

/// The STS actions a request may make without a signature (the request carries its own
/// credential: a web identity token).
pub const UNSIGNED_STS_ACTIONS: &[&str] = &["AssumeRoleWithWebIdentity"];

/// The action name of an awsQuery body, if it has one (for metrics and audit labels).
pub fn action_name(service: Service, body: &[u8]) -> Option<&'static str> {
    let action = trent_wire::query::decode(body).ok()?.action;
    let table = if service == Service::Iam { IAM_ACTIONS } else { STS_ACTIONS };
    table.iter().find(|(n, _)| *n == action).map(|(n, _)| *n)
}

pub struct Iam {
    store: Arc<dyn Store>,
    identity: Arc<Identity>,
    oidc_keys: Option<Arc<dyn oidc::OidcKeys>>,
}

impl Iam {
    pub fn new(store: Arc<dyn Store>, identity: Arc<Identity>) -> Self {
        Iam { store, identity, oidc_keys: None }
    }

    /// Where `AssumeRoleWithWebIdentity` gets issuers' key sets (without one it answers
    /// `IDPCommunicationError`).
    pub fn with_oidc_keys(mut self, keys: Arc<dyn oidc::OidcKeys>) -> Self {
        self.oidc_keys = Some(keys);
        self
    }

    pub(crate) fn oidc_keys(&self) -> Option<&Arc<dyn oidc::OidcKeys>> {
        self.oidc_keys.as_ref()
    }

    /// Serves an STS request that has no signature: only the actions of
    /// [`UNSIGNED_STS_ACTIONS`] (the caller of this must have checked the action), which
    /// authenticate by what they carry.
    pub fn dispatch_unsigned(&self, body: &[u8], request_id: &str) -> Result<Zeroizing<Vec<u8>>, IamError> {
        let req = trent_wire::query::decode(body)?;
        if req.action != "AssumeRoleWithWebIdentity" {
            return Err(IamError::Wire(trent_wire::WireError::MissingAuthenticationToken));
        }
        let result = ops::assume_role_with_web_identity::run(self, &req.params)?;
        Ok(trent_wire::query::response("AssumeRoleWithWebIdentity", STS_XMLNS, request_id, result))
    }

    pub(crate) fn store_read(&self, table: &str, key: &str) -> Result<Option<Vec<u8>>, IamError> {
        Ok(self.store.read()?.get(table, key)?)
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.identity.now_ms()
    }

    /// Decodes an awsQuery body, authorizes and runs the action, and writes its response.
    pub fn dispatch(
        &self,
        service: Service,
        caller: &Caller,
        body: &[u8],
        request_id: &str,
    ) -> Result<Zeroizing<Vec<u8>>, IamError> {
        let req = trent_wire::query::decode(body)?;
        let (table, xmlns, prefix) = match service {
            Service::Iam => (IAM_ACTIONS, IAM_XMLNS, "iam"),
            Service::Sts => (STS_ACTIONS, STS_XMLNS, "sts"),
        };
        let Some((name, handler)) = table.iter().find(|(n, _)| *n == req.action) else {
            return Err(IamError::InvalidAction(req.action.chars().take(128).collect()));
        };
        if service == Service::Iam {
            self.authorize(caller, &format!("{prefix}:{name}"), &self.resource_of(caller, name, &req.params))?;
        }
        let result = handler(self, caller, &req.params)?;
        Ok(trent_wire::query::response(name, xmlns, request_id, result))
    }

    /// The account root may do anything in its account; anyone else needs an identity policy.
    pub(crate) fn authorize(&self, caller: &Caller, action: &str, resource: &str) -> Result<(), IamError> {
        if caller.principal.kind == PrincipalKind::Root {
            return Ok(());
        }
        let rp = RequestPrincipal::from_principal(&caller.principal, caller.partition());
        let now_secs = self.now_ms() / 1000;
        let ctx = RequestContext::new(rp, action, resource).with_time(now_secs);
        let policies = self.identity_policies(&caller.principal)?;
        let d = trent_policy::evaluate_identity(&ctx, &policies);
        match d.message(&ctx) {
            None => Ok(()),
            Some(m) => Err(IamError::AccessDenied(m)),
        }
    }

    /// The ARN an IAM action acts on, for authorization.
    fn resource_of(&self, caller: &Caller, action: &str, p: &Params) -> String {
        let (part, acct) = (caller.partition(), caller.account());
        let named = |param: &str, table: &str, kind: &str| -> String {
            let Some(name) = p.get(param) else { return String::new() };
            let path = self
                .read_record::<serde_json::Value>(table, acct, name)
                .ok()
                .flatten()
                .and_then(|v| v.get("path").and_then(|x| x.as_str()).map(str::to_string))
                .or_else(|| p.get("Path").map(str::to_string))
                .unwrap_or_else(|| "/".into());
            format!("arn:{part}:iam::{acct}:{kind}{path}{name}")
        };
        match action {
            "ListUsers" | "ListRoles" | "ListPolicies" | "ListOpenIDConnectProviders" => "*".into(),
            "CreateOpenIDConnectProvider" => p
                .get("Url")
                .and_then(|u| model::normalize_issuer_url(u).ok())
                .and_then(|u| model::provider_id(&u).map(|id| model::oidc_provider_arn(part, acct, id)))
                .unwrap_or_else(|| "*".into()),
            a if a.contains("OpenIDConnectProvider") => {
                p.get("OpenIDConnectProviderArn").map(str::to_string).unwrap_or_else(|| "*".into())
            }
            "CreatePolicy" => named("PolicyName", T_POLICY, "policy"),
            a if a.contains("Role") => named("RoleName", T_ROLE, "role"),
            a if (a.contains("User") || a.contains("AccessKey")) && p.get("UserName").is_none() => caller.arn(),
            a if a.contains("User") || a.contains("AccessKey") => named("UserName", T_USER, "user"),
            _ => p.get("PolicyArn").map(str::to_string).unwrap_or_else(|| "*".into()),
        }
    }

    // -- records ------------------------------------------------------------------------

    pub(crate) fn read_record<T: serde::de::DeserializeOwned>(
        &self,
        table: &str,
        account: &str,
        name: &str,
    ) -> Result<Option<T>, IamError> {
        let raw = self.store.read()?.get(table, &model::store_key(account, name))?;
        raw.map(|r| serde_json::from_slice(&r).map_err(IamError::internal)).transpose()
    }

    pub(crate) fn write(&self) -> Result<Box<dyn Txn + '_>, IamError> {
        Ok(self.store.write()?)
    }

    pub(crate) fn get_in<T: serde::de::DeserializeOwned>(
        tx: &mut dyn Txn,
        table: &str,
        account: &str,
        name: &str,
    ) -> Result<Option<T>, IamError> {
        let raw = tx.get(table, &model::store_key(account, name))?;
        raw.map(|r| serde_json::from_slice(&r).map_err(IamError::internal)).transpose()
    }

    pub(crate) fn put_in<T: serde::Serialize>(
        tx: &mut dyn Txn,
        table: &str,
        account: &str,
        name: &str,
        value: &T,
    ) -> Result<(), IamError> {
        tx.put(table, &model::store_key(account, name), &serde_json::to_vec(value).map_err(IamError::internal)?)?;
        Ok(())
    }

    /// Every record of `table` in `account`, in name order.
    pub(crate) fn all<T: serde::de::DeserializeOwned>(&self, table: &str, account: &str) -> Result<Vec<T>, IamError> {
        let prefix = format!("{account}/");
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let rows = self.store.read()?.scan(table, &prefix, after.as_deref(), 1000)?;
            let done = rows.len() < 1000;
            for (k, v) in rows {
                out.push(serde_json::from_slice(&v).map_err(IamError::internal)?);
                after = Some(k);
            }
            if done {
                return Ok(out);
            }
        }
    }

    pub(crate) fn user(&self, account: &str, name: &str) -> Result<UserRecord, IamError> {
        self.read_record(T_USER, account, name)?.ok_or_else(|| no_user(name))
    }

    pub(crate) fn role(&self, account: &str, name: &str) -> Result<RoleRecord, IamError> {
        self.read_record(T_ROLE, account, name)?.ok_or_else(|| no_role(name))
    }

    /// A managed policy of `caller`'s account by ARN.
    pub(crate) fn policy_by_arn(&self, caller: &Caller, arn: &str) -> Result<ManagedPolicyRecord, IamError> {
        let missing =
            || IamError::NoSuchEntity(format!("Policy {} does not exist or is not attachable.", truncate(arn)));
        let a = trent_policy::Arn::parse(arn)
            .ok_or_else(|| IamError::InvalidInput(format!("ARN {} is not valid.", truncate(arn))))?;
        if a.service != "iam" || !a.resource.starts_with("policy/") {
            return Err(IamError::InvalidInput(format!("ARN {} is not valid.", truncate(arn))));
        }
        if a.account != caller.account() {
            return Err(missing());
        }
        let name = a.resource.rsplit('/').next().unwrap_or("");
        let rec: ManagedPolicyRecord = self.read_record(T_POLICY, &a.account, name)?.ok_or_else(missing)?;
        if model::policy_arn(&a.partition, &a.account, &rec.path, &rec.name) != arn {
            return Err(missing());
        }
        Ok(rec)
    }

    /// The identity policies of a caller: inline and attached managed policies of its user or
    /// of its session's role. The account root has none (it needs none in its own account).
    /// A stored document that no longer parses stands as [`Policy::deny_all`] (fail closed).
    pub fn identity_policies(&self, p: &Principal) -> Result<Vec<std::sync::Arc<Policy>>, IamError> {
        let (inline, attached) = match &p.kind {
            PrincipalKind::Root => return Ok(Vec::new()),
            PrincipalKind::User { name, id, .. } => {
                match self.read_record::<UserRecord>(T_USER, &p.account_id, name)? {
                    Some(u) if u.id == *id => (u.inline, u.attached),
                    _ => return Ok(Vec::new()),
                }
            }
            PrincipalKind::AssumedRole { role_name, role_id, .. } => {
                match self.read_record::<RoleRecord>(T_ROLE, &p.account_id, role_name)? {
                    Some(r) if r.id == *role_id => (r.inline, r.attached),
                    _ => return Ok(Vec::new()),
                }
            }
        };
        let mut docs: Vec<(String, String)> = inline.into_iter().map(|(n, d)| (format!("inline:{n}"), d)).collect();
        for arn in attached {
            let name = arn.rsplit('/').next().unwrap_or("");
            if let Some(m) = self.read_record::<ManagedPolicyRecord>(T_POLICY, &p.account_id, name)? {
                docs.push((arn, m.document));
            }
        }
        let mut out = Vec::with_capacity(docs.len());
        for (name, d) in docs {
            match Policy::parse_cached(&d, PolicyKind::Identity) {
                Ok(p) => out.push(p),
                // Validated when written, so this is a damaged or hand-edited record. Ignoring
                // it would drop its Denys: fail closed, everything is denied until it is fixed.
                // The reason's kind is logged, never the document (nor the reason's quotes of it).
                Err(e) => {
                    tracing::error!(
                        account = %p.account_id,
                        policy = %name,
                        kind = ?e.kind,
                        "a stored identity policy cannot be read; the principal is denied every action"
                    );
                    out.push(std::sync::Arc::new(Policy::deny_all()));
                }
            }
        }
        Ok(out)
    }
}

pub(crate) fn truncate(s: &str) -> String {
    s.chars().take(256).collect()
}

pub(crate) fn no_user(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The user with name {} cannot be found.", truncate(name)))
}

pub(crate) fn no_role(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The role with name {} cannot be found.", truncate(name)))
}

/// `MaxItems` (1–1000, default 100) and `Marker` (the last name of the previous page).
pub(crate) fn page<T>(
    items: Vec<T>,
    p: &Params,
    key: impl Fn(&T) -> String,
) -> Result<(Vec<T>, Option<String>), IamError> {
    let max = match p.get("MaxItems") {
        None => 100,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(IamError::Validation(format!(
                    "1 validation error detected: Value '{}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000",
                    truncate(s)
                )))
            }
        },
    };
    let mut items: Vec<T> =
        if let Some(m) = p.get("Marker") { items.into_iter().filter(|i| key(i).as_str() > m).collect() } else { items };
    let more = items.len() > max;
    items.truncate(max);
    let marker = if more { items.last().map(&key) } else { None };
    Ok((items, marker))
}

/// Writes `IsTruncated` and, when truncated, `Marker`.
pub(crate) fn write_paging(w: &mut XmlWriter, marker: Option<String>) {
    w.boolean("IsTruncated", marker.is_some());
    w.opt_text("Marker", marker.as_deref());
}

#[cfg(test)]
mod tests;
