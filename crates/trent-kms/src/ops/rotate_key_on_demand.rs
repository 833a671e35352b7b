use crate::keys::{require_rotatable, require_usable};
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
    pub key_id: String,
}

/// AWS allows 25 on-demand rotations per key.
pub const MAX_ON_DEMAND_ROTATIONS: u32 = 25;

/// Rotates now; the automatic schedule, if any, is unchanged. Rotation here is immediate, so
/// there is never one in progress to conflict with.
pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    v.finish()?;
    let now = kms.clock.now_ms();
    let rec = kms.update(caller, req.key_id.as_deref().unwrap_or_default(), |rec, tx| {
        require_usable(rec)?;
        require_rotatable(rec)?;
        kms.require_not_replica(tx, rec)?;
        if rec.on_demand_rotations >= MAX_ON_DEMAND_ROTATIONS {
            return Err(KmsError::LimitExceeded(format!(
                "{} has reached the limit of {MAX_ON_DEMAND_ROTATIONS} on-demand rotations.",
                rec.arn()
            )));
        }
        rec.on_demand_rotations += 1;
        kms.rotate(rec, "ON_DEMAND", now)?;
        kms.sync_replicas(tx, rec)
    })?;
    Ok(Response { key_id: rec.key_id })
}
