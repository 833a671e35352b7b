use super::delete_parameter::{delete, deleted_event};
use crate::params::split_name;
use crate::{Ssm, SsmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub names: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub deleted_parameters: Vec<String>,
    pub invalid_parameters: Vec<String>,
}

pub fn handle(ssm: &Ssm, caller: &Caller, req: Request) -> Result<Response, SsmError> {
    let mut v = Validator::new();
    v.required("names", &req.names).count("names", req.names.as_ref().map(Vec::len), 1, 10);
    for n in req.names.iter().flatten() {
        v.len("names.member", Some(n), 1, 2048);
    }
    v.finish()?;
    let mut out = Response { deleted_parameters: Vec::new(), invalid_parameters: Vec::new() };
    let mut tx = ssm.store.write()?;
    let mut events = Vec::new();
    for input in req.names.unwrap_or_default() {
        let deleted = match split_name(caller, &input) {
            Ok((name, None)) => delete(ssm, &mut *tx, caller, &name)?.map(|kind| (name, kind)),
            _ => None,
        };
        match deleted {
            Some(e) => {
                events.push(e);
                out.deleted_parameters.push(input);
            }
            None => out.invalid_parameters.push(input),
        }
    }
    tx.commit()?;
    for (name, kind) in events {
        deleted_event(ssm, caller, &name, &kind);
    }
    Ok(out)
}
