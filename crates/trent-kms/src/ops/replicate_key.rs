use crate::keys::{require_not_pending_deletion, require_usable, KeyRef, T_KEY, T_OWNER};
use crate::model::{KeyMetadata, KeyRecord, KeyState, Tag};
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub replica_region: Option<String>,
    pub policy: Option<String>,
    pub bypass_policy_lockout_safety_check: Option<bool>,
    pub description: Option<String>,
    pub tags: Option<Vec<Tag>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub replica_key_metadata: KeyMetadata,
    pub replica_policy: String,
    pub replica_tags: Vec<Tag>,
}

fn region_ok(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    (3..=4).contains(&parts.len())
        && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts.last().is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Copies a multi-Region primary key (same key id, same material) into another region.
pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    v.required("replicaRegion", &req.replica_region)
        .len("replicaRegion", req.replica_region.as_deref(), 1, 32)
        .pattern("replicaRegion", req.replica_region.as_deref(), region_ok, "^([a-z]+-){2,3}\\d+$");
    checks::policy(&mut v, req.policy.as_deref());
    checks::description(&mut v, req.description.as_deref());
    let tags = req.tags.unwrap_or_default();
    checks::tags(&mut v, &tags)?;
    let region = req.replica_region.unwrap_or_default();
    // The same table of regions the SigV4 scope is checked against (plus --extra-region).
    if !trent_wire::regions::is_known(&region) {
        return Err(KmsError::UnsupportedOperation(format!("{region} is not a valid or supported AWS Region.")));
    }
    let replica_caller = Caller::new(caller.principal.clone(), region.clone());
    let policy = match req.policy {
        Some(p) => {
            checks::policy_document(&p)?;
            p
        }
        None => checks::default_policy(replica_caller.partition(), caller.account()),
    };
    let mut all_tags = Vec::new();
    checks::merge_tags(&mut all_tags, tags)?;

    let mut tx = kms.store().write()?;
    let r = kms.resolve(&mut *tx, caller, req.key_id.as_deref().unwrap_or_default(), false)?;
    let primary = kms.load(&mut *tx, &r)?;
    let mut mrk = match kms.load_mrk(&mut *tx, &primary.account_id, &primary.key_id)? {
        Some(m) if primary.multi_region && m.primary_region == primary.region => m,
        _ => {
            return Err(KmsError::UnsupportedOperation(format!("{} is not a multi-Region primary key.", primary.arn())))
        }
    };
    require_usable(&primary)?;
    require_not_pending_deletion(&primary)?;
    if region == primary.region || mrk.replicas.contains(&region) {
        return Err(KmsError::AlreadyExists(format!(
            "{} already exists in {region}.",
            crate::model::key_arn(&region, &primary.account_id, &primary.key_id)
        )));
    }
    let now = kms.clock.now_ms();
    let replica = KeyRecord {
        region: region.clone(),
        created_ms: now,
        description: req.description.unwrap_or_else(|| primary.description.clone()),
        state: KeyState::Enabled,
        deletion_ms: None,
        pending_window_days: None,
        policy: policy.clone(),
        tags: all_tags.clone(),
        rotation_period_days: None,
        next_rotation_ms: None,
        on_demand_rotations: 0,
        ..primary.clone()
    };
    let rr = KeyRef { account: replica.account_id.clone(), region: region.clone(), key_id: replica.key_id.clone() };
    let raw = serde_json::to_vec(&replica).map_err(KmsError::internal)?;
    if !tx.insert_new(T_KEY, &rr.store_key(), &raw)? {
        return Err(KmsError::AlreadyExists(format!("{} already exists.", replica.arn())));
    }
    tx.put(T_OWNER, &format!("{}/{}", rr.region, rr.key_id), rr.account.as_bytes())?;
    mrk.replicas.push(region);
    kms.save_mrk(&mut *tx, &rr.account, &rr.key_id, &mrk)?;
    tx.commit()?;
    Ok(Response {
        replica_key_metadata: replica.metadata_with(Some(&mrk)),
        replica_policy: policy,
        replica_tags: all_tags,
    })
}
