//! DisconnectCustomKeyStore: closes the store's sessions; its keys become unusable until it is
//! connected again.

use crate::custom_key_stores::{invalid_state, DISCONNECTED};
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
    let mut rec = kms.load_store(caller.account(), &caller.region, &id)?;
    if rec.connection_state == DISCONNECTED {
        return Err(invalid_state(format!("The custom key store {id} is already disconnected.")));
    }
    kms.hsm.disconnect(&id);
    rec.connection_state = DISCONNECTED.into();
    rec.connection_error_code = None;
    kms.save_store(&rec)?;
    Ok(Response {})
}
