use super::{secs, Out};
use crate::{Caller, Iam, IamError};
use trent_policy::PrincipalKind;
use trent_wire::query::{Params, XmlWriter};

fn validation(value: &str, member: &str, what: &str) -> IamError {
    IamError::Validation(format!(
        "1 validation error detected: Value '{}' at '{member}' failed to satisfy constraint: {what}",
        crate::truncate(value)
    ))
}

/// `GetSessionToken`: temporary credentials (`ASIA…` with a session token) for the calling
/// user or account root itself, with the same permissions. 900–129,600 seconds (default
/// 43,200; at most 3,600 for the account root); a role session may not call it. Trent has no
/// MFA devices, so a request naming one (`SerialNumber`, `TokenCode`) is refused.
pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    if matches!(c.principal.kind, PrincipalKind::AssumedRole { .. }) {
        return Err(IamError::AccessDenied("Cannot call GetSessionToken with session credentials".into()));
    }
    let is_root = c.principal.kind == PrincipalKind::Root;
    let duration = match p.get("DurationSeconds") {
        None if is_root => 3600,
        None => 43_200,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n < 900 => {
                return Err(validation(s, "durationSeconds", "Member must have value greater than or equal to 900"))
            }
            Ok(n) if n > 129_600 => {
                return Err(validation(s, "durationSeconds", "Member must have value less than or equal to 129600"))
            }
            Ok(n) if is_root => n.min(3600),
            Ok(n) => n,
            Err(_) => return Err(validation(s, "durationSeconds", "Member must be a number")),
        },
    };
    if let Some(code) = p.get("TokenCode") {
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(validation(code, "tokenCode", "Member must have length less than or equal to 6"));
        }
    }
    if p.get("SerialNumber").is_some() || p.get("TokenCode").is_some() {
        return Err(IamError::AccessDenied("MultiFactorAuthentication failed, unable to validate MFA code.".into()));
    }
    let expires_ms = iam.now_ms() + duration * 1000;
    let (id, secret, token) = iam.identity().issue_session(c.principal.clone(), expires_ms)?;
    let mut w = XmlWriter::new();
    w.node("Credentials", |w| {
        w.text("AccessKeyId", &id)
            .text("SecretAccessKey", &secret)
            .text("SessionToken", &token)
            .timestamp("Expiration", secs(expires_ms));
    });
    Ok(Some(w))
}
