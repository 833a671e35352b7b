use super::{policy_name, role_name, Out};
use crate::model::{RoleRecord, T_ROLE};
use crate::{no_role, Caller, Iam, IamError};
use trent_wire::query::Params;

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let name = role_name(p)?;
    let policy = policy_name(p)?;
    let mut tx = iam.write()?;
    let mut r: RoleRecord = Iam::get_in(&mut *tx, T_ROLE, c.account(), name)?.ok_or_else(|| no_role(name))?;
    if r.inline.remove(policy).is_none() {
        return Err(IamError::NoSuchEntity(format!("The role policy with name {policy} cannot be found.")));
    }
    Iam::put_in(&mut *tx, T_ROLE, c.account(), name, &r)?;
    tx.commit()?;
    Ok(None)
}
