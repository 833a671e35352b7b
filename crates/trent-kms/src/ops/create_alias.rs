use super::Empty;
use crate::keys::{alias_store_key, require_not_pending_deletion, T_ALIAS};
use crate::model::{alias_arn, AliasRecord};
use crate::{checks, Caller, Kms, KmsError};
use serde::Deserialize;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub alias_name: Option<String>,
    pub target_key_id: Option<String>,
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Empty, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "targetKeyId", &req.target_key_id);
    checks::alias_name(&mut v, &req.alias_name)?;
    let name = req.alias_name.unwrap_or_default();
    let mut tx = kms.store().write()?;
    let r = kms.resolve(&mut *tx, caller, req.target_key_id.as_deref().unwrap_or_default(), false)?;
    let target = kms.load(&mut *tx, &r)?;
    require_not_pending_deletion(&target)?;
    let now = kms.clock.now_ms();
    let rec = AliasRecord { target_key_id: target.key_id, created_ms: now, updated_ms: now };
    let raw = serde_json::to_vec(&rec).map_err(KmsError::internal)?;
    if !tx.insert_new(T_ALIAS, &alias_store_key(caller.account(), &caller.region, &name), &raw)? {
        return Err(KmsError::AlreadyExists(format!(
            "An alias with the name {} already exists",
            alias_arn(&caller.region, caller.account(), &name)
        )));
    }
    tx.commit()?;
    Ok(Empty {})
}
