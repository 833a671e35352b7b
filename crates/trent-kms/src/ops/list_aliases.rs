use crate::keys::T_ALIAS;
use crate::model::{alias_arn, ms_to_epoch, AliasRecord};
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Entry {
    pub alias_name: String,
    pub alias_arn: String,
    pub target_key_id: String,
    pub creation_date: f64,
    pub last_updated_date: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub aliases: Vec<Entry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub truncated: bool,
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::optional_key_id(&mut v, "keyId", &req.key_id);
    checks::limit(&mut v, req.limit, 1000);
    checks::marker(&mut v, &req.marker);
    v.finish()?;
    let limit = req.limit.unwrap_or(50) as usize;
    let mut tx = kms.store().read()?;
    let only = match req.key_id.as_deref() {
        Some(id) => {
            let r = kms.resolve(&mut *tx, caller, id, false)?;
            Some(kms.load(&mut *tx, &r)?.key_id)
        }
        None => None,
    };
    let prefix = format!("{}/{}/", caller.account(), caller.region);
    let mut after = match &req.marker {
        Some(m) if m.starts_with("alias/") => Some(format!("{prefix}{m}")),
        Some(_) => return Err(KmsError::InvalidMarker),
        None => None,
    };
    let mut aliases = Vec::new();
    let mut truncated = false;
    'pages: loop {
        let page = tx.scan(T_ALIAS, &prefix, after.as_deref(), 500)?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (k, raw) in page {
            let rec: AliasRecord = serde_json::from_slice(&raw).map_err(KmsError::internal)?;
            if only.as_deref().is_some_and(|id| id != rec.target_key_id) {
                continue;
            }
            if aliases.len() == limit {
                truncated = true;
                break 'pages;
            }
            let name = k[prefix.len()..].to_string();
            aliases.push(Entry {
                alias_arn: alias_arn(&caller.region, caller.account(), &name),
                alias_name: name,
                target_key_id: rec.target_key_id,
                creation_date: ms_to_epoch(rec.created_ms),
                last_updated_date: ms_to_epoch(rec.updated_ms),
            });
        }
    }
    let next_marker = if truncated { aliases.last().map(|a| a.alias_name.clone()) } else { None };
    Ok(Response { aliases, next_marker, truncated })
}
