use super::create_access_key::{key_owner, owned_by};
use super::Out;
use crate::{Caller, Iam, IamError};
use trent_wire::query::Params;

pub(crate) fn no_key(id: &str) -> IamError {
    IamError::NoSuchEntity(format!("The Access Key with id {} cannot be found.", crate::truncate(id)))
}

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let id = p.required("AccessKeyId")?;
    let status = p.required("Status")?;
    if status != "Active" && status != "Inactive" {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]",
            crate::truncate(status)
        )));
    }
    let (owner, _) = key_owner(iam, c, p)?;
    let mut rec = iam.identity().record(id)?.filter(|r| owned_by(r, &owner)).ok_or_else(|| no_key(id))?;
    rec.status = status.to_string();
    iam.identity().update_record(&rec)?;
    Ok(None)
}
