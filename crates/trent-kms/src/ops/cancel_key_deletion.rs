use crate::keys::{deletion_store_key, KeyRef, T_DELETION};
use crate::model::KeyState;
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub key_id: String,
}

/// As on AWS, a key whose deletion is cancelled comes back Disabled.
pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    v.finish()?;
    let rec = kms.update(caller, req.key_id.as_deref().unwrap_or_default(), |rec, tx| {
        if !matches!(rec.state, KeyState::PendingDeletion | KeyState::PendingReplicaDeletion) {
            return Err(KmsError::InvalidState(format!("{} is not pending deletion.", rec.arn())));
        }
        if let Some(ms) = rec.deletion_ms {
            let r = KeyRef { account: rec.account_id.clone(), region: rec.region.clone(), key_id: rec.key_id.clone() };
            tx.delete(T_DELETION, &deletion_store_key(ms, &r))?;
        }
        rec.state = KeyState::Disabled;
        rec.deletion_ms = None;
        rec.pending_window_days = None;
        Ok(())
    })?;
    Ok(Response { key_id: rec.arn() })
}
