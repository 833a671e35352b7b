use super::tagged_parameter;
use crate::model::Tag;
use crate::{Ssm, SsmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub tag_list: Vec<Tag>,
}

pub fn handle(ssm: &Ssm, caller: &Caller, req: Request) -> Result<Response, SsmError> {
    let mut tx = ssm.store.read()?;
    let p = tagged_parameter(ssm, caller, &req.resource_type, &req.resource_id, &mut *tx)?;
    Ok(Response { tag_list: p.tags })
}
