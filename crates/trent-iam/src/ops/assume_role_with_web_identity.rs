use super::{secs, Out};
use crate::model::{self, RoleRecord, T_ROLE};
use crate::oidc::{Token, TokenError};
use crate::{Iam, IamError};
use trent_policy::{Policy, PolicyKind, Principal, PrincipalKind, RequestContext, RequestPrincipal};
use trent_wire::query::{Params, XmlWriter};

/// Clock skew allowed on `exp`, `nbf` and `iat` (seconds).
const LEEWAY_SECS: i64 = 60;

fn validation(value: &str, member: &str, what: &str) -> IamError {
    IamError::Validation(format!(
        "1 validation error detected: Value '{}' at '{member}' failed to satisfy constraint: {what}",
        crate::truncate(value)
    ))
}

fn invalid(m: impl Into<String>) -> IamError {
    IamError::InvalidIdentityToken(m.into())
}

fn iso(secs: i64) -> String {
    trent_wire::query::iso8601(secs)
}

/// `AssumeRoleWithWebIdentity` (no signature: the token is the credential). The token's
/// `iss` names an OpenID Connect provider of the role's account; its signature must verify
/// with a key of the issuer's key set (RS256 or ES256, through aws-lc-rs); one of its
/// audiences must be a client id of the provider; `exp`, `nbf` and `iat` hold (60 s
/// leeway). Then the role's trust policy must allow `sts:AssumeRoleWithWebIdentity` to
/// `{"Federated": "<provider ARN>"}` with the condition keys `<provider id>:sub`, `:aud`
/// and `:amr`.
pub fn run(iam: &Iam, p: &Params) -> Out {
    let role_arn = p.required("RoleArn")?;
    if role_arn.len() < 20 || role_arn.len() > 2048 {
        return Err(validation(role_arn, "roleArn", "Member must have length greater than or equal to 20"));
    }
    let session = p.required("RoleSessionName")?;
    model::check_name_len(session, "roleSessionName", 2, 64)?;
    let token_text = p.required("WebIdentityToken")?;
    if token_text.len() < 4 {
        return Err(validation("***", "webIdentityToken", "Member must have length greater than or equal to 4"));
    }
    if token_text.len() > 20_000 {
        return Err(validation("***", "webIdentityToken", "Member must have length less than or equal to 20000"));
    }
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
    if p.get("ProviderId").is_some() {
        return Err(IamError::Validation(
            "ProviderId is only for OAuth 2.0 providers (Login with Amazon, Facebook); OpenID Connect tokens name their issuer."
                .into(),
        ));
    }
    if p.get("Policy").is_some() || p.names().any(|n| n.starts_with("PolicyArns.")) {
        return Err(IamError::Validation(
            "Session policies (Policy, PolicyArns) are not supported by this server.".into(),
        ));
    }
    let arn = trent_policy::Arn::parse(role_arn)
        .filter(|a| a.service == "iam" && a.resource.starts_with("role/"))
        .ok_or_else(|| IamError::Validation(format!("{} is invalid", crate::truncate(role_arn))))?;
    let account = arn.account.clone();

    // The token: well-formed, from a provider of the role's account, signed by its issuer.
    let token = Token::parse(token_text).map_err(|e| invalid(e.to_string()))?;
    let iss = token.claim_str("iss").ok_or_else(|| invalid("The ID token has no iss claim."))?;
    let issuer = iss.trim_end_matches('/');
    let provider_id = model::provider_id(issuer).ok_or_else(|| {
        invalid(format!("No OpenIDConnect provider found in your account for {}", crate::truncate(iss)))
    })?;
    let provider =
        super::oidc_common::load(iam, &account, provider_id)?.filter(|r| r.url == issuer).ok_or_else(|| {
            invalid(format!("No OpenIDConnect provider found in your account for {}", crate::truncate(iss)))
        })?;
    let keys = iam
        .oidc_keys()
        .ok_or_else(|| IamError::IdpCommunicationError("This server cannot fetch OpenID Connect key sets.".into()))?;
    let fetch = |refresh: bool| {
        keys.jwks(&provider.url, refresh).map_err(|e| {
            tracing::warn!(issuer = %provider.url, error = %e, "fetching an OpenID Connect key set failed");
            IamError::IdpCommunicationError(format!(
                "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements ({})",
                crate::truncate(&e)
            ))
        })
    };
    let mut jwks = fetch(false)?;
    if !token.has_candidate_key(&jwks) {
        // A key the cached set does not have yet: the issuer may have rotated its keys.
        jwks = fetch(true)?;
    }
    match token.verify(&jwks) {
        Ok(()) => {}
        Err(TokenError::UnknownKey) => return Err(invalid(TokenError::UnknownKey.to_string())),
        Err(e) => return Err(invalid(e.to_string())),
    }

    // The claims.
    let now = iam.now_ms().div_euclid(1000);
    let exp = token.claim_time("exp").ok_or_else(|| invalid("The ID token has no exp claim."))?;
    if now > exp + LEEWAY_SECS {
        return Err(IamError::ExpiredToken(format!(
            "Token expired: current date/time {} must be before the expiration date/time {}",
            iso(now),
            iso(exp)
        )));
    }
    if let Some(nbf) = token.claim_time("nbf") {
        if now + LEEWAY_SECS < nbf {
            return Err(invalid(format!("The ID token is not valid before {}.", iso(nbf))));
        }
    }
    if let Some(iat) = token.claim_time("iat") {
        if now + LEEWAY_SECS < iat {
            return Err(invalid(format!("The ID token was issued in the future ({}).", iso(iat))));
        }
    }
    let auds = token.claim_strings("aud");
    // OpenID Connect: with an authorized party, that is the client the token is for.
    let audience = match token.claim_str("azp") {
        Some(azp) if provider.client_ids.iter().any(|c| c == azp) => Some(azp.to_string()),
        _ => auds.iter().find(|a| provider.client_ids.contains(a)).cloned(),
    };
    let audience = audience.ok_or_else(|| invalid("Incorrect token audience"))?;
    let subject = token
        .claim_str("sub")
        .filter(|s| !s.is_empty() && s.chars().count() <= 255)
        .ok_or_else(|| IamError::IdpRejectedClaim("The ID token's sub claim is missing or not valid.".into()))?
        .to_string();
    let amr = token.claim_strings("amr");

    // The role's trust policy, for the provider's web identity.
    let provider_arn = model::oidc_provider_arn(&arn.partition, &account, provider_id);
    let denied = || IamError::AccessDenied("Not authorized to perform sts:AssumeRoleWithWebIdentity".into());
    let role_name = arn.resource.rsplit('/').next().unwrap_or("").to_string();
    let role: RoleRecord = match iam.read_record::<RoleRecord>(T_ROLE, &account, &role_name)? {
        Some(r) if model::role_arn(&arn.partition, &account, &r.path, &r.name) == role_arn => r,
        _ => return Err(denied()),
    };
    let trust = Policy::parse(&role.trust_policy, PolicyKind::Trust).map_err(|_| denied())?;
    let rp = RequestPrincipal::web_identity(&provider_arn, &account, &subject);
    let mut ctx = RequestContext::new(rp, "sts:AssumeRoleWithWebIdentity", role_arn)
        .with_time(now)
        .with(&format!("{provider_id}:sub"), &subject)
        .with(&format!("{provider_id}:aud"), &audience);
    if !amr.is_empty() {
        ctx = ctx.with_values(&format!("{provider_id}:amr"), amr);
    }
    if !trent_policy::evaluate::<Policy>(&ctx, &[], Some(&trust), &account).is_allowed() {
        return Err(denied());
    }
    if duration > role.max_session_secs {
        return Err(IamError::Validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.".into(),
        ));
    }

    let principal = Principal {
        account_id: account.clone(),
        kind: PrincipalKind::AssumedRole {
            role_name: role.name.clone(),
            role_id: role.id.clone(),
            session_name: session.to_string(),
        },
    };
    let expires_ms = iam.now_ms() + duration * 1000;
    let assumed_arn = principal.arn(&arn.partition);
    let assumed_id = principal.user_id();
    let (id, secret, session_token) = iam.identity().issue_session(principal, expires_ms)?;
    tracing::info!(role = %role_arn, provider = %provider_arn, subject = %crate::truncate(&subject), "web identity assumed a role");
    let mut w = XmlWriter::new();
    w.node("Credentials", |w| {
        w.text("AccessKeyId", &id)
            .text("SecretAccessKey", &secret)
            .text("SessionToken", &session_token)
            .timestamp("Expiration", secs(expires_ms));
    });
    w.text("SubjectFromWebIdentityToken", &subject);
    w.node("AssumedRoleUser", |w| {
        w.text("AssumedRoleId", &assumed_id).text("Arn", &assumed_arn);
    });
    w.number("PackedPolicySize", 0);
    w.text("Provider", &provider_arn);
    w.text("Audience", &audience);
    Ok(Some(w))
}

/// The STS table's entry: a signed request is served the same way (the signature is not
/// needed, and the caller plays no part).
pub fn handle(iam: &Iam, _c: &crate::Caller, p: &Params) -> Out {
    run(iam, p)
}
