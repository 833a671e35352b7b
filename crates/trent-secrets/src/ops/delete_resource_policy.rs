use super::ArnName;
use crate::replication::require_primary;
use crate::secrets::secret_id_constraint;
use crate::{SecretsManager, SmError};
use serde::Deserialize;
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub secret_id: Option<String>,
}

/// Removes the secret's resource-based policy (a secret without one answers the same).
pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<ArnName, SmError> {
    let mut v = Validator::new();
    secret_id_constraint(&mut v, &req.secret_id);
    v.finish()?;
    let mut tx = sm.store.write()?;
    let mut rec = sm.find(&mut *tx, caller, req.secret_id.as_deref().unwrap_or_default())?;
    require_primary(&rec)?;
    if rec.deleted_ms.is_some() {
        return Err(SmError::deleted());
    }
    if rec.resource_policy.take().is_some() {
        rec.changed_ms = sm.clock.now_ms();
        let replicated = sm.sync_in_tx(&mut *tx, caller, &mut rec)?;
        sm.save(&mut *tx, caller, &rec)?;
        tx.commit()?;
        if !replicated {
            sm.sync_replicas(caller, &rec.name);
        }
    }
    Ok(ArnName { arn: rec.arn, name: rec.name })
}
