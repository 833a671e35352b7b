use super::create_access_key::{key_owner, owned_by};
use super::update_access_key::no_key;
use super::Out;
use crate::{Caller, Iam};
use trent_wire::query::Params;

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let id = p.required("AccessKeyId")?;
    let (owner, _) = key_owner(iam, c, p)?;
    iam.identity().record(id)?.filter(|r| owned_by(r, &owner)).ok_or_else(|| no_key(id))?;
    iam.identity().delete(id)?;
    Ok(None)
}
