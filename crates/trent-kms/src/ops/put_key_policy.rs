use super::get_key_policy::policy_name;
use super::Empty;
use crate::keys::require_not_pending_deletion;
use crate::{checks, Caller, Kms, KmsError};
use serde::Deserialize;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub policy_name: Option<String>,
    pub policy: Option<String>,
    pub bypass_policy_lockout_safety_check: Option<bool>,
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Empty, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    v.required("policy", &req.policy);
    checks::policy(&mut v, req.policy.as_deref());
    policy_name(&mut v, &req.policy_name)?;
    let policy = req.policy.unwrap_or_default();
    checks::policy_document(&policy)?;
    kms.update(caller, req.key_id.as_deref().unwrap_or_default(), |rec, _| {
        require_not_pending_deletion(rec)?;
        rec.policy = policy;
        Ok(())
    })?;
    Ok(Empty {})
}
