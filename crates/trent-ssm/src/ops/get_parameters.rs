use crate::params::{split_name, Parameter};
use crate::{Ssm, SsmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub names: Option<Vec<String>>,
    pub with_decryption: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub parameters: Vec<Parameter>,
    pub invalid_parameters: Vec<String>,
}

/// Names that do not exist (or whose selector does not) come back in InvalidParameters.
pub fn handle(ssm: &Ssm, caller: &Caller, req: Request) -> Result<Response, SsmError> {
    let mut v = Validator::new();
    v.required("names", &req.names).count("names", req.names.as_ref().map(Vec::len), 1, 10);
    for n in req.names.iter().flatten() {
        v.len("names.member", Some(n), 1, 2048);
    }
    v.finish()?;
    let mut found = Vec::new();
    let mut invalid_parameters = Vec::new();
    let mut references = Vec::new();
    let with_decryption = req.with_decryption == Some(true);
    let mut names = req.names.unwrap_or_default();
    names.retain(|n| {
        if n.starts_with(crate::references::PREFIX) {
            references.push(n.clone());
            false
        } else {
            true
        }
    });
    {
        let mut tx = ssm.store.read()?;
        for input in names {
            let (name, selector) = match split_name(caller, &input) {
                Ok(s) => s,
                Err(SsmError::ParameterNotFound(_)) | Err(SsmError::Wire(_)) => {
                    invalid_parameters.push(input);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let Some(p) = ssm.load_param(&mut *tx, caller, &name)? else {
                invalid_parameters.push(input);
                continue;
            };
            match ssm.select(&mut *tx, caller, &p, &selector) {
                Ok(version) => found.push((name, selector, version)),
                Err(SsmError::ParameterVersionNotFound(_)) => invalid_parameters.push(input),
                Err(e) => return Err(e),
            }
        }
    }
    let mut parameters = found
        .iter()
        .map(|(name, sel, v)| ssm.parameter(caller, name, v, sel.as_ref(), with_decryption))
        .collect::<Result<Vec<_>, _>>()?;
    for input in references {
        match ssm.reference(caller, &input, with_decryption) {
            Ok(Some(p)) => parameters.push(p),
            Ok(None) | Err(SsmError::ParameterNotFound(_)) => invalid_parameters.push(input),
            Err(e) => return Err(e),
        }
    }
    Ok(Response { parameters, invalid_parameters })
}
