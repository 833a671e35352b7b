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

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Empty, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    v.finish()?;
    kms.update(caller, req.key_id.as_deref().unwrap_or_default(), |rec, _| {
        require_not_pending_deletion(rec)?;
        if rec.state == KeyState::PendingImport {
            return Err(KmsError::InvalidState(format!("{} is pending import.", rec.arn())));
        }
        rec.state = KeyState::Disabled;
        Ok(())
    })?;
    Ok(Empty {})
}
