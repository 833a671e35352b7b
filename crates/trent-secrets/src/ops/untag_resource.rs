use super::Empty;
use crate::secrets::secret_id_constraint;
use crate::{SecretsManager, SmError};
use serde::Deserialize;
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub secret_id: Option<String>,
    pub tag_keys: Option<Vec<String>>,
}

pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<Empty, SmError> {
    let mut v = Validator::new();
    secret_id_constraint(&mut v, &req.secret_id);
    v.required("tagKeys", &req.tag_keys);
    v.finish()?;
    let keys = req.tag_keys.unwrap_or_default();
    let mut tx = sm.store.write()?;
    let mut rec = sm.find(&mut *tx, caller, req.secret_id.as_deref().unwrap_or_default())?;
    crate::replication::require_primary(&rec)?;
    if rec.deleted_ms.is_some() {
        return Err(SmError::deleted());
    }
    rec.tagged |= !rec.tags.is_empty();
    rec.tags.retain(|t| !keys.contains(&t.key));
    let replicated = sm.sync_in_tx(&mut *tx, caller, &mut rec)?;
    sm.save(&mut *tx, caller, &rec)?;
    tx.commit()?;
    if !replicated {
        sm.sync_replicas(caller, &rec.name);
    }
    Ok(Empty {})
}
