//! Constraint checks shared by several KMS operations (model constraints plus the rules AWS
//! applies at run time), producing AWS's errors.

use crate::model::Tag;
use crate::KmsError;
use std::collections::BTreeMap;
use trent_wire::validate::Validator;

pub(crate) fn key_id(v: &mut Validator, field: &str, value: &Option<String>) {
    v.required(field, value).len(field, value.as_deref(), 1, 2048);
}

pub(crate) fn optional_key_id(v: &mut Validator, field: &str, value: &Option<String>) {
    v.len(field, value.as_deref(), 1, 2048);
}

pub(crate) fn grant_tokens(v: &mut Validator, value: &Option<Vec<String>>) {
    if let Some(tokens) = value {
        v.count("grantTokens", Some(tokens.len()), 0, 10);
        for t in tokens {
            v.len("grantTokens", Some(t), 1, 8192);
        }
    }
}

pub(crate) fn limit(v: &mut Validator, value: Option<i64>, max: i64) {
    v.range("limit", value, 1, max);
}

pub(crate) fn marker(v: &mut Validator, value: &Option<String>) {
    v.len("marker", value.as_deref(), 1, 1024).pattern(
        "marker",
        value.as_deref(),
        |s| s.chars().all(|c| ('\u{20}'..='\u{FF}').contains(&c)),
        "[\\u0020-\\u00FF]*",
    );
}

/// Paging over an in-memory list whose marker is the index to resume at: the range to return
/// and the next marker (None when the list is exhausted). A marker past the end is invalid.
pub(crate) fn index_page(
    len: usize,
    marker: &Option<String>,
    limit: usize,
) -> Result<(std::ops::Range<usize>, Option<String>), KmsError> {
    let start = match marker {
        Some(m) => m.parse::<usize>().ok().filter(|&i| i <= len).ok_or(KmsError::InvalidMarker)?,
        None => 0,
    };
    let end = (start + limit).min(len);
    Ok((start..end, (end < len).then(|| end.to_string())))
}

pub(crate) fn description(v: &mut Validator, value: Option<&str>) {
    v.len("description", value, 0, 8192);
}

/// An encryption context as given, or empty.
pub(crate) fn context(value: Option<BTreeMap<String, String>>) -> BTreeMap<String, String> {
    value.unwrap_or_default()
}

pub(crate) fn policy(v: &mut Validator, value: Option<&str>) {
    v.len("policy", value, 1, 131072).pattern(
        "policy",
        value,
        |s| s.chars().all(|c| matches!(c, '\u{09}' | '\u{0A}' | '\u{0D}' | '\u{20}'..='\u{FF}')),
        "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
    );
}

/// KMS's answer to a key policy naming a principal that is not valid.
pub(crate) const INVALID_PRINCIPALS: &str = "Policy contains a statement with one or more invalid principals.";

/// A key policy must be a resource policy in the IAM policy language, as the engine that
/// evaluates it reads it ([`trent_policy::validate_key_policy`]): a key policy the engine could
/// not read (an `"Action": "Encrypt"` with no `kms:` prefix, say) would leave the key usable by
/// no one. Over the 32 KB quota → LimitExceededException; otherwise
/// MalformedPolicyDocumentException with the reason.
pub(crate) fn policy_document(text: &str) -> Result<(), KmsError> {
    use trent_policy::PolicyErrorKind as K;
    let e = match trent_policy::validate_key_policy(text) {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    Err(match e.kind {
        K::TooLarge => KmsError::LimitExceeded(format!(
            "The key policy exceeds the key policy size quota of {} bytes.",
            trent_policy::KEY_POLICY_MAX_BYTES
        )),
        K::InvalidPrincipal => KmsError::MalformedPolicyDocument(INVALID_PRINCIPALS.into()),
        _ => KmsError::MalformedPolicyDocument(e.reason),
    })
}

/// AWS's default key policy: the account (and so IAM policies in it) may do everything.
pub(crate) fn default_policy(partition: &str, account: &str) -> String {
    format!(
        r#"{{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {{
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "arn:{partition}:iam::{account}:root"
    }},
    "Action" : "kms:*",
    "Resource" : "*"
  }} ]
}}"#
    )
}

pub(crate) const MAX_TAGS: usize = 50;

fn tag_chars_ok(s: &str) -> bool {
    s.chars().all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

/// Model constraints on tags (ValidationException), then AWS's tag rules (TagException).
pub(crate) fn tags(v: &mut Validator, tags: &[Tag]) -> Result<(), KmsError> {
    for t in tags {
        v.len("tags.member.tagKey", Some(&t.tag_key), 1, 128).len("tags.member.tagValue", Some(&t.tag_value), 0, 256);
    }
    v.finish()?;
    for t in tags {
        if t.tag_key.starts_with("aws:") {
            return Err(KmsError::Tag(format!("Tag keys beginning with 'aws:' are reserved: '{}'", t.tag_key)));
        }
        if !tag_chars_ok(&t.tag_key) || !tag_chars_ok(&t.tag_value) {
            return Err(KmsError::Tag(
                "Tags may contain only letters, numbers, spaces and the characters _ . : / = + - @".into(),
            ));
        }
    }
    Ok(())
}

/// Merges `new` into `existing`: a key that is already there gets the new value.
pub(crate) fn merge_tags(existing: &mut Vec<Tag>, new: Vec<Tag>) -> Result<(), KmsError> {
    for t in new {
        match existing.iter_mut().find(|e| e.tag_key == t.tag_key) {
            Some(e) => e.tag_value = t.tag_value,
            None => existing.push(t),
        }
    }
    if existing.len() > MAX_TAGS {
        return Err(KmsError::LimitExceeded(format!("A KMS key can have at most {MAX_TAGS} tags.")));
    }
    Ok(())
}

/// AWS's text for an alias name without the `alias/` prefix (a ValidationException).
pub(crate) const ALIAS_PREFIX: &str =
    "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html";

/// Alias names: model pattern (ValidationException), then the `alias/` prefix
/// (ValidationException, AWS's text), no `:` (the model's pattern allows it, KMS does not), and
/// the reserved `alias/aws/` namespace.
pub(crate) fn alias_name(v: &mut Validator, value: &Option<String>) -> Result<(), KmsError> {
    v.required("aliasName", value).len("aliasName", value.as_deref(), 1, 256).pattern(
        "aliasName",
        value.as_deref(),
        |s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_-:".contains(&b)),
        "^[a-zA-Z0-9:/_-]+$",
    );
    v.finish()?;
    let name = value.as_deref().unwrap_or_default();
    if !name.starts_with("alias/") || name.len() == "alias/".len() {
        return Err(KmsError::validation(ALIAS_PREFIX));
    }
    if name.contains(':') {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: ^[a-zA-Z0-9/_-]+$"
        )));
    }
    if name.starts_with("alias/aws/") || name == "alias/aws" {
        return Err(KmsError::NotAuthorized(
            "Cannot create, update or delete an alias with the reserved prefix 'alias/aws/'".into(),
        ));
    }
    Ok(())
}
