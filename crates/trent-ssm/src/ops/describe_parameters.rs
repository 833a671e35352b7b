use super::get_parameter_history::{inline_policies, InlinePolicy};
use crate::filters::{self, Context};
use crate::model::ParamRecord;
use crate::params::{ms_to_epoch, next_token, param_arn, parse_token, StringFilter, T_PARAM};
use crate::{Ssm, SsmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;
use trent_wire::validate::Validator;

/// The legacy `ParametersFilter`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LegacyFilter {
    pub key: Option<String>,
    pub values: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub filters: Option<Vec<LegacyFilter>>,
    pub parameter_filters: Option<Vec<StringFilter>>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub shared: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metadata {
    pub name: String,
    #[serde(rename = "ARN")]
    pub arn: String,
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    pub last_modified_date: f64,
    pub last_modified_user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
    pub version: u64,
    pub tier: String,
    pub policies: Vec<InlinePolicy>,
    pub data_type: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub parameters: Vec<Metadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

pub fn handle(ssm: &Ssm, caller: &Caller, req: Request) -> Result<Response, SsmError> {
    let mut v = Validator::new();
    v.range("maxResults", req.max_results, 1, 50);
    for f in req.filters.iter().flatten() {
        v.required("filters.member.key", &f.key)
            .one_of("filters.member.key", f.key.as_deref(), &["Name", "Type", "KeyId"])
            .required("filters.member.values", &f.values)
            .count("filters.member.values", f.values.as_ref().map(Vec::len), 1, 50);
    }
    v.finish()?;
    if req.filters.is_some() && req.parameter_filters.is_some() {
        return Err(SsmError::validation(
            "You can use either Filters or ParameterFilters in a single request, not both.",
        ));
    }
    let filters: Vec<StringFilter> = match (req.filters, req.parameter_filters) {
        (Some(legacy), _) => legacy
            .into_iter()
            .map(|f| StringFilter {
                option: (f.key.as_deref() == Some("Name")).then(|| "BeginsWith".to_string()),
                key: f.key,
                values: f.values,
            })
            .collect(),
        (None, Some(f)) => f,
        (None, None) => Vec::new(),
    };
    filters::check(&filters, Context::Describe)?;
    let limit = req.max_results.unwrap_or(50) as usize;
    let prefix = format!("{}/{}/", caller.account(), caller.region);
    let mut after = parse_token(&req.next_token, &prefix)?;
    let mut parameters = Vec::new();
    let mut next = None;
    let mut tx = ssm.store.read()?;
    'pages: loop {
        let page = tx.scan(T_PARAM, &prefix, after.as_deref(), 200)?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (key, raw) in page {
            let p: ParamRecord = serde_json::from_slice(&raw).map_err(SsmError::internal)?;
            let Some(cur) = ssm.load_version(&mut *tx, caller, &p.name, p.version)? else {
                continue;
            };
            if !filters::matches(&filters, &p, &cur).0 {
                continue;
            }
            parameters.push(Metadata {
                arn: param_arn(caller, &p.name),
                name: p.name.clone(),
                kind: cur.kind,
                key_id: cur.key_id,
                last_modified_date: ms_to_epoch(cur.modified_ms),
                last_modified_user: cur.modified_user,
                description: cur.description,
                allowed_pattern: cur.allowed_pattern,
                version: cur.version,
                tier: cur.tier,
                policies: inline_policies(&cur.policies),
                data_type: cur.data_type,
            });
            if parameters.len() == limit {
                next = Some(next_token(&key));
                break 'pages;
            }
        }
    }
    Ok(Response { parameters, next_token: next })
}
