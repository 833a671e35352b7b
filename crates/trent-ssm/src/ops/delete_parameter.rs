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

/// Removes a parameter and every version of it in one transaction. Returns the type of the
/// deleted parameter, or None if it did not exist.
pub(crate) fn delete(ssm: &Ssm, tx: &mut dyn Txn, caller: &Caller, name: &str) -> Result<Option<String>, SsmError> {
    let Some(p) = ssm.load_param(tx, caller, name)? else {
        return Ok(None);
    };
    let current = ssm.load_version(tx, caller, name, p.version)?;
    if let Some(v) = &current {
        ssm.adjust_count(tx, caller, &v.tier, -1)?;
    }
    tx.delete(crate::policies::T_POLICY, &param_key(caller, name))?;
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
    Ok(Some(current.map(|v| v.kind).unwrap_or_default()))
}

pub(crate) fn deleted_event(ssm: &Ssm, caller: &Caller, name: &str, kind: &str) {
    let now = ssm.clock.now_ms();
    ssm.events.emit(crate::events::change(caller, now, "Delete", name, kind, serde_json::json!({})));
}

pub fn handle(ssm: &Ssm, caller: &Caller, req: Request) -> Result<Empty, SsmError> {
    let mut v = Validator::new();
    params::name_constraint(&mut v, "name", &req.name);
    v.finish()?;
    let input = req.name.unwrap_or_default();
    let (name, _) = split_name(caller, &input)?;
    let mut tx = ssm.store.write()?;
    let Some(kind) = delete(ssm, &mut *tx, caller, &name)? else {
        return Err(not_found(&input));
    };
    tx.commit()?;
    deleted_event(ssm, caller, &name, &kind);
    Ok(Empty {})
}
