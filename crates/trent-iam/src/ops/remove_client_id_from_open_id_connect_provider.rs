use super::oidc_common::{self, check_client_id};
use super::Out;
use crate::{Caller, Iam};
use trent_wire::query::Params;

/// `RemoveClientIDFromOpenIDConnectProvider`: removing an id that is not there is not an
/// error (AWS documents the action as idempotent).
pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let client_id = p.required("ClientID")?;
    check_client_id(client_id)?;
    let (id, mut rec) = oidc_common::load_required(iam, c, p)?;
    let before = rec.client_ids.len();
    rec.client_ids.retain(|x| x != client_id);
    if rec.client_ids.len() != before {
        oidc_common::save(iam, c.account(), &id, &rec)?;
    }
    Ok(None)
}
