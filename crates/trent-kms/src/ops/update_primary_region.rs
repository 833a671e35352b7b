use super::Empty;
use crate::keys::require_not_pending_deletion;
use crate::{checks, Caller, Kms, KmsError};
use serde::Deserialize;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub primary_region: Option<String>,
}

/// Makes the replica in PrimaryRegion the primary; the old primary becomes a replica.
pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Empty, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    v.required("primaryRegion", &req.primary_region).len("primaryRegion", req.primary_region.as_deref(), 1, 32);
    v.finish()?;
    let target = req.primary_region.unwrap_or_default();
    let mut tx = kms.store().write()?;
    let r = kms.resolve(&mut *tx, caller, req.key_id.as_deref().unwrap_or_default(), false)?;
    let rec = kms.load(&mut *tx, &r)?;
    let mut mrk = match kms.load_mrk(&mut *tx, &rec.account_id, &rec.key_id)? {
        Some(m) if rec.multi_region && m.primary_region == rec.region => m,
        _ => return Err(KmsError::UnsupportedOperation(format!("{} is not a multi-Region primary key.", rec.arn()))),
    };
    require_not_pending_deletion(&rec)?;
    if !mrk.replicas.contains(&target) {
        return Err(KmsError::NotFound(format!("{} has no replica in {target}.", rec.arn())));
    }
    mrk.replicas.retain(|x| *x != target);
    mrk.replicas.push(rec.region.clone());
    mrk.primary_region = target;
    kms.save_mrk(&mut *tx, &rec.account_id, &rec.key_id, &mrk)?;
    tx.commit()?;
    Ok(Empty {})
}
