use super::ArnName;
use crate::secrets::{deletion_key, secret_id_constraint, T_DELETION};
use crate::{SecretsManager, SmError};
use serde::Deserialize;
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub secret_id: Option<String>,
}

pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<ArnName, SmError> {
    let mut v = Validator::new();
    secret_id_constraint(&mut v, &req.secret_id);
    v.finish()?;
    let mut tx = sm.store.write()?;
    let mut rec = sm.find(&mut *tx, caller, req.secret_id.as_deref().unwrap_or_default())?;
    crate::replication::require_primary(&rec)?;
    if let Some(at) = rec.deletion_ms.take() {
        tx.delete(T_DELETION, &deletion_key(at, caller, &rec.name))?;
    }
    rec.deleted_ms = None;
    let replicated = sm.sync_in_tx(&mut *tx, caller, &mut rec)?;
    sm.save(&mut *tx, caller, &rec)?;
    tx.commit()?;
    if !replicated {
        sm.sync_replicas(caller, &rec.name);
    }
    Ok(ArnName { arn: rec.arn, name: rec.name })
}
