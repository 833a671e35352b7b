use super::decrypt::secret_b64;
use super::encapsulate::algorithm;
use crate::model::ENCAPSULATE_DECAPSULATE;
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_crypto::{asym, SecretBytes};
use trent_wire::json::Blob;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub shared_secret_ciphertext_blob: Option<Blob>,
    pub encapsulation_algorithm: Option<String>,
    pub grant_tokens: Option<Vec<String>>,
    pub dry_run: Option<bool>,
}

/// No `Debug`: it holds the shared secret.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub key_id: String,
    #[serde(serialize_with = "secret_b64")]
    pub shared_secret: SecretBytes,
    pub encapsulation_algorithm: &'static str,
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    checks::grant_tokens(&mut v, &req.grant_tokens);
    v.required("sharedSecretCiphertextBlob", &req.shared_secret_ciphertext_blob).blob_len(
        "sharedSecretCiphertextBlob",
        req.shared_secret_ciphertext_blob.as_ref().map(|b| b.0.len()),
        1,
        6144,
    );
    algorithm(&mut v, &req.encapsulation_algorithm)?;
    let (rec, spec) = kms.find_for(caller, req.key_id.as_deref().unwrap_or_default(), ENCAPSULATE_DECAPSULATE)?;
    if req.dry_run == Some(true) {
        return Err(KmsError::DryRun);
    }
    let ct = req.shared_secret_ciphertext_blob.map(|b| b.0).unwrap_or_default();
    let shared_secret =
        asym::decapsulate(spec, &kms.private_key(&rec)?, &ct).map_err(|_| KmsError::InvalidCiphertext)?;
    Ok(Response { key_id: rec.arn(), shared_secret, encapsulation_algorithm: "ML_KEM" })
}
