use super::{role_name, Out};
use crate::model::{check_trust_policy, RoleRecord, T_ROLE};
use crate::{no_role, Caller, Iam};
use trent_wire::query::Params;

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let name = role_name(p)?;
    let doc = p.required("PolicyDocument")?;
    check_trust_policy(doc)?;
    let mut tx = iam.write()?;
    let mut r: RoleRecord = Iam::get_in(&mut *tx, T_ROLE, c.account(), name)?.ok_or_else(|| no_role(name))?;
    r.trust_policy = doc.to_string();
    Iam::put_in(&mut *tx, T_ROLE, c.account(), name, &r)?;
    tx.commit()?;
    Ok(None)
}
