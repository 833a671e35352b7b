//! Condition operators and their evaluation against the request's condition keys.
//!
//! Semantics (IAM "Condition operators" and "Multivalued context keys"):
//! * within one condition, the policy's values are OR-ed; a negated operator (`StringNotEquals`,
//!   `NotIpAddress`, `ArnNotLike`, …) is true when the request value matches none of them;
//! * a key absent from the request makes a positive operator false and a negated one true;
//!   `…IfExists` makes any operator true when the key is absent; `Null` tests presence;
//! * `ForAnyValue:` is true when some request value satisfies the operator (false for an absent
//!   or empty key); `ForAllValues:` when every request value does (true for an absent or empty key);
//! * a value that does not parse for the operator's type (a non-number for `Numeric*`, a bad
//!   date, a malformed IP) never matches, on either side.

use std::net::IpAddr;

use crate::context::ConditionKeys;
use crate::vars;
use crate::wildcard::{match_arn_toks, match_toks};

/// The comparison an operator makes, before `IfExists` and set qualifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseOperator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

use BaseOperator as B;

const NAMES: &[(&str, BaseOperator)] = &[
    ("StringEquals", B::StringEquals),
    ("StringNotEquals", B::StringNotEquals),
    ("StringEqualsIgnoreCase", B::StringEqualsIgnoreCase),
    ("StringNotEqualsIgnoreCase", B::StringNotEqualsIgnoreCase),
    ("StringLike", B::StringLike),
    ("StringNotLike", B::StringNotLike),
    ("NumericEquals", B::NumericEquals),
    ("NumericNotEquals", B::NumericNotEquals),
    ("NumericLessThan", B::NumericLessThan),
    ("NumericLessThanEquals", B::NumericLessThanEquals),
    ("NumericGreaterThan", B::NumericGreaterThan),
    ("NumericGreaterThanEquals", B::NumericGreaterThanEquals),
    ("DateEquals", B::DateEquals),
    ("DateNotEquals", B::DateNotEquals),
    ("DateLessThan", B::DateLessThan),
    ("DateLessThanEquals", B::DateLessThanEquals),
    ("DateGreaterThan", B::DateGreaterThan),
    ("DateGreaterThanEquals", B::DateGreaterThanEquals),
    ("Bool", B::Bool),
    ("BinaryEquals", B::BinaryEquals),
    ("IpAddress", B::IpAddress),
    ("NotIpAddress", B::NotIpAddress),
    ("ArnEquals", B::ArnEquals),
    ("ArnLike", B::ArnLike),
    ("ArnNotEquals", B::ArnNotEquals),
    ("ArnNotLike", B::ArnNotLike),
    ("Null", B::Null),
];

impl BaseOperator {
    /// The negated operators: true when the request value matches none of the policy's values.
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            B::StringNotEquals
                | B::StringNotEqualsIgnoreCase
                | B::StringNotLike
                | B::NumericNotEquals
                | B::DateNotEquals
                | B::NotIpAddress
                | B::ArnNotEquals
                | B::ArnNotLike
        )
    }

    /// Whether policy variables are substituted in this operator's values.
    fn takes_variables(self) -> bool {
        matches!(
            self,
            B::StringEquals
                | B::StringNotEquals
                | B::StringEqualsIgnoreCase
                | B::StringNotEqualsIgnoreCase
                | B::StringLike
                | B::StringNotLike
                | B::ArnEquals
                | B::ArnLike
                | B::ArnNotEquals
                | B::ArnNotLike
        )
    }
}

/// `ForAnyValue:` / `ForAllValues:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOperator {
    ForAnyValue,
    ForAllValues,
}

/// A full condition operator such as `ForAllValues:StringEqualsIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator {
    pub base: BaseOperator,
    pub if_exists: bool,
    pub set: Option<SetOperator>,
}

impl Operator {
    /// Parses an operator name; `None` for an unknown one (and for `NullIfExists`).
    pub fn parse(name: &str) -> Option<Operator> {
        let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (Some(SetOperator::ForAnyValue), r)
        } else if let Some(r) = name.strip_prefix("ForAllValues:") {
            (Some(SetOperator::ForAllValues), r)
        } else {
            (None, name)
        };
        let lookup = |n: &str| NAMES.iter().find(|(k, _)| *k == n).map(|(_, b)| *b);
        if let Some(base) = lookup(rest) {
            return Some(Operator { base, if_exists: false, set });
        }
        let base = lookup(rest.strip_suffix("IfExists")?)?;
        (base != B::Null).then_some(Operator { base, if_exists: true, set })
    }
}

/// One condition: operator, key and the policy's values for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub op: Operator,
    pub key: String,
    pub values: Vec<String>,
}

/// Parses a number as IAM's numeric operators do; non-finite values do not count.
fn number(s: &str) -> Option<f64> {
    let n: f64 = s.trim().parse().ok()?;
    n.is_finite().then_some(n)
}

/// Parses a date: ISO 8601 / RFC 3339 (`2020-01-01T00:00:00Z`, with or without fraction and
/// offset, or a date alone at midnight UTC) or Unix epoch seconds. In Unix nanoseconds.
pub(crate) fn date(s: &str) -> Option<i128> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().ok().map(|secs| i128::from(secs) * 1_000_000_000);
    }
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    if let Ok(t) = time::OffsetDateTime::parse(s, &Iso8601::DEFAULT) {
        return Some(t.unix_timestamp_nanos());
    }
    if let Ok(t) = time::PrimitiveDateTime::parse(s, &Iso8601::DEFAULT) {
        return Some(t.assume_utc().unix_timestamp_nanos());
    }
    if let Ok(d) = time::Date::parse(s, &Iso8601::DEFAULT) {
        return Some(d.midnight().assume_utc().unix_timestamp_nanos());
    }
    None
}

fn boolean(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Whether `ip` is in `cidr` (`10.0.0.0/8`, `2001:db8::/32`, or one address).
pub(crate) fn cidr_contains(cidr: &str, ip: &str) -> bool {
    let Ok(ip) = ip.trim().parse::<IpAddr>() else { return false };
    let (net, len) = match cidr.trim().split_once('/') {
        Some((n, l)) => match l.parse::<u8>() {
            Ok(l) => (n, Some(l)),
            Err(_) => return false,
        },
        None => (cidr.trim(), None),
    };
    let Ok(net) = net.parse::<IpAddr>() else { return false };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let len = len.unwrap_or(32);
            if len > 32 {
                return false;
            }
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let len = len.unwrap_or(128);
            if len > 128 {
                return false;
            }
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

fn binary(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s.trim()).ok()
}

/// The positive comparison of one request value with one policy value (negation and sets are
/// applied by the caller). `policy` has already had its variables substituted.
fn compare(base: BaseOperator, request: &str, policy: &str, keys: &ConditionKeys, vars_on: bool) -> bool {
    let text = |p: &str| vars::resolve_text(p, keys, vars_on && base.takes_variables());
    match base {
        B::StringEquals | B::StringNotEquals => text(policy).is_some_and(|p| p == request),
        B::StringEqualsIgnoreCase | B::StringNotEqualsIgnoreCase => {
            text(policy).is_some_and(|p| p.to_lowercase() == request.to_lowercase())
        }
        B::StringLike | B::StringNotLike => {
            vars::resolve(policy, keys, vars_on).is_some_and(|toks| match_toks(&toks, request, false))
        }
        B::ArnEquals | B::ArnLike | B::ArnNotEquals | B::ArnNotLike => {
            crate::Arn::parse(request).is_some()
                && vars::resolve(policy, keys, vars_on).is_some_and(|toks| match_arn_toks(&toks, request))
        }
        B::NumericEquals
        | B::NumericNotEquals
        | B::NumericLessThan
        | B::NumericLessThanEquals
        | B::NumericGreaterThan
        | B::NumericGreaterThanEquals => {
            let (Some(r), Some(p)) = (number(request), number(policy)) else { return false };
            match base {
                B::NumericLessThan => r < p,
                B::NumericLessThanEquals => r <= p,
                B::NumericGreaterThan => r > p,
                B::NumericGreaterThanEquals => r >= p,
                _ => r == p,
            }
        }
        B::DateEquals
        | B::DateNotEquals
        | B::DateLessThan
        | B::DateLessThanEquals
        | B::DateGreaterThan
        | B::DateGreaterThanEquals => {
            let (Some(r), Some(p)) = (date(request), date(policy)) else { return false };
            match base {
                B::DateLessThan => r < p,
                B::DateLessThanEquals => r <= p,
                B::DateGreaterThan => r > p,
                B::DateGreaterThanEquals => r >= p,
                _ => r == p,
            }
        }
        B::Bool => matches!((boolean(request), boolean(policy)), (Some(r), Some(p)) if r == p),
        B::BinaryEquals => matches!((binary(request), binary(policy)), (Some(r), Some(p)) if r == p),
        B::IpAddress | B::NotIpAddress => cidr_contains(policy, request),
        B::Null => false,
    }
}

impl Condition {
    /// Evaluates this condition against the request's keys. `vars_on`: the policy's Version
    /// enables policy variables.
    pub fn evaluate(&self, keys: &ConditionKeys, vars_on: bool) -> bool {
        let base = self.op.base;
        let present = keys.get(&self.key).filter(|v| !v.is_empty());
        if base == B::Null {
            return self.values.iter().any(|v| match boolean(v) {
                Some(true) => present.is_none(),
                Some(false) => present.is_some(),
                None => false,
            });
        }
        let Some(request_values) = present else {
            if self.op.if_exists {
                return true;
            }
            return match self.op.set {
                Some(SetOperator::ForAllValues) => true,
                Some(SetOperator::ForAnyValue) => false,
                None => base.is_negated(),
            };
        };
        let negated = base.is_negated();
        let any_policy_value = |r: &str| self.values.iter().any(|p| compare(base, r, p, keys, vars_on));
        // One request value satisfies the operator (negated: it matches none of the values).
        let satisfies = |r: &String| any_policy_value(r) != negated;
        match self.op.set {
            None if negated => request_values.iter().all(satisfies),
            None => request_values.iter().any(satisfies),
            Some(SetOperator::ForAnyValue) => request_values.iter().any(satisfies),
            Some(SetOperator::ForAllValues) => request_values.iter().all(satisfies),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(op: &str, key: &str, values: &[&str]) -> Condition {
        Condition {
            op: Operator::parse(op).unwrap_or_else(|| panic!("{op}")),
            key: key.into(),
            values: values.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn keys(pairs: &[(&str, &[&str])]) -> ConditionKeys {
        let mut k = ConditionKeys::default();
        for (name, vals) in pairs {
            k.insert(name, vals.iter().copied());
        }
        k
    }

    fn check(op: &str, policy: &[&str], request: &[&str]) -> bool {
        cond(op, "t:k", policy).evaluate(&keys(&[("t:k", request)]), true)
    }

    fn absent(op: &str, policy: &[&str]) -> bool {
        cond(op, "t:k", policy).evaluate(&ConditionKeys::default(), true)
    }

    #[test]
    fn operator_names_parse_with_qualifiers() {
        let op = Operator::parse("ForAllValues:StringEqualsIfExists").unwrap();
        assert_eq!((op.base, op.if_exists, op.set), (B::StringEquals, true, Some(SetOperator::ForAllValues)));
        assert!(Operator::parse("stringequals").is_none());
        assert!(Operator::parse("NullIfExists").is_none());
        assert!(Operator::parse("ForSomeValues:StringEquals").is_none());
        for (name, _) in NAMES {
            assert!(Operator::parse(name).is_some());
        }
    }

    #[test]
    fn string_equals_is_exact_and_case_sensitive() {
        assert!(check("StringEquals", &["IT"], &["IT"]));
        assert!(!check("StringEquals", &["IT"], &["it"]));
        assert!(check("StringEquals", &["HR", "IT"], &["IT"]));
        assert!(!check("StringEquals", &["I*"], &["IT"]));
    }

    #[test]
    fn string_not_equals_is_true_only_when_no_value_matches() {
        assert!(check("StringNotEquals", &["HR", "Finance"], &["IT"]));
        assert!(!check("StringNotEquals", &["HR", "IT"], &["IT"]));
        assert!(absent("StringNotEquals", &["IT"]));
    }

    #[test]
    fn string_ignore_case_operators() {
        assert!(check("StringEqualsIgnoreCase", &["Admin"], &["ADMIN"]));
        assert!(!check("StringEqualsIgnoreCase", &["Admin"], &["Admins"]));
        assert!(check("StringNotEqualsIgnoreCase", &["Admin"], &["user"]));
        assert!(!check("StringNotEqualsIgnoreCase", &["Admin"], &["aDmIn"]));
    }

    #[test]
    fn string_like_and_not_like_use_wildcards() {
        assert!(check("StringLike", &["home/*"], &["home/bob/x"]));
        assert!(check("StringLike", &["a?c"], &["abc"]));
        assert!(!check("StringLike", &["home/*"], &["Home/bob"]));
        assert!(check("StringNotLike", &["home/*"], &["tmp/x"]));
        assert!(!check("StringNotLike", &["home/*", "tmp/*"], &["tmp/x"]));
    }

    #[test]
    fn numeric_operators_compare_numbers() {
        assert!(check("NumericEquals", &["10"], &["10.0"]));
        assert!(check("NumericNotEquals", &["10"], &["11"]));
        assert!(!check("NumericNotEquals", &["10"], &["10"]));
        assert!(check("NumericLessThan", &["10"], &["9"]));
        assert!(!check("NumericLessThan", &["10"], &["10"]));
        assert!(check("NumericLessThanEquals", &["10"], &["10"]));
        assert!(check("NumericGreaterThan", &["10"], &["10.5"]));
        assert!(!check("NumericGreaterThan", &["10"], &["-3"]));
        assert!(check("NumericGreaterThanEquals", &["10"], &["10"]));
    }

    #[test]
    fn numeric_with_non_numbers_never_matches() {
        assert!(!check("NumericEquals", &["10"], &["ten"]));
        assert!(!check("NumericLessThan", &["ten"], &["9"]));
        assert!(!check("NumericGreaterThan", &["1"], &["NaN"]));
        assert!(!check("NumericGreaterThan", &["1"], &["inf"]));
        assert!(!check("NumericEquals", &[""], &[""]));
    }

    #[test]
    fn date_operators_compare_instants_across_formats() {
        assert!(check("DateEquals", &["2020-01-01T00:00:00Z"], &["1577836800"]));
        assert!(check("DateEquals", &["2020-01-01"], &["2020-01-01T00:00:00Z"]));
        assert!(check("DateEquals", &["2020-01-01T01:00:00+01:00"], &["2020-01-01T00:00:00.000Z"]));
        assert!(check("DateNotEquals", &["2020-01-01T00:00:00Z"], &["2020-01-02T00:00:00Z"]));
        assert!(check("DateLessThan", &["2020-01-01T00:00:00Z"], &["2019-12-31T23:59:59Z"]));
        assert!(!check("DateLessThan", &["2020-01-01T00:00:00Z"], &["2020-01-01T00:00:00Z"]));
        assert!(check("DateLessThanEquals", &["2020-01-01T00:00:00Z"], &["2020-01-01T00:00:00Z"]));
        assert!(check("DateGreaterThan", &["2020-01-01T00:00:00Z"], &["2020-01-01T00:00:01Z"]));
        assert!(check("DateGreaterThanEquals", &["2020-01-01T00:00:00Z"], &["2020-01-01T00:00:00Z"]));
    }

    #[test]
    fn bad_dates_never_match() {
        assert!(!check("DateLessThan", &["2020-01-01T00:00:00Z"], &["yesterday"]));
        assert!(!check("DateGreaterThan", &["not a date"], &["2020-01-01T00:00:00Z"]));
        assert!(!check("DateEquals", &["2020-13-01"], &["2020-13-01"]));
        assert!(date("99999999999999999999999").is_none());
    }

    #[test]
    fn bool_compares_case_insensitive_true_false() {
        assert!(check("Bool", &["true"], &["TRUE"]));
        assert!(check("Bool", &["false"], &["false"]));
        assert!(!check("Bool", &["true"], &["false"]));
        assert!(!check("Bool", &["true"], &["yes"]));
        assert!(!absent("Bool", &["false"]));
    }

    #[test]
    fn binary_equals_compares_decoded_base64() {
        assert!(check("BinaryEquals", &["QmluYXJ5VmFsdWU="], &["QmluYXJ5VmFsdWU="]));
        assert!(!check("BinaryEquals", &["QmluYXJ5VmFsdWU="], &["T3RoZXI="]));
        assert!(!check("BinaryEquals", &["not base64!"], &["not base64!"]));
    }

    #[test]
    fn ip_address_matches_v4_and_v6_cidrs() {
        assert!(check("IpAddress", &["203.0.113.0/24"], &["203.0.113.7"]));
        assert!(!check("IpAddress", &["203.0.113.0/24"], &["203.0.114.7"]));
        assert!(check("IpAddress", &["203.0.113.7"], &["203.0.113.7"]));
        assert!(check("IpAddress", &["2001:DB8:1234:5678::/64"], &["2001:db8:1234:5678::1"]));
        assert!(!check("IpAddress", &["2001:DB8:1234:5678::/64"], &["2001:db8:1234:5679::1"]));
        assert!(check("IpAddress", &["0.0.0.0/0"], &["8.8.8.8"]));
        assert!(!check("IpAddress", &["203.0.113.0/24"], &["2001:db8::1"]));
        assert!(check("NotIpAddress", &["192.0.2.0/24", "203.0.113.0/24"], &["198.51.100.1"]));
        assert!(!check("NotIpAddress", &["192.0.2.0/24"], &["192.0.2.9"]));
    }

    #[test]
    fn malformed_ips_and_cidrs_never_match() {
        assert!(!check("IpAddress", &["203.0.113.0/33"], &["203.0.113.1"]));
        assert!(!check("IpAddress", &["203.0.113.0/x"], &["203.0.113.1"]));
        assert!(!check("IpAddress", &["203.0.113.0/24"], &["not-an-ip"]));
        assert!(!check("IpAddress", &["::/129"], &["::1"]));
    }

    #[test]
    fn arn_operators_match_segment_wise() {
        let role = "arn:aws:iam::111122223333:role/app";
        assert!(check("ArnEquals", &[role], &[role]));
        assert!(check("ArnLike", &["arn:aws:iam::*:role/*"], &[role]));
        assert!(!check("ArnLike", &["arn:aws:iam::*:user/*"], &[role]));
        assert!(check("ArnNotEquals", &["arn:aws:iam::111122223333:role/other"], &[role]));
        assert!(check("ArnNotLike", &["arn:aws:iam::444455556666:*"], &[role]));
        assert!(!check("ArnNotLike", &["arn:aws:iam::111122223333:*"], &[role]));
        assert!(!check("ArnLike", &["*"], &["not-an-arn"]));
    }

    #[test]
    fn null_tests_presence() {
        assert!(absent("Null", &["true"]));
        assert!(!absent("Null", &["false"]));
        assert!(check("Null", &["false"], &["x"]));
        assert!(!check("Null", &["true"], &["x"]));
        assert!(!check("Null", &["maybe"], &["x"]));
    }

    #[test]
    fn missing_key_fails_positive_operators_and_passes_negated_ones() {
        assert!(!absent("StringEquals", &["x"]));
        assert!(!absent("NumericLessThan", &["1"]));
        assert!(!absent("IpAddress", &["0.0.0.0/0"]));
        assert!(absent("StringNotLike", &["x"]));
        assert!(absent("ArnNotEquals", &["arn:aws:iam::1:root"]));
    }

    #[test]
    fn if_exists_passes_when_key_is_missing_but_checks_when_present() {
        assert!(absent("StringEqualsIfExists", &["x"]));
        assert!(check("StringEqualsIfExists", &["x"], &["x"]));
        assert!(!check("StringEqualsIfExists", &["x"], &["y"]));
        assert!(absent("NumericLessThanIfExists", &["1"]));
    }

    #[test]
    fn for_all_values_requires_every_request_value_to_match() {
        assert!(check("ForAllValues:StringEquals", &["a", "b", "c"], &["a", "b"]));
        assert!(!check("ForAllValues:StringEquals", &["a", "b"], &["a", "z"]));
        assert!(absent("ForAllValues:StringEquals", &["a"]));
        assert!(check("ForAllValues:StringNotEquals", &["x"], &["a", "b"]));
        assert!(!check("ForAllValues:StringNotEquals", &["a"], &["a", "b"]));
    }

    #[test]
    fn for_any_value_requires_one_request_value_to_match() {
        assert!(check("ForAnyValue:StringEquals", &["b"], &["a", "b"]));
        assert!(!check("ForAnyValue:StringEquals", &["c"], &["a", "b"]));
        assert!(!absent("ForAnyValue:StringEquals", &["a"]));
        assert!(check("ForAnyValue:StringNotEquals", &["a"], &["a", "b"]));
        assert!(!check("ForAnyValue:StringNotEquals", &["a"], &["a"]));
        assert!(check("ForAnyValue:StringLike", &["b*"], &["a", "bee"]));
    }

    #[test]
    fn empty_request_value_set_counts_as_absent() {
        assert!(check("ForAllValues:StringEquals", &["a"], &[]));
        assert!(!check("ForAnyValue:StringEquals", &["a"], &[]));
        assert!(check("Null", &["true"], &[]));
    }

    #[test]
    fn policy_variables_in_string_and_arn_values() {
        let k = keys(&[("aws:username", &["bob"]), ("t:k", &["home/bob/file"])]);
        assert!(cond("StringLike", "t:k", &["home/${aws:username}/*"]).evaluate(&k, true));
        assert!(!cond("StringLike", "t:k", &["home/${aws:username}/*"]).evaluate(&k, false));
        let k = keys(&[
            ("aws:PrincipalAccount", &["111122223333"]),
            ("aws:SourceArn", &["arn:aws:sns:us-east-1:111122223333:t"]),
        ]);
        assert!(cond("ArnLike", "aws:SourceArn", &["arn:aws:sns:*:${aws:PrincipalAccount}:*"]).evaluate(&k, true));
        // An unresolved variable matches nothing, so the positive operator fails.
        assert!(!cond("StringEquals", "aws:SourceArn", &["${aws:username}"]).evaluate(&k, true));
    }

    #[test]
    fn numeric_operators_do_not_substitute_variables() {
        let k = keys(&[("t:n", &["5"]), ("t:m", &["5"])]);
        assert!(!cond("NumericEquals", "t:n", &["${t:m}"]).evaluate(&k, true));
    }
}
