use crate::replication::in_region;
use crate::rotation::{reindex, schedule_of};
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
}

/// Promotes a replica to a standalone secret in its region (call it in the replica's region):
/// it becomes writable there, keeps its ARN, values and labels, its rotation (if on) is
/// scheduled in its own region, and the primary stops listing it — one transaction.
pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<Response, SmError> {
    let mut v = Validator::new();
    secret_id_constraint(&mut v, &req.secret_id);
    v.finish()?;
    let mut tx = sm.store.write()?;
    let mut rec = sm.find(&mut *tx, caller, req.secret_id.as_deref().unwrap_or_default())?;
    let Some(primary_region) = rec.primary_region.take() else {
        return Err(SmError::InvalidRequest(
            "StopReplicationToReplica must be called on a replica secret, in the replica's region.".into(),
        ));
    };
    let pc = in_region(caller, &primary_region);
    if let Some(mut primary) = sm.load(&mut *tx, &pc, &rec.name)? {
        if primary.replicas.iter().any(|r| r.region == caller.region) {
            primary.replicas.retain(|r| r.region != caller.region);
            primary.changed_ms = sm.clock.now_ms();
            sm.save(&mut *tx, &pc, &primary)?;
        }
    }
    let now = sm.clock.now_ms();
    let next = if rec.rotation.enabled {
        schedule_of(&rec).and_then(|s| s.next_after(rec.rotation.last_rotated_ms.unwrap_or(now)))
    } else {
        None
    };
    rec.rotation.next_ms = None;
    reindex(&mut *tx, caller, &mut rec, next)?;
    rec.changed_ms = now;
    sm.save(&mut *tx, caller, &rec)?;
    tx.commit()?;
    Ok(Response { arn: rec.arn })
}
