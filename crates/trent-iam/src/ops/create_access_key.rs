use super::{secs, Out};
use crate::credentials::AccessKeyRecord;
use crate::{Caller, Iam, IamError, Identity};
use trent_policy::{Principal, PrincipalKind};
use trent_wire::query::{Params, XmlWriter};

/// The principal an access-key action is about: the named user, else the caller itself (a
/// user, or the account root).
pub(crate) fn key_owner(iam: &Iam, c: &Caller, p: &Params) -> Result<(Principal, Option<String>), IamError> {
    match (p.get("UserName"), &c.principal.kind) {
        (Some(_), _) => {
            let u = iam.user(c.account(), super::user_name(p)?)?;
            let kind = PrincipalKind::User { name: u.name.clone(), path: u.path.clone(), id: u.id.clone() };
            Ok((Principal { account_id: c.account().to_string(), kind }, Some(u.name)))
        }
        (None, PrincipalKind::User { name, .. }) => {
            let u = iam.user(c.account(), name)?;
            let kind = PrincipalKind::User { name: u.name.clone(), path: u.path.clone(), id: u.id.clone() };
            Ok((Principal { account_id: c.account().to_string(), kind }, Some(u.name)))
        }
        (None, PrincipalKind::Root) => Ok((Principal::root(c.account()), None)),
        (None, PrincipalKind::AssumedRole { .. }) => {
            Err(IamError::Validation("Must specify userName when calling with non-User credentials".into()))
        }
    }
}

/// Whether a stored key belongs to `owner` (users are matched by their unique id).
pub(crate) fn owned_by(r: &AccessKeyRecord, owner: &Principal) -> bool {
    r.principal.account_id == owner.account_id
        && match (&r.principal.kind, &owner.kind) {
            (PrincipalKind::User { id: a, .. }, PrincipalKind::User { id: b, .. }) => a == b,
            (PrincipalKind::Root, PrincipalKind::Root) => true,
            _ => false,
        }
}

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let (owner, user_name) = key_owner(iam, c, p)?;
    let existing = iam.identity().records_where(|r| owned_by(r, &owner))?;
    if user_name.is_some() && existing.len() >= 2 {
        return Err(IamError::LimitExceeded("Cannot exceed quota for AccessKeysPerUser: 2".into()));
    }
    let (id, secret) = Identity::generate_key_pair().map_err(IamError::internal)?;
    let mut rec = AccessKeyRecord::new(&id, owner);
    rec.created_ms = iam.now_ms();
    iam.identity().put(&rec, &secret)?;
    let mut w = XmlWriter::new();
    w.node("AccessKey", |w| {
        w.opt_text("UserName", user_name.as_deref())
            .text("AccessKeyId", &id)
            .text("Status", "Active")
            .text("SecretAccessKey", &secret)
            .timestamp("CreateDate", secs(rec.created_ms));
    });
    Ok(Some(w))
}
