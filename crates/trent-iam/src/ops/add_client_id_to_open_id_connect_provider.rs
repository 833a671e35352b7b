use super::oidc_common::{self, check_client_id};
use super::Out;
use crate::{Caller, Iam, IamError};
use trent_wire::query::Params;

/// `AddClientIDToOpenIDConnectProvider`: adding an id already there changes nothing.
pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let client_id = p.required("ClientID")?;
    check_client_id(client_id)?;
    let (id, mut rec) = oidc_common::load_required(iam, c, p)?;
    if !rec.client_ids.iter().any(|x| x == client_id) {
        if rec.client_ids.len() >= oidc_common::MAX_CLIENT_IDS {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {}",
                oidc_common::MAX_CLIENT_IDS
            )));
        }
        rec.client_ids.push(client_id.to_string());
        oidc_common::save(iam, c.account(), &id, &rec)?;
    }
    Ok(None)
}
