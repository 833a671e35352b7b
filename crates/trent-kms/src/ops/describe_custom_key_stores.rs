//! DescribeCustomKeyStores: every store of the account and Region, or the one named by id or
//! name (CustomKeyStoreNotFoundException if there is none), paged by `Limit` and `Marker`.

use crate::checks;
use crate::custom_key_stores::Entry;
use crate::{Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub custom_key_store_id: Option<String>,
    pub custom_key_store_name: Option<String>,
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub custom_key_stores: Vec<Entry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub truncated: bool,
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    v.len("customKeyStoreId", req.custom_key_store_id.as_deref(), 1, 64).len(
        "customKeyStoreName",
        req.custom_key_store_name.as_deref(),
        1,
        256,
    );
    checks::limit(&mut v, req.limit, 1000);
    checks::marker(&mut v, &req.marker);
    v.finish()?;
    if req.custom_key_store_id.is_some() && req.custom_key_store_name.is_some() {
        return Err(KmsError::validation("Specify CustomKeyStoreId or CustomKeyStoreName, not both."));
    }
    let mut stores = kms.stores(caller.account(), &caller.region)?;
    if let Some(id) = &req.custom_key_store_id {
        stores.retain(|s| &s.id == id);
    }
    if let Some(name) = &req.custom_key_store_name {
        stores.retain(|s| &s.name == name);
    }
    if stores.is_empty() && (req.custom_key_store_id.is_some() || req.custom_key_store_name.is_some()) {
        return Err(KmsError::CustomKeyStoreNotFound);
    }
    // A store recorded CONNECTED whose connection this process lost (the token went away) is
    // reconnected here, so its state is the truth.
    for s in stores.iter_mut() {
        if s.connection_state == crate::custom_key_stores::CONNECTED && !kms.hsm.is_connected(&s.id) {
            *s = kms.connect_store(s.clone())?;
        }
    }
    if let Some(m) = &req.marker {
        let at = stores.iter().position(|s| &s.id == m).ok_or(KmsError::InvalidMarker)?;
        stores.drain(..=at);
    }
    let limit = req.limit.unwrap_or(100) as usize;
    let truncated = stores.len() > limit;
    stores.truncate(limit);
    let next_marker = if truncated { stores.last().map(|s| s.id.clone()) } else { None };
    Ok(Response { custom_key_stores: stores.iter().map(|s| s.entry()).collect(), next_marker, truncated })
}
