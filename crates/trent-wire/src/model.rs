//! The wire contract of the served services, as data generated from botocore's service models
//! (`cargo run -p xtask -- gen-wire`, output in [`crate::generated`]), and the validator that
//! checks every awsJson request against it before the handler runs, with AWS's messages:
//!
//! ```text
//! 1 validation error detected: Value 'AES_512' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]
//! 2 validation errors detected: Value '' at 'name' failed to satisfy constraint: …; Value null at 'value' failed to satisfy constraint: Member must not be null
//! ```
//!
//! Paths are the members' names in lowerCamelCase, joined with dots; a structure inside a list is
//! `<list>.<1-based index>.member.<field>` (`filters.1.member.key`). A list is rendered
//! `'[a, b]'`; a list whose elements break their own constraints gets one error of the form
//! `Member must satisfy constraint: [Member must have length less than or equal to 2048, …]`.
//! Values of sensitive members (the model's `sensitive` trait, plus the generator's short hand
//! list of secret-bearing members) and blobs are never echoed: `Value at 'plaintext' failed …`.

use crate::WireError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;
use std::sync::OnceLock;
use zeroize::Zeroize;

/// One service model.
#[derive(Debug)]
pub struct Service {
    /// The model's directory name in botocore (`kms`, `ssm`, `secretsmanager`, …).
    pub name: &'static str,
    pub api_version: &'static str,
    /// The botocore release the data was generated from.
    pub botocore_version: &'static str,
    /// Sorted by name.
    pub operations: &'static [Operation],
    pub shapes: &'static [Shape],
    /// The distinct `pattern` traits (`Shape::pattern` indexes this).
    pub patterns: &'static [&'static str],
    /// Compiled patterns, built on first use (`None`: a pattern Rust's regex cannot express; it is
    /// not checked).
    pub compiled: OnceLock<Vec<OnceLock<Option<regex::Regex>>>>,
}

/// One operation: its input and output shapes (`Service::shapes` indexes), and the wire names of
/// the members anywhere in its input or output that carry secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    pub name: &'static str,
    pub input: Option<u16>,
    pub output: Option<u16>,
    pub sensitive: &'static [&'static str],
}

/// A shape's type, with what it contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Blob,
    Boolean,
    Integer,
    Long,
    Float,
    Timestamp,
    /// Members in the model's order.
    Structure(&'static [Member]),
    /// The element shape.
    List(u16),
    /// Key and value shapes.
    Map(u16, u16),
}

/// One shape and its constraints: `min`/`max` are a length (characters of a string, bytes of a
/// blob, elements of a list or map) or, for integers, a value range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub name: &'static str,
    pub kind: Kind,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub pattern: Option<u16>,
    pub enum_values: &'static [&'static str],
    pub sensitive: bool,
}

/// One member of a structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// The wire name (`KeyId`).
    pub name: &'static str,
    pub shape: u16,
    pub required: bool,
    /// Its value is never echoed in an error, logged or audited.
    pub sensitive: bool,
}

impl Service {
    pub fn operation(&self, name: &str) -> Option<&'static Operation> {
        self.operations.binary_search_by(|o| o.name.cmp(name)).ok().map(|i| &self.operations[i])
    }

    pub fn shape(&self, i: u16) -> &'static Shape {
        &self.shapes[usize::from(i)]
    }

    fn regex(&self, i: u16) -> Option<&regex::Regex> {
        let cache = self.compiled.get_or_init(|| self.patterns.iter().map(|_| OnceLock::new()).collect());
        let slot = cache.get(usize::from(i))?;
        slot.get_or_init(|| {
            let p = self.patterns.get(usize::from(i))?;
            regex::Regex::new(&format!(r"\A(?:{})\z", java_classes(p))).ok()
        })
        .as_ref()
    }

    /// Whether the pattern at `i` can be checked (Rust's regex expresses it).
    pub fn pattern_is_checked(&self, i: u16) -> bool {
        self.regex(i).is_some()
    }

    /// Checks an awsJson request body for `operation` against the model. A body that is not a
    /// JSON object, or an operation the model does not know, passes: decoding reports the first
    /// (`SerializationException`), dispatch the second.
    pub fn validate(&self, operation: &str, body: &[u8]) -> Result<(), WireError> {
        let Some(op) = self.operation(operation) else { return Ok(()) };
        let Some(input) = op.input else { return Ok(()) };
        let errors = {
            let trimmed = body.iter().all(|b| b.is_ascii_whitespace());
            let mut value: Value = if trimmed {
                Value::Object(Default::default())
            } else {
                serde_json::from_slice(body).unwrap_or(Value::Null)
            };
            let errors = if value.is_object() { self.check_request(input, &value) } else { Vec::new() };
            wipe(&mut value);
            errors
        };
        finish(errors)
    }

    /// The violations of a decoded request (`value` an object of shape `input`).
    pub fn check_request(&self, input: u16, value: &Value) -> Vec<String> {
        let mut out = Vec::new();
        if let Kind::Structure(members) = self.shape(input).kind {
            self.check_members(members, "", value, &mut out);
        }
        out
    }

    fn check_members(&self, members: &[Member], prefix: &str, value: &Value, out: &mut Vec<String>) {
        let Value::Object(map) = value else { return };
        for m in members {
            let path = format!("{prefix}{}", lower_camel(m.name));
            match map.get(m.name) {
                None | Some(Value::Null) => {
                    if m.required {
                        out.push(format!(
                            "Value null at '{path}' failed to satisfy constraint: Member must not be null"
                        ));
                    }
                }
                Some(v) => self.check_value(m.shape, m.sensitive, &path, v, out),
            }
        }
    }

    fn check_value(&self, shape: u16, sensitive: bool, path: &str, v: &Value, out: &mut Vec<String>) {
        let s = self.shape(shape);
        let sensitive = sensitive || s.sensitive;
        match s.kind {
            Kind::String => {
                let Value::String(text) = v else { return };
                for c in self.scalar_violations(s, text) {
                    out.push(violation(if sensitive { None } else { Some(text) }, path, &c));
                }
            }
            Kind::Blob => {
                let Value::String(text) = v else { return };
                let Ok(mut bytes) = STANDARD.decode(text.as_bytes()) else { return };
                let n = bytes.len() as i64;
                bytes.zeroize();
                if let Some(c) = length_violation(s, n) {
                    out.push(violation(None, path, &c));
                }
            }
            Kind::Integer | Kind::Long => {
                let Some(n) = v.as_i64() else { return };
                if let Some(c) = range_violation(s, n) {
                    let shown = n.to_string();
                    out.push(violation(if sensitive { None } else { Some(&shown) }, path, &c));
                }
            }
            Kind::Boolean | Kind::Float | Kind::Timestamp => {}
            Kind::Structure(members) => self.check_members(members, &format!("{path}."), v, out),
            Kind::List(element) => {
                let Value::Array(items) = v else { return };
                let shown = if sensitive || self.shape(element).sensitive { None } else { Some(render(v)) };
                if let Some(c) = length_violation(s, items.len() as i64) {
                    out.push(violation(shown.as_deref(), path, &c));
                }
                let e = self.shape(element);
                match e.kind {
                    Kind::Structure(_) | Kind::List(_) | Kind::Map(..) => {
                        for (i, item) in items.iter().enumerate() {
                            self.check_value(element, sensitive, &format!("{path}.{}.member", i + 1), item, out);
                        }
                    }
                    _ => {
                        if items.iter().any(|item| self.element_fails(e, item)) {
                            let c = format!("Member must satisfy constraint: [{}]", self.describe(e).join(", "));
                            out.push(violation(shown.as_deref(), path, &c));
                        }
                    }
                }
            }
            Kind::Map(key, val) => {
                let Value::Object(entries) = v else { return };
                let shown = if sensitive || self.shape(val).sensitive { None } else { Some(render(v)) };
                if let Some(c) = length_violation(s, entries.len() as i64) {
                    out.push(violation(shown.as_deref(), path, &c));
                }
                let (k, e) = (self.shape(key), self.shape(val));
                if entries.keys().any(|name| self.element_fails(k, &Value::String(name.clone()))) {
                    let c = format!("Map keys must satisfy constraint: [{}]", self.describe(k).join(", "));
                    out.push(violation(shown.as_deref(), path, &c));
                }
                match e.kind {
                    Kind::Structure(_) | Kind::List(_) | Kind::Map(..) => {
                        for (name, item) in entries {
                            self.check_value(val, sensitive, &format!("{path}.{name}.member"), item, out);
                        }
                    }
                    _ => {
                        if entries.values().any(|item| self.element_fails(e, item)) {
                            let c = format!("Map value must satisfy constraint: [{}]", self.describe(e).join(", "));
                            out.push(violation(shown.as_deref(), path, &c));
                        }
                    }
                }
            }
        }
    }

    /// The constraints a string breaks, in AWS's order: length, pattern, enum.
    fn scalar_violations(&self, s: &Shape, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(c) = length_violation(s, text.chars().count() as i64) {
            out.push(c);
        }
        if let Some(p) = s.pattern {
            if self.regex(p).is_some_and(|re| !re.is_match(text)) {
                out.push(format!("Member must satisfy regular expression pattern: {}", self.patterns[usize::from(p)]));
            }
        }
        if !s.enum_values.is_empty() && !s.enum_values.contains(&text) {
            out.push(format!("Member must satisfy enum value set: [{}]", s.enum_values.join(", ")));
        }
        out
    }

    /// Whether one scalar element of a list or map breaks its shape's constraints.
    fn element_fails(&self, e: &Shape, item: &Value) -> bool {
        match (e.kind, item) {
            (Kind::String, Value::String(t)) => !self.scalar_violations(e, t).is_empty(),
            (Kind::Integer | Kind::Long, v) => v.as_i64().is_some_and(|n| range_violation(e, n).is_some()),
            (Kind::Blob, Value::String(t)) => STANDARD.decode(t.as_bytes()).is_ok_and(|mut b| {
                let n = b.len() as i64;
                b.zeroize();
                length_violation(e, n).is_some()
            }),
            _ => false,
        }
    }

    /// Every constraint of a scalar shape, as AWS lists them inside `[…]`.
    fn describe(&self, e: &Shape) -> Vec<String> {
        let mut out = Vec::new();
        let word = if matches!(e.kind, Kind::Integer | Kind::Long) { "value" } else { "length" };
        if let Some(max) = e.max {
            out.push(format!("Member must have {word} less than or equal to {max}"));
        }
        if let Some(min) = e.min {
            out.push(format!("Member must have {word} greater than or equal to {min}"));
        }
        if let Some(p) = e.pattern {
            if self.pattern_is_checked(p) {
                out.push(format!("Member must satisfy regular expression pattern: {}", self.patterns[usize::from(p)]));
            }
        }
        if !e.enum_values.is_empty() {
            out.push(format!("Member must satisfy enum value set: [{}]", e.enum_values.join(", ")));
        }
        out
    }
}

/// Java's `\w`, `\d` and `\s` are ASCII; Rust's are Unicode: spell them out as Java means them.
fn java_classes(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 16);
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('w') => out.push_str("[0-9A-Za-z_]"),
            Some('d') => out.push_str("[0-9]"),
            Some('s') => out.push_str(r"[\t\n\x0B\x0C\r ]"),
            Some(n) => {
                out.push('\\');
                out.push(n);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Joins violations as AWS does: `N validation error(s) detected: a; b`.
pub fn finish(errors: Vec<String>) -> Result<(), WireError> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(WireError::Validation(format!("1 validation error detected: {}", errors[0]))),
        n => Err(WireError::Validation(format!("{n} validation errors detected: {}", errors.join("; ")))),
    }
}

fn length_violation(s: &Shape, n: i64) -> Option<String> {
    match (s.min, s.max) {
        (Some(min), _) if n < min => Some(format!("Member must have length greater than or equal to {min}")),
        (_, Some(max)) if n > max => Some(format!("Member must have length less than or equal to {max}")),
        _ => None,
    }
}

fn range_violation(s: &Shape, n: i64) -> Option<String> {
    match (s.min, s.max) {
        (Some(min), _) if n < min => Some(format!("Member must have value greater than or equal to {min}")),
        (_, Some(max)) if n > max => Some(format!("Member must have value less than or equal to {max}")),
        _ => None,
    }
}

const MAX_ECHO: usize = 256;

fn violation(value: Option<&str>, path: &str, constraint: &str) -> String {
    match value {
        Some(v) if v.chars().count() > MAX_ECHO => {
            let cut: String = v.chars().take(MAX_ECHO).collect();
            format!("Value '{cut}...' at '{path}' failed to satisfy constraint: {constraint}")
        }
        Some(v) => format!("Value '{v}' at '{path}' failed to satisfy constraint: {constraint}"),
        None => format!("Value at '{path}' failed to satisfy constraint: {constraint}"),
    }
}

/// `KeyId` → `keyId`, `SAMLOptions` → `sAMLOptions` (AWS lowers the first letter only).
pub fn lower_camel(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A request value as AWS prints it in a message (Java's `toString`): strings bare, lists
/// `[a, b]`, structures and maps `{K=v, …}`.
pub fn render(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(render).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => {
            format!("{{{}}}", o.iter().map(|(k, v)| format!("{k}={}", render(v))).collect::<Vec<_>>().join(", "))
        }
    }
}

/// Zeroizes every string of a parsed body before it is dropped (it may hold plaintext).
fn wipe(v: &mut Value) {
    match v {
        Value::String(s) => s.zeroize(),
        Value::Array(a) => a.iter_mut().for_each(wipe),
        Value::Object(o) => o.values_mut().for_each(wipe),
        _ => {}
    }
}

/// The generated model of a service by its model name (`kms`, `ssm`, `secretsmanager`, …).
pub fn service(name: &str) -> Option<&'static Service> {
    crate::generated::SERVICES.iter().copied().find(|s| s.name == name)
}

/// Validates an awsJson request of `service`'s `operation` against the generated model (see
/// [`Service::validate`]); a service or operation the model lacks passes.
pub fn validate_request(service_name: &str, operation: &str, body: &[u8]) -> Result<(), WireError> {
    match service(service_name) {
        Some(s) => s.validate(operation, body),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(service: &str, op: &str, body: &str) -> String {
        match validate_request(service, op, body.as_bytes()) {
            Err(WireError::Validation(m)) => m,
            other => panic!("{service} {op} {body}: expected a ValidationException, got {other:?}"),
        }
    }

    #[test]
    fn an_enum_violation_lists_the_models_values_in_order() {
        let m = message("kms", "CreateKey", r#"{"KeySpec": "AES_512"}"#);
        assert!(
            m.starts_with("1 validation error detected: Value 'AES_512' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256,"),
            "{m}"
        );
        assert!(m.ends_with(']'), "{m}");
    }

    #[test]
    fn a_missing_required_member_is_value_null() {
        assert_eq!(
            message("kms", "DescribeKey", "{}"),
            "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"
        );
        assert_eq!(
            message("kms", "DescribeKey", r#"{"KeyId": null}"#),
            "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn several_violations_are_counted_and_joined_in_the_models_member_order() {
        let m = message("kms", "GenerateDataKey", r#"{"KeyId": "", "NumberOfBytes": 2000}"#);
        assert_eq!(
            m,
            "2 validation errors detected: Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1; \
             Value '2000' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"
        );
    }

    #[test]
    fn a_string_breaking_length_and_pattern_gets_one_error_per_constraint() {
        let long = "a".repeat(257);
        let m = message("kms", "CreateAlias", &format!(r#"{{"AliasName": "{long}!", "TargetKeyId": "k"}}"#));
        assert!(m.starts_with("2 validation errors detected: "), "{m}");
        assert!(
            m.contains(
                "at 'aliasName' failed to satisfy constraint: Member must have length less than or equal to 256"
            ),
            "{m}"
        );
        assert!(m.contains("at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"), "{m}");
        // Echoed values are cut at 256 characters.
        assert!(m.contains(&format!("Value '{}...' at 'aliasName'", "a".repeat(256))), "{m}");
    }

    #[test]
    fn list_sizes_render_the_list_and_list_elements_name_every_constraint() {
        let names: Vec<String> = (0..11).map(|i| format!("\"p{i}\"")).collect();
        let m = message("ssm", "GetParameters", &format!(r#"{{"Names": [{}]}}"#, names.join(", ")));
        assert_eq!(
            m,
            "1 validation error detected: Value '[p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10]' at 'names' failed to satisfy constraint: Member must have length less than or equal to 10"
        );
        let m = message("ssm", "GetParameters", r#"{"Names": ["ok", ""]}"#);
        assert_eq!(
            m,
            "1 validation error detected: Value '[ok, ]' at 'names' failed to satisfy constraint: Member must satisfy constraint: \
             [Member must have length less than or equal to 2048, Member must have length greater than or equal to 1]"
        );
    }

    #[test]
    fn structures_in_lists_have_indexed_member_paths() {
        let m =
            message("ssm", "DescribeParameters", r#"{"ParameterFilters": [{"Key": "Name"}, {"Option": "Equals"}]}"#);
        assert_eq!(
            m,
            "1 validation error detected: Value null at 'parameterFilters.2.member.key' failed to satisfy constraint: Member must not be null"
        );
        let m = message("kms", "TagResource", r#"{"KeyId": "k", "Tags": [{"TagKey": "", "TagValue": "v"}]}"#);
        assert_eq!(
            m,
            "1 validation error detected: Value '' at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
    }

    #[test]
    fn sensitive_members_and_blobs_are_never_echoed() {
        // 4097 bytes of plaintext: base64 of 4097 zero bytes.
        let b64 = STANDARD.encode(vec![0u8; 4097]);
        let m = message("kms", "Encrypt", &format!(r#"{{"KeyId": "k", "Plaintext": "{b64}"}}"#));
        assert_eq!(
            m,
            "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096"
        );
        let long = "s".repeat(65537);
        let m =
            message("secretsmanager", "PutSecretValue", &format!(r#"{{"SecretId": "x", "SecretString": "{long}"}}"#));
        assert!(m.starts_with("1 validation error detected: Value at 'secretString' failed"), "{m}");
        assert!(!m.contains("sss"), "{m}");
    }

    #[test]
    fn good_requests_bodies_of_other_types_and_unknown_operations_pass() {
        assert_eq!(validate_request("kms", "DescribeKey", br#"{"KeyId": "alias/x"}"#), Ok(()));
        assert_eq!(validate_request("kms", "DescribeKey", b"not json"), Ok(()));
        assert_eq!(validate_request("kms", "DescribeKey", br#"{"KeyId": 5}"#), Ok(()));
        assert_eq!(validate_request("kms", "NoSuchOperation", b"{}"), Ok(()));
        assert_eq!(validate_request("nosuch", "DescribeKey", b"{}"), Ok(()));
    }

    #[test]
    fn javas_ascii_classes_are_spelled_out() {
        assert_eq!(java_classes(r"^[\w+=]\d\s\.$"), r"^[[0-9A-Za-z_]+=][0-9][\t\n\x0B\x0C\r ]\.$");
        let re = regex::Regex::new(&format!(r"\A(?:{})\z", java_classes(r"[\w]+"))).unwrap();
        assert!(re.is_match("abc_1"));
        assert!(!re.is_match("é"));
    }

    #[test]
    fn lower_camel_lowers_the_first_letter_only() {
        assert_eq!(lower_camel("KeyId"), "keyId");
        assert_eq!(lower_camel("SAMLOptions"), "sAMLOptions");
        assert_eq!(lower_camel(""), "");
    }

    #[test]
    fn every_generated_service_is_sorted_and_its_indexes_resolve() {
        for s in crate::generated::SERVICES {
            assert!(s.operations.windows(2).all(|w| w[0].name < w[1].name), "{}", s.name);
            for o in s.operations {
                for i in [o.input, o.output].into_iter().flatten() {
                    assert!(usize::from(i) < s.shapes.len());
                }
            }
            for sh in s.shapes {
                assert!(sh.pattern.is_none_or(|p| usize::from(p) < s.patterns.len()));
            }
        }
        let kms = service("kms").unwrap();
        assert!(kms.operation("Encrypt").unwrap().sensitive.contains(&"Plaintext"));
    }
}
