use super::generate_mac::mac_key;
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_crypto::asym;
use trent_wire::json::{Blob, SecretBlob};
use trent_wire::validate::Validator;

/// No `Debug`: the message may be secret.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub message: Option<SecretBlob>,
    pub key_id: Option<String>,
    pub mac_algorithm: Option<String>,
    pub mac: Option<Blob>,
    pub grant_tokens: Option<Vec<String>>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub key_id: String,
    pub mac_valid: bool,
    pub mac_algorithm: &'static str,
}

/// A MAC that does not verify is an error (KMSInvalidMacException), as on AWS.
pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::grant_tokens(&mut v, &req.grant_tokens);
    v.required("mac", &req.mac).blob_len("mac", req.mac.as_ref().map(|m| m.0.len()), 1, 6144);
    let len = req.message.as_ref().map(|m| m.0.len());
    let (rec, spec, alg) = mac_key(kms, caller, &mut v, &req.key_id, len, req.mac_algorithm.as_deref())?;
    if req.dry_run == Some(true) {
        return Err(KmsError::DryRun);
    }
    let message = req.message.map(|m| m.0).unwrap_or_default();
    let tag = req.mac.map(|m| m.0).unwrap_or_default();
    if !asym::mac_verify(spec, &kms.private_key(&rec)?, &message, &tag)? {
        return Err(KmsError::InvalidMac);
    }
    Ok(Response { key_id: rec.arn(), mac_valid: true, mac_algorithm: alg })
}
