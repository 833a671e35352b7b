use super::{bump_attachments, detach, role_name, Out};
use crate::model::{RoleRecord, T_ROLE};
use crate::{no_role, Caller, Iam};
use trent_wire::query::Params;

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let name = role_name(p)?;
    let arn = p.required("PolicyArn")?;
    let mut tx = iam.write()?;
    let mut r: RoleRecord = Iam::get_in(&mut *tx, T_ROLE, c.account(), name)?.ok_or_else(|| no_role(name))?;
    detach(&mut r.attached, arn)?;
    Iam::put_in(&mut *tx, T_ROLE, c.account(), name, &r)?;
    bump_attachments(&mut *tx, c, arn, -1)?;
    tx.commit()?;
    Ok(None)
}
