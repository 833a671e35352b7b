use super::sign::prepare;
use crate::keys::public_key_of;
use crate::{Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_crypto::asym;
use trent_wire::json::{Blob, SecretBlob};
use trent_wire::validate::Validator;

/// No `Debug`: the message may be secret.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub message: Option<SecretBlob>,
    pub message_type: Option<String>,
    pub signature: Option<Blob>,
    pub signing_algorithm: Option<String>,
    pub grant_tokens: Option<Vec<String>>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub key_id: String,
    pub signature_valid: bool,
    pub signing_algorithm: &'static str,
}

/// A signature that does not verify is an error (KMSInvalidSignatureException), as on AWS.
pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    v.required("signature", &req.signature).blob_len("signature", req.signature.as_ref().map(|s| s.0.len()), 1, 6144);
    let (rec, spec, alg, mt) = prepare(
        kms,
        caller,
        v,
        &req.key_id,
        req.message.as_ref().map(|m| m.0.len()),
        req.message_type.as_deref(),
        req.signing_algorithm.as_deref(),
        &req.grant_tokens,
        req.dry_run,
    )?;
    let message = req.message.map(|m| m.0).unwrap_or_default();
    let signature = req.signature.map(|s| s.0).unwrap_or_default();
    if !asym::verify(spec, &public_key_of(&rec)?, alg, mt, &message, &signature)? {
        return Err(KmsError::InvalidSignature);
    }
    Ok(Response { key_id: rec.arn(), signature_valid: true, signing_algorithm: alg.name() })
}
