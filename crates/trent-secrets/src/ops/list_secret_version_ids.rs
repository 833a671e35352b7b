use crate::secrets::{ms_to_epoch, next_page_token, parse_token, secret_id_constraint};
use crate::{SecretsManager, SmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub secret_id: Option<String>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub include_deprecated: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Version {
    pub version_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub version_stages: Vec<String>,
    pub created_date: f64,
    pub kms_key_ids: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub versions: Vec<Version>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    #[serde(rename = "ARN")]
    pub arn: String,
    pub name: String,
}

/// Versions in creation order; versions with no label are "deprecated" and listed only with
/// IncludeDeprecated.
pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<Response, SmError> {
    let mut v = Validator::new();
    secret_id_constraint(&mut v, &req.secret_id);
    v.range("maxResults", req.max_results, 1, 100).len("nextToken", req.next_token.as_deref(), 1, 4096);
    v.finish()?;
    let rec = {
        let mut tx = sm.store.read()?;
        sm.find(&mut *tx, caller, req.secret_id.as_deref().unwrap_or_default())?
    };
    let deprecated = req.include_deprecated == Some(true);
    let all: Vec<Version> = rec
        .order
        .iter()
        .filter_map(|id| rec.versions.get(id).map(|m| (id, m)))
        .filter(|(_, m)| deprecated || !m.stages.is_empty())
        .map(|(id, m)| Version {
            version_id: id.clone(),
            version_stages: m.stages.clone(),
            created_date: ms_to_epoch(m.created_ms),
            kms_key_ids: std::iter::once(&m.kms_key_arn).chain(m.older_key_arns.iter()).cloned().collect(),
        })
        .collect();
    let start = parse_token(&req.next_token)?;
    let limit = req.max_results.unwrap_or(100) as usize;
    let total = all.len();
    let versions = all.into_iter().skip(start).take(limit).collect();
    Ok(Response { versions, next_token: next_page_token(start, limit, total), arn: rec.arn, name: rec.name })
}
