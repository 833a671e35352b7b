use crate::model::{KeyRecord, SIGN_VERIFY};
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_crypto::asym::{self, MessageType, SigningAlg, Spec};
use trent_wire::json::SecretBlob;
use trent_wire::validate::Validator;

/// No `Debug`: the message may be secret.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub message: Option<SecretBlob>,
    pub message_type: Option<String>,
    pub grant_tokens: Option<Vec<String>>,
    pub signing_algorithm: Option<String>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub key_id: String,
    #[serde(serialize_with = "trent_wire::json::b64")]
    pub signature: Vec<u8>,
    pub signing_algorithm: &'static str,
}

/// What Sign and Verify share: the members (`v` may already hold the caller's own checks), the
/// key (Enabled, SIGN_VERIFY), the algorithm and message type it allows, and DryRun.
#[allow(clippy::too_many_arguments)]
pub(crate) fn prepare(
    kms: &Kms,
    caller: &Caller,
    mut v: Validator,
    key_id: &Option<String>,
    message_len: Option<usize>,
    message_type: Option<&str>,
    signing_algorithm: Option<&str>,
    grant_tokens: &Option<Vec<String>>,
    dry_run: Option<bool>,
) -> Result<(KeyRecord, Spec, SigningAlg, MessageType), KmsError> {
    checks::key_id(&mut v, "keyId", key_id);
    v.required("message", &message_len)
        .blob_len("message", message_len, 1, 4096)
        .required("signingAlgorithm", &signing_algorithm);
    checks::grant_tokens(&mut v, grant_tokens);
    v.finish()?;
    let (rec, spec) = kms.find_for(caller, key_id.as_deref().unwrap_or_default(), SIGN_VERIFY)?;
    let (alg, mt) = resolve_signing(spec, message_type, signing_algorithm)?;
    if dry_run == Some(true) {
        return Err(KmsError::DryRun);
    }
    Ok((rec, spec, alg, mt))
}

fn resolve_signing(
    spec: Spec,
    message_type: Option<&str>,
    signing_algorithm: Option<&str>,
) -> Result<(SigningAlg, MessageType), KmsError> {
    let name = signing_algorithm.unwrap_or_default();
    let alg = SigningAlg::from_name(name).filter(|a| spec.signing_algorithms().contains(a)).ok_or_else(|| {
        KmsError::InvalidKeyUsage(format!("{} keys do not support the signing algorithm {name}.", spec.name()))
    })?;
    let mt =
        match message_type.unwrap_or("RAW") {
            "RAW" => MessageType::Raw,
            "DIGEST" => MessageType::Digest,
            _ if alg == SigningAlg::MlDsaShake256 => return Err(KmsError::UnsupportedOperation(
                "MessageType EXTERNAL_MU is not supported: aws-lc does not expose ML-DSA signing of an external mu."
                    .into(),
            )),
            _ => return Err(KmsError::validation("MessageType EXTERNAL_MU is only valid with ML_DSA_SHAKE_256.")),
        };
    Ok((alg, mt))
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let (rec, spec, alg, mt) = prepare(
        kms,
        caller,
        Validator::new(),
        &req.key_id,
        req.message.as_ref().map(|m| m.0.len()),
        req.message_type.as_deref(),
        req.signing_algorithm.as_deref(),
        &req.grant_tokens,
        req.dry_run,
    )?;
    let message = req.message.map(|m| m.0).unwrap_or_default();
    let private = kms.private_key(&rec)?;
    let signature = asym::sign(spec, &private, alg, mt, &message)?;
    Ok(Response { key_id: rec.arn(), signature, signing_algorithm: alg.name() })
}
