use crate::keys::require_usable;
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use trent_wire::json::SecretBlob;
use trent_wire::validate::Validator;

/// No `Debug`: it holds plaintext.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub plaintext: Option<SecretBlob>,
    pub encryption_context: Option<BTreeMap<String, String>>,
    pub grant_tokens: Option<Vec<String>>,
    pub encryption_algorithm: Option<String>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    #[serde(serialize_with = "trent_wire::json::b64")]
    pub ciphertext_blob: Vec<u8>,
    pub key_id: String,
    pub encryption_algorithm: &'static str,
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    v.required("plaintext", &req.plaintext).blob_len("plaintext", req.plaintext.as_ref().map(|p| p.0.len()), 1, 4096);
    checks::grant_tokens(&mut v, &req.grant_tokens);
    v.finish()?;
    let rec = kms.find(caller, req.key_id.as_deref().unwrap_or_default(), true)?;
    require_usable(&rec)?;
    let ctx = checks::context(req.encryption_context);
    let plaintext = req.plaintext.map(|p| p.0).unwrap_or_default();
    let dry_run = req.dry_run == Some(true);
    let (ciphertext_blob, encryption_algorithm) =
        kms.encrypt_any(&rec, &ctx, req.encryption_algorithm.as_deref(), &plaintext, dry_run)?;
    Ok(Response { ciphertext_blob, key_id: rec.arn(), encryption_algorithm })
}
