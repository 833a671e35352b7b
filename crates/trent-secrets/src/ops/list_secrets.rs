use crate::model::{RotationRules, SecretRecord, Tag};
use crate::secrets::{ms_to_epoch, next_page_token, parse_token, T_SECRET};
use crate::{SecretsManager, SmError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    pub key: Option<String>,
    pub values: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub include_planned_deletion: Option<bool>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub filters: Option<Vec<Filter>>,
    pub sort_order: Option<String>,
    pub sort_by: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Entry {
    #[serde(rename = "ARN")]
    pub arn: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_enabled: Option<bool>,
    #[serde(rename = "RotationLambdaARN", skip_serializing_if = "Option::is_none")]
    pub rotation_lambda_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_rules: Option<RotationRules>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_rotated_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_rotation_date: Option<f64>,
    pub last_changed_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_accessed_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_versions_to_stages: Option<BTreeMap<String, Vec<String>>>,
    pub created_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub secret_list: Vec<Entry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

pub(crate) const FILTER_KEYS: &[&str] =
    &["description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all"];

/// AWS's filter semantics: `name`, `tag-key`, `tag-value` match as case-sensitive prefixes of
/// the whole value; `description` and `all` split both the filter value and the text into words
/// ([`words`]) and need every word of the value to prefix-match (ignoring case) a word of the
/// description (`all`: of the name, description, tag keys and values); `primary-region` matches
/// only replicated secrets. A leading `!` negates. Every filter must match.
pub(crate) fn matches(filters: &[Filter], r: &SecretRecord) -> bool {
    filters.iter().all(|f| {
        let key = f.key.as_deref().unwrap_or_default();
        f.values.iter().flatten().any(|v| {
            let (negate, v) = match v.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, v.as_str()),
            };
            let every_word_in = |hay: &[String]| {
                let needles = words(v);
                !needles.is_empty() && needles.iter().all(|w| hay.iter().any(|h| h.starts_with(w.as_str())))
            };
            let hit = match key {
                "name" => r.name.starts_with(v),
                "tag-key" => r.tags.iter().any(|t| t.key.starts_with(v)),
                "tag-value" => r.tags.iter().any(|t| t.value.starts_with(v)),
                "primary-region" => r.is_replicated() && primary_region(r).starts_with(v),
                "description" => r.description.as_deref().is_some_and(|d| every_word_in(&words(d))),
                "all" => {
                    let mut hay = words(&r.name);
                    hay.extend(r.description.as_deref().map(words).unwrap_or_default());
                    for t in &r.tags {
                        hay.extend(words(&t.key));
                        hay.extend(words(&t.value));
                    }
                    every_word_in(&hay)
                }
                _ => false,
            };
            hit != negate
        })
    })
}

/// The words ListSecrets' `all` and `description` filters match: the text split at `/_+=.@-`,
/// white space (any other non-alphanumeric character too) and case changes (`MySecret` → `my`,
/// `secret`), lowercased.
pub(crate) fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in s.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_numeric();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The region of a secret's primary: its own (from its ARN) unless it is a replica.
pub(crate) fn primary_region(r: &SecretRecord) -> String {
    r.primary_region.clone().unwrap_or_else(|| r.arn.split(':').nth(3).unwrap_or_default().to_string())
}

pub(crate) fn check_filters(v: &mut Validator, filters: &Option<Vec<Filter>>) {
    v.count("filters", filters.as_ref().map(Vec::len), 0, 10);
    for f in filters.iter().flatten() {
        v.one_of("filters.member.key", f.key.as_deref(), FILTER_KEYS).count(
            "filters.member.values",
            f.values.as_ref().map(Vec::len),
            1,
            10,
        );
    }
}

pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<Response, SmError> {
    let mut v = Validator::new();
    v.range("maxResults", req.max_results, 1, 100)
        .len("nextToken", req.next_token.as_deref(), 1, 4096)
        .one_of("sortOrder", req.sort_order.as_deref(), &["asc", "desc"])
        .one_of("sortBy", req.sort_by.as_deref(), &["created-date", "last-accessed-date", "last-changed-date", "name"]);
    check_filters(&mut v, &req.filters);
    v.finish()?;
    let prefix = format!("{}/{}/", caller.account(), caller.region);
    let mut all: Vec<SecretRecord> = sm
        .store
        .read()?
        .scan(T_SECRET, &prefix, None, 100_000)?
        .into_iter()
        .map(|(_, raw)| serde_json::from_slice(&raw).map_err(SmError::internal))
        .collect::<Result<_, _>>()?;
    let filters = req.filters.unwrap_or_default();
    let planned = req.include_planned_deletion == Some(true);
    all.retain(|r| (planned || r.deleted_ms.is_none()) && matches(&filters, r));
    match req.sort_by.as_deref() {
        Some("name") => all.sort_by(|a, b| a.name.cmp(&b.name)),
        Some("last-changed-date") => all.sort_by_key(|r| r.changed_ms),
        Some("last-accessed-date") => all.sort_by_key(|r| r.last_accessed_ms),
        _ => all.sort_by_key(|r| r.created_ms),
    }
    if req.sort_order.as_deref() == Some("desc") {
        all.reverse();
    }
    let start = parse_token(&req.next_token)?;
    let limit = req.max_results.unwrap_or(100) as usize;
    let secret_list = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|r| {
            let (rotation_enabled, rotation_lambda_arn, rotation_rules, last_rotated_date, next_rotation_date) =
                super::describe_secret::rotation_view(r);
            Entry {
                rotation_enabled: r.rotation_configured().then_some(rotation_enabled),
                rotation_lambda_arn,
                rotation_rules,
                last_rotated_date,
                next_rotation_date,
                arn: r.arn.clone(),
                name: r.name.clone(),
                description: r.description.clone(),
                kms_key_id: r.kms_key_id.clone(),
                last_changed_date: ms_to_epoch(r.changed_ms),
                last_accessed_date: r.last_accessed_ms.map(ms_to_epoch),
                deleted_date: r.deleted_ms.map(ms_to_epoch),
                tags: r.tags_view(),
                secret_versions_to_stages: (!r.versions.is_empty()).then(|| r.versions_to_stages()),
                created_date: ms_to_epoch(r.created_ms),
                primary_region: r.is_replicated().then(|| primary_region(r)),
            }
        })
        .collect();
    let next_token = next_page_token(start, limit, all.len());
    Ok(Response { secret_list, next_token })
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn words_split_at_separators_white_space_and_case_changes() {
        assert_eq!(words("MySecret"), ["my", "secret"]);
        assert_eq!(words("prod/db_main+x=y.z@w-v"), ["prod", "db", "main", "x", "y", "z", "w", "v"]);
        assert_eq!(words("the Payroll  DB"), ["the", "payroll", "db"]);
        assert_eq!(words("apiKey2Value"), ["api", "key2", "value"]);
        assert!(words("/-_").is_empty());
    }
}
