use super::decrypt::{recipient_unsupported, secret_b64};
use crate::model::KEY_AGREEMENT;
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_crypto::{asym, SecretBytes};
use trent_wire::json::Blob;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub key_agreement_algorithm: Option<String>,
    /// The peer's public key, DER SubjectPublicKeyInfo.
    pub public_key: Option<Blob>,
    pub grant_tokens: Option<Vec<String>>,
    pub dry_run: Option<bool>,
    pub recipient: Option<serde_json::Value>,
}

/// No `Debug`: it holds the shared secret.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub key_id: String,
    #[serde(serialize_with = "secret_b64")]
    pub shared_secret: SecretBytes,
    pub key_agreement_algorithm: &'static str,
    pub key_origin: String,
}

/// Returns the raw ECDH shared secret (no KDF applied), as AWS does.
pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    checks::grant_tokens(&mut v, &req.grant_tokens);
    v.required("keyAgreementAlgorithm", &req.key_agreement_algorithm)
        .one_of("keyAgreementAlgorithm", req.key_agreement_algorithm.as_deref(), &["ECDH"])
        .required("publicKey", &req.public_key)
        .blob_len("publicKey", req.public_key.as_ref().map(|p| p.0.len()), 1, 8192);
    v.finish()?;
    recipient_unsupported(&req.recipient)?;
    let (rec, spec) = kms.find_for(caller, req.key_id.as_deref().unwrap_or_default(), KEY_AGREEMENT)?;
    if req.dry_run == Some(true) {
        return Err(KmsError::DryRun);
    }
    let peer = req.public_key.map(|p| p.0).unwrap_or_default();
    let shared_secret = asym::ecdh(spec, &kms.private_key(&rec)?, &peer)?;
    Ok(Response { key_id: rec.arn(), shared_secret, key_agreement_algorithm: "ECDH", key_origin: rec.origin.clone() })
}
