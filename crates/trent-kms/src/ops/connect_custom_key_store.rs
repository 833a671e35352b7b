//! ConnectCustomKeyStore: logs in to the store's token with its password. The operation
//! succeeds either way, as on AWS; a failure shows as ConnectionState FAILED with its
//! ConnectionErrorCode (INVALID_CREDENTIALS, CLUSTER_NOT_FOUND, INTERNAL_ERROR). A FAILED store
//! must be disconnected first.

use crate::custom_key_stores::{invalid_state, CONNECTED, FAILED};
use crate::{Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub custom_key_store_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Response {}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    v.required("customKeyStoreId", &req.custom_key_store_id).len(
        "customKeyStoreId",
        req.custom_key_store_id.as_deref(),
        1,
        64,
    );
    v.finish()?;
    let id = req.custom_key_store_id.unwrap_or_default();
    let rec = kms.load_store(caller.account(), &caller.region, &id)?;
    if rec.connection_state == FAILED {
        return Err(invalid_state(format!(
            "The custom key store {id} is FAILED ({}): disconnect it, fix the cause, then connect it.",
            rec.connection_error_code.as_deref().unwrap_or("INTERNAL_ERROR")
        )));
    }
    if rec.connection_state == CONNECTED && kms.hsm.is_connected(&id) {
        return Ok(Response {});
    }
    kms.connect_store(rec)?;
    Ok(Response {})
}
