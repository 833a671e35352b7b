use super::decrypt::{recipient_unsupported, secret_b64};
use crate::{Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_crypto::SecretBytes;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub number_of_bytes: Option<i64>,
    pub custom_key_store_id: Option<String>,
    pub recipient: Option<serde_json::Value>,
}

/// No `Debug`: random bytes may become key material.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    #[serde(serialize_with = "secret_b64")]
    pub plaintext: SecretBytes,
}

pub fn handle(_kms: &Kms, _caller: &Caller, req: Request) -> Result<Response, KmsError> {
    Validator::new()
        .required("numberOfBytes", &req.number_of_bytes)
        .range("numberOfBytes", req.number_of_bytes, 1, 1024)
        .len("customKeyStoreId", req.custom_key_store_id.as_deref(), 1, 64)
        .finish()?;
    if req.custom_key_store_id.is_some() {
        return Err(KmsError::CustomKeyStoreNotFound);
    }
    recipient_unsupported(&req.recipient)?;
    let n = req.number_of_bytes.unwrap_or(0) as usize;
    Ok(Response { plaintext: trent_crypto::random_secret(n).map_err(KmsError::internal)? })
}
