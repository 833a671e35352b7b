use crate::replication::{new_replicas, require_primary, status_view, ReplicaRegion, StatusView};
use crate::secrets::secret_id_constraint;
use crate::{SecretsManager, SmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub secret_id: Option<String>,
    pub add_replica_regions: Option<Vec<ReplicaRegion>>,
    pub force_overwrite_replica_secret: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    #[serde(rename = "ARN")]
    pub arn: String,
    pub replication_status: Vec<StatusView>,
}

/// Adds replica regions to a primary secret and copies it there at once (re-encrypted under
/// each replica's key). A region where the copy failed is answered with `Status: Failed`.
pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<Response, SmError> {
    let mut v = Validator::new();
    secret_id_constraint(&mut v, &req.secret_id);
    v.required("addReplicaRegions", &req.add_replica_regions);
    v.finish()?;
    let add = req.add_replica_regions.unwrap_or_default();
    let force = req.force_overwrite_replica_secret == Some(true);
    // Constraints first (regions' pattern, the primary's own region, duplicates), as AWS.
    new_replicas(&caller.region, &[], &add, force)?;
    let name = {
        let mut tx = sm.store.write()?;
        let mut rec = sm.find(&mut *tx, caller, req.secret_id.as_deref().unwrap_or_default())?;
        require_primary(&rec)?;
        if rec.deleted_ms.is_some() {
            return Err(SmError::deleted());
        }
        let new = new_replicas(&caller.region, &rec.replicas, &add, force)?;
        rec.replicas.extend(new);
        sm.save(&mut *tx, caller, &rec)?;
        tx.commit()?;
        rec.name
    };
    sm.sync_replicas(caller, &name);
    let rec = sm.load(&mut *sm.store.read()?, caller, &name)?.ok_or_else(SmError::not_found)?;
    Ok(Response { replication_status: status_view(&rec), arn: rec.arn })
}
