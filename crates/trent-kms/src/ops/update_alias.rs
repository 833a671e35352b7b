use super::Empty;
use crate::keys::{alias_store_key, require_not_pending_deletion, KeyRef, T_ALIAS};
use crate::{checks, Caller, Kms, KmsError};
use serde::Deserialize;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub alias_name: Option<String>,
    pub target_key_id: Option<String>,
}

/// Points an existing alias at another key of the same type and usage (AWS's rule).
pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Empty, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "targetKeyId", &req.target_key_id);
    checks::alias_name(&mut v, &req.alias_name)?;
    let name = req.alias_name.unwrap_or_default();
    let mut tx = kms.store().write()?;
    let mut alias = kms.load_alias(&mut *tx, caller, &name)?;
    let r = kms.resolve(&mut *tx, caller, req.target_key_id.as_deref().unwrap_or_default(), false)?;
    let target = kms.load(&mut *tx, &r)?;
    require_not_pending_deletion(&target)?;
    let current = KeyRef { key_id: alias.target_key_id.clone(), ..r };
    if let Ok(old) = kms.load(&mut *tx, &current) {
        if old.key_spec != target.key_spec || old.key_usage != target.key_usage {
            return Err(KmsError::validation(format!(
                "{} must have the same key spec and key usage as the key the alias points to ({} / {}).",
                target.arn(),
                old.key_spec,
                old.key_usage
            )));
        }
    }
    alias.target_key_id = target.key_id;
    alias.updated_ms = kms.clock.now_ms();
    let raw = serde_json::to_vec(&alias).map_err(KmsError::internal)?;
    tx.put(T_ALIAS, &alias_store_key(caller.account(), &caller.region, &name), &raw)?;
    tx.commit()?;
    Ok(Empty {})
}
