use crate::keys::require_rotatable;
use crate::model::ms_to_epoch;
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub key_rotation_enabled: bool,
    pub key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_period_in_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_rotation_date: Option<f64>,
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    v.finish()?;
    let rec = kms.find(caller, req.key_id.as_deref().unwrap_or_default(), false)?;
    require_rotatable(&rec)?;
    Ok(Response {
        key_rotation_enabled: rec.rotation_period_days.is_some(),
        key_id: rec.arn(),
        rotation_period_in_days: rec.rotation_period_days,
        next_rotation_date: rec.next_rotation_ms.map(ms_to_epoch),
    })
}
