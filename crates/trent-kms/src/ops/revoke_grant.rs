use crate::grants::{GrantRecord, T_GRANT};
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub grant_id: Option<String>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct Response {}

/// RevokeGrant: authorized by the key policy (`kms:RevokeGrant`) in the request path.
pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    v.required("grantId", &req.grant_id).len("grantId", req.grant_id.as_deref(), 1, 128);
    v.finish()?;
    let mut tx = kms.store().write()?;
    let r = kms.resolve(&mut *tx, caller, req.key_id.as_deref().unwrap_or_default(), false)?;
    kms.load(&mut *tx, &r)?;
    let id = req.grant_id.unwrap_or_default();
    let raw = tx
        .get(T_GRANT, &format!("{}/{id}", r.store_key()))?
        .ok_or_else(|| KmsError::InvalidGrantId(format!("Grant ID {id} not found")))?;
    let g: GrantRecord = serde_json::from_slice(&raw).map_err(KmsError::internal)?;
    if req.dry_run == Some(true) {
        return Err(KmsError::DryRun);
    }
    kms.delete_grant(&mut *tx, &g)?;
    tx.commit()?;
    Ok(Response {})
}
