use crate::replication::{destroy_in, in_region, region_ok, replica_arn, require_primary, status_view, StatusView};
use crate::secrets::secret_id_constraint;
use crate::{SecretsManager, SmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub secret_id: Option<String>,
    pub remove_replica_regions: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    #[serde(rename = "ARN")]
    pub arn: String,
    pub replication_status: Vec<StatusView>,
}

/// Deletes the replicas in the given regions (at once, without a recovery window, as AWS) and
/// stops replicating there, in one transaction. Answers the replicas that remain.
pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<Response, SmError> {
    let mut v = Validator::new();
    secret_id_constraint(&mut v, &req.secret_id);
    v.required("removeReplicaRegions", &req.remove_replica_regions).count(
        "removeReplicaRegions",
        req.remove_replica_regions.as_ref().map(Vec::len),
        1,
        usize::MAX,
    );
    for r in req.remove_replica_regions.iter().flatten() {
        v.len("removeReplicaRegions.member", Some(r), 1, 128).pattern(
            "removeReplicaRegions.member",
            Some(r),
            region_ok,
            "^([a-z]+-)+\\d+$",
        );
    }
    v.finish()?;
    let regions = req.remove_replica_regions.unwrap_or_default();
    let mut tx = sm.store.write()?;
    let mut rec = sm.find(&mut *tx, caller, req.secret_id.as_deref().unwrap_or_default())?;
    require_primary(&rec)?;
    for r in &regions {
        if !rec.replicas.iter().any(|x| &x.region == r) {
            return Err(SmError::InvalidParameter(format!("The secret is not replicated to region {r}.")));
        }
    }
    for r in &regions {
        let rc = in_region(caller, r);
        if let Some(replica) = sm.load(&mut *tx, &rc, &rec.name)? {
            // Only our own replica: a secret of the same name that replication never overwrote stays.
            if replica.primary_region.as_deref() == Some(caller.region.as_str())
                && replica.arn == replica_arn(&rec.arn, r)
            {
                destroy_in(&mut *tx, &rc, &replica)?;
            }
        }
    }
    rec.replicas.retain(|x| !regions.contains(&x.region));
    rec.changed_ms = sm.clock.now_ms();
    sm.save(&mut *tx, caller, &rec)?;
    tx.commit()?;
    Ok(Response { replication_status: status_view(&rec), arn: rec.arn })
}
