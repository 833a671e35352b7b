use crate::model::{ParamRecord, Tag, VersionRecord, DATA_TYPES, MAX_VERSIONS, TIERS, TYPES};
use crate::params::{self, check_new_name, encode, param_key, version_key, T_PARAM, T_VERSION};
use crate::policies::T_POLICY;
use crate::{Ssm, SsmError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use trent_kms::Caller;
use trent_wire::validate::Validator;

/// No `Debug`: the value may be secret.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub name: Option<String>,
    pub description: Option<String>,
    pub value: Option<String>,
    #[serde(rename = "Type")]
    pub kind: Option<String>,
    pub key_id: Option<String>,
    pub overwrite: Option<bool>,
    pub allowed_pattern: Option<String>,
    pub tags: Option<Vec<Tag>>,
    pub tier: Option<String>,
    pub policies: Option<String>,
    pub data_type: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub version: u64,
    pub tier: String,
}

const STANDARD_MAX: usize = 4096;
const ADVANCED_MAX: usize = 8192;
const POLICY_TYPES: &[&str] = &["Expiration", "ExpirationNotification", "NoChangeNotification"];

/// Parses `Policies` (a JSON array of `{Type, Version, Attributes}`) into one text per policy.
fn parse_policies(text: &str) -> Result<Vec<String>, SsmError> {
    let doc: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| SsmError::InvalidPolicyAttribute("Policies must be a JSON array of parameter policies.".into()))?;
    let list = doc.as_array().ok_or_else(|| {
        SsmError::InvalidPolicyAttribute("Policies must be a JSON array of parameter policies.".into())
    })?;
    let mut out = Vec::new();
    for p in list {
        let kind = p.get("Type").and_then(|t| t.as_str()).unwrap_or_default();
        if !POLICY_TYPES.contains(&kind) {
            return Err(SsmError::InvalidPolicyType(format!(
                "The policy type {kind:?} is not supported. Supported policy types: {}.",
                POLICY_TYPES.join(", ")
            )));
        }
        if p.get("Attributes").and_then(|a| a.as_object()).is_none() {
            return Err(SsmError::InvalidPolicyAttribute(format!("The {kind} policy needs an Attributes object.")));
        }
        out.push(p.to_string());
    }
    if out.len() > 10 {
        return Err(SsmError::validation("A parameter can have at most 10 policies."));
    }
    Ok(out)
}

/// AWS matches AllowedPattern against the whole value.
fn check_pattern(pattern: &str, value: &str) -> Result<(), SsmError> {
    let re = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|_| {
        SsmError::InvalidAllowedPattern(format!("The allowed pattern {pattern} is not a valid regular expression."))
    })?;
    if !re.is_match(value) {
        return Err(SsmError::ParameterPatternMismatch(format!(
            "Parameter value, cannot be validated against allowedPattern: {pattern}"
        )));
    }
    Ok(())
}

pub fn handle(ssm: &Ssm, caller: &Caller, req: Request) -> Result<Response, SsmError> {
    let mut v = Validator::new();
    params::name_constraint(&mut v, "name", &req.name);
    v.len("description", req.description.as_deref(), 0, 1024)
        .required("value", &req.value)
        .one_of("type", req.kind.as_deref(), TYPES)
        .len("keyId", req.key_id.as_deref(), 1, 256)
        .pattern(
            "keyId",
            req.key_id.as_deref(),
            |s| s.bytes().all(|b| b.is_ascii_alphanumeric() || b":/_-".contains(&b)),
            "^([a-zA-Z0-9:/_-]+)$",
        )
        .len("allowedPattern", req.allowed_pattern.as_deref(), 0, 1024)
        .count("tags", req.tags.as_ref().map(Vec::len), 0, 1000)
        .one_of("tier", req.tier.as_deref(), TIERS)
        .len("policies", req.policies.as_deref(), 1, 4096)
        .len("dataType", req.data_type.as_deref(), 0, 128);
    let tags = req.tags.unwrap_or_default();
    params::tags_constraint(&mut v, &tags);
    v.finish()?;
    let name = req.name.unwrap_or_default();
    check_new_name(caller, &name)?;
    let value = req.value.unwrap_or_default();
    if value.is_empty() {
        return Err(SsmError::validation(
            "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    let overwrite = req.overwrite == Some(true);
    if overwrite && !tags.is_empty() {
        return Err(SsmError::validation(
            "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.",
        ));
    }
    let data_type = req.data_type.unwrap_or_else(|| "text".into());
    if !DATA_TYPES.contains(&data_type.as_str()) {
        return Err(SsmError::validation(format!(
            "The following data type is not supported: {data_type} (Data type names are all lowercase.)"
        )));
    }
    let policies = match req.policies.as_deref() {
        Some(p) => parse_policies(p)?,
        None => Vec::new(),
    };
    crate::policies::schedule(&policies)?;

    // Read what exists (outside the write transaction: KMS may need to write the managed key).
    let existing = {
        let mut tx = ssm.store.read()?;
        match ssm.load_param(&mut *tx, caller, &name)? {
            Some(p) => {
                let current = ssm.load_version(&mut *tx, caller, &name, p.version)?;
                Some((p, current))
            }
            None => None,
        }
    };
    if existing.is_some() && !overwrite {
        return Err(SsmError::ParameterAlreadyExists);
    }
    let previous = existing.as_ref().and_then(|(_, c)| c.clone());
    let kind = match (req.kind, &previous) {
        (Some(k), _) => k,
        (None, Some(p)) => p.kind.clone(),
        (None, None) => return Err(SsmError::validation("A parameter type is required when you create a parameter.")),
    };
    if req.key_id.is_some() && kind != "SecureString" {
        return Err(SsmError::validation("KeyId is required for SecureString type parameter only."));
    }
    let prev_tier = previous.as_ref().map(|p| p.tier.as_str());
    let tier = match req.tier.as_deref() {
        Some("Intelligent-Tiering") => {
            if value.chars().count() > STANDARD_MAX || !policies.is_empty() || prev_tier == Some("Advanced") {
                "Advanced"
            } else {
                "Standard"
            }
        }
        Some("Standard") if prev_tier == Some("Advanced") => {
            return Err(SsmError::validation(
                "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter.",
            ))
        }
        Some(t) => t,
        None => prev_tier.unwrap_or("Standard"),
    }
    .to_string();
    let len = value.chars().count();
    if tier == "Standard" && len > STANDARD_MAX {
        return Err(SsmError::validation(format!(
            "Standard tier parameters support a maximum parameter value of {STANDARD_MAX} characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier."
        )));
    }
    if len > ADVANCED_MAX {
        return Err(SsmError::validation(format!(
            "Advanced tier parameters support a maximum parameter value of {ADVANCED_MAX} characters."
        )));
    }
    if tier == "Standard" && !policies.is_empty() {
        return Err(SsmError::validation("Parameter policies are supported only for advanced-tier parameters."));
    }
    let allowed_pattern = req.allowed_pattern.or_else(|| previous.as_ref().and_then(|p| p.allowed_pattern.clone()));
    if let Some(p) = allowed_pattern.as_deref().filter(|p| !p.is_empty()) {
        check_pattern(p, &value)?;
    }
    // KeyId is reported as the caller gave it (`alias/aws/ssm` for the default), as AWS does.
    let (stored_value, key_id) = if kind == "SecureString" {
        let key_arn = ssm.secure_key(caller, req.key_id.as_deref())?;
        let shown = req.key_id.clone().unwrap_or_else(|| params::SSM_KEY_ALIAS.to_string());
        (ssm.encrypt_value(caller, &key_arn, &name, &value)?, Some(shown))
    } else {
        (value, None)
    };
    let description = req.description.or_else(|| previous.as_ref().and_then(|p| p.description.clone()));

    let mut tx = ssm.store.write()?;
    let mut param = match ssm.load_param(&mut *tx, caller, &name)? {
        Some(_) if !overwrite => return Err(SsmError::ParameterAlreadyExists),
        Some(p) => p,
        None => ParamRecord {
            name: name.clone(),
            version: 0,
            oldest: 1,
            tags: Vec::new(),
            labels: BTreeMap::new(),
            notified: Vec::new(),
        },
    };
    let created = param.version == 0;
    if created {
        params::merge_tags(&mut param.tags, tags)?;
        ssm.adjust_count(&mut *tx, caller, &tier, 1)?;
    } else {
        let old_tier = ssm.load_version(&mut *tx, caller, &name, param.version)?.map(|v| v.tier);
        if let Some(old) = old_tier.filter(|t| *t != tier) {
            ssm.adjust_count(&mut *tx, caller, &tier, 1)?;
            ssm.adjust_count(&mut *tx, caller, &old, -1)?;
        }
    }
    let version = param.version + 1;
    if version - param.oldest + 1 > MAX_VERSIONS {
        let oldest = param.oldest;
        if param.labels.values().any(|v| *v == oldest) {
            return Err(SsmError::ParameterMaxVersionLimitExceeded(format!(
                "You attempted to create a new version of {name} by calling the PutParameter API with the overwrite flag. Version {oldest}, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again."
            )));
        }
        tx.delete(T_VERSION, &version_key(caller, &name, oldest))?;
        param.oldest += 1;
    }
    param.version = version;
    let rec = VersionRecord {
        version,
        kind,
        value: stored_value,
        key_id,
        description,
        allowed_pattern,
        tier: tier.clone(),
        policies,
        data_type,
        modified_ms: ssm.clock.now_ms(),
        modified_user: caller.principal.arn(caller.partition()),
    };
    if rec.policies.is_empty() {
        tx.delete(T_POLICY, &param_key(caller, &name))?;
    } else {
        tx.put(T_POLICY, &param_key(caller, &name), b"")?;
    }
    tx.put(T_VERSION, &version_key(caller, &name, version), &encode(&rec)?)?;
    tx.put(T_PARAM, &param_key(caller, &name), &encode(&param)?)?;
    tx.commit()?;
    let operation = if created { "Create" } else { "Update" };
    let detail = serde_json::json!({"description": rec.description.clone().unwrap_or_default()});
    ssm.events.emit(crate::events::change(caller, rec.modified_ms, operation, &name, &rec.kind, detail));
    Ok(Response { version, tier })
}
