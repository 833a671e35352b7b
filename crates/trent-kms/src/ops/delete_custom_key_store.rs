//! DeleteCustomKeyStore: only a DISCONNECTED store with no KMS keys (in any state) can go.

use crate::custom_key_stores::{invalid_state, store_key, DISCONNECTED, T_CKS};
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
    if rec.connection_state != DISCONNECTED {
        return Err(invalid_state(format!(
            "The custom key store {id} is {}: disconnect it before deleting it.",
            rec.connection_state
        )));
    }
    let n = kms.keys_in_store(caller.account(), &caller.region, &id)?;
    if n > 0 {
        return Err(KmsError::CustomKeyStore(
            "CustomKeyStoreHasCMKsException",
            format!("The custom key store {id} still has {n} KMS key(s): schedule their deletion and wait until they are deleted."),
        ));
    }
    let mut tx = kms.store().write()?;
    tx.delete(T_CKS, &store_key(caller.account(), &caller.region, &id))?;
    tx.commit()?;
    Ok(Response {})
}
