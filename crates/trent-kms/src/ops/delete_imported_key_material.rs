use crate::keys::{clear_imported_material, key_ref, require_not_pending_deletion, rotation_store_key, T_EXPIRY};
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub key_material_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub key_id: String,
    pub key_material_id: String,
}

/// Deletes the imported material at once: the key becomes PendingImport and unusable until the
/// same material is imported again.
pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    v.len("keyMaterialId", req.key_material_id.as_deref(), 64, 64);
    v.finish()?;
    let mut deleted = String::new();
    let rec = kms.update(caller, req.key_id.as_deref().unwrap_or_default(), |rec, tx| {
        if rec.origin != "EXTERNAL" {
            return Err(KmsError::UnsupportedOperation(format!("{} does not have imported key material.", rec.arn())));
        }
        require_not_pending_deletion(rec)?;
        if let Some(id) = &req.key_material_id {
            if rec.materials.iter().all(|m| &m.id != id) {
                return Err(KmsError::NotFound(format!("Key material {id} is not in {}.", rec.arn())));
            }
        }
        if let Some(v) = rec.valid_to_ms {
            tx.delete(T_EXPIRY, &rotation_store_key(v, &key_ref(rec)))?;
        }
        deleted = rec.current_material.clone();
        clear_imported_material(rec);
        Ok(())
    })?;
    kms.evict(&rec.key_id);
    Ok(Response { key_id: rec.arn(), key_material_id: deleted })
}
