use crate::model::Tag;
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
pub struct Response {
    pub tags: Vec<Tag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub truncated: bool,
}

/// Tags in the order they were first added; the marker is the position to resume at.
pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    checks::limit(&mut v, req.limit, 50);
    checks::marker(&mut v, &req.marker);
    v.finish()?;
    let rec = kms.find(caller, req.key_id.as_deref().unwrap_or_default(), false)?;
    let (range, next_marker) = checks::index_page(rec.tags.len(), &req.marker, req.limit.unwrap_or(50) as usize)?;
    Ok(Response { tags: rec.tags[range].to_vec(), truncated: next_marker.is_some(), next_marker })
}
