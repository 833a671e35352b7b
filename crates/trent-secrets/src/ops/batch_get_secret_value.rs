use super::get_secret_value::{read_value, SecretValue};
use crate::model::SecretRecord;
use crate::secrets::{next_page_token, parse_token, T_SECRET};
use crate::{SecretAccess, SecretAuthorizer, SecretsManager, SmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub secret_id_list: Option<Vec<String>>,
    pub filters: Option<Vec<super::list_secrets::Filter>>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiError {
    pub secret_id: String,
    pub error_code: String,
    pub message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub secret_values: Vec<SecretValue>,
    pub errors: Vec<ApiError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// Without an authorizer ([`SecretsManager::dispatch`]) no secret is readable: each one is
/// reported in Errors as AccessDeniedException.
pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<Response, SmError> {
    handle_with(sm, caller, req, &crate::no_authorizer)
}

/// The ARN `id` would name in the caller's account and region when no secret has it.
fn assumed_arn(caller: &Caller, id: &str) -> String {
    if id.starts_with("arn:") {
        id.to_string()
    } else {
        format!("arn:{}:secretsmanager:{}:{}:secret:{id}", caller.partition(), caller.region, caller.account())
    }
}

fn access<'a>(rec: &'a SecretRecord) -> SecretAccess<'a> {
    SecretAccess { action: GET, secret_arn: &rec.arn, resource_policy: rec.resource_policy.as_deref() }
}

const GET: &str = "secretsmanager:GetSecretValue";

/// Up to 20 secrets' current values, by id list or by filter; per-secret failures are reported
/// in Errors instead of failing the call. Each secret is returned only if `authorize` lets the
/// caller read it (`secretsmanager:GetSecretValue` on it, as AWS requires); the check comes
/// before anything else about the secret, so a secret the caller may not read is reported as
/// AccessDeniedException whether or not it exists, and is never decrypted.
pub fn handle_with(
    sm: &SecretsManager,
    caller: &Caller,
    req: Request,
    authorize: &SecretAuthorizer<'_>,
) -> Result<Response, SmError> {
    let mut v = Validator::new();
    v.count("secretIdList", req.secret_id_list.as_ref().map(Vec::len), 1, 20)
        .count("filters", req.filters.as_ref().map(Vec::len), 0, 10)
        .range("maxResults", req.max_results, 1, 20);
    v.finish()?;
    let mut out = Response { secret_values: Vec::new(), errors: Vec::new(), next_token: None };
    match (req.secret_id_list, req.filters) {
        (Some(_), Some(_)) => {
            return Err(SmError::InvalidParameter("Use either SecretIdList or Filters, not both.".into()))
        }
        (None, None) => return Err(SmError::InvalidParameter("Use SecretIdList or Filters.".into())),
        (Some(ids), None) => {
            if req.max_results.is_some() {
                return Err(SmError::InvalidParameter("MaxResults goes with Filters only.".into()));
            }
            for id in ids {
                let found = {
                    let mut tx = sm.store.read()?;
                    sm.find(&mut *tx, caller, &id)
                };
                let found = match found {
                    Err(SmError::ResourceNotFound(m)) => {
                        let arn = assumed_arn(caller, &id);
                        authorize(caller, &SecretAccess { action: GET, secret_arn: &arn, resource_policy: None })
                            .and(Err(SmError::ResourceNotFound(m)))
                    }
                    other => other,
                };
                let read = found.and_then(|rec| {
                    authorize(caller, &access(&rec))?;
                    let value = read_value(sm, caller, &rec, None, None)?;
                    sm.note_access(caller, &rec)?;
                    Ok(value)
                });
                match read {
                    Ok(value) => out.secret_values.push(value),
                    Err(e @ SmError::Internal(_)) => return Err(e),
                    Err(e) => out.errors.push(ApiError {
                        secret_id: id,
                        error_code: trent_wire::AwsError::code(&e).to_string(),
                        message: trent_wire::AwsError::message(&e),
                    }),
                }
            }
        }
        (None, Some(filters)) => {
            let prefix = format!("{}/{}/", caller.account(), caller.region);
            let all: Vec<SecretRecord> = sm
                .store
                .read()?
                .scan(T_SECRET, &prefix, None, 100_000)?
                .into_iter()
                .map(|(_, raw)| serde_json::from_slice(&raw).map_err(SmError::internal))
                .collect::<Result<_, _>>()?;
            let matching: Vec<SecretRecord> = all
                .into_iter()
                .filter(|r| r.deleted_ms.is_none() && super::list_secrets::matches(&filters, r))
                .collect();
            let start = parse_token(&req.next_token)?;
            let limit = req.max_results.unwrap_or(20) as usize;
            for rec in matching.iter().skip(start).take(limit) {
                match authorize(caller, &access(rec)).and_then(|()| read_value(sm, caller, rec, None, None)) {
                    Ok(value) => {
                        sm.note_access(caller, rec)?;
                        out.secret_values.push(value)
                    }
                    Err(e @ SmError::Internal(_)) => return Err(e),
                    Err(e) => out.errors.push(ApiError {
                        secret_id: rec.arn.clone(),
                        error_code: trent_wire::AwsError::code(&e).to_string(),
                        message: trent_wire::AwsError::message(&e),
                    }),
                }
            }
            out.next_token = next_page_token(start, limit, matching.len());
        }
    }
    Ok(out)
}
