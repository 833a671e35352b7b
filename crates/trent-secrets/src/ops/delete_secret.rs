use crate::model::SecretRecord;
use crate::secrets::{
    deletion_key, ms_to_epoch, secret_id_constraint, secret_key, value_key, T_DELETION, T_SECRET, T_VALUE,
};
use crate::{SecretsManager, SmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;
use trent_policy::Principal;
use trent_store::Txn;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub secret_id: Option<String>,
    pub recovery_window_in_days: Option<i64>,
    pub force_delete_without_recovery: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    #[serde(rename = "ARN")]
    pub arn: String,
    pub name: String,
    pub deletion_date: f64,
}

const DAY_MS: i64 = 86_400_000;

fn destroy(tx: &mut dyn Txn, caller: &Caller, rec: &SecretRecord) -> Result<(), SmError> {
    for id in rec.versions.keys() {
        tx.delete(T_VALUE, &value_key(caller, &rec.name, id))?;
    }
    tx.delete(T_SECRET, &secret_key(caller, &rec.name))?;
    Ok(())
}

/// Marks a secret for deletion after 7–30 days (default 30), or destroys it at once with
/// ForceDeleteWithoutRecovery.
pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<Response, SmError> {
    let mut v = Validator::new();
    secret_id_constraint(&mut v, &req.secret_id);
    v.finish()?;
    let force = req.force_delete_without_recovery == Some(true);
    if force && req.recovery_window_in_days.is_some() {
        return Err(SmError::InvalidParameter(
            "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.".into(),
        ));
    }
    let days = req.recovery_window_in_days.unwrap_or(30);
    if !(7..=30).contains(&days) {
        return Err(SmError::InvalidParameter(
            "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).".into(),
        ));
    }
    let now = sm.clock.now_ms();
    let mut tx = sm.store.write()?;
    let id = req.secret_id.as_deref().unwrap_or_default();
    let mut rec = match sm.find(&mut *tx, caller, id) {
        Ok(rec) => rec,
        // AWS: ForceDeleteWithoutRecovery on a secret that does not exist succeeds (nothing to do).
        Err(SmError::ResourceNotFound(_)) if force => return missing(caller, id, now),
        Err(e) => return Err(e),
    };
    crate::replication::require_primary(&rec)?;
    if !rec.replicas.is_empty() {
        let regions: Vec<&str> = rec.replicas.iter().map(|r| r.region.as_str()).collect();
        return Err(SmError::InvalidParameter(format!(
            "You can't delete secret {} that still has replica regions [{}]",
            rec.arn,
            regions.join(", ")
        )));
    }
    if force {
        if let Some(at) = rec.deletion_ms {
            tx.delete(T_DELETION, &deletion_key(at, caller, &rec.name))?;
        }
        destroy(&mut *tx, caller, &rec)?;
        tx.commit()?;
        return Ok(Response { arn: rec.arn, name: rec.name, deletion_date: ms_to_epoch(now) });
    }
    if rec.deleted_ms.is_some() {
        return Err(SmError::deleted());
    }
    let at = now + days * DAY_MS;
    rec.deleted_ms = Some(now);
    rec.deletion_ms = Some(at);
    tx.put(T_DELETION, &deletion_key(at, caller, &rec.name), b"")?;
    sm.save(&mut *tx, caller, &rec)?;
    tx.commit()?;
    Ok(Response { arn: rec.arn, name: rec.name, deletion_date: ms_to_epoch(at) })
}

/// The answer to a forced deletion of a secret that does not exist: the ARN as given (or one made
/// for the name, as AWS makes them), the name, and now.
fn missing(caller: &Caller, id: &str, now: i64) -> Result<Response, SmError> {
    let (arn, name) = match id.strip_prefix("arn:").and_then(|_| trent_policy::Arn::parse(id)) {
        Some(arn) => {
            let resource = arn.resource.strip_prefix("secret:").unwrap_or(&arn.resource);
            // A full ARN ends in `-` and six characters of its own.
            let name = match resource.rsplit_once('-') {
                Some((name, suffix)) if suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_alphanumeric()) => name,
                _ => resource,
            };
            (id.to_string(), name.to_string())
        }
        None => (crate::secrets::new_arn(caller, id)?, id.to_string()),
    };
    Ok(Response { arn, name, deletion_date: ms_to_epoch(now) })
}

pub(crate) fn sweep(sm: &SecretsManager) -> Result<usize, SmError> {
    let now = sm.clock.now_ms();
    let due: Vec<String> = sm
        .store
        .read()?
        .scan(T_DELETION, "", None, 1000)?
        .into_iter()
        .map(|(k, _)| k)
        .take_while(|k| k.split('/').next().and_then(|t| t.parse::<i64>().ok()).is_some_and(|t| t <= now))
        .collect();
    let mut destroyed = 0;
    for entry in due {
        let mut parts = entry.splitn(4, '/');
        let (Some(_), Some(account), Some(region), Some(name)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let caller = Caller::new(Principal::root(account), region.to_string());
        let mut tx = sm.store.write()?;
        tx.delete(T_DELETION, &entry)?;
        if let Some(rec) = sm.load(&mut *tx, &caller, name)? {
            if rec.deletion_ms.is_some_and(|d| d <= now) {
                destroy(&mut *tx, &caller, &rec)?;
                destroyed += 1;
            }
        }
        tx.commit()?;
    }
    Ok(destroyed)
}
