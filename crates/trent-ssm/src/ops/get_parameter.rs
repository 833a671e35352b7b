use crate::params::{self, not_found, split_name, Parameter};
use crate::{Ssm, SsmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub name: Option<String>,
    pub with_decryption: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub parameter: Parameter,
}

pub fn handle(ssm: &Ssm, caller: &Caller, req: Request) -> Result<Response, SsmError> {
    let mut v = Validator::new();
    params::name_constraint(&mut v, "name", &req.name);
    v.finish()?;
    let input = req.name.unwrap_or_default();
    if let Some(parameter) = ssm.reference(caller, &input, req.with_decryption == Some(true))? {
        return Ok(Response { parameter });
    }
    let (name, selector) = split_name(caller, &input)?;
    let version = {
        let mut tx = ssm.store.read()?;
        let p = ssm.load_param(&mut *tx, caller, &name)?.ok_or_else(|| not_found(&input))?;
        ssm.select(&mut *tx, caller, &p, &selector)?
    };
    let parameter = ssm.parameter(caller, &name, &version, selector.as_ref(), req.with_decryption == Some(true))?;
    Ok(Response { parameter })
}
