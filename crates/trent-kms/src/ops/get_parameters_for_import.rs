use crate::keys::{require_not_pending_deletion, T_IMPORT};
use crate::model::ms_to_epoch;
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_crypto::asym::{self, ImportWrap, Spec};
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub wrapping_algorithm: Option<String>,
    pub wrapping_key_spec: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub key_id: String,
    #[serde(serialize_with = "trent_wire::json::b64")]
    pub import_token: Vec<u8>,
    /// DER SubjectPublicKeyInfo of the wrapping key.
    #[serde(serialize_with = "trent_wire::json::b64")]
    pub public_key: Vec<u8>,
    pub parameters_valid_to: f64,
}

/// What an import token stands for (table `kms_import`, key: the token in hex).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ImportRecord {
    pub account: String,
    pub region: String,
    pub key_id: String,
    pub wrapping_algorithm: String,
    /// The wrapping key's private half, wrapped under the root key.
    pub wrapping_private: String,
    pub expires_ms: i64,
}

pub(crate) const IMPORT_WRAP_PURPOSE: &str = "kms-import-wrapping-key";
const VALID_MS: i64 = 24 * 3_600_000;

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    v.required("wrappingAlgorithm", &req.wrapping_algorithm)
        .one_of(
            "wrappingAlgorithm",
            req.wrapping_algorithm.as_deref(),
            &[
                "RSAES_PKCS1_V1_5",
                "RSAES_OAEP_SHA_1",
                "RSAES_OAEP_SHA_256",
                "RSA_AES_KEY_WRAP_SHA_1",
                "RSA_AES_KEY_WRAP_SHA_256",
                "SM2PKE",
            ],
        )
        .required("wrappingKeySpec", &req.wrapping_key_spec)
        .one_of("wrappingKeySpec", req.wrapping_key_spec.as_deref(), &["RSA_2048", "RSA_3072", "RSA_4096", "SM2"]);
    v.finish()?;
    let alg = req.wrapping_algorithm.unwrap_or_default();
    if ImportWrap::from_name(&alg).is_none() {
        return Err(KmsError::UnsupportedOperation(format!("The wrapping algorithm {alg} is not supported.")));
    }
    let spec = Spec::from_name(req.wrapping_key_spec.as_deref().unwrap_or_default())
        .ok_or_else(|| KmsError::UnsupportedOperation("SM2 wrapping keys are not supported.".into()))?;
    let rec = kms.find(caller, req.key_id.as_deref().unwrap_or_default(), false)?;
    if rec.origin != "EXTERNAL" {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} was not created for imported key material (its Origin is {}).",
            rec.arn(),
            rec.origin
        )));
    }
    require_not_pending_deletion(&rec)?;
    let wrapping = asym::generate(spec, false)?;
    let mut token = [0u8; 32];
    trent_crypto::fill_random(&mut token).map_err(KmsError::internal)?;
    let token_hex = hex::encode(token);
    let expires_ms = kms.clock.now_ms() + VALID_MS;
    let record = ImportRecord {
        account: rec.account_id.clone(),
        region: rec.region.clone(),
        key_id: rec.key_id.clone(),
        wrapping_algorithm: alg,
        wrapping_private: kms.wrap_secret(IMPORT_WRAP_PURPOSE, &token_hex, &wrapping.private)?,
        expires_ms,
    };
    let mut tx = kms.store().write()?;
    tx.put(T_IMPORT, &token_hex, &serde_json::to_vec(&record).map_err(KmsError::internal)?)?;
    tx.commit()?;
    Ok(Response {
        key_id: rec.arn(),
        import_token: token.to_vec(),
        public_key: wrapping.public_spki,
        parameters_valid_to: ms_to_epoch(expires_ms),
    })
}
