//! Who is calling, and what they may do.
//!
//! * Access keys and session credentials live in `trent-iam` ([`Identity`]); this module
//!   re-exports them for bootstrap and the SigV4 verifier.
//! * [`authorize_kms`], [`authorize_ssm`], [`authorize_secrets`], [`authorize_cloudtrail`]: step 5
//!   of the request path. They build the policy engine's request context (principal, action,
//!   resource ARN and condition keys) and evaluate it: KMS with the key policy and the
//!   caller's identity policies (`evaluate_kms`), the others with identity policies (and a
//!   secret's resource policy). An account root has every *identity* permission in its own
//!   account, but resource policies still bind it as on AWS: a key policy is the primary
//!   authority (an explicit Deny applies to root, and a key whose policy does not allow the
//!   account cannot be used by root either), and a secret resource policy's explicit Deny
//!   applies to root. Where there is no resource policy (SSM, CloudTrail, account-level
//!   actions) root has full access. A denial is `AccessDeniedException` with the engine's
//!   message.
//! * A stored key policy or secret resource policy that does not parse fails closed: it is
//!   evaluated as a policy that denies everything ([`unreadable_policy`]); the reason (never
//!   the policy text) is logged.
//! * Reads that return secret material through another path are authorized like the direct
//!   read: [`secret_reader`] (each secret of BatchGetSecretValue) and [`authorize_ssm`] for
//!   `/aws/reference/secretsmanager/…` names (`secretsmanager:GetSecretValue` on the secret);
//!   the KMS key under the secret is checked by [`service_authorizer`] as the value is
//!   decrypted (`kms:Decrypt`, `kms:ViaService` = Secrets Manager).

pub use trent_iam::credentials::{AccessKeyRecord, Identity};

use crate::App;
use serde_json::Value;
use std::sync::Arc;
use trent_kms::{Caller, KmsError};
use trent_policy::{Policy, PolicyKind, PrincipalKind, RequestContext, RequestPrincipal};
use trent_wire::{AwsError, WireError};

type BoxError = Box<dyn AwsError + Send>;

/// What the request path knows about the connection.
pub struct Env<'a> {
    pub source_ip: &'a str,
    pub secure_transport: bool,
    pub now_secs: i64,
}

fn base_context(caller: &Caller, action: &str, resource: &str, env: &Env<'_>) -> RequestContext {
    let p = RequestPrincipal::from_principal(&caller.principal, caller.partition());
    RequestContext::new(p, action, resource)
        .with_time(env.now_secs)
        .with("aws:SourceIp", env.source_ip)
        .with("aws:SecureTransport", if env.secure_transport { "true" } else { "false" })
        .with("aws:RequestedRegion", &caller.region)
}

fn denied(m: String) -> BoxError {
    Box::new(WireError::AccessDenied(m))
}

fn is_root(caller: &Caller) -> bool {
    caller.principal.kind == PrincipalKind::Root
}

/// What a stored resource policy (key policy, secret resource policy) that cannot be read is
/// evaluated as: one statement denying every action to everyone. Fail closed — dropping an
/// unreadable policy would drop its Deny statements.
pub fn unreadable_policy() -> Policy {
    const DENY_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"UnreadableStoredPolicy","Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}"#;
    Policy::parse(DENY_ALL, PolicyKind::Resource).unwrap_or(Policy {
        version: trent_policy::Version::V2012_10_17,
        id: None,
        statements: Vec::new(),
    })
}

/// A stored resource policy as the engine reads it; one that does not parse is
/// [`unreadable_policy`] (the reason is logged, never the text).
fn stored_resource_policy(text: &str, what: &'static str, resource: &str) -> Arc<Policy> {
    match Policy::parse_cached(text, PolicyKind::Resource) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(reason = %e.reason, resource, "a stored {what} does not parse; denying every request on it");
            Arc::new(unreadable_policy())
        }
    }
}

fn identity_policies(app: &App, caller: &Caller) -> Result<Vec<Arc<Policy>>, BoxError> {
    app.iam.identity_policies(&caller.principal).map_err(|e| Box::new(e) as BoxError)
}

/// A request body as the request path parsed it, once.
pub type Body = crate::quota::Body;

/// The string values of the members `op`'s table row says name its resources (a member may
/// be one name or a list of names).
fn named<'b>(b: &'b Body, members: &[&str]) -> Vec<&'b str> {
    let mut out = Vec::new();
    for m in members {
        match b.get(*m) {
            Some(Value::String(s)) => out.push(s.as_str()),
            Some(Value::Array(list)) => out.extend(list.iter().filter_map(|v| v.as_str())),
            _ => {}
        }
    }
    out
}

/// Identity-only evaluation (resources without a resource policy, account-level actions).
fn identity_only(app: &App, ctx: &RequestContext, caller: &Caller) -> Result<(), BoxError> {
    if is_root(caller) {
        return Ok(());
    }
    let policies = identity_policies(app, caller)?;
    match trent_policy::evaluate_identity(ctx, &policies).message(ctx) {
        None => Ok(()),
        Some(m) => Err(denied(m)),
    }
}

/// KMS: every key the request uses is checked against its key policy and the caller's
/// identity policies; account-level actions (CreateKey, ListKeys, …) against identity policies.
/// Returns whether a key of another account is used (the operation then runs with
/// cross-account resolution enabled).
pub fn authorize_kms(
    app: &App,
    caller: &Caller,
    op: trent_kms::Operation,
    b: &Body,
    env: &Env<'_>,
) -> Result<bool, BoxError> {
    if op == trent_kms::Operation::RetireGrant {
        // Decided by the grant (its retiring principal or grantee), not by policy, as on AWS.
        return Ok(false);
    }
    lockout_check(caller, op, b, env)?;
    // No early return for the account root: the key policy binds it too (an explicit Deny, or
    // a policy that does not allow the account, refuses root as on AWS).
    let facts = app.kms.authorization_facts(caller, op, b);
    let foreign = facts.iter().any(|f| f.key_account != caller.account());
    let identity = identity_policies(app, caller)?;
    // KMS's condition keys and grants are KMS's knowledge (trent-kms/src/authz.rs).
    if facts.is_empty() {
        let action = op.action();
        let ctx = trent_kms::authz::account_condition_keys(
            base_context(caller, action, "*", env),
            caller.account(),
            op,
            action,
            b,
        );
        return match trent_policy::evaluate_identity(&ctx, &identity).message(&ctx) {
            None => Ok(false),
            Some(m) => Err(denied(m)),
        };
    }
    for f in &facts {
        let ctx = trent_kms::authz::key_condition_keys(
            base_context(caller, &f.action, &f.key_arn, env),
            caller.account(),
            f,
            b,
        );
        // A key policy that the engine cannot read denies everything (to root too).
        let key_policy = stored_resource_policy(&f.policy, "key policy", &f.key_arn);
        let grant_allows = trent_kms::authz::grant_allows(&ctx, f, b);
        let d = trent_policy::evaluate_kms(&ctx, &key_policy, &f.key_account, &identity, grant_allows);
        if let Some(m) = d.message(&ctx) {
            return Err(denied(m));
        }
    }
    Ok(foreign)
}

/// CreateKey / PutKeyPolicy: the new policy must let the caller change it later unless
/// BypassPolicyLockoutSafetyCheck is set (KMS's lockout safety check).
fn lockout_check(
    caller: &Caller,
    op: trent_kms::Operation,
    b: &serde_json::Map<String, Value>,
    env: &Env<'_>,
) -> Result<(), BoxError> {
    if !matches!(op, trent_kms::Operation::CreateKey | trent_kms::Operation::PutKeyPolicy) {
        return Ok(());
    }
    if b.get("BypassPolicyLockoutSafetyCheck") == Some(&Value::Bool(true)) {
        return Ok(());
    }
    let Some(text) = b.get("Policy").and_then(|v| v.as_str()) else { return Ok(()) };
    // A document that does not parse is the operation's own MalformedPolicyDocument.
    let Ok(policy) = Policy::parse_new(text, PolicyKind::Resource) else { return Ok(()) };
    let ctx = base_context(caller, "kms:PutKeyPolicy", "*", env);
    if trent_policy::allows_put_key_policy(&policy, &ctx) {
        Ok(())
    } else {
        Err(Box::new(KmsError::MalformedPolicyDocument(trent_policy::LOCKOUT_MESSAGE.into())))
    }
}

/// A parameter's ARN from a `Name` (a name, a name with a `:version`/`:label` selector, or an ARN).
fn parameter_arn(caller: &Caller, name: &str) -> String {
    if name.starts_with("arn:") {
        return name.to_string();
    }
    let base = match name.rfind(':') {
        Some(i) => &name[..i],
        None => name,
    };
    let slash = if base.starts_with('/') { "" } else { "/" };
    format!("arn:{}:ssm:{}:{}:parameter{slash}{base}", caller.partition(), caller.region, caller.account())
}

/// Parameter Store: identity policies, with `ssm:<Operation>` on each parameter named. A name
/// under `/aws/reference/secretsmanager/` reads a secret: it also needs
/// `secretsmanager:GetSecretValue` on that secret (identity policies and the secret's resource
/// policy, whose explicit Deny binds the account root too); `kms:Decrypt` on the secret's key
/// is checked when the value is decrypted ([`service_authorizer`]).
pub fn authorize_ssm(
    app: &App,
    caller: &Caller,
    op: trent_ssm::Operation,
    b: &Body,
    env: &Env<'_>,
) -> Result<(), BoxError> {
    // The members naming parameters, from the operation's row: Name, Names, Path, ResourceId.
    let names = named(b, op.resource_members());
    if !is_root(caller) {
        // A path is evaluated as the ARN of the parameter it names, without its trailing slash.
        let path = op == trent_ssm::Operation::GetParametersByPath;
        let mut resources: Vec<String> =
            names.iter().map(|n| parameter_arn(caller, if path { n.trim_end_matches('/') } else { n })).collect();
        if resources.is_empty() {
            resources.push("*".into());
        }
        for r in resources {
            identity_only(app, &base_context(caller, op.action(), &r, env), caller)?;
        }
    }
    if matches!(op, trent_ssm::Operation::GetParameter | trent_ssm::Operation::GetParameters) {
        let mut identity: Option<Vec<Arc<Policy>>> = None;
        for n in names {
            let Some((secret_id, _)) = trent_ssm::references::parse(n) else { continue };
            if identity.is_none() {
                identity = Some(identity_policies(app, caller)?);
            }
            let (arn, policy) = secret_facts(app, caller, secret_id)?;
            let ctx = base_context(caller, "secretsmanager:GetSecretValue", &arn, env);
            let decision = trent_policy::evaluate(
                &ctx,
                identity.as_deref().unwrap_or_default(),
                policy.as_deref(),
                caller.account(),
            );
            if let Some(m) = decision.message(&ctx) {
                return Err(denied(m));
            }
        }
    }
    Ok(())
}

/// A secret's ARN (or the ARN it would have) and its resource policy as the engine reads it.
fn secret_facts(app: &App, caller: &Caller, id: &str) -> Result<(String, Option<Arc<Policy>>), BoxError> {
    let stored = app.secrets.resource_policy(caller, id).map_err(|e| Box::new(e) as BoxError)?;
    Ok(match stored {
        Some((arn, text)) => {
            let p = stored_resource_policy(&text, "secret resource policy", &arn);
            (arn, Some(p))
        }
        None => (secret_arn(app, caller, id), None),
    })
}

/// Secrets Manager: identity policies, with `secretsmanager:<Operation>` on the secret's ARN,
/// and the secret's resource policy (its explicit Deny binds the account root too).
/// BatchGetSecretValue is account-level here (`*`; with `Filters` also
/// `secretsmanager:ListSecrets`); each secret it returns is checked by [`secret_reader`].
pub fn authorize_secrets(
    app: &App,
    caller: &Caller,
    op: trent_secrets::Operation,
    b: &Body,
    env: &Env<'_>,
) -> Result<(), BoxError> {
    let action = op.action();
    if op == trent_secrets::Operation::BatchGetSecretValue {
        identity_only(app, &base_context(caller, action, "*", env), caller)?;
        if b.get("Filters").is_some_and(|f| !f.is_null()) {
            identity_only(app, &base_context(caller, "secretsmanager:ListSecrets", "*", env), caller)?;
        }
        return Ok(());
    }
    if op == trent_secrets::Operation::CreateSecret {
        // The secret it would create (the ARN's random suffix is not known yet).
        let r = match named(b, op.resource_members()).first() {
            Some(n) => format!(
                "arn:{}:secretsmanager:{}:{}:secret:{n}-??????",
                caller.partition(),
                caller.region,
                caller.account()
            ),
            None => "*".into(),
        };
        return identity_only(app, &base_context(caller, action, &r, env), caller);
    }
    // The members naming secrets, from the operation's row: SecretId (SecretIdList).
    let ids = named(b, op.resource_members());
    if ids.is_empty() {
        return identity_only(app, &base_context(caller, action, "*", env), caller);
    }
    let identity = identity_policies(app, caller)?;
    for id in &ids {
        // A secret's resource policy (PutResourcePolicy) counts with the identity policies:
        // either may allow, an explicit deny in either wins (for the account root as well).
        let (arn, resource_policy) = secret_facts(app, caller, id)?;
        let ctx = base_context(caller, action, &arn, env);
        let decision = trent_policy::evaluate(&ctx, &identity, resource_policy.as_deref(), caller.account());
        if let Some(m) = decision.message(&ctx) {
            return Err(denied(m));
        }
    }
    Ok(())
}

/// The per-secret check of BatchGetSecretValue, for the request being served: may `caller`
/// read this secret (`secretsmanager:GetSecretValue` on its ARN, identity policies and its
/// resource policy, an explicit Deny in either wins, for the account root too)? The caller's
/// identity policies are read once per request.
pub fn secret_reader<'a>(
    app: &'a App,
    env: &'a Env<'a>,
) -> impl Fn(&Caller, &trent_secrets::SecretAccess<'_>) -> Result<(), trent_secrets::SmError> + 'a {
    let identity: std::cell::OnceCell<Vec<Arc<Policy>>> = std::cell::OnceCell::new();
    move |caller: &Caller, access: &trent_secrets::SecretAccess<'_>| {
        let policies = match identity.get() {
            Some(p) => p,
            None => {
                let loaded = app.iam.identity_policies(&caller.principal).map_err(|e| {
                    trent_secrets::SmError::Internal(e.internal_detail().unwrap_or_else(|| e.message()))
                })?;
                identity.get_or_init(|| loaded)
            }
        };
        let resource_policy = access
            .resource_policy
            .map(|text| stored_resource_policy(text, "secret resource policy", access.secret_arn));
        let ctx = base_context(caller, access.action, access.secret_arn, env);
        match trent_policy::evaluate(&ctx, policies, resource_policy.as_deref(), caller.account()).message(&ctx) {
            None => Ok(()),
            Some(m) => Err(trent_secrets::SmError::Wire(WireError::AccessDenied(m))),
        }
    }
}

/// The ARN of the secret `id` names (looked up read-only); an id that names no secret is
/// evaluated as the ARN it would have.
fn secret_arn(app: &App, caller: &Caller, id: &str) -> String {
    if id.starts_with("arn:") {
        return id.to_string();
    }
    let body = serde_json::json!({ "SecretId": id }).to_string();
    app.secrets
        .dispatch(trent_secrets::Operation::DescribeSecret, caller, body.as_bytes())
        .ok()
        .and_then(|r| serde_json::from_slice::<Value>(&r).ok())
        .and_then(|v| v.get("ARN").and_then(|a| a.as_str()).map(str::to_string))
        .unwrap_or_else(|| {
            format!("arn:{}:secretsmanager:{}:{}:secret:{id}", caller.partition(), caller.region, caller.account())
        })
}

/// CloudTrail LookupEvents: `cloudtrail:LookupEvents` on `*`.
pub fn authorize_cloudtrail(app: &App, caller: &Caller, env: &Env<'_>) -> Result<(), BoxError> {
    identity_only(app, &base_context(caller, "cloudtrail:LookupEvents", "*", env), caller)
}

/// The check trent-kms runs when Parameter Store or Secrets Manager use a key for their caller:
/// `kms:Encrypt` / `kms:Decrypt` on the key with `kms:ViaService`, evaluated like a direct call
/// (key policy, identity policies, grants). AWS-managed keys (`alias/aws/ssm`, …) allow every
/// principal of their account through the service, as their AWS key policies do. A customer
/// key's policy binds the account root too (no bypass), and one that does not parse denies.
pub fn service_authorizer(iam: Arc<trent_iam::Iam>) -> Arc<trent_kms::authz::ServiceAuthorizer> {
    Arc::new(
        move |caller: &Caller,
              f: &trent_kms::authz::KeyFacts,
              ec: &std::collections::BTreeMap<String, String>,
              via: &trent_kms::authz::ViaContext| {
            let own = f.key_account == caller.account();
            if own && f.key_manager == "AWS" {
                return Ok(());
            }
            let env = Env { source_ip: &via.source_ip, secure_transport: via.secure_transport, now_secs: via.now_secs };
            let ctx = base_context(caller, &f.action, &f.key_arn, &env)
                .with("kms:ViaService", &via.service)
                .with("kms:CallerAccount", caller.account())
                .with("kms:KeySpec", &f.key_spec)
                .with("kms:KeyUsage", &f.key_usage)
                .with("kms:KeyOrigin", &f.key_origin)
                .with("kms:EncryptionAlgorithm", "SYMMETRIC_DEFAULT")
                .with_encryption_context(ec.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let identity = iam
                .identity_policies(&caller.principal)
                .map_err(|e| KmsError::Internal(e.internal_detail().unwrap_or_else(|| e.message())))?;
            let key_policy = stored_resource_policy(&f.policy, "key policy", &f.key_arn);
            let op = f.action.trim_start_matches("kms:");
            let arns: Vec<&str> =
                [Some(ctx.principal.arn.as_str()), ctx.principal.role_arn.as_deref()].into_iter().flatten().collect();
            let grant_allows = f.grants.iter().any(|g| g.allows(&arns, op, ec));
            match trent_policy::evaluate_kms(&ctx, &key_policy, &f.key_account, &identity, grant_allows).message(&ctx) {
                None => Ok(()),
                Some(m) => Err(KmsError::Wire(WireError::AccessDenied(m))),
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use trent_policy::{Decision, Principal};

    fn ctx(principal: &Principal, action: &str, resource: &str) -> RequestContext {
        RequestContext::new(RequestPrincipal::from_principal(principal, "aws"), action, resource)
    }

    const SECRET: &str = "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf";
    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn an_unreadable_stored_secret_policy_denies_everyone_including_the_root() {
        let p = stored_resource_policy("{not json", "secret resource policy", SECRET);
        let root = Principal::root("111122223333");
        let c = ctx(&root, "secretsmanager:GetSecretValue", SECRET);
        // Without a policy the root may read; with the unreadable one it may not.
        assert_eq!(trent_policy::evaluate::<Policy>(&c, &[], None, "111122223333"), Decision::Allow);
        let d = trent_policy::evaluate::<Policy>(&c, &[], Some(&p), "111122223333");
        assert!(matches!(d, Decision::ExplicitDeny { .. }), "{d:?}");
        assert!(d.message(&c).unwrap().ends_with("with an explicit deny in a resource-based policy"));
    }

    #[test]
    fn an_unreadable_key_policy_denies_the_root_and_outweighs_a_grant() {
        let p = stored_resource_policy(r#"{"Version":"2012-10-17","Statement":"nope"}"#, "key policy", KEY);
        let root = Principal::root("111122223333");
        let c = ctx(&root, "kms:Decrypt", KEY);
        let default = Policy::parse(&trent_policy::default_key_policy("aws", "111122223333"), PolicyKind::Resource)
            .expect("the default key policy parses");
        assert_eq!(trent_policy::evaluate_kms::<Policy>(&c, &default, "111122223333", &[], false), Decision::Allow);
        for grant in [false, true] {
            let d = trent_policy::evaluate_kms::<Policy>(&c, &p, "111122223333", &[], grant);
            assert!(matches!(d, Decision::ExplicitDeny { .. }), "grant {grant}: {d:?}");
        }
    }

    #[test]
    fn the_deny_all_policy_parses() {
        assert_eq!(unreadable_policy().statements.len(), 1);
    }
}
