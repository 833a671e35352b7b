//! What every Parameter Store operation shares: names and selectors, the store layout,
//! SecureString protection through KMS, and the output shapes.

use crate::error::SsmError;
use crate::model::{ParamRecord, Tag, VersionRecord, MAX_LEVELS};
use crate::Ssm;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use trent_kms::Caller;
use trent_policy::Arn;
use trent_store::Txn;
use trent_wire::validate::Validator;

pub(crate) const T_PARAM: &str = "ssm_param";
pub(crate) const T_VERSION: &str = "ssm_version";
pub(crate) const T_COUNT: &str = "ssm_count";
pub(crate) const SSM_KEY_ALIAS: &str = "alias/aws/ssm";
const SSM_KEY_DESCRIPTION: &str = "Default key that protects my SSM parameters when no other key is defined";

/// `name:version` or `name:label`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selector {
    Version(u64),
    Label(String),
}

impl Selector {
    pub(crate) fn text(&self) -> String {
        match self {
            Selector::Version(v) => format!(":{v}"),
            Selector::Label(l) => format!(":{l}"),
        }
    }
}

/// `x` and `/x` name the same parameter, as on AWS (a name with a `/` in it begins with one):
/// the store keys every name by its form with a leading `/`. The record keeps the name as it
/// was first created.
pub(crate) fn canonical(name: &str) -> std::borrow::Cow<'_, str> {
    if name.starts_with('/') {
        std::borrow::Cow::Borrowed(name)
    } else {
        std::borrow::Cow::Owned(format!("/{name}"))
    }
}

pub(crate) fn param_key(caller: &Caller, name: &str) -> String {
    format!("{}/{}/{}", caller.account(), caller.region, canonical(name))
}

pub(crate) fn version_key(caller: &Caller, name: &str, version: u64) -> String {
    format!("{}/{}/{}#{:020}", caller.account(), caller.region, canonical(name), version)
}

pub(crate) fn param_arn(caller: &Caller, name: &str) -> String {
    let sep = if name.starts_with('/') { "" } else { "/" };
    format!("arn:{}:ssm:{}:{}:parameter{sep}{name}", caller.partition(), caller.region, caller.account())
}

pub(crate) fn name_constraint(v: &mut Validator, field: &str, name: &Option<String>) {
    v.required(field, name).len(field, name.as_deref(), 1, 2048);
}

/// Splits a `Name` member (a name or an ARN, with an optional `:version` / `:label` selector).
pub(crate) fn split_name(caller: &Caller, input: &str) -> Result<(String, Option<Selector>), SsmError> {
    let (base, selector) = if let Some(arn) = input.strip_prefix("arn:").and(Arn::parse(input)) {
        if arn.service != "ssm" || arn.region != caller.region || arn.account != caller.account() {
            return Err(SsmError::ParameterNotFound(format!("Parameter {input} not found.")));
        }
        let rest = arn
            .resource
            .strip_prefix("parameter/")
            .ok_or_else(|| SsmError::validation(format!("{input} is not a parameter ARN.")))?;
        let (path, sel) = split_selector(rest);
        let name = if path.contains('/') { format!("/{path}") } else { path.to_string() };
        (name, sel.map(str::to_string))
    } else {
        let (path, sel) = split_selector(input);
        (path.to_string(), sel.map(str::to_string))
    };
    let selector = match selector.as_deref() {
        None => None,
        Some(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            Some(Selector::Version(s.parse().map_err(|_| SsmError::validation("The version number is too large."))?))
        }
        Some(s) if !s.is_empty() => Some(Selector::Label(s.to_string())),
        Some(_) => return Err(SsmError::validation(format!("Invalid parameter name selector in {input}."))),
    };
    Ok((base, selector))
}

fn split_selector(s: &str) -> (&str, Option<&str>) {
    match s.rsplit_once(':') {
        Some((n, sel)) => (n, Some(sel)),
        None => (s, None),
    }
}

/// AWS's text for a parameter name PutParameter refuses (characters, a path not fully
/// qualified or with an empty level, an `aws`/`ssm` prefix).
pub(crate) const NAME_RULES: &str = "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). \
     If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a \
     mix of letters, numbers and the following 3 symbols .-_";

/// AWS's text for a path GetParametersByPath (or a DescribeParameters `Path` filter) refuses.
pub(crate) const PATH_RULES: &str = "The parameter doesn't meet the parameter name requirements. The parameter name \
     must begin with a forward slash \"/\". It can't be prefixed with \\\"aws\\\" or \\\"ssm\\\" (case-insensitive). It must \
     use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special \
     characters are not allowed. All sub-paths, if specified, must use the forward slash symbol \"/\". Valid \
     example: /get/parameters2-/by1./path0_.";

/// The rules of a `Path` (GetParametersByPath, DescribeParameters' Path filter): a leading `/`
/// and a name's characters. (`/aws/…` paths are allowed: AWS's public parameters live there.)
pub(crate) fn check_path(path: &str) -> Result<(), SsmError> {
    if !path.starts_with('/') || !path.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b)) {
        return Err(SsmError::validation(PATH_RULES));
    }
    Ok(())
}

/// The naming rules of PutParameter.
pub(crate) fn check_new_name(caller: &Caller, name: &str) -> Result<(), SsmError> {
    let bad = |_: &str| SsmError::validation(NAME_RULES);
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b)) {
        return Err(bad("characters"));
    }
    if name.contains('/') && !name.starts_with('/') {
        return Err(bad("not fully qualified"));
    }
    if name.ends_with('/') || name.contains("//") {
        return Err(bad("empty level"));
    }
    let first = name.trim_start_matches('/').to_ascii_lowercase();
    if first.starts_with("aws") || first.starts_with("ssm") {
        return Err(bad("reserved prefix"));
    }
    let levels = name.trim_start_matches('/').split('/').count();
    if name.starts_with('/') && levels > MAX_LEVELS {
        return Err(SsmError::HierarchyLevelLimitExceeded(format!(
            "The parameter hierarchy depth of {name} exceeds the maximum of {MAX_LEVELS} levels."
        )));
    }
    if param_arn(caller, name).len() > 1011 {
        return Err(SsmError::validation(format!(
            "Parameter name {name}: the name, including its full ARN, must be at most 1011 characters."
        )));
    }
    Ok(())
}

pub(crate) fn tags_constraint(v: &mut Validator, tags: &[Tag]) {
    let ok = |s: &str| s.chars().all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c));
    for t in tags {
        v.len("tags.member.key", Some(&t.key), 1, 128)
            .pattern("tags.member.key", Some(&t.key), ok, "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$")
            .len("tags.member.value", Some(&t.value), 0, 256)
            .pattern("tags.member.value", Some(&t.value), ok, "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$");
    }
}

pub(crate) fn merge_tags(existing: &mut Vec<Tag>, new: Vec<Tag>) -> Result<(), SsmError> {
    for t in new {
        match existing.iter_mut().find(|e| e.key == t.key) {
            Some(e) => e.value = t.value,
            None => existing.push(t),
        }
    }
    if existing.len() > crate::model::MAX_TAGS {
        return Err(SsmError::TooManyTags);
    }
    Ok(())
}

fn decode<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, SsmError> {
    serde_json::from_slice(raw).map_err(SsmError::internal)
}

pub(crate) fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, SsmError> {
    serde_json::to_vec(v).map_err(SsmError::internal)
}

pub(crate) fn not_found(name: &str) -> SsmError {
    SsmError::ParameterNotFound(format!("Parameter {name} not found."))
}

impl Ssm {
    pub(crate) fn load_param(
        &self,
        tx: &mut dyn Txn,
        caller: &Caller,
        name: &str,
    ) -> Result<Option<ParamRecord>, SsmError> {
        tx.get(T_PARAM, &param_key(caller, name))?.map(|raw| decode(&raw)).transpose()
    }

    pub(crate) fn load_version(
        &self,
        tx: &mut dyn Txn,
        caller: &Caller,
        name: &str,
        version: u64,
    ) -> Result<Option<VersionRecord>, SsmError> {
        tx.get(T_VERSION, &version_key(caller, name, version))?.map(|raw| decode(&raw)).transpose()
    }

    /// Changes the number of parameters of `tier` in the caller's account and region by
    /// `delta`; an increase past the configured limit is `ParameterLimitExceeded`.
    pub(crate) fn adjust_count(
        &self,
        tx: &mut dyn Txn,
        caller: &Caller,
        tier: &str,
        delta: i64,
    ) -> Result<(), SsmError> {
        let key = format!("{}/{}/{}", caller.account(), caller.region, tier);
        let current: i64 = match tx.get(T_COUNT, &key)? {
            Some(raw) => String::from_utf8_lossy(&raw).parse().map_err(SsmError::internal)?,
            None => 0,
        };
        let max = if tier == "Advanced" { self.limits.max_advanced } else { self.limits.max_standard };
        if delta > 0 && current + delta > max as i64 {
            return Err(SsmError::ParameterLimitExceeded(format!(
                "You have reached the maximum of {max} {tier}-tier parameters in this account and region."
            )));
        }
        tx.put(T_COUNT, &key, (current + delta).max(0).to_string().as_bytes())?;
        Ok(())
    }

    /// Finds the version a selector names (the current one without a selector).
    pub(crate) fn select(
        &self,
        tx: &mut dyn Txn,
        caller: &Caller,
        param: &ParamRecord,
        selector: &Option<Selector>,
    ) -> Result<VersionRecord, SsmError> {
        let name = &param.name;
        let version = match selector {
            None => param.version,
            Some(Selector::Version(v)) => *v,
            Some(Selector::Label(l)) => *param.labels.get(l).ok_or_else(|| {
                SsmError::ParameterVersionNotFound(format!(
                    "Systems Manager could not find label {l} of {name}. Verify the label and try again."
                ))
            })?,
        };
        self.load_version(tx, caller, name, version)?.ok_or_else(|| {
            SsmError::ParameterVersionNotFound(format!(
                "Systems Manager could not find version {version} of {name}. Verify the version and try again."
            ))
        })
    }

    /// The KMS key a SecureString uses: the one named, or the account's `alias/aws/ssm`.
    pub(crate) fn secure_key(&self, caller: &Caller, key_id: Option<&str>) -> Result<String, SsmError> {
        match key_id {
            Some(k) => Ok(self.kms.symmetric_key_arn(caller, k)?),
            None => Ok(self.kms.aws_managed_key(caller, SSM_KEY_ALIAS, SSM_KEY_DESCRIPTION)?),
        }
    }

    pub(crate) fn encrypt_value(
        &self,
        caller: &Caller,
        key_arn: &str,
        name: &str,
        value: &str,
    ) -> Result<String, SsmError> {
        let (blob, _) = self.kms.encrypt_for_service(caller, key_arn, &context(caller, name), value.as_bytes())?;
        Ok(STANDARD.encode(blob))
    }

    /// The value to return: SecureString values are decrypted only when asked to.
    pub(crate) fn output_value(
        &self,
        caller: &Caller,
        name: &str,
        v: &VersionRecord,
        with_decryption: bool,
    ) -> Result<String, SsmError> {
        if v.kind != "SecureString" || !with_decryption {
            return Ok(v.value.clone());
        }
        let blob = STANDARD.decode(&v.value).map_err(SsmError::internal)?;
        let (plain, _) = self.kms.decrypt_for_service(caller, &blob, &context(caller, name))?;
        String::from_utf8(plain.expose().to_vec()).map_err(SsmError::internal)
    }

    pub(crate) fn parameter(
        &self,
        caller: &Caller,
        name: &str,
        v: &VersionRecord,
        selector: Option<&Selector>,
        with_decryption: bool,
    ) -> Result<Parameter, SsmError> {
        Ok(Parameter {
            name: name.to_string(),
            kind: v.kind.clone(),
            value: self.output_value(caller, name, v, with_decryption)?,
            version: v.version,
            selector: selector.map(|s| s.text()),
            source_result: None,
            last_modified_date: ms_to_epoch(v.modified_ms),
            arn: param_arn(caller, name),
            data_type: v.data_type.clone(),
        })
    }
}

/// The encryption context AWS binds to a SecureString's ciphertext.
fn context(caller: &Caller, name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("PARAMETER_ARN".to_string(), param_arn(caller, name))])
}

pub(crate) fn ms_to_epoch(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// `Parameter` on the wire. No `Debug`: it may hold a decrypted value.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parameter {
    pub name: String,
    #[serde(rename = "Type")]
    pub kind: String,
    pub value: String,
    pub version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_result: Option<String>,
    pub last_modified_date: f64,
    #[serde(rename = "ARN")]
    pub arn: String,
    pub data_type: String,
}

/// `ParameterStringFilter` on the wire.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StringFilter {
    pub key: Option<String>,
    pub option: Option<String>,
    pub values: Option<Vec<String>>,
}

/// Opaque paging tokens: base64 of the last key returned.
pub(crate) fn next_token(last: &str) -> String {
    STANDARD.encode(last.as_bytes())
}

pub(crate) fn parse_token(token: &Option<String>, prefix: &str) -> Result<Option<String>, SsmError> {
    match token {
        None => Ok(None),
        Some(t) => {
            let raw = STANDARD.decode(t).map_err(|_| SsmError::InvalidNextToken)?;
            let s = String::from_utf8(raw).map_err(|_| SsmError::InvalidNextToken)?;
            if !s.starts_with(prefix) {
                return Err(SsmError::InvalidNextToken);
            }
            Ok(Some(s))
        }
    }
}
