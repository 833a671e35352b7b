use crate::checks;
use crate::keys::{looks_like_key_id, T_KEY};
use crate::model::key_arn;
use crate::{Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Entry {
    pub key_id: String,
    pub key_arn: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub keys: Vec<Entry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub truncated: bool,
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::limit(&mut v, req.limit, 1000);
    checks::marker(&mut v, &req.marker);
    v.finish()?;
    let limit = req.limit.unwrap_or(100) as usize;
    let prefix = format!("{}/{}/", caller.account(), caller.region);
    let after = match &req.marker {
        Some(m) if looks_like_key_id(m) => Some(format!("{prefix}{m}")),
        Some(_) => return Err(KmsError::InvalidMarker),
        None => None,
    };
    let mut rows = kms.store().read()?.scan(T_KEY, &prefix, after.as_deref(), limit + 1)?;
    let truncated = rows.len() > limit;
    rows.truncate(limit);
    let keys: Vec<Entry> = rows
        .into_iter()
        .map(|(k, _)| {
            let id = k[prefix.len()..].to_string();
            Entry { key_arn: key_arn(&caller.region, caller.account(), &id), key_id: id }
        })
        .collect();
    let next_marker = if truncated { keys.last().map(|e| e.key_id.clone()) } else { None };
    Ok(Response { keys, next_marker, truncated })
}
