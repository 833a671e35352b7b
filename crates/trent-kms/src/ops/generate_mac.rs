use crate::model::GENERATE_VERIFY_MAC;
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_crypto::asym::{self, Spec};
use trent_wire::json::SecretBlob;
use trent_wire::validate::Validator;

/// No `Debug`: the message may be secret.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub message: Option<SecretBlob>,
    pub key_id: Option<String>,
    pub mac_algorithm: Option<String>,
    pub grant_tokens: Option<Vec<String>>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    #[serde(serialize_with = "trent_wire::json::b64")]
    pub mac: Vec<u8>,
    pub mac_algorithm: &'static str,
    pub key_id: String,
}

/// Shared by GenerateMac and VerifyMac: validates and finds the HMAC key for the algorithm.
pub(crate) fn mac_key(
    kms: &Kms,
    caller: &Caller,
    v: &mut Validator,
    key_id: &Option<String>,
    message_len: Option<usize>,
    mac_algorithm: Option<&str>,
) -> Result<(crate::model::KeyRecord, Spec, &'static str), KmsError> {
    checks::key_id(v, "keyId", key_id);
    v.required("message", &message_len)
        .blob_len("message", message_len, 1, 4096)
        .required("macAlgorithm", &mac_algorithm);
    v.finish()?;
    let (rec, spec) = kms.find_for(caller, key_id.as_deref().unwrap_or_default(), GENERATE_VERIFY_MAC)?;
    let alg = spec.mac_algorithm().ok_or_else(|| KmsError::internal("HMAC key without a MAC algorithm"))?;
    if Some(alg) != mac_algorithm {
        return Err(KmsError::InvalidKeyUsage(format!(
            "{} is a {} key: it supports only the MAC algorithm {alg}.",
            rec.arn(),
            spec.name()
        )));
    }
    Ok((rec, spec, alg))
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::grant_tokens(&mut v, &req.grant_tokens);
    let len = req.message.as_ref().map(|m| m.0.len());
    let (rec, spec, alg) = mac_key(kms, caller, &mut v, &req.key_id, len, req.mac_algorithm.as_deref())?;
    if req.dry_run == Some(true) {
        return Err(KmsError::DryRun);
    }
    let message = req.message.map(|m| m.0).unwrap_or_default();
    let mac = asym::mac(spec, &kms.private_key(&rec)?, &message)?;
    Ok(Response { mac, mac_algorithm: alg, key_id: rec.arn() })
}
