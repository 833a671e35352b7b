use crate::keys::require_usable;
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use trent_crypto::SecretBytes;
use trent_wire::json::Blob;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub ciphertext_blob: Option<Blob>,
    pub encryption_context: Option<BTreeMap<String, String>>,
    pub grant_tokens: Option<Vec<String>>,
    pub key_id: Option<String>,
    pub encryption_algorithm: Option<String>,
    pub recipient: Option<serde_json::Value>,
    pub dry_run: Option<bool>,
    pub dry_run_modifiers: Option<Vec<String>>,
}

/// No `Debug`: it holds plaintext.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub key_id: String,
    #[serde(serialize_with = "secret_b64")]
    pub plaintext: SecretBytes,
    pub encryption_algorithm: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_material_id: Option<String>,
}

pub(crate) fn secret_b64<S: serde::Serializer>(v: &SecretBytes, s: S) -> Result<S::Ok, S::Error> {
    trent_wire::json::b64(v.expose(), s)
}

pub(crate) const DRY_RUN_MODIFIERS: &[&str] = &["IGNORE_CIPHERTEXT"];

pub(crate) fn recipient_unsupported(r: &Option<serde_json::Value>) -> Result<(), KmsError> {
    if r.is_some() {
        return Err(KmsError::UnsupportedOperation(
            "Recipient (Nitro Enclaves attestation) is not supported by this server.".into(),
        ));
    }
    Ok(())
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    v.required("ciphertextBlob", &req.ciphertext_blob).blob_len(
        "ciphertextBlob",
        req.ciphertext_blob.as_ref().map(|b| b.0.len()),
        1,
        6144,
    );
    checks::optional_key_id(&mut v, "keyId", &req.key_id);
    checks::grant_tokens(&mut v, &req.grant_tokens);
    for m in req.dry_run_modifiers.iter().flatten() {
        v.one_of("dryRunModifiers.member", Some(m), DRY_RUN_MODIFIERS);
    }
    v.finish()?;
    recipient_unsupported(&req.recipient)?;
    let ignore_ciphertext = req.dry_run_modifiers.iter().flatten().any(|m| m == "IGNORE_CIPHERTEXT");
    if req.dry_run == Some(true) && ignore_ciphertext {
        let id = req.key_id.as_deref().ok_or_else(|| {
            KmsError::validation("KeyId is required when DryRunModifiers contains IGNORE_CIPHERTEXT.")
        })?;
        let rec = kms.find(caller, id, true)?;
        require_usable(&rec)?;
        crate::keys::require_usage(&rec, crate::model::ENCRYPT_DECRYPT)?;
        return Err(KmsError::DryRun);
    }
    let blob = req.ciphertext_blob.map(|b| b.0).unwrap_or_default();
    let ctx = checks::context(req.encryption_context);
    let (rec, plaintext, key_material_id, encryption_algorithm) =
        kms.decrypt_any(caller, &blob, &ctx, req.key_id.as_deref(), req.encryption_algorithm.as_deref())?;
    if req.dry_run == Some(true) {
        return Err(KmsError::DryRun);
    }
    Ok(Response { key_id: rec.arn(), plaintext, encryption_algorithm, key_material_id })
}
