//! `ParameterStringFilter`s: validation with AWS's errors, and matching.

use crate::error::SsmError;
use crate::model::{ParamRecord, VersionRecord};
use crate::params::StringFilter;
use trent_wire::validate::Validator;

/// Which operation the filters are for: each allows different keys.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    ByPath,
    Describe,
}

fn key_ok(k: &str) -> bool {
    matches!(k, "Name" | "Type" | "KeyId" | "Path" | "Label" | "Tier" | "DataType")
        || (k.starts_with("tag:") && k.len() > 4)
}

/// Model constraints (ValidationException), then the keys and options each operation accepts.
pub(crate) fn check(filters: &[StringFilter], ctx: Context) -> Result<(), SsmError> {
    let mut v = Validator::new();
    for f in filters {
        v.required("parameterFilters.member.key", &f.key)
            .len("parameterFilters.member.key", f.key.as_deref(), 1, 132)
            .pattern(
                "parameterFilters.member.key",
                f.key.as_deref(),
                key_ok,
                "^(tag:.+|Name|Type|KeyId|Path|Label|Tier|DataType)$",
            )
            .len("parameterFilters.member.option", f.option.as_deref(), 1, 10)
            .count("parameterFilters.member.values", f.values.as_ref().map(Vec::len), 1, 50);
        for val in f.values.iter().flatten() {
            v.len("parameterFilters.member.values.member", Some(val), 1, 1024);
        }
    }
    v.finish()?;
    for f in filters {
        let key = f.key.as_deref().unwrap_or_default();
        let allowed_here = match ctx {
            Context::ByPath => !matches!(key, "Name" | "Path" | "Tier"),
            Context::Describe => key != "Label",
        };
        if !allowed_here {
            let valid = match ctx {
                Context::ByPath => "Type, KeyId, Label, DataType, tag:<key>",
                Context::Describe => "Name, Type, KeyId, Path, Tier, DataType, tag:<key>",
            };
            return Err(SsmError::InvalidFilterKey(format!(
                "The following filter key is not valid: {key}. Valid filter keys include: [{valid}]."
            )));
        }
        let options: &[&str] = match key {
            "Name" => &["Equals", "BeginsWith", "Contains"],
            "Path" => &["Recursive", "OneLevel"],
            k if k.starts_with("tag:") && ctx == Context::Describe => &["Equals", "BeginsWith"],
            _ => &["Equals"],
        };
        if let Some(o) = f.option.as_deref() {
            if !options.contains(&o) {
                return Err(SsmError::InvalidFilterOption(format!(
                    "The filter option {o} is not valid for key {key}. Valid options include: [{}].",
                    options.join(", ")
                )));
            }
        }
        if f.values.as_ref().is_none_or(|v| v.is_empty()) && !key.starts_with("tag:") {
            return Err(SsmError::InvalidFilterValue(format!("The filter key {key} needs at least one value.")));
        }
        if key == "Path" {
            for p in f.values.iter().flatten() {
                crate::params::check_path(p)?;
            }
        }
    }
    Ok(())
}

fn in_path(name: &str, path: &str, recursive: bool) -> bool {
    // `x` is `/x`: under Path `/`.
    let name = crate::params::canonical(name);
    let name = name.as_ref();
    let base = path.trim_end_matches('/');
    let Some(rest) = name.strip_prefix(base).and_then(|r| r.strip_prefix('/')) else {
        return false;
    };
    !rest.is_empty() && (recursive || !rest.contains('/'))
}

pub(crate) fn path_matches(name: &str, path: &str, recursive: bool) -> bool {
    in_path(name, path, recursive)
}

/// Whether a parameter (with its current version) passes every filter. For a `Label` filter,
/// returns the labelled version to show instead of the current one.
pub(crate) fn matches(filters: &[StringFilter], p: &ParamRecord, v: &VersionRecord) -> (bool, Option<u64>) {
    let mut show = None;
    for f in filters {
        let key = f.key.as_deref().unwrap_or_default();
        let values: &[String] = f.values.as_deref().unwrap_or(&[]);
        let any = |x: &str| values.iter().any(|val| val == x);
        let ok = match key {
            "Name" => {
                let n = p.name.as_str();
                let bare = n.trim_start_matches('/');
                match f.option.as_deref().unwrap_or("Equals") {
                    "BeginsWith" => values
                        .iter()
                        .any(|val| n.starts_with(val.as_str()) || bare.starts_with(val.trim_start_matches('/'))),
                    "Contains" => values.iter().any(|val| n.contains(val.as_str())),
                    _ => values.iter().any(|val| n == val || bare == val.trim_start_matches('/')),
                }
            }
            "Type" => any(&v.kind),
            "Tier" => any(&v.tier),
            "DataType" => any(&v.data_type),
            "KeyId" => v
                .key_id
                .as_deref()
                .is_some_and(|k| values.iter().any(|val| k == val || k.ends_with(&format!("/{val}")))),
            "Path" => {
                let recursive = f.option.as_deref() == Some("Recursive");
                values.iter().any(|path| in_path(&p.name, path, recursive))
            }
            "Label" => match values.iter().find_map(|l| p.labels.get(l)) {
                Some(version) => {
                    show = Some(*version);
                    true
                }
                None => false,
            },
            k => match k.strip_prefix("tag:") {
                Some(tag) => p.tags.iter().any(|t| {
                    t.key == tag
                        && (values.is_empty()
                            || match f.option.as_deref() {
                                Some("BeginsWith") => values.iter().any(|val| t.value.starts_with(val.as_str())),
                                _ => any(&t.value),
                            })
                }),
                None => false,
            },
        };
        if !ok {
            return (false, None);
        }
    }
    (true, show)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_levels() {
        assert!(in_path("/a/b", "/a", false));
        assert!(!in_path("/a/b/c", "/a", false));
        assert!(in_path("/a/b/c", "/a", true));
        assert!(in_path("/a/b/c", "/a/", true));
        assert!(!in_path("/ab/c", "/a", true));
        assert!(in_path("/x", "/", false));
        assert!(!in_path("/x/y", "/", false));
        assert!(in_path("/x/y", "/", true));
        assert!(!in_path("/a", "/a", true));
        // `x` is `/x`.
        assert!(in_path("x", "/", false));
        assert!(!in_path("x", "/x", true));
    }
}
