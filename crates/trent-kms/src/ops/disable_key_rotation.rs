use super::Empty;
use crate::keys::{key_ref, require_rotatable, require_usable, rotation_store_key, T_ROTATION};
use crate::{checks, Caller, Kms, KmsError};
use serde::Deserialize;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Empty, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    v.finish()?;
    kms.update(caller, req.key_id.as_deref().unwrap_or_default(), |rec, tx| {
        require_usable(rec)?;
        require_rotatable(rec)?;
        if let Some(old) = rec.next_rotation_ms.take() {
            tx.delete(T_ROTATION, &rotation_store_key(old, &key_ref(rec)))?;
        }
        rec.rotation_period_days = None;
        Ok(())
    })?;
    Ok(Empty {})
}
