use super::Empty;
use crate::keys::require_not_pending_deletion;
use crate::model::KeyState;
use crate::{checks, Caller, Kms, KmsError};
use serde::Deserialize;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
}

/// EnableKey and DisableKey: only a key that is Enabled or Disabled can change between them.
pub(crate) fn set_state(
    kms: &Kms,
    caller: &Caller,
    key_id: &Option<String>,
    state: KeyState,
) -> Result<Empty, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", key_id);
    v.finish()?;
    kms.update(caller, key_id.as_deref().unwrap_or_default(), |rec, _| {
        require_not_pending_deletion(rec)?;
        if rec.state == KeyState::PendingImport {
            return Err(KmsError::InvalidState(format!("{} is pending import.", rec.arn())));
        }
        rec.state = state;
        Ok(())
    })?;
    Ok(Empty {})
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Empty, KmsError> {
    set_state(kms, caller, &req.key_id, KeyState::Enabled)
}
