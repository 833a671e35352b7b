use super::oidc_common;
use super::Out;
use crate::model;
use crate::{Caller, Iam};
use trent_wire::query::Params;

/// `DeleteOpenIDConnectProvider`: roles trusting it keep their trust policies, but its tokens
/// are refused from now on.
pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let (id, _) = oidc_common::load_required(iam, c, p)?;
    let mut tx = iam.write()?;
    tx.delete(model::T_OIDC_PROVIDER, &model::oidc_store_key(c.account(), &id))?;
    tx.commit()?;
    Ok(None)
}
