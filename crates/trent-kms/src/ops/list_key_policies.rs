use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub policy_names: Vec<&'static str>,
    pub truncated: bool,
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    checks::limit(&mut v, req.limit, 1000);
    checks::marker(&mut v, &req.marker);
    v.finish()?;
    if req.marker.is_some() {
        return Err(KmsError::InvalidMarker);
    }
    kms.find(caller, req.key_id.as_deref().unwrap_or_default(), false)?;
    Ok(Response { policy_names: vec!["default"], truncated: false })
}
