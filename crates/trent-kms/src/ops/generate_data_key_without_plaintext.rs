use super::generate_data_key::make_data_key;
use crate::{Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub encryption_context: Option<BTreeMap<String, String>>,
    pub key_spec: Option<String>,
    pub number_of_bytes: Option<i64>,
    pub grant_tokens: Option<Vec<String>>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    #[serde(serialize_with = "trent_wire::json::b64")]
    pub ciphertext_blob: Vec<u8>,
    pub key_id: String,
    pub key_material_id: String,
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let shared = super::generate_data_key::Request {
        key_id: req.key_id,
        encryption_context: req.encryption_context,
        number_of_bytes: req.number_of_bytes,
        key_spec: req.key_spec,
        grant_tokens: req.grant_tokens,
        recipient: None,
        dry_run: req.dry_run,
    };
    let (rec, _plaintext, ciphertext_blob) = make_data_key(kms, caller, shared)?;
    Ok(Response { ciphertext_blob, key_id: rec.arn(), key_material_id: rec.current_material })
}
