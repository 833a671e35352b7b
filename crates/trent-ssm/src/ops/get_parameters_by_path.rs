use crate::filters::{self, Context};
use crate::model::MAX_LEVELS;
use crate::params::{self, next_token, param_key, parse_token, Parameter, StringFilter, T_PARAM};
use crate::{Ssm, SsmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub path: Option<String>,
    pub recursive: Option<bool>,
    pub parameter_filters: Option<Vec<StringFilter>>,
    pub with_decryption: Option<bool>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub parameters: Vec<Parameter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

pub fn handle(ssm: &Ssm, caller: &Caller, req: Request) -> Result<Response, SsmError> {
    let mut v = Validator::new();
    params::name_constraint(&mut v, "path", &req.path);
    v.range("maxResults", req.max_results, 1, 10);
    v.finish()?;
    let path = req.path.unwrap_or_default();
    params::check_path(&path)?;
    if path.trim_matches('/').split('/').count() > MAX_LEVELS {
        return Err(SsmError::HierarchyLevelLimitExceeded(format!(
            "The path {path} is deeper than the maximum of {MAX_LEVELS} levels."
        )));
    }
    let filters = req.parameter_filters.unwrap_or_default();
    filters::check(&filters, Context::ByPath)?;
    let recursive = req.recursive == Some(true);
    let limit = req.max_results.unwrap_or(10) as usize;
    let prefix = param_key(caller, &format!("{}/", path.trim_end_matches('/')));
    let mut after = parse_token(&req.next_token, &prefix)?;
    let mut found = Vec::new();
    let mut next = None;
    {
        let mut tx = ssm.store.read()?;
        'pages: loop {
            let page = tx.scan(T_PARAM, &prefix, after.as_deref(), 200)?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            for (key, raw) in page {
                let p: crate::model::ParamRecord = serde_json::from_slice(&raw).map_err(SsmError::internal)?;
                if !filters::path_matches(&p.name, &path, recursive) {
                    continue;
                }
                let Some(current) = ssm.load_version(&mut *tx, caller, &p.name, p.version)? else {
                    continue;
                };
                let (ok, show) = filters::matches(&filters, &p, &current);
                if !ok {
                    continue;
                }
                let version = match show {
                    Some(v) if v != p.version => match ssm.load_version(&mut *tx, caller, &p.name, v)? {
                        Some(rec) => rec,
                        None => continue,
                    },
                    _ => current,
                };
                found.push((p.name.clone(), version));
                if found.len() == limit {
                    next = Some(next_token(&key));
                    break 'pages;
                }
            }
        }
    }
    let with_decryption = req.with_decryption == Some(true);
    let parameters = found
        .iter()
        .map(|(name, v)| ssm.parameter(caller, name, v, None, with_decryption))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Response { parameters, next_token: next })
}
