use crate::model::MAX_LABELS_PER_VERSION;
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
    /// Always present, `[]` when every label was applied (as AWS answers).
    pub invalid_labels: Vec<String>,
    pub parameter_version: u64,
}

/// AWS's label rules: 1–100 characters of letters, digits, `.`, `-`, `_`; not starting with a
/// digit, nor with `aws` or `ssm` (any case).
pub(crate) fn label_ok(l: &str) -> bool {
    let lower = l.to_ascii_lowercase();
    (1..=100).contains(&l.len())
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !l.starts_with(|c: char| c.is_ascii_digit())
        && !lower.starts_with("aws")
        && !lower.starts_with("ssm")
}

pub(crate) fn labels_constraint(v: &mut Validator, labels: &Option<Vec<String>>) {
    v.required("labels", labels).count("labels", labels.as_ref().map(Vec::len), 1, 10);
    for l in labels.iter().flatten() {
        v.len("labels.member", Some(l), 1, 100);
    }
}

pub fn handle(ssm: &Ssm, caller: &Caller, req: Request) -> Result<Response, SsmError> {
    let mut v = Validator::new();
    params::name_constraint(&mut v, "name", &req.name);
    labels_constraint(&mut v, &req.labels);
    v.finish()?;
    let input = req.name.unwrap_or_default();
    let (name, _) = split_name(caller, &input)?;
    let mut tx = ssm.store.write()?;
    let mut p = ssm.load_param(&mut *tx, caller, &name)?.ok_or_else(|| not_found(&input))?;
    let version = match req.parameter_version {
        Some(n) if n >= p.oldest as i64 && n <= p.version as i64 => n as u64,
        Some(n) => {
            return Err(SsmError::ParameterVersionNotFound(format!(
                "Systems Manager could not find version {n} of {name}. Verify the version and try again."
            )))
        }
        None => p.version,
    };
    let (valid, invalid_labels): (Vec<String>, Vec<String>) =
        req.labels.unwrap_or_default().into_iter().partition(|l| label_ok(l));
    for l in valid {
        p.labels.insert(l, version);
    }
    if p.labels.values().filter(|v| **v == version).count() > MAX_LABELS_PER_VERSION {
        return Err(SsmError::ParameterVersionLabelLimitExceeded(format!(
            "A parameter version can have at most {MAX_LABELS_PER_VERSION} labels."
        )));
    }
    tx.put(T_PARAM, &param_key(caller, &name), &encode(&p)?)?;
    let kind = ssm.load_version(&mut *tx, caller, &name, version)?.map(|v| v.kind).unwrap_or_default();
    tx.commit()?;
    let labels: Vec<&String> = p.labels.iter().filter(|(_, v)| **v == version).map(|(l, _)| l).collect();
    let detail = serde_json::json!({"version": version, "labels": labels});
    ssm.events.emit(crate::events::change(caller, ssm.clock.now_ms(), "LabelParameterVersion", &name, &kind, detail));
    Ok(Response { invalid_labels, parameter_version: version })
}
