use super::Empty;
use crate::keys::{alias_store_key, T_ALIAS};
use crate::{checks, Caller, Kms, KmsError};
use serde::Deserialize;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub alias_name: Option<String>,
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Empty, KmsError> {
    checks::alias_name(&mut Validator::new(), &req.alias_name)?;
    let name = req.alias_name.unwrap_or_default();
    let mut tx = kms.store().write()?;
    kms.load_alias(&mut *tx, caller, &name)?;
    tx.delete(T_ALIAS, &alias_store_key(caller.account(), &caller.region, &name))?;
    tx.commit()?;
    Ok(Empty {})
}
