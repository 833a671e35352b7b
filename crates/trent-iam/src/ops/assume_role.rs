use super::{secs, Out};
use crate::model::{self, RoleRecord, T_ROLE};
use crate::{Caller, Iam, IamError};
use trent_policy::{Policy, PolicyKind, Principal, PrincipalKind, RequestContext, RequestPrincipal};
use trent_wire::query::{Params, XmlWriter};

fn validation(value: &str, member: &str, what: &str) -> IamError {
    IamError::Validation(format!(
        "1 validation error detected: Value '{}' at '{member}' failed to satisfy constraint: {what}",
        crate::truncate(value)
    ))
}

/// `AssumeRole`: the role's trust policy must allow the caller `sts:AssumeRole` (and, when it
/// allows only through the caller's account, or the caller is in another account, the caller's
/// identity policies must too). Returns `ASIA…` credentials with a session token.
pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let role_arn = p.required("RoleArn")?;
    if role_arn.len() < 20 || role_arn.len() > 2048 {
        return Err(validation(role_arn, "roleArn", "Member must have length greater than or equal to 20"));
    }
    let session = p.required("RoleSessionName")?;
    model::check_name_len(session, "roleSessionName", 2, 64)?;
    let duration = match p.get("DurationSeconds") {
        None => 3600,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n < 900 => {
                return Err(validation(s, "durationSeconds", "Member must have value greater than or equal to 900"))
            }
            Ok(n) if n > 43200 => {
                return Err(validation(s, "durationSeconds", "Member must have value less than or equal to 43200"))
            }
            Ok(n) => n,
            Err(_) => return Err(validation(s, "durationSeconds", "Member must be a number")),
        },
    };
    if p.get("Policy").is_some() || p.names().any(|n| n.starts_with("PolicyArns.")) {
        return Err(IamError::Validation(
            "Session policies (Policy, PolicyArns) are not supported by this server.".into(),
        ));
    }
    let arn = trent_policy::Arn::parse(role_arn)
        .filter(|a| a.service == "iam" && a.resource.starts_with("role/"))
        .ok_or_else(|| IamError::Validation(format!("{} is invalid", crate::truncate(role_arn))))?;
    let role_name = arn.resource.rsplit('/').next().unwrap_or("").to_string();

    let rp = RequestPrincipal::from_principal(&c.principal, c.partition());
    let ctx = RequestContext::new(rp, "sts:AssumeRole", role_arn).with_time(iam.now_ms() / 1000);
    let denied = |ctx: &RequestContext| {
        IamError::AccessDenied(format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
            ctx.principal.arn, ctx.resource
        ))
    };
    let role: RoleRecord = match iam.read_record::<RoleRecord>(T_ROLE, &arn.account, &role_name)? {
        Some(r) if model::role_arn(&arn.partition, &arn.account, &r.path, &r.name) == role_arn => r,
        _ => return Err(denied(&ctx)),
    };
    let trust = Policy::parse(&role.trust_policy, PolicyKind::Trust).map_err(|_| denied(&ctx))?;
    let identity = iam.identity_policies(&c.principal)?;
    let d = trent_policy::evaluate_kms(&ctx, &trust, &arn.account, &identity, false);
    if let Some(m) = d.message(&ctx) {
        return Err(IamError::AccessDenied(m));
    }
    // Role chaining is limited to one hour, as on AWS.
    let max = if matches!(c.principal.kind, PrincipalKind::AssumedRole { .. }) { 3600 } else { role.max_session_secs };
    if duration > max {
        return Err(IamError::Validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.".into(),
        ));
    }
    let principal = Principal {
        account_id: arn.account.clone(),
        kind: PrincipalKind::AssumedRole {
            role_name: role.name.clone(),
            role_id: role.id.clone(),
            session_name: session.to_string(),
        },
    };
    let expires_ms = iam.now_ms() + duration * 1000;
    let assumed_arn = principal.arn(&arn.partition);
    let assumed_id = principal.user_id();
    let (id, secret, token) = iam.identity().issue_session(principal, expires_ms)?;
    let mut w = XmlWriter::new();
    w.node("Credentials", |w| {
        w.text("AccessKeyId", &id)
            .text("SecretAccessKey", &secret)
            .text("SessionToken", &token)
            .timestamp("Expiration", secs(expires_ms));
    });
    w.node("AssumedRoleUser", |w| {
        w.text("AssumedRoleId", &assumed_id).text("Arn", &assumed_arn);
    });
    w.number("PackedPolicySize", 0);
    Ok(Some(w))
}
