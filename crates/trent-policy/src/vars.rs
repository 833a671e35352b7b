//! Policy variables (`${aws:username}`), substituted in `Resource` and in the values of string
//! and ARN condition operators, for policies of `"Version": "2012-10-17"` only.
//!
//! * `${key}` takes the request's single value of condition key `key` (names are case-insensitive);
//!   a key that is absent or has several values does not resolve.
//! * `${key, 'default'}` uses `default` when `key` does not resolve (`''` in it is one `'`).
//! * `${*}`, `${?}`, `${$}` are a literal `*`, `?` and `$` (not wildcards).
//!
//! A template with a variable that does not resolve matches nothing (AWS: "there is no equal or
//! like value"). A `${` without a closing `}` is kept as literal text.

use crate::context::ConditionKeys;
use crate::wildcard::Tok;

/// Finds the body of a `${...}` starting after `${` at `start`; returns (body, index after `}`).
fn body_end(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start;
    let mut quoted = false;
    while i < chars.len() {
        match chars[i] {
            '\'' if quoted && chars.get(i + 1) == Some(&'\'') => i += 1,
            '\'' => quoted = !quoted,
            '}' if !quoted => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Parses `name` or `name, 'default'`; `None` when the body is not of that form.
fn parse_body(body: &str) -> Option<(String, Option<String>)> {
    let Some((name, rest)) = body.split_once(',') else {
        let name = body.trim();
        return (!name.is_empty()).then(|| (name.to_string(), None));
    };
    let name = name.trim();
    let rest = rest.trim();
    let inner = rest.strip_prefix('\'')?.strip_suffix('\'')?;
    // Inside the quotes, `''` is one quote and a lone quote is not allowed.
    let mut out = String::new();
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        if c == '\'' && it.next() != Some('\'') {
            return None;
        }
        out.push(c);
    }
    (!name.is_empty()).then(|| (name.to_string(), Some(out)))
}

/// Substitutes the variables of `template` from `keys`. `None` if a variable does not resolve.
/// With `enabled == false` (Version 2008-10-17), the text is taken as it is.
pub(crate) fn resolve(template: &str, keys: &ConditionKeys, enabled: bool) -> Option<Vec<Tok>> {
    if !enabled || !template.contains("${") {
        return Some(crate::wildcard::tokens(template));
    }
    let chars: Vec<char> = template.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' && chars.get(i + 1) == Some(&'{') {
            if let Some(end) = body_end(&chars, i + 2) {
                let body: String = chars[i + 2..end].iter().collect();
                match body.as_str() {
                    "*" => out.push(Tok::Lit('*')),
                    "?" => out.push(Tok::Lit('?')),
                    "$" => out.push(Tok::Lit('$')),
                    _ => {
                        let (name, default) = parse_body(&body)?;
                        let value = keys.single(&name).map(str::to_string).or(default)?;
                        out.extend(value.chars().map(Tok::Lit));
                    }
                }
                i = end + 1;
                continue;
            }
        }
        out.push(match chars[i] {
            '*' => Tok::Star,
            '?' => Tok::One,
            c => Tok::Lit(c),
        });
        i += 1;
    }
    Some(out)
}

/// The resolved template as plain text (for operators without wildcards: `*` is then just `*`).
pub(crate) fn resolve_text(template: &str, keys: &ConditionKeys, enabled: bool) -> Option<String> {
    resolve(template, keys, enabled).map(|toks| {
        toks.into_iter()
            .map(|t| match t {
                Tok::Lit(c) => c,
                Tok::Star => '*',
                Tok::One => '?',
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wildcard::match_toks;

    fn keys() -> ConditionKeys {
        let mut k = ConditionKeys::default();
        k.insert("aws:username", ["bob"]);
        k.insert("aws:TagKeys", ["a", "b"]);
        k
    }

    #[test]
    fn variable_is_replaced_by_the_request_value_case_insensitively() {
        let t = resolve_text("home/${AWS:UserName}/*", &keys(), true).unwrap();
        assert_eq!(t, "home/bob/*");
    }

    #[test]
    fn missing_or_multivalued_variable_does_not_resolve() {
        assert!(resolve("x/${aws:userid}", &keys(), true).is_none());
        assert!(resolve("x/${aws:TagKeys}", &keys(), true).is_none());
    }

    #[test]
    fn default_value_is_used_when_key_is_absent_and_quotes_are_unescaped() {
        let t = resolve_text("${aws:userid, 'it''s'}", &keys(), true).unwrap();
        assert_eq!(t, "it's");
        let t = resolve_text("${ aws:username , 'dflt' }", &keys(), true).unwrap();
        assert_eq!(t, "bob");
    }

    #[test]
    fn escaped_wildcards_are_literal() {
        let toks = resolve("a${*}b${?}${$}", &keys(), true).unwrap();
        assert!(match_toks(&toks, "a*b?$", false));
        assert!(!match_toks(&toks, "aXbY$", false));
    }

    #[test]
    fn substituted_value_is_literal_even_if_it_contains_a_star() {
        let mut k = ConditionKeys::default();
        k.insert("aws:username", ["*"]);
        let toks = resolve("${aws:username}", &k, true).unwrap();
        assert!(match_toks(&toks, "*", false));
        assert!(!match_toks(&toks, "alice", false));
    }

    #[test]
    fn version_2008_does_not_substitute() {
        assert_eq!(resolve_text("${aws:username}", &keys(), false).unwrap(), "${aws:username}");
    }

    #[test]
    fn unclosed_or_malformed_variables() {
        assert_eq!(resolve_text("a${b", &keys(), true).unwrap(), "a${b");
        assert!(resolve("${aws:userid, nodefault}", &keys(), true).is_none());
        assert!(resolve("${}", &keys(), true).is_none());
    }
}
