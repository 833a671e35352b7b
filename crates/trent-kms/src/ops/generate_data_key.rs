use super::decrypt::{recipient_unsupported, secret_b64};
use crate::keys::{require_symmetric, require_usable};
use crate::model::KeyRecord;
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use trent_crypto::SecretBytes;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub encryption_context: Option<BTreeMap<String, String>>,
    pub number_of_bytes: Option<i64>,
    pub key_spec: Option<String>,
    pub grant_tokens: Option<Vec<String>>,
    pub recipient: Option<serde_json::Value>,
    pub dry_run: Option<bool>,
}

/// No `Debug`: it holds plaintext.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    #[serde(serialize_with = "trent_wire::json::b64")]
    pub ciphertext_blob: Vec<u8>,
    #[serde(serialize_with = "secret_b64")]
    pub plaintext: SecretBytes,
    pub key_id: String,
    pub key_material_id: String,
}

/// Shared by GenerateDataKey and GenerateDataKeyWithoutPlaintext: validates, makes a random
/// data key of the requested size and encrypts it under the KMS key.
pub(crate) fn make_data_key(
    kms: &Kms,
    caller: &Caller,
    req: Request,
) -> Result<(KeyRecord, SecretBytes, Vec<u8>), KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    // KeySpec is checked against the model's enum before the handler runs (trent_wire::model).
    v.range("numberOfBytes", req.number_of_bytes, 1, 1024);
    checks::grant_tokens(&mut v, &req.grant_tokens);
    v.finish()?;
    recipient_unsupported(&req.recipient)?;
    let n = match (req.number_of_bytes, req.key_spec.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(KmsError::validation("Please specify either number of bytes or key spec, not both."))
        }
        (None, None) => return Err(KmsError::validation("Please specify either number of bytes or key spec.")),
        (Some(n), None) => n as usize,
        (None, Some("AES_128")) => 16,
        (None, Some(_)) => 32,
    };
    let rec = kms.find(caller, req.key_id.as_deref().unwrap_or_default(), true)?;
    require_usable(&rec)?;
    require_symmetric(&rec)?;
    if req.dry_run == Some(true) {
        return Err(KmsError::DryRun);
    }
    let plaintext = trent_crypto::random_secret(n).map_err(KmsError::internal)?;
    let blob = kms.seal(&rec, &checks::context(req.encryption_context), plaintext.expose())?;
    Ok((rec, plaintext, blob))
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let (rec, plaintext, ciphertext_blob) = make_data_key(kms, caller, req)?;
    Ok(Response { ciphertext_blob, plaintext, key_id: rec.arn(), key_material_id: rec.current_material })
}
