use super::Empty;
use crate::model::Tag;
use crate::secrets::{merge_tags, secret_id_constraint, tags_constraint};
use crate::{SecretsManager, SmError};
use serde::Deserialize;
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub secret_id: Option<String>,
    pub tags: Option<Vec<Tag>>,
}

pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<Empty, SmError> {
    let mut v = Validator::new();
    secret_id_constraint(&mut v, &req.secret_id);
    v.required("tags", &req.tags);
    let tags = req.tags.unwrap_or_default();
    tags_constraint(&mut v, &tags);
    v.finish()?;
    if tags.iter().any(|t| t.key.starts_with("aws:")) {
        return Err(SmError::InvalidParameter("Tag keys beginning with 'aws:' are reserved.".into()));
    }
    let mut tx = sm.store.write()?;
    let mut rec = sm.find(&mut *tx, caller, req.secret_id.as_deref().unwrap_or_default())?;
    crate::replication::require_primary(&rec)?;
    if rec.deleted_ms.is_some() {
        return Err(SmError::deleted());
    }
    merge_tags(&mut rec.tags, tags)?;
    let replicated = sm.sync_in_tx(&mut *tx, caller, &mut rec)?;
    sm.save(&mut *tx, caller, &rec)?;
    tx.commit()?;
    if !replicated {
        sm.sync_replicas(caller, &rec.name);
    }
    Ok(Empty {})
}
