use super::{policy_name, user_name, Out};
use crate::model::{UserRecord, T_USER};
use crate::{no_user, Caller, Iam, IamError};
use trent_wire::query::Params;

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let name = user_name(p)?;
    let policy = policy_name(p)?;
    let mut tx = iam.write()?;
    let mut r: UserRecord = Iam::get_in(&mut *tx, T_USER, c.account(), name)?.ok_or_else(|| no_user(name))?;
    if r.inline.remove(policy).is_none() {
        return Err(IamError::NoSuchEntity(format!("The user policy with name {policy} cannot be found.")));
    }
    Iam::put_in(&mut *tx, T_USER, c.account(), name, &r)?;
    tx.commit()?;
    Ok(None)
}
