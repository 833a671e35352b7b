use super::{tagged_parameter, Empty};
use crate::model::Tag;
use crate::params::{self, encode, param_key, T_PARAM};
use crate::{Ssm, SsmError};
use serde::Deserialize;
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub tags: Option<Vec<Tag>>,
}

pub fn handle(ssm: &Ssm, caller: &Caller, req: Request) -> Result<Empty, SsmError> {
    let mut v = Validator::new();
    v.required("tags", &req.tags).count("tags", req.tags.as_ref().map(Vec::len), 0, 1000);
    let tags = req.tags.unwrap_or_default();
    params::tags_constraint(&mut v, &tags);
    v.finish()?;
    let mut tx = ssm.store.write()?;
    let mut p = tagged_parameter(ssm, caller, &req.resource_type, &req.resource_id, &mut *tx)?;
    params::merge_tags(&mut p.tags, tags)?;
    tx.put(T_PARAM, &param_key(caller, &p.name), &encode(&p)?)?;
    tx.commit()?;
    Ok(Empty {})
}
