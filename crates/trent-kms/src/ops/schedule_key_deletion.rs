use crate::keys::{deletion_store_key, require_not_pending_deletion, KeyRef, T_DELETION};
use crate::model::{ms_to_epoch, KeyState};
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub pending_window_in_days: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<f64>,
    pub key_state: &'static str,
    pub pending_window_in_days: i64,
}

const DAY_MS: i64 = 86_400_000;

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    v.range("pendingWindowInDays", req.pending_window_in_days, 1, 365);
    v.finish()?;
    // The model allows 1-365; KMS itself accepts 7-30 for a key scheduled by its owner.
    Validator::new().range("pendingWindowInDays", req.pending_window_in_days, 7, 30).finish()?;
    let days = req.pending_window_in_days.unwrap_or(30);
    let deletion_ms = kms.clock.now_ms() + days * DAY_MS;
    let rec = kms.update(caller, req.key_id.as_deref().unwrap_or_default(), |rec, tx| {
        require_not_pending_deletion(rec)?;
        rec.pending_window_days = Some(days);
        // A multi-Region primary with replicas waits for them (PendingReplicaDeletion); its own
        // waiting period starts when the last replica is gone.
        if rec.multi_region {
            if let Some(m) = kms.load_mrk(tx, &rec.account_id, &rec.key_id)? {
                if m.primary_region == rec.region && !m.replicas.is_empty() {
                    rec.state = KeyState::PendingReplicaDeletion;
                    return Ok(());
                }
            }
        }
        rec.state = KeyState::PendingDeletion;
        rec.deletion_ms = Some(deletion_ms);
        let r = KeyRef { account: rec.account_id.clone(), region: rec.region.clone(), key_id: rec.key_id.clone() };
        tx.put(T_DELETION, &deletion_store_key(deletion_ms, &r), b"")?;
        Ok(())
    })?;
    Ok(Response {
        key_id: rec.arn(),
        deletion_date: rec.deletion_ms.map(ms_to_epoch),
        key_state: rec.state.as_str(),
        pending_window_in_days: days,
    })
}
