use super::decrypt::secret_b64;
use crate::keys::public_key_of;
use crate::model::ENCAPSULATE_DECAPSULATE;
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_crypto::{asym, SecretBytes};
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
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
    #[serde(serialize_with = "trent_wire::json::b64")]
    pub shared_secret_ciphertext_blob: Vec<u8>,
    pub encapsulation_algorithm: &'static str,
}

pub(crate) fn algorithm(v: &mut Validator, alg: &Option<String>) -> Result<(), KmsError> {
    v.required("encapsulationAlgorithm", alg).one_of("encapsulationAlgorithm", alg.as_deref(), &["ML_KEM"]);
    v.finish()?;
    Ok(())
}

/// ML-KEM encapsulation to the KMS key's own public key.
pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    checks::grant_tokens(&mut v, &req.grant_tokens);
    algorithm(&mut v, &req.encapsulation_algorithm)?;
    let (rec, spec) = kms.find_for(caller, req.key_id.as_deref().unwrap_or_default(), ENCAPSULATE_DECAPSULATE)?;
    if req.dry_run == Some(true) {
        return Err(KmsError::DryRun);
    }
    let (ciphertext, shared_secret) = asym::encapsulate(spec, &public_key_of(&rec)?)?;
    Ok(Response {
        key_id: rec.arn(),
        shared_secret,
        shared_secret_ciphertext_blob: ciphertext,
        encapsulation_algorithm: "ML_KEM",
    })
}
