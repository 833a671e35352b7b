use crate::policy::{public_statements, MAX_POLICY_CHARS};
use crate::{SecretsManager, SmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;
use trent_policy::{Policy, PolicyKind};
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub secret_id: Option<String>,
    pub resource_policy: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ValidationError {
    pub check_name: String,
    pub error_message: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub policy_validation_passed: bool,
    pub validation_errors: Vec<ValidationError>,
}

/// Check names Trent reports (AWS does not publish its list).
pub const CHECK_GRAMMAR: &str = "POLICY_GRAMMAR";
pub const CHECK_BROAD_ACCESS: &str = "BROAD_ACCESS";

/// Checks a policy without attaching it: text that is not JSON → MalformedPolicyDocumentException;
/// otherwise the grammar (IAM policy language, resource policy: `Principal` and `Resource`
/// required) and whether it grants broad access, each failure as a ValidationErrors entry.
/// With SecretId, the secret must exist.
pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<Response, SmError> {
    let mut v = Validator::new();
    v.len("secretId", req.secret_id.as_deref(), 1, 2048);
    v.required("resourcePolicy", &req.resource_policy).len(
        "resourcePolicy",
        req.resource_policy.as_deref(),
        1,
        MAX_POLICY_CHARS,
    );
    v.finish()?;
    if let Some(id) = &req.secret_id {
        sm.find(&mut *sm.store.read()?, caller, id)?;
    }
    let text = req.resource_policy.unwrap_or_default();
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| SmError::MalformedPolicyDocument(format!("This resource policy contains a syntax error: {e}.")))?;
    let mut errors = Vec::new();
    match Policy::from_value(&value, PolicyKind::Resource).and_then(|p| p.check_new(PolicyKind::Resource).map(|_| p)) {
        Err(e) => errors.push(ValidationError {
            check_name: CHECK_GRAMMAR.into(),
            error_message: crate::policy::malformed_message(&e),
        }),
        Ok(p) => {
            for s in public_statements(&p) {
                errors.push(ValidationError {
                    check_name: CHECK_BROAD_ACCESS.into(),
                    error_message: format!(
                        "Statement {s} grants broad access to the secret: it allows any principal without a condition that restricts the caller."
                    ),
                });
            }
        }
    }
    Ok(Response { policy_validation_passed: errors.is_empty(), validation_errors: errors })
}
