use crate::secrets::secret_id_constraint;
use crate::{SecretsManager, SmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub secret_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    #[serde(rename = "ARN")]
    pub arn: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_policy: Option<String>,
}

/// The secret's resource-based policy as it was put; no `ResourcePolicy` member when it has none.
pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<Response, SmError> {
    let mut v = Validator::new();
    secret_id_constraint(&mut v, &req.secret_id);
    v.finish()?;
    let rec = sm.find(&mut *sm.store.read()?, caller, req.secret_id.as_deref().unwrap_or_default())?;
    if rec.deleted_ms.is_some() {
        return Err(SmError::deleted());
    }
    Ok(Response { arn: rec.arn, name: rec.name, resource_policy: rec.resource_policy })
}
