use super::decrypt::DRY_RUN_MODIFIERS;
use crate::keys::{require_usable, require_usage};
use crate::model::ENCRYPT_DECRYPT;
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use trent_wire::json::Blob;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub ciphertext_blob: Option<Blob>,
    pub source_encryption_context: Option<BTreeMap<String, String>>,
    pub source_key_id: Option<String>,
    pub destination_key_id: Option<String>,
    pub destination_encryption_context: Option<BTreeMap<String, String>>,
    pub source_encryption_algorithm: Option<String>,
    pub destination_encryption_algorithm: Option<String>,
    pub grant_tokens: Option<Vec<String>>,
    pub dry_run: Option<bool>,
    pub dry_run_modifiers: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    #[serde(serialize_with = "trent_wire::json::b64")]
    pub ciphertext_blob: Vec<u8>,
    pub source_key_id: String,
    pub key_id: String,
    pub source_encryption_algorithm: &'static str,
    pub destination_encryption_algorithm: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_key_material_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_key_material_id: Option<String>,
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    v.required("ciphertextBlob", &req.ciphertext_blob).blob_len(
        "ciphertextBlob",
        req.ciphertext_blob.as_ref().map(|b| b.0.len()),
        1,
        6144,
    );
    checks::optional_key_id(&mut v, "sourceKeyId", &req.source_key_id);
    checks::key_id(&mut v, "destinationKeyId", &req.destination_key_id);
    checks::grant_tokens(&mut v, &req.grant_tokens);
    for m in req.dry_run_modifiers.iter().flatten() {
        v.one_of("dryRunModifiers.member", Some(m), DRY_RUN_MODIFIERS);
    }
    v.finish()?;
    let dest = kms.find(caller, req.destination_key_id.as_deref().unwrap_or_default(), true)?;
    require_usable(&dest)?;
    require_usage(&dest, ENCRYPT_DECRYPT)?;
    let ignore_ciphertext = req.dry_run_modifiers.iter().flatten().any(|m| m == "IGNORE_CIPHERTEXT");
    if req.dry_run == Some(true) && ignore_ciphertext {
        return Err(KmsError::DryRun);
    }
    let blob = req.ciphertext_blob.map(|b| b.0).unwrap_or_default();
    let src_ctx = checks::context(req.source_encryption_context);
    let (src, plaintext, source_key_material_id, source_encryption_algorithm) = kms.decrypt_any(
        caller,
        &blob,
        &src_ctx,
        req.source_key_id.as_deref(),
        req.source_encryption_algorithm.as_deref(),
    )?;
    let dest_ctx = checks::context(req.destination_encryption_context);
    let (ciphertext_blob, destination_encryption_algorithm) = kms.encrypt_any(
        &dest,
        &dest_ctx,
        req.destination_encryption_algorithm.as_deref(),
        plaintext.expose(),
        req.dry_run == Some(true),
    )?;
    Ok(Response {
        ciphertext_blob,
        source_key_id: src.arn(),
        key_id: dest.arn(),
        source_encryption_algorithm,
        destination_encryption_algorithm,
        source_key_material_id,
        destination_key_material_id: dest.spec().is_none().then(|| dest.current_material.clone()),
    })
}
