use super::ArnName;
use crate::model::AWSCURRENT;
use crate::secrets::{move_stage, secret_id_constraint};
use crate::{SecretsManager, SmError};
use serde::Deserialize;
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub secret_id: Option<String>,
    pub version_stage: Option<String>,
    pub remove_from_version_id: Option<String>,
    pub move_to_version_id: Option<String>,
}

/// Moves a staging label. Taking it from a version requires naming that version; moving
/// AWSCURRENT labels the version that had it AWSPREVIOUS.
pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<ArnName, SmError> {
    let mut v = Validator::new();
    secret_id_constraint(&mut v, &req.secret_id);
    v.required("versionStage", &req.version_stage)
        .len("versionStage", req.version_stage.as_deref(), 1, 256)
        .len("removeFromVersionId", req.remove_from_version_id.as_deref(), 32, 64)
        .len("moveToVersionId", req.move_to_version_id.as_deref(), 32, 64);
    v.finish()?;
    let stage = req.version_stage.unwrap_or_default();
    let mut tx = sm.store.write()?;
    let mut rec = sm.find(&mut *tx, caller, req.secret_id.as_deref().unwrap_or_default())?;
    crate::replication::require_primary(&rec)?;
    if rec.deleted_ms.is_some() {
        return Err(SmError::deleted());
    }
    for id in [&req.remove_from_version_id, &req.move_to_version_id].into_iter().flatten() {
        if !rec.versions.contains_key(id) {
            return Err(SmError::InvalidParameter(format!("The version {id} does not exist in this secret.")));
        }
    }
    let holder = rec.version_with_stage(&stage).map(str::to_string);
    match (&req.move_to_version_id, &req.remove_from_version_id) {
        (Some(to), from) => {
            if let Some(h) = holder.as_ref().filter(|h| *h != to && Some(*h) != from.as_ref()) {
                return Err(SmError::InvalidParameter(match from {
                    None => format!(
                        "The parameter RemoveFromVersionId can't be empty. Staging label {stage} is currently \
                         attached to version {h}, so you must explicitly reference that version in RemoveFromVersionId."
                    ),
                    Some(from) => format!(
                        "The staging label {stage} is currently attached to version {h}, not to {from}: name \
                         that version in RemoveFromVersionId."
                    ),
                }));
            }
            move_stage(&mut rec, &stage, to);
        }
        (None, Some(from)) => {
            if holder.as_deref() != Some(from.as_str()) {
                return Err(SmError::InvalidParameter(format!("The staging label {stage} is not on version {from}.")));
            }
            if stage == AWSCURRENT {
                return Err(SmError::InvalidParameter(
                    "AWSCURRENT cannot be removed; move it to another version with MoveToVersionId.".into(),
                ));
            }
            if let Some(m) = rec.versions.get_mut(from) {
                m.stages.retain(|s| *s != stage);
            }
        }
        (None, None) => {
            return Err(SmError::InvalidParameter("Give MoveToVersionId, RemoveFromVersionId, or both.".into()))
        }
    }
    rec.changed_ms = sm.clock.now_ms();
    let replicated = sm.sync_in_tx(&mut *tx, caller, &mut rec)?;
    sm.save(&mut *tx, caller, &rec)?;
    tx.commit()?;
    if !replicated {
        sm.sync_replicas(caller, &rec.name);
    }
    Ok(ArnName { arn: rec.arn, name: rec.name })
}
