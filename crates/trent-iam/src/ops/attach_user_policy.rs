use super::{attach, bump_attachments, user_name, Out};
use crate::model::{UserRecord, T_USER};
use crate::{no_user, Caller, Iam};
use trent_wire::query::Params;

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let name = user_name(p)?;
    let arn = p.required("PolicyArn")?;
    iam.policy_by_arn(c, arn)?;
    let mut tx = iam.write()?;
    let mut r: UserRecord = Iam::get_in(&mut *tx, T_USER, c.account(), name)?.ok_or_else(|| no_user(name))?;
    if attach(&mut r.attached, arn, "PoliciesPerUser")? {
        Iam::put_in(&mut *tx, T_USER, c.account(), name, &r)?;
        bump_attachments(&mut *tx, c, arn, 1)?;
        tx.commit()?;
    }
    Ok(None)
}
