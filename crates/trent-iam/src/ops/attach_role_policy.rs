use super::{attach, bump_attachments, role_name, Out};
use crate::model::{RoleRecord, T_ROLE};
use crate::{no_role, Caller, Iam};
use trent_wire::query::Params;

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let name = role_name(p)?;
    let arn = p.required("PolicyArn")?;
    iam.policy_by_arn(c, arn)?;
    let mut tx = iam.write()?;
    let mut r: RoleRecord = Iam::get_in(&mut *tx, T_ROLE, c.account(), name)?.ok_or_else(|| no_role(name))?;
    if attach(&mut r.attached, arn, "PoliciesPerRole")? {
        Iam::put_in(&mut *tx, T_ROLE, c.account(), name, &r)?;
        bump_attachments(&mut *tx, c, arn, 1)?;
        tx.commit()?;
    }
    Ok(None)
}
