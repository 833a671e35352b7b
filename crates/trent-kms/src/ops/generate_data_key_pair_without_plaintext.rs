use super::generate_data_key_pair::make_pair;
use crate::{Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub encryption_context: Option<BTreeMap<String, String>>,
    pub key_id: Option<String>,
    pub key_pair_spec: Option<String>,
    pub grant_tokens: Option<Vec<String>>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    #[serde(serialize_with = "trent_wire::json::b64")]
    pub private_key_ciphertext_blob: Vec<u8>,
    #[serde(serialize_with = "trent_wire::json::b64")]
    pub public_key: Vec<u8>,
    pub key_id: String,
    pub key_pair_spec: String,
    pub key_material_id: String,
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let shared = super::generate_data_key_pair::Request {
        encryption_context: req.encryption_context,
        key_id: req.key_id,
        key_pair_spec: req.key_pair_spec,
        grant_tokens: req.grant_tokens,
        recipient: None,
        dry_run: req.dry_run,
    };
    let p = make_pair(kms, caller, shared)?;
    Ok(Response {
        private_key_ciphertext_blob: p.blob,
        public_key: p.public,
        key_id: p.rec.arn(),
        key_pair_spec: p.spec.name().to_string(),
        key_material_id: p.rec.current_material.clone(),
    })
}
