//! Policy evaluation as AWS documents it ("Policy evaluation logic"), as pure functions.
//!
//! 1. An explicit `Deny` in any applicable policy wins.
//! 2. Otherwise the request is allowed if the applicable policies allow it:
//!    * [`evaluate`] (IAM, SSM, Secrets Manager): in the resource's own account, an identity
//!      policy **or** a resource policy that names the principal itself; across accounts, the
//!      resource policy (naming the principal or its account) **and** an identity policy of the
//!      caller's account;
//!    * [`evaluate_kms`]: the key policy must allow. If it names the principal (or `"*"`) in the
//!      key's account, that is enough; if it names the caller's account (`arn:aws:iam::ACCOUNT:root`
//!      or the account id), the caller's identity policies must allow too; across accounts both are
//!      always needed. A grant allows on its own, but never against an explicit deny.
//! 3. Otherwise the request is implicitly denied.
//!
//! The account root user has every identity permission in its account (it has no identity
//! policies), so a resource policy naming its account is enough for it.

use crate::context::{PrincipalType, RequestContext, RequestPrincipal};
use crate::document::{Effect, Element, Policy, PrincipalEntry, Statement};
use crate::vars;
use crate::wildcard::{match_arn_toks, wildcard_match_ignore_case};
use std::borrow::Borrow;

/// Which kind of policy a decision is about (for AWS's message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyType {
    Identity,
    Resource,
}

impl PolicyType {
    fn phrase(self) -> &'static str {
        match self {
            PolicyType::Identity => "identity-based",
            PolicyType::Resource => "resource-based",
        }
    }
}

/// The three outcomes of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

/// The decision and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A `Deny` statement applied; `sid` is its `Sid`, if it has one.
    ExplicitDeny {
        policy_type: PolicyType,
        sid: Option<String>,
    },
    /// No policy of type `missing` allowed the request.
    ImplicitDeny {
        missing: PolicyType,
    },
}

impl Decision {
    pub fn outcome(&self) -> Outcome {
        match self {
            Decision::Allow => Outcome::Allow,
            Decision::ExplicitDeny { .. } => Outcome::ExplicitDeny,
            Decision::ImplicitDeny { .. } => Outcome::ImplicitDeny,
        }
    }

    pub fn is_allowed(&self) -> bool {
        *self == Decision::Allow
    }

    /// The tail of AWS's message: `with an explicit deny in a resource-based policy` or
    /// `because no identity-based policy allows the kms:Decrypt action`; `None` for Allow.
    pub fn reason(&self, action: &str) -> Option<String> {
        match self {
            Decision::Allow => None,
            Decision::ExplicitDeny { policy_type, .. } => {
                let article = if *policy_type == PolicyType::Identity { "an" } else { "a" };
                Some(format!("with an explicit deny in {article} {} policy", policy_type.phrase()))
            }
            Decision::ImplicitDeny { missing } => {
                Some(format!("because no {} policy allows the {action} action", missing.phrase()))
            }
        }
    }

    /// AWS's AccessDenied message: `User: <arn> is not authorized to perform: <action> on
    /// resource: <arn> because no identity-based policy allows the <action> action`; `None` for
    /// Allow.
    pub fn message(&self, ctx: &RequestContext) -> Option<String> {
        self.reason(&ctx.action).map(|why| {
            format!(
                "User: {} is not authorized to perform: {} on resource: {} {why}",
                ctx.principal.arn, ctx.action, ctx.resource
            )
        })
    }
}

/// How a resource-policy statement names the caller. `Account` < `Direct`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Via {
    /// The caller's account (delegates to the account's identity policies).
    Account,
    /// The caller itself, its role, a service principal, or everyone (`"*"`).
    Direct,
}

fn principal_via(entries: &[PrincipalEntry], p: &RequestPrincipal) -> Option<Via> {
    entries
        .iter()
        .filter_map(|e| match e {
            PrincipalEntry::Anyone => Some(Via::Direct),
            PrincipalEntry::Account(a) if p.kind != PrincipalType::Service && *a == p.account => {
                Some(if p.kind == PrincipalType::Root { Via::Direct } else { Via::Account })
            }
            PrincipalEntry::Arn(s) if *s == p.arn || p.role_arn.as_deref() == Some(s.as_str()) => Some(Via::Direct),
            PrincipalEntry::Service(s) if p.service.as_deref() == Some(s.as_str()) => Some(Via::Direct),
            PrincipalEntry::Federated(f) if p.kind == PrincipalType::WebIdentity && *f == p.arn => Some(Via::Direct),
            _ => None,
        })
        .max()
}

/// `NotPrincipal`: the statement applies unless every identity of the caller (its ARN, its
/// role's ARN, its account) is listed — AWS evaluates each of them, which is why its examples
/// list the session, the role and the account together.
fn not_principal_applies(entries: &[PrincipalEntry], p: &RequestPrincipal) -> bool {
    let root = p.account_root_arn();
    let mut identities: Vec<(&str, bool)> = vec![(p.arn.as_str(), p.kind == PrincipalType::Root)];
    if let Some(r) = &p.role_arn {
        identities.push((r.as_str(), false));
    }
    if p.kind != PrincipalType::Service && p.kind != PrincipalType::Root {
        identities.push((root.as_str(), true));
    }
    let covered = |id: &str, is_account: bool| {
        entries.iter().any(|e| match e {
            PrincipalEntry::Anyone => true,
            PrincipalEntry::Account(a) => is_account && *a == p.account,
            PrincipalEntry::Arn(s) => s == id,
            PrincipalEntry::Service(s) => p.kind == PrincipalType::Service && s == id,
            PrincipalEntry::Federated(f) => p.kind == PrincipalType::WebIdentity && f == id,
            PrincipalEntry::Other(_) => false,
        })
    };
    identities.iter().any(|(id, is_account)| !covered(id, *is_account))
}

fn action_matches(e: &Element<String>, action: &str) -> bool {
    e.values.iter().any(|a| wildcard_match_ignore_case(a, action)) != e.negated
}

fn resource_matches(e: &Option<Element<String>>, ctx: &RequestContext, vars_on: bool) -> bool {
    let Some(e) = e else { return true };
    let any = e.values.iter().any(|r| {
        r == "*" || vars::resolve(r, &ctx.keys, vars_on).is_some_and(|toks| match_arn_toks(&toks, &ctx.resource))
    });
    any != e.negated
}

/// Whether `s` applies to the request; for a resource policy, how it names the caller.
fn statement_applies(s: &Statement, ctx: &RequestContext, vars_on: bool, resource_policy: bool) -> Option<Via> {
    let via = if resource_policy {
        let p = s.principal.as_ref()?;
        if p.negated {
            not_principal_applies(&p.values, &ctx.principal).then_some(Via::Direct)?
        } else {
            principal_via(&p.values, &ctx.principal)?
        }
    } else {
        Via::Direct
    };
    (action_matches(&s.action, &ctx.action)
        && resource_matches(&s.resource, ctx, vars_on)
        && s.conditions.iter().all(|c| c.evaluate(&ctx.keys, vars_on)))
    .then_some(via)
}

/// What one policy says about the request.
#[derive(Default)]
struct Scan {
    /// `Some(sid)` if a Deny statement applied.
    deny: Option<Option<String>>,
    /// The best way an Allow statement named the caller.
    allow: Option<Via>,
}

fn scan(policy: &Policy, ctx: &RequestContext, resource_policy: bool) -> Scan {
    let vars_on = policy.variables_enabled();
    let mut out = Scan::default();
    for s in &policy.statements {
        if let Some(via) = statement_applies(s, ctx, vars_on, resource_policy) {
            match s.effect {
                Effect::Deny => {
                    if out.deny.is_none() {
                        out.deny = Some(s.sid.clone());
                    }
                }
                Effect::Allow => out.allow = out.allow.max(Some(via)),
            }
        }
    }
    out
}

/// Scans every identity policy: the first explicit deny, and whether any allows.
fn scan_identity<P: Borrow<Policy>>(policies: &[P], ctx: &RequestContext) -> (Option<Option<String>>, bool) {
    let mut allow = ctx.principal.kind == PrincipalType::Root;
    for p in policies {
        let s = scan(p.borrow(), ctx, false);
        if s.deny.is_some() {
            return (s.deny, allow);
        }
        allow |= s.allow.is_some();
    }
    (None, allow)
}

fn same_account(p: &RequestPrincipal, resource_account: &str) -> bool {
    p.kind == PrincipalType::Service || p.account == resource_account
}

/// Evaluation with identity policies only, for resources without a resource policy (SSM
/// parameters) and account-level actions (`kms:CreateKey`, `kms:ListKeys`): the resource is
/// taken to be in the caller's account.
pub fn evaluate_identity<P: Borrow<Policy>>(ctx: &RequestContext, identity_policies: &[P]) -> Decision {
    evaluate(ctx, identity_policies, None, &ctx.principal.account)
}

/// General evaluation: the caller's identity policies and, optionally, the resource's policy
/// (a role's trust policy for AssumeRole, a secret's resource policy, …). `resource_account`
/// is the account that owns the resource; a resource in another account with no resource
/// policy allowing the caller is denied (`because no resource-based policy allows …`).
pub fn evaluate<P: Borrow<Policy>>(
    ctx: &RequestContext,
    identity_policies: &[P],
    resource_policy: Option<&Policy>,
    resource_account: &str,
) -> Decision {
    let (identity_deny, identity_allows) = scan_identity(identity_policies, ctx);
    if let Some(sid) = identity_deny {
        return Decision::ExplicitDeny { policy_type: PolicyType::Identity, sid };
    }
    let res = resource_policy.map(|p| scan(p, ctx, true)).unwrap_or_default();
    if let Some(sid) = res.deny {
        return Decision::ExplicitDeny { policy_type: PolicyType::Resource, sid };
    }
    if same_account(&ctx.principal, resource_account) {
        if identity_allows || res.allow == Some(Via::Direct) {
            Decision::Allow
        } else {
            Decision::ImplicitDeny { missing: PolicyType::Identity }
        }
    } else {
        match res.allow {
            None => Decision::ImplicitDeny { missing: PolicyType::Resource },
            Some(_) if identity_allows => Decision::Allow,
            Some(_) => Decision::ImplicitDeny { missing: PolicyType::Identity },
        }
    }
}

/// KMS evaluation: the key policy (of the key in `key_account`), the caller's identity
/// policies, and whether a grant allows this operation (the caller checks the grant's
/// operations and constraints).
pub fn evaluate_kms<P: Borrow<Policy>>(
    ctx: &RequestContext,
    key_policy: &Policy,
    key_account: &str,
    identity_policies: &[P],
    grant_allows: bool,
) -> Decision {
    let key = scan(key_policy, ctx, true);
    if let Some(sid) = key.deny {
        return Decision::ExplicitDeny { policy_type: PolicyType::Resource, sid };
    }
    let (identity_deny, identity_allows) = scan_identity(identity_policies, ctx);
    if let Some(sid) = identity_deny {
        return Decision::ExplicitDeny { policy_type: PolicyType::Identity, sid };
    }
    if grant_allows {
        return Decision::Allow;
    }
    match key.allow {
        None => Decision::ImplicitDeny { missing: PolicyType::Resource },
        Some(Via::Direct) if same_account(&ctx.principal, key_account) => Decision::Allow,
        Some(_) if identity_allows => Decision::Allow,
        Some(_) => Decision::ImplicitDeny { missing: PolicyType::Identity },
    }
}

/// KMS's message when PutKeyPolicy (or CreateKey) fails the policy lockout safety check.
pub const LOCKOUT_MESSAGE: &str = "The new key policy will not allow you to update the key policy in the future.";

/// The PutKeyPolicy / CreateKey lockout safety check: does `new_policy` allow the calling
/// principal — itself or through its account — to call `kms:PutKeyPolicy` later? `ctx` is the
/// current request's context (its action is replaced by `kms:PutKeyPolicy`).
pub fn allows_put_key_policy(new_policy: &Policy, ctx: &RequestContext) -> bool {
    let mut ctx = ctx.clone();
    ctx.action = "kms:PutKeyPolicy".to_string();
    let s = scan(new_policy, &ctx, true);
    s.deny.is_none() && s.allow.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{default_key_policy, PolicyKind};

    fn user(arn: &str) -> RequestPrincipal {
        RequestPrincipal::from_arn(arn, "AIDAEXAMPLE").unwrap()
    }

    fn key_arn() -> &'static str {
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    }

    #[test]
    fn trust_policy_federated_principal_matches_only_its_web_identity_and_conditions() {
        let provider = "arn:aws:iam::111122223333:oidc-provider/issuer.example.com/id/1";
        let role = "arn:aws:iam::111122223333:role/ci";
        let trust = Policy::parse(
            &format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{provider}"}},
                "Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"issuer.example.com/id/1:aud":"sts.amazonaws.com"}},
                "StringLike":{{"issuer.example.com/id/1:sub":"system:serviceaccount:prod:*"}}}}}}]}}"#
            ),
            PolicyKind::Trust,
        )
        .unwrap();
        let ctx = |p: RequestPrincipal, sub: &str| {
            RequestContext::new(p, "sts:AssumeRoleWithWebIdentity", role)
                .with("issuer.example.com/id/1:aud", "sts.amazonaws.com")
                .with("issuer.example.com/id/1:sub", sub)
        };
        let web = RequestPrincipal::web_identity(provider, "111122223333", "system:serviceaccount:prod:app");
        assert!(evaluate::<Policy>(
            &ctx(web.clone(), "system:serviceaccount:prod:app"),
            &[],
            Some(&trust),
            "111122223333"
        )
        .is_allowed());
        // The subject condition fails.
        assert!(!evaluate::<Policy>(&ctx(web, "system:serviceaccount:dev:app"), &[], Some(&trust), "111122223333")
            .is_allowed());
        // Another provider's identity is not the Federated principal.
        let other = RequestPrincipal::web_identity(
            "arn:aws:iam::111122223333:oidc-provider/evil.example.com",
            "111122223333",
            "system:serviceaccount:prod:app",
        );
        assert!(!evaluate::<Policy>(&ctx(other, "system:serviceaccount:prod:app"), &[], Some(&trust), "111122223333")
            .is_allowed());
        // A user of the account whose ARN happened to equal the string is not a web identity.
        let u = user("arn:aws:iam::111122223333:user/bob");
        assert!(!evaluate::<Policy>(&ctx(u, "system:serviceaccount:prod:app"), &[], Some(&trust), "111122223333")
            .is_allowed());
    }

    #[test]
    fn messages_follow_aws_phrasing() {
        let ctx = RequestContext::new(user("arn:aws:iam::111122223333:user/bob"), "kms:Decrypt", key_arn());
        let m = Decision::ImplicitDeny { missing: PolicyType::Identity }.message(&ctx).unwrap();
        assert_eq!(
            m,
            format!(
                "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Decrypt on resource: {} because no identity-based policy allows the kms:Decrypt action",
                key_arn()
            )
        );
        let m = Decision::ExplicitDeny { policy_type: PolicyType::Resource, sid: None }.message(&ctx).unwrap();
        assert!(m.ends_with("on resource: arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab with an explicit deny in a resource-based policy"));
        let m = Decision::ImplicitDeny { missing: PolicyType::Resource }.message(&ctx).unwrap();
        assert!(m.ends_with("because no resource-based policy allows the kms:Decrypt action"));
        assert!(Decision::Allow.message(&ctx).is_none());
    }

    #[test]
    fn identity_only_evaluation_uses_the_callers_account() {
        let ctx = RequestContext::new(user("arn:aws:iam::111122223333:user/bob"), "kms:CreateKey", "*");
        let allow = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:CreateKey","Resource":"*"}}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        assert_eq!(evaluate_identity(&ctx, std::slice::from_ref(&allow)), Decision::Allow);
        assert_eq!(evaluate_identity::<Policy>(&ctx, &[]), Decision::ImplicitDeny { missing: PolicyType::Identity });
        // The same allow for a resource in another account without a resource policy is denied.
        assert_eq!(
            evaluate(&ctx, &[allow], None, "444455556666"),
            Decision::ImplicitDeny { missing: PolicyType::Resource }
        );
    }

    #[test]
    fn explicit_deny_reports_its_sid() {
        let ctx = RequestContext::new(user("arn:aws:iam::111122223333:user/bob"), "kms:Decrypt", key_arn());
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},
                {"Sid":"NoDecrypt","Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        let d = evaluate_identity(&ctx, &[p]);
        assert_eq!(d, Decision::ExplicitDeny { policy_type: PolicyType::Identity, sid: Some("NoDecrypt".into()) });
        assert!(d.message(&ctx).unwrap().ends_with("with an explicit deny in an identity-based policy"));
    }

    #[test]
    fn lockout_check_passes_for_default_policy_and_fails_without_the_caller() {
        let ctx = RequestContext::new(user("arn:aws:iam::111122223333:user/bob"), "kms:CreateKey", "*");
        let dflt = Policy::parse(&default_key_policy("aws", "111122223333"), PolicyKind::Resource).unwrap();
        assert!(allows_put_key_policy(&dflt, &ctx));
        let other = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:*","Resource":"*"}}"#,
            PolicyKind::Resource,
        )
        .unwrap();
        assert!(!allows_put_key_policy(&other, &ctx));
        let denied = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"},
                {"Effect":"Deny","Principal":"*","Action":"kms:PutKeyPolicy","Resource":"*"}]}"#,
            PolicyKind::Resource,
        )
        .unwrap();
        assert!(!allows_put_key_policy(&denied, &ctx));
    }
}
