use super::label_parameter_version::labels_constraint;
use crate::params::{self, encode, not_found, param_key, split_name, T_PARAM};
use crate::{Ssm, SsmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub name: Option<String>,
    pub parameter_version: Option<i64>,
    pub labels: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub removed_labels: Vec<String>,
    pub invalid_labels: Vec<String>,
}

pub fn handle(ssm: &Ssm, caller: &Caller, req: Request) -> Result<Response, SsmError> {
    let mut v = Validator::new();
    params::name_constraint(&mut v, "name", &req.name);
    v.required("parameterVersion", &req.parameter_version);
    labels_constraint(&mut v, &req.labels);
    v.finish()?;
    let input = req.name.unwrap_or_default();
    let (name, _) = split_name(caller, &input)?;
    let mut tx = ssm.store.write()?;
    let mut p = ssm.load_param(&mut *tx, caller, &name)?.ok_or_else(|| not_found(&input))?;
    let n = req.parameter_version.unwrap_or_default();
    if n < p.oldest as i64 || n > p.version as i64 {
        return Err(SsmError::ParameterVersionNotFound(format!(
            "Systems Manager could not find version {n} of {name}. Verify the version and try again."
        )));
    }
    let mut out = Response { removed_labels: Vec::new(), invalid_labels: Vec::new() };
    for l in req.labels.unwrap_or_default() {
        if p.labels.get(&l) == Some(&(n as u64)) {
            p.labels.remove(&l);
            out.removed_labels.push(l);
        } else {
            out.invalid_labels.push(l);
        }
    }
    tx.put(T_PARAM, &param_key(caller, &name), &encode(&p)?)?;
    let kind = ssm.load_version(&mut *tx, caller, &name, n as u64)?.map(|v| v.kind).unwrap_or_default();
    tx.commit()?;
    let detail = serde_json::json!({"version": n, "labels": out.removed_labels});
    ssm.events.emit(crate::events::change(caller, ssm.clock.now_ms(), "UnlabelParameterVersion", &name, &kind, detail));
    Ok(out)
}
