use super::{tagged_parameter, Empty};
use crate::params::{encode, param_key, T_PARAM};
use crate::{Ssm, SsmError};
use serde::Deserialize;
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub tag_keys: Option<Vec<String>>,
}

pub fn handle(ssm: &Ssm, caller: &Caller, req: Request) -> Result<Empty, SsmError> {
    let mut v = Validator::new();
    v.required("tagKeys", &req.tag_keys);
    for k in req.tag_keys.iter().flatten() {
        v.len("tagKeys.member", Some(k), 1, 128);
    }
    v.finish()?;
    let keys = req.tag_keys.unwrap_or_default();
    let mut tx = ssm.store.write()?;
    let mut p = tagged_parameter(ssm, caller, &req.resource_type, &req.resource_id, &mut *tx)?;
    p.tags.retain(|t| !keys.contains(&t.key));
    tx.put(T_PARAM, &param_key(caller, &p.name), &encode(&p)?)?;
    tx.commit()?;
    Ok(Empty {})
}
