use super::Out;
use crate::model::{store_key, T_POLICY};
use crate::{Caller, Iam, IamError};
use trent_wire::query::Params;

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let m = iam.policy_by_arn(c, p.required("PolicyArn")?)?;
    if m.attachment_count > 0 {
        return Err(IamError::DeleteConflict("Cannot delete a policy attached to entities.".into()));
    }
    let mut tx = iam.write()?;
    tx.delete(T_POLICY, &store_key(c.account(), &m.name))?;
    tx.commit()?;
    Ok(None)
}
