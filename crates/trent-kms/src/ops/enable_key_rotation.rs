use super::Empty;
use crate::keys::{key_ref, require_rotatable, require_usable, rotation_store_key, T_ROTATION};
use crate::{checks, Caller, Kms, KmsError};
use serde::Deserialize;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub rotation_period_in_days: Option<i64>,
}

/// Turns on automatic rotation: new material every RotationPeriodInDays (default 365) from now.
pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Empty, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    v.range("rotationPeriodInDays", req.rotation_period_in_days, 90, 2560);
    v.finish()?;
    let days = req.rotation_period_in_days.unwrap_or(365);
    let now = kms.clock.now_ms();
    kms.update(caller, req.key_id.as_deref().unwrap_or_default(), |rec, tx| {
        require_usable(rec)?;
        require_rotatable(rec)?;
        kms.require_not_replica(tx, rec)?;
        if let Some(old) = rec.next_rotation_ms {
            tx.delete(T_ROTATION, &rotation_store_key(old, &key_ref(rec)))?;
        }
        let next = now + days * 86_400_000;
        rec.rotation_period_days = Some(days);
        rec.next_rotation_ms = Some(next);
        tx.put(T_ROTATION, &rotation_store_key(next, &key_ref(rec)), b"")?;
        Ok(())
    })?;
    Ok(Empty {})
}
