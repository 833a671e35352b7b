use crate::keys::{public_key_of, require_usable};
use crate::model::Algorithms;
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_wire::generated::kms::CustomerMasterKeySpec;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub grant_tokens: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub key_id: String,
    /// DER SubjectPublicKeyInfo.
    #[serde(serialize_with = "trent_wire::json::b64")]
    pub public_key: Vec<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_master_key_spec: Option<String>,
    pub key_spec: String,
    pub key_usage: String,
    #[serde(flatten)]
    pub algorithms: Algorithms,
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    checks::grant_tokens(&mut v, &req.grant_tokens);
    v.finish()?;
    let rec = kms.find(caller, req.key_id.as_deref().unwrap_or_default(), true)?;
    require_usable(&rec)?;
    let public_key = public_key_of(&rec)?;
    Ok(Response {
        key_id: rec.arn(),
        public_key,
        customer_master_key_spec: CustomerMasterKeySpec::from_wire(&rec.key_spec).map(|_| rec.key_spec.clone()),
        key_spec: rec.key_spec.clone(),
        key_usage: rec.key_usage.clone(),
        algorithms: Algorithms::of(&rec),
    })
}
