use super::Empty;
use crate::params::{self, not_found, param_key, split_name, T_PARAM, T_VERSION};
use crate::{Ssm, SsmError};
use serde::Deserialize;
use trent_kms::Caller;
use trent_store::Txn;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub name: Option<String>,
}

/// Removes a parameter and every version of it in one transaction; false if it did not exist.
pub(crate) fn delete(ssm: &Ssm, tx: &mut dyn Txn, caller: &Caller, name: &str) -> Result<bool, SsmError> {
    if ssm.load_param(tx, caller, name)?.is_none() {
        return Ok(false);
    }
    let prefix = format!("{}#", param_key(caller, name));
    loop {
        let rows = tx.scan(T_VERSION, &prefix, None, 200)?;
        if rows.is_empty() {
            break;
        }
        for (k, _) in rows {
            tx.delete(T_VERSION, &k)?;
        }
    }
    tx.delete(T_PARAM, &param_key(caller, name))?;
    Ok(true)
}

pub fn handle(ssm: &Ssm, caller: &Caller, req: Request) -> Result<Empty, SsmError> {
    let mut v = Validator::new();
    params::name_constraint(&mut v, "name", &req.name);
    v.finish()?;
    let input = req.name.unwrap_or_default();
    let (name, _) = split_name(caller, &input)?;
    let mut tx = ssm.store.write()?;
    if !delete(ssm, &mut *tx, caller, &name)? {
        return Err(not_found(&input));
    }
    tx.commit()?;
    Ok(Empty {})
}
