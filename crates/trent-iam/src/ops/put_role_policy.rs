use super::{policy_name, role_name, Out};
use crate::model::{check_identity_policy, RoleRecord, T_ROLE};
use crate::{no_role, Caller, Iam, IamError};
use trent_wire::query::Params;

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let name = role_name(p)?;
    let policy = policy_name(p)?;
    let doc = p.required("PolicyDocument")?;
    let max = trent_policy::ROLE_INLINE_POLICIES_MAX_CHARS;
    check_identity_policy(doc, None)?;
    let mut tx = iam.write()?;
    let mut r: RoleRecord = Iam::get_in(&mut *tx, T_ROLE, c.account(), name)?.ok_or_else(|| no_role(name))?;
    r.inline.insert(policy.to_string(), doc.to_string());
    let total: usize = r.inline.values().map(|d| trent_policy::iam_policy_size(d)).sum();
    if total > max {
        return Err(IamError::LimitExceeded(format!(
            "Maximum policy size of {max} bytes exceeded for role {}",
            r.name
        )));
    }
    Iam::put_in(&mut *tx, T_ROLE, c.account(), name, &r)?;
    tx.commit()?;
    Ok(None)
}
