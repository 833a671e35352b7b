use crate::model::AWSCURRENT;
use crate::secrets::{check_token, new_version_id, secret_id_constraint, value_of};
use crate::{SecretsManager, SmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;
use trent_wire::json::SecretBlob;
use trent_wire::validate::Validator;

/// No `Debug`: it holds the secret.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub secret_id: Option<String>,
    pub client_request_token: Option<String>,
    pub secret_binary: Option<SecretBlob>,
    pub secret_string: Option<String>,
    pub version_stages: Option<Vec<String>>,
    pub rotation_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    #[serde(rename = "ARN")]
    pub arn: String,
    pub name: String,
    pub version_id: String,
    pub version_stages: Vec<String>,
}

/// A new version, labelled AWSCURRENT unless VersionStages says otherwise.
pub(crate) fn new_version(
    sm: &SecretsManager,
    caller: &Caller,
    secret_id: &str,
    token: Option<String>,
    value: (bool, trent_crypto::SecretBytes),
    stages: Vec<String>,
) -> Result<(crate::model::SecretRecord, String), SmError> {
    let version = token.unwrap_or_else(new_version_id);
    let rec = {
        let mut tx = sm.store.read()?;
        sm.find(&mut *tx, caller, secret_id)?
    };
    crate::replication::require_primary(&rec)?;
    if rec.deleted_ms.is_some() {
        return Err(SmError::deleted());
    }
    let key_arn = sm.key_arn(caller, rec.kms_key_id.as_deref())?;
    let (binary, plain) = value;
    let enc = sm.encrypt(caller, &key_arn, &rec.arn, &version, binary, &plain)?;
    let mut tx = sm.store.write()?;
    let mut rec = sm.find(&mut *tx, caller, secret_id)?;
    // AWS: the first version of a secret is AWSCURRENT, whatever other stages are given.
    let mut stages = stages;
    if rec.versions.is_empty() && !stages.iter().any(|s| s == AWSCURRENT) {
        stages.push(AWSCURRENT.to_string());
    }
    let added = sm.add_version(&mut *tx, caller, &mut rec, &version, enc, &plain, &key_arn, &stages)?;
    if added && stages.iter().any(|s| s == AWSCURRENT) {
        counts_as_rotation(sm, &mut *tx, caller, &mut rec)?;
    }
    sm.save(&mut *tx, caller, &rec)?;
    tx.commit()?;
    sm.sync_replicas(caller, &rec.name);
    Ok((rec, version))
}

/// AWS: with a schedule set by `AutomaticallyAfterDays`, a new AWSCURRENT value from
/// PutSecretValue or UpdateSecret is a valid rotation — LastRotatedDate becomes now and the
/// next rotation is counted from it. (A `ScheduleExpression` schedule is not moved.)
fn counts_as_rotation(
    sm: &SecretsManager,
    tx: &mut dyn trent_store::Txn,
    caller: &Caller,
    rec: &mut crate::model::SecretRecord,
) -> Result<(), SmError> {
    let by_days = rec
        .rotation
        .rules
        .as_ref()
        .is_some_and(|r| r.automatically_after_days.is_some() && r.schedule_expression.is_none());
    if !rec.rotation.enabled || !by_days {
        return Ok(());
    }
    let now = sm.clock.now_ms();
    rec.rotation.last_rotated_ms = Some(now);
    let next = crate::rotation::schedule_of(rec).and_then(|s| s.next_after(now));
    crate::rotation::reindex(tx, caller, rec, next)?;
    Ok(())
}

pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<Response, SmError> {
    let mut v = Validator::new();
    secret_id_constraint(&mut v, &req.secret_id);
    check_token(&mut v, &req.client_request_token);
    v.blob_len("secretBinary", req.secret_binary.as_ref().map(|b| b.0.len()), 1, 65536)
        .len("secretString", req.secret_string.as_deref(), 1, 65536)
        .count("versionStages", req.version_stages.as_ref().map(Vec::len), 1, 20);
    for s in req.version_stages.iter().flatten() {
        v.len("versionStages.member", Some(s), 1, 256);
    }
    v.finish()?;
    let value = value_of(req.secret_string, req.secret_binary.map(|b| b.0.to_vec()))?
        .ok_or_else(|| SmError::InvalidParameter("You must provide either SecretString or SecretBinary.".into()))?;
    let stages = req.version_stages.unwrap_or_else(|| vec![AWSCURRENT.to_string()]);
    let (rec, version) =
        new_version(sm, caller, req.secret_id.as_deref().unwrap_or_default(), req.client_request_token, value, stages)?;
    let version_stages = rec.versions.get(&version).map(|m| m.stages.clone()).unwrap_or_default();
    Ok(Response { arn: rec.arn, name: rec.name, version_id: version, version_stages })
}
