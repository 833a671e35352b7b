use super::{role_name, Out};
use crate::model::{RoleRecord, T_ROLE};
use crate::{no_role, Caller, Iam, IamError};
use trent_wire::query::Params;

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let name = role_name(p)?;
    let mut tx = iam.write()?;
    let r: RoleRecord = Iam::get_in(&mut *tx, T_ROLE, c.account(), name)?.ok_or_else(|| no_role(name))?;
    if !r.inline.is_empty() {
        return Err(IamError::DeleteConflict("Cannot delete entity, must delete policies first.".into()));
    }
    if !r.attached.is_empty() {
        return Err(IamError::DeleteConflict("Cannot delete entity, must detach all policies first.".into()));
    }
    tx.delete(T_ROLE, &crate::model::store_key(c.account(), name))?;
    tx.commit()?;
    Ok(None)
}
