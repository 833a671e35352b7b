use crate::keys::require_rotatable;
use crate::model::ms_to_epoch;
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub include_key_material: Option<String>,
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Entry {
    pub key_id: String,
    pub key_material_id: String,
    pub key_material_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_type: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub rotations: Vec<Entry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub truncated: bool,
}

/// The key's rotations, oldest first; with ALL_KEY_MATERIAL the original material too.
pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    v.one_of("includeKeyMaterial", req.include_key_material.as_deref(), &["ALL_KEY_MATERIAL", "ROTATIONS_ONLY"]);
    checks::limit(&mut v, req.limit, 1000);
    checks::marker(&mut v, &req.marker);
    v.finish()?;
    let rec = kms.find(caller, req.key_id.as_deref().unwrap_or_default(), false)?;
    require_rotatable(&rec)?;
    let all = req.include_key_material.as_deref() == Some("ALL_KEY_MATERIAL");
    let entries: Vec<Entry> = rec
        .materials
        .iter()
        .filter(|m| all || m.rotation_type.is_some())
        .map(|m| Entry {
            key_id: rec.key_id.clone(),
            key_material_id: m.id.clone(),
            key_material_state: if m.id == rec.current_material { "CURRENT" } else { "NON_CURRENT" },
            rotation_date: m.rotation_type.as_ref().map(|_| ms_to_epoch(m.created_ms)),
            rotation_type: m.rotation_type.clone(),
        })
        .collect();
    let (range, next_marker) = checks::index_page(entries.len(), &req.marker, req.limit.unwrap_or(100) as usize)?;
    let rotations = entries.into_iter().skip(range.start).take(range.len()).collect();
    Ok(Response { rotations, truncated: next_marker.is_some(), next_marker })
}
