use super::{bump_attachments, detach, user_name, Out};
use crate::model::{UserRecord, T_USER};
use crate::{no_user, Caller, Iam};
use trent_wire::query::Params;

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let name = user_name(p)?;
    let arn = p.required("PolicyArn")?;
    let mut tx = iam.write()?;
    let mut r: UserRecord = Iam::get_in(&mut *tx, T_USER, c.account(), name)?.ok_or_else(|| no_user(name))?;
    detach(&mut r.attached, arn)?;
    Iam::put_in(&mut *tx, T_USER, c.account(), name, &r)?;
    bump_attachments(&mut *tx, c, arn, -1)?;
    tx.commit()?;
    Ok(None)
}
