use super::{user_name, Out};
use crate::model::{UserRecord, T_USER};
use crate::{no_user, Caller, Iam, IamError};
use trent_policy::PrincipalKind;
use trent_wire::query::Params;

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let name = user_name(p)?;
    let u = iam.user(c.account(), name)?;
    let keys = iam.identity().records_where(|r| {
        r.principal.account_id == c.account()
            && matches!(&r.principal.kind, PrincipalKind::User { id, .. } if *id == u.id)
    })?;
    if !keys.is_empty() {
        return Err(IamError::DeleteConflict("Cannot delete entity, must delete access keys first.".into()));
    }
    if !u.inline.is_empty() {
        return Err(IamError::DeleteConflict("Cannot delete entity, must delete policies first.".into()));
    }
    if !u.attached.is_empty() {
        return Err(IamError::DeleteConflict("Cannot delete entity, must detach all policies first.".into()));
    }
    let mut tx = iam.write()?;
    if Iam::get_in::<UserRecord>(&mut *tx, T_USER, c.account(), name)?.is_none() {
        return Err(no_user(name));
    }
    tx.delete(T_USER, &crate::model::store_key(c.account(), name))?;
    tx.commit()?;
    Ok(None)
}
