use super::{policy_name, user_name, Out};
use crate::model::{check_identity_policy, UserRecord, T_USER};
use crate::{no_user, Caller, Iam, IamError};
use trent_wire::query::Params;

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let name = user_name(p)?;
    let policy = policy_name(p)?;
    let doc = p.required("PolicyDocument")?;
    let max = trent_policy::USER_INLINE_POLICIES_MAX_CHARS;
    check_identity_policy(doc, None)?;
    let mut tx = iam.write()?;
    let mut r: UserRecord = Iam::get_in(&mut *tx, T_USER, c.account(), name)?.ok_or_else(|| no_user(name))?;
    r.inline.insert(policy.to_string(), doc.to_string());
    let total: usize = r.inline.values().map(|d| trent_policy::iam_policy_size(d)).sum();
    if total > max {
        return Err(IamError::LimitExceeded(format!(
            "Maximum policy size of {max} bytes exceeded for user {}",
            r.name
        )));
    }
    Iam::put_in(&mut *tx, T_USER, c.account(), name, &r)?;
    tx.commit()?;
    Ok(None)
}
