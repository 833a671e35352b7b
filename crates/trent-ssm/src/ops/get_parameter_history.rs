use crate::model::VersionRecord;
use crate::params::{self, ms_to_epoch, next_token, not_found, parse_token, split_name, T_VERSION};
use crate::{Ssm, SsmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub name: Option<String>,
    pub with_decryption: Option<bool>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InlinePolicy {
    pub policy_text: String,
    pub policy_type: String,
    pub policy_status: &'static str,
}

pub(crate) fn inline_policies(texts: &[String]) -> Vec<InlinePolicy> {
    texts
        .iter()
        .map(|t| InlinePolicy {
            policy_text: t.clone(),
            policy_type: serde_json::from_str::<serde_json::Value>(t)
                .ok()
                .and_then(|v| v.get("Type").and_then(|x| x.as_str()).map(String::from))
                .unwrap_or_default(),
            policy_status: "Pending",
        })
        .collect()
}

/// No `Debug`: it may hold decrypted values.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryEntry {
    pub name: String,
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    pub last_modified_date: f64,
    pub last_modified_user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
    pub version: u64,
    /// Always present, `[]` without labels (as AWS answers).
    pub labels: Vec<String>,
    pub tier: String,
    pub policies: Vec<InlinePolicy>,
    pub data_type: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub parameters: Vec<HistoryEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

pub fn handle(ssm: &Ssm, caller: &Caller, req: Request) -> Result<Response, SsmError> {
    let mut v = Validator::new();
    params::name_constraint(&mut v, "name", &req.name);
    v.range("maxResults", req.max_results, 1, 50);
    v.finish()?;
    let input = req.name.unwrap_or_default();
    let (name, _) = split_name(caller, &input)?;
    let limit = req.max_results.unwrap_or(50) as usize;
    let prefix = format!("{}#", params::param_key(caller, &name));
    let after = parse_token(&req.next_token, &prefix)?;
    let (param, rows) = {
        let mut tx = ssm.store.read()?;
        let p = ssm.load_param(&mut *tx, caller, &name)?.ok_or_else(|| not_found(&input))?;
        (p, tx.scan(T_VERSION, &prefix, after.as_deref(), limit + 1)?)
    };
    let more = rows.len() > limit;
    let mut parameters = Vec::new();
    let mut last_key = None;
    for (key, raw) in rows.into_iter().take(limit) {
        let rec: VersionRecord = serde_json::from_slice(&raw).map_err(SsmError::internal)?;
        let labels = param.labels.iter().filter(|(_, v)| **v == rec.version).map(|(l, _)| l.clone()).collect();
        parameters.push(HistoryEntry {
            name: name.clone(),
            value: ssm.output_value(caller, &name, &rec, req.with_decryption == Some(true))?,
            kind: rec.kind,
            key_id: rec.key_id,
            last_modified_date: ms_to_epoch(rec.modified_ms),
            last_modified_user: rec.modified_user,
            description: rec.description,
            allowed_pattern: rec.allowed_pattern,
            version: rec.version,
            labels,
            tier: rec.tier,
            policies: inline_policies(&rec.policies),
            data_type: rec.data_type,
        });
        last_key = Some(key);
    }
    Ok(Response { parameters, next_token: if more { last_key.map(|k| next_token(&k)) } else { None } })
}
