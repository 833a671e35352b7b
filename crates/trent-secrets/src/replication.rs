//! Replication of a secret to other regions of the same account (issue 8).
//!
//! A replica is a `SecretRecord` under the same name in another region's key space, with the
//! primary's ARN re-homed to that region (same six-character suffix, as AWS makes replica ARNs)
//! and `primary_region` set. It is read-only there: every writing operation answers
//! [`replica_refused`]. Its values are re-encrypted under the replica's own KMS key in its
//! region (the replica's `KmsKeyId`, or that region's `alias/aws/secretsmanager`), with the
//! encryption context naming the replica's ARN.
//!
//! A change that needs no KMS work (tags, labels, description, rotation configuration, resource
//! policy, finishSecret's label move) reaches every replica in the primary's own store
//! transaction ([`SecretsManager::sync_in_tx`]). A change that brings new values (or a first
//! copy) cannot: KMS calls must not run inside a write transaction. Then
//! [`SecretsManager::sync_replicas`] runs right after the primary's commit: the KMS work
//! (decrypting the primary's new versions, encrypting them for each replica) first, then one
//! store transaction writes every replica and the primary's `ReplicationStatus`, and only if the
//! primary did not change in between (otherwise it starts again). A replica whose key is
//! unusable, or whose name is taken in its region by another secret (without
//! ForceOverwriteReplicaSecret), is marked `Failed` with a message and left as it was; the
//! primary's own change has already been committed and is not affected.

use crate::model::{Replica, SecretRecord, ValueRecord, FAILED, IN_SYNC};
use crate::secrets::{secret_key, value_key, T_SECRET, T_VALUE};
use crate::{SecretsManager, SmError};
use std::collections::BTreeMap;
use trent_kms::Caller;
use trent_store::Txn;

/// How often a sync starts again when the primary changed while it was encrypting.
const SYNC_ATTEMPTS: usize = 5;

/// The error of a write on a replica, as AWS words it (InvalidParameterException, as AWS).
pub(crate) fn replica_refused() -> SmError {
    SmError::InvalidParameter(
        "Operation not permitted on a replica secret. Call must be made in primary secret's region.".into(),
    )
}

/// Refuses writes on a replica.
pub(crate) fn require_primary(rec: &SecretRecord) -> Result<(), SmError> {
    match rec.primary_region {
        Some(_) => Err(replica_refused()),
        None => Ok(()),
    }
}

/// The same principal acting in `region`.
pub(crate) fn in_region(caller: &Caller, region: &str) -> Caller {
    caller.in_region(region)
}

/// The primary's ARN with its region replaced: `arn:P:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX`.
pub(crate) fn replica_arn(primary_arn: &str, region: &str) -> String {
    let mut parts: Vec<&str> = primary_arn.splitn(6, ':').collect();
    if parts.len() == 6 {
        parts[3] = region;
    }
    parts.join(":")
}

/// AWS's RegionType pattern `^([a-z]+-)+\d+$`, at most 128 characters.
pub(crate) fn region_ok(r: &str) -> bool {
    let Some((head, digits)) = r.rsplit_once('-') else { return false };
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && head.split('-').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && r.len() <= 128
}

/// A replica region from a request: `Region` and optional `KmsKeyId`.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicaRegion {
    pub region: Option<String>,
    pub kms_key_id: Option<String>,
}

/// `ReplicationStatusType` as DescribeSecret, CreateSecret and ReplicateSecretToRegions show it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatusView {
    pub region: String,
    pub kms_key_id: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// Filled in by DescribeSecret from the replica's own record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_accessed_date: Option<f64>,
}

pub(crate) fn status_view(rec: &SecretRecord) -> Vec<StatusView> {
    rec.replicas
        .iter()
        .map(|r| StatusView {
            region: r.region.clone(),
            kms_key_id: r.kms_key_id.clone().unwrap_or_else(|| "alias/aws/secretsmanager".to_string()),
            status: r.status.clone(),
            status_message: r.status_message.clone(),
            last_accessed_date: None,
        })
        .collect()
}

/// Checks AddReplicaRegions against the primary (`region`) and the replicas it already has;
/// returns the new replicas (status InProgress until the first sync).
pub(crate) fn new_replicas(
    region: &str,
    existing: &[Replica],
    add: &[ReplicaRegion],
    force_overwrite: bool,
) -> Result<Vec<Replica>, SmError> {
    let mut v = trent_wire::validate::Validator::new();
    v.count("addReplicaRegions", Some(add.len()), 1, usize::MAX);
    for r in add {
        v.required("addReplicaRegions.member.region", &r.region)
            .len("addReplicaRegions.member.region", r.region.as_deref(), 1, 128)
            .pattern("addReplicaRegions.member.region", r.region.as_deref(), region_ok, "^([a-z]+-)+\\d+$")
            .len("addReplicaRegions.member.kmsKeyId", r.kms_key_id.as_deref(), 0, 2048);
    }
    v.finish()?;
    let mut out: Vec<Replica> = Vec::new();
    for r in add {
        let name = r.region.clone().unwrap_or_default();
        // The same table of regions the SigV4 scope is checked against (plus --extra-region).
        if !trent_wire::regions::is_known(&name) {
            return Err(SmError::InvalidParameter(format!("Invalid replica region {name}: not a valid AWS Region.")));
        }
        if name == region {
            return Err(SmError::InvalidParameter(format!(
                "Invalid replica region {name}: a secret can't be replicated to its primary region."
            )));
        }
        if out.iter().any(|o| o.region == name) {
            return Err(SmError::InvalidParameter(format!("The region {name} is listed more than once.")));
        }
        if existing.iter().any(|o| o.region == name) {
            return Err(SmError::InvalidParameter(format!("The secret is already replicated to region {name}.")));
        }
        out.push(Replica {
            region: name,
            kms_key_id: r.kms_key_id.clone().filter(|k| !k.is_empty()),
            status: crate::model::IN_PROGRESS.to_string(),
            status_message: None,
            force_overwrite,
        });
    }
    Ok(out)
}

/// What one replica needs written, worked out before the write transaction.
enum Plan {
    Write { key_arn: String, values: BTreeMap<String, ValueRecord> },
    Fail(String),
}

/// Destroys a secret's values and record in `caller`'s region.
pub(crate) fn destroy_in(tx: &mut dyn Txn, caller: &Caller, rec: &SecretRecord) -> Result<(), SmError> {
    for id in rec.versions.keys() {
        tx.delete(T_VALUE, &value_key(caller, &rec.name, id))?;
    }
    if let Some(at) = rec.deletion_ms {
        tx.delete(crate::secrets::T_DELETION, &crate::secrets::deletion_key(at, caller, &rec.name))?;
    }
    if let Some(at) = rec.rotation.next_ms {
        tx.delete(crate::rotation::T_ROTATION, &crate::rotation::rotation_key(at, caller, &rec.name))?;
    }
    tx.delete(T_SECRET, &secret_key(caller, &rec.name))?;
    Ok(())
}

/// Whether `existing` (the record under the primary's name in a replica region) is this
/// primary's replica, rather than another secret of the same name.
fn is_our_replica(existing: &SecretRecord, primary: &SecretRecord, primary_region: &str, region: &str) -> bool {
    existing.primary_region.as_deref() == Some(primary_region) && existing.arn == replica_arn(&primary.arn, region)
}

/// The failure message of a KMS error, for StatusMessage.
fn kms_message(e: SmError) -> String {
    use trent_wire::AwsError;
    match e {
        SmError::Internal(d) => {
            tracing::warn!(detail = %d, "replication: internal error");
            "An internal error occurred. Replication will be tried again on the next change.".into()
        }
        other => format!("Replication failed: {}", other.message()),
    }
}

impl SecretsManager {
    /// Brings every replica of the primary secret `name` (in `caller`'s region) in line with it
    /// and records each replica's status on the primary. Never fails the caller's operation: a
    /// problem becomes a replica's `Failed` status (or, for our own store failures, a log line).
    pub(crate) fn sync_replicas(&self, caller: &Caller, name: &str) {
        for _ in 0..SYNC_ATTEMPTS {
            match self.try_sync(caller, name) {
                Ok(true) => return,
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(secret = %name, error = ?e, "replication: sync failed");
                    return;
                }
            }
        }
        tracing::warn!(secret = %name, "replication: the primary kept changing; the next change syncs again");
    }

    /// The same-transaction half of replication: a change that needs no KMS work (tags, labels,
    /// description, rotation configuration, resource policy — every version the primary has is
    /// already held by the replica) is written to every replica inside the primary's own
    /// transaction `tx`, and their status set to InSync on `primary` (save it afterwards).
    /// Returns `false` when some replica needs more (new values, a first copy, a name taken
    /// there): then call [`SecretsManager::sync_replicas`] after the commit.
    pub(crate) fn sync_in_tx(
        &self,
        tx: &mut dyn Txn,
        caller: &Caller,
        primary: &mut SecretRecord,
    ) -> Result<bool, SmError> {
        if primary.primary_region.is_some() || primary.replicas.is_empty() {
            return Ok(true);
        }
        let mut updates = Vec::with_capacity(primary.replicas.len());
        for r in &primary.replicas {
            let rc = in_region(caller, &r.region);
            let Some(old) = self.load(tx, &rc, &primary.name)? else { return Ok(false) };
            if !is_our_replica(&old, primary, &caller.region, &r.region)
                || !primary.versions.keys().all(|id| old.versions.contains_key(id))
            {
                return Ok(false);
            }
            let mut replica = primary.clone();
            replica.arn = old.arn.clone();
            replica.last_accessed_ms = old.last_accessed_ms;
            replica.kms_key_id = r.kms_key_id.clone();
            replica.primary_region = Some(caller.region.clone());
            replica.replicas = Vec::new();
            replica.rotation.next_ms = None;
            for (id, meta) in replica.versions.iter_mut() {
                meta.kms_key_arn = old.versions[id].kms_key_arn.clone();
                meta.older_key_arns.clear();
            }
            updates.push((rc, old, replica));
        }
        for (rc, old, replica) in updates {
            for id in old.versions.keys().filter(|id| !replica.versions.contains_key(*id)) {
                tx.delete(T_VALUE, &value_key(&rc, &replica.name, id))?;
            }
            self.save(tx, &rc, &replica)?;
        }
        for r in primary.replicas.iter_mut() {
            r.status = IN_SYNC.to_string();
            r.status_message = None;
        }
        Ok(true)
    }

    /// One attempt; `Ok(false)`: the primary changed meanwhile, try again.
    fn try_sync(&self, caller: &Caller, name: &str) -> Result<bool, SmError> {
        let primary = match self.load(&mut *self.store.read()?, caller, name)? {
            Some(p) if p.primary_region.is_none() && !p.replicas.is_empty() => p,
            _ => return Ok(true),
        };
        let mut plans = Vec::with_capacity(primary.replicas.len());
        for r in &primary.replicas {
            plans.push(self.plan(caller, &primary, r)?);
        }
        let mut tx = self.store.write()?;
        let Some(mut now) = self.load(&mut *tx, caller, name)? else { return Ok(true) };
        if now.changed_ms != primary.changed_ms
            || now.order != primary.order
            || now.versions_to_stages() != primary.versions_to_stages()
            || now.replicas.iter().map(|r| &r.region).ne(primary.replicas.iter().map(|r| &r.region))
        {
            return Ok(false);
        }
        for (r, plan) in now.replicas.iter_mut().zip(plans) {
            let rc = in_region(caller, &r.region);
            match plan {
                Plan::Fail(m) => {
                    r.status = FAILED.to_string();
                    r.status_message = Some(m);
                }
                Plan::Write { key_arn, values } => {
                    let existing = self.load(&mut *tx, &rc, name)?;
                    let ours =
                        existing.as_ref().is_some_and(|e| is_our_replica(e, &primary, &caller.region, &r.region));
                    if let Some(e) = existing.as_ref().filter(|_| !ours) {
                        if !r.force_overwrite {
                            r.status = FAILED.to_string();
                            r.status_message = Some(format!(
                                "Replication failed: Secret with name {name} already exists in region {}.",
                                r.region
                            ));
                            continue;
                        }
                        destroy_in(&mut *tx, &rc, e)?;
                    }
                    let old = existing.filter(|_| ours);
                    let mut replica = primary.clone();
                    replica.arn = replica_arn(&primary.arn, &r.region);
                    replica.last_accessed_ms = old.as_ref().and_then(|o| o.last_accessed_ms);
                    replica.kms_key_id = r.kms_key_id.clone();
                    replica.primary_region = Some(caller.region.clone());
                    replica.replicas = Vec::new();
                    // The replica is not rotated by the scheduler of its region.
                    replica.rotation.next_ms = None;
                    for (id, meta) in replica.versions.iter_mut() {
                        meta.kms_key_arn = key_arn.clone();
                        meta.older_key_arns.clear();
                        // Absent: the replica already holds this version under this key.
                        if let Some(v) = values.get(id) {
                            tx.put(
                                T_VALUE,
                                &value_key(&rc, name, id),
                                &serde_json::to_vec(v).map_err(SmError::internal)?,
                            )?;
                        }
                    }
                    if let Some(old) = &old {
                        for id in old.versions.keys().filter(|id| !replica.versions.contains_key(*id)) {
                            tx.delete(T_VALUE, &value_key(&rc, name, id))?;
                        }
                    }
                    self.save(&mut *tx, &rc, &replica)?;
                    r.status = IN_SYNC.to_string();
                    r.status_message = None;
                }
            }
        }
        self.save(&mut *tx, caller, &now)?;
        tx.commit()?;
        Ok(true)
    }

    /// The KMS half of a sync for one replica: the key to use there and every version the
    /// replica does not yet hold under that key, re-encrypted for it.
    fn plan(&self, caller: &Caller, primary: &SecretRecord, r: &Replica) -> Result<Plan, SmError> {
        let rc = in_region(caller, &r.region);
        let key_arn = match self.key_arn(&rc, r.kms_key_id.as_deref()) {
            Ok(k) => k,
            Err(e) => return Ok(Plan::Fail(kms_message(e))),
        };
        let existing = self.load(&mut *self.store.read()?, &rc, &primary.name)?;
        let have = existing.filter(|e| is_our_replica(e, primary, &caller.region, &r.region));
        let rarn = replica_arn(&primary.arn, &r.region);
        let mut values = BTreeMap::new();
        for (id, _) in primary.versions.iter() {
            let current = have.as_ref().and_then(|h| h.versions.get(id)).is_some_and(|m| m.kms_key_arn == key_arn);
            if current {
                continue;
            }
            let Some(stored) = self.load_value(&mut *self.store.read()?, caller, &primary.name, id)? else {
                continue;
            };
            let plain = match self.decrypt(caller, &primary.arn, id, &stored) {
                Ok(p) => p,
                Err(e) => return Ok(Plan::Fail(kms_message(e))),
            };
            match self.encrypt(&rc, &key_arn, &rarn, id, stored.binary, &plain) {
                Ok(v) => {
                    values.insert(id.clone(), v);
                }
                Err(e) => return Ok(Plan::Fail(kms_message(e))),
            }
        }
        Ok(Plan::Write { key_arn, values })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_arn_changes_only_the_region() {
        assert_eq!(
            replica_arn("arn:aws:secretsmanager:us-east-1:111122223333:secret:a:b-AbC123", "eu-west-1"),
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:a:b-AbC123"
        );
    }

    #[test]
    fn region_pattern_is_awss() {
        assert!(region_ok("eu-west-1"));
        assert!(region_ok("us-gov-west-1"));
        assert!(!region_ok("eu-west"));
        assert!(!region_ok("EU-west-1"));
        assert!(!region_ok("-1"));
        assert!(!region_ok("eu--west-1"));
    }

    #[test]
    fn new_replicas_refuse_the_primary_region_duplicates_and_existing_ones() {
        let rr = |r: &str| ReplicaRegion { region: Some(r.into()), kms_key_id: None };
        assert!(matches!(new_replicas("us-east-1", &[], &[rr("us-east-1")], false), Err(SmError::InvalidParameter(_))));
        assert!(matches!(
            new_replicas("us-east-1", &[], &[rr("eu-west-1"), rr("eu-west-1")], false),
            Err(SmError::InvalidParameter(_))
        ));
        let made = new_replicas("us-east-1", &[], &[rr("eu-west-1")], true).unwrap();
        assert_eq!(made[0].status, crate::model::IN_PROGRESS);
        assert!(made[0].force_overwrite);
        assert!(matches!(
            new_replicas("us-east-1", &made, &[rr("eu-west-1")], false),
            Err(SmError::InvalidParameter(_))
        ));
        assert!(matches!(new_replicas("us-east-1", &[], &[rr("nowhere")], false), Err(SmError::Wire(_))));
    }
}
