use crate::rotation::reindex;
use crate::secrets::secret_id_constraint;
use crate::{SecretsManager, SmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub secret_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    #[serde(rename = "ARN")]
    pub arn: String,
    pub name: String,
    /// The version an unfinished rotation created (still labelled AWSPENDING), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

/// Turns automatic rotation off (the function and rules are kept, so RotateSecret without
/// them turns it back on). Labels are left as they are: an unfinished rotation's AWSPENDING
/// version is named in the answer, for the caller to clean up as AWS advises.
pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<Response, SmError> {
    let mut v = Validator::new();
    secret_id_constraint(&mut v, &req.secret_id);
    v.finish()?;
    let mut tx = sm.store.write()?;
    let mut rec = sm.find(&mut *tx, caller, req.secret_id.as_deref().unwrap_or_default())?;
    crate::replication::require_primary(&rec)?;
    if rec.deleted_ms.is_some() {
        return Err(SmError::deleted());
    }
    rec.rotation.enabled = false;
    reindex(&mut *tx, caller, &mut rec, None)?;
    rec.changed_ms = sm.clock.now_ms();
    let replicated = sm.sync_in_tx(&mut *tx, caller, &mut rec)?;
    sm.save(&mut *tx, caller, &rec)?;
    tx.commit()?;
    if !replicated {
        sm.sync_replicas(caller, &rec.name);
    }
    let version_id = rec.pending_rotation().map(str::to_string);
    Ok(Response { arn: rec.arn, name: rec.name, version_id })
}
