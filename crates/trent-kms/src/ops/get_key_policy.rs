use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub policy_name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub policy: String,
    pub policy_name: String,
}

/// A key has exactly one policy, named `default`.
pub(crate) fn policy_name(v: &mut Validator, name: &Option<String>) -> Result<(), KmsError> {
    v.len("policyName", name.as_deref(), 1, 128).pattern(
        "policyName",
        name.as_deref(),
        |s| s.chars().all(|c| c.is_alphanumeric() || c == '_'),
        "[\\w]+",
    );
    v.finish()?;
    match name.as_deref() {
        None | Some("default") => Ok(()),
        Some(other) => {
            Err(KmsError::NotFound(format!("Key policy '{other}' does not exist; the only policy name is 'default'.")))
        }
    }
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    policy_name(&mut v, &req.policy_name)?;
    let rec = kms.find(caller, req.key_id.as_deref().unwrap_or_default(), false)?;
    Ok(Response { policy: rec.policy, policy_name: "default".into() })
}
