use super::Empty;
use crate::keys::require_not_pending_deletion;
use crate::{checks, Caller, Kms, KmsError};
use serde::Deserialize;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub tag_keys: Option<Vec<String>>,
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Empty, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    v.required("tagKeys", &req.tag_keys);
    let keys = req.tag_keys.unwrap_or_default();
    for k in &keys {
        v.len("tagKeys.member", Some(k), 1, 128);
    }
    v.finish()?;
    if let Some(k) = keys.iter().find(|k| k.starts_with("aws:")) {
        return Err(KmsError::Tag(format!("Tag keys beginning with 'aws:' are reserved: '{k}'")));
    }
    kms.update(caller, req.key_id.as_deref().unwrap_or_default(), |rec, _| {
        require_not_pending_deletion(rec)?;
        rec.tags.retain(|t| !keys.contains(&t.tag_key));
        Ok(())
    })?;
    Ok(Empty {})
}
