//! KMS grant constraints (`EncryptionContextEquals`, `EncryptionContextSubset`) as a pure check.
//!
//! AWS: in a grant constraint the key of each pair is not case-sensitive, the value is. The
//! caller applies constraints only to operations that take an encryption context.

use std::collections::BTreeMap;

/// Lower-cases the keys; `None` if two keys differ only by case (then no exact comparison is
/// possible, and the constraint does not match).
fn fold(map: &BTreeMap<String, String>) -> Option<BTreeMap<String, &str>> {
    let mut out = BTreeMap::new();
    for (k, v) in map {
        if out.insert(k.to_lowercase(), v.as_str()).is_some() {
            return None;
        }
    }
    Some(out)
}

/// Whether a request's encryption context satisfies a grant's constraints:
/// `equals` — the context has exactly these pairs; `subset` — the context contains at least
/// these pairs. Absent constraints always hold.
pub fn grant_constraints_allow(
    equals: Option<&BTreeMap<String, String>>,
    subset: Option<&BTreeMap<String, String>>,
    context: &BTreeMap<String, String>,
) -> bool {
    let Some(ctx) = fold(context) else { return equals.is_none() && subset.is_none() };
    if let Some(eq) = equals {
        match fold(eq) {
            Some(eq) if eq == ctx => {}
            _ => return false,
        }
    }
    if let Some(sub) = subset {
        match fold(sub) {
            Some(sub) if sub.iter().all(|(k, v)| ctx.get(k) == Some(v)) => {}
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn no_constraints_always_allow() {
        assert!(grant_constraints_allow(None, None, &m(&[])));
        assert!(grant_constraints_allow(None, None, &m(&[("a", "1")])));
    }

    #[test]
    fn equals_requires_exactly_the_same_pairs() {
        let c = m(&[("Department", "IT")]);
        assert!(grant_constraints_allow(Some(&c), None, &m(&[("Department", "IT")])));
        assert!(!grant_constraints_allow(Some(&c), None, &m(&[("Department", "IT"), ("x", "y")])));
        assert!(!grant_constraints_allow(Some(&c), None, &m(&[])));
    }

    #[test]
    fn subset_requires_the_pairs_and_allows_more() {
        let c = m(&[("Department", "IT")]);
        assert!(grant_constraints_allow(None, Some(&c), &m(&[("Department", "IT"), ("x", "y")])));
        assert!(!grant_constraints_allow(None, Some(&c), &m(&[("x", "y")])));
        assert!(grant_constraints_allow(None, Some(&m(&[])), &m(&[("x", "y")])));
    }

    #[test]
    fn keys_are_case_insensitive_and_values_case_sensitive() {
        let c = m(&[("Department", "IT")]);
        assert!(grant_constraints_allow(Some(&c), None, &m(&[("department", "IT")])));
        assert!(!grant_constraints_allow(Some(&c), None, &m(&[("Department", "it")])));
        assert!(grant_constraints_allow(None, Some(&c), &m(&[("DEPARTMENT", "IT")])));
    }

    #[test]
    fn keys_differing_only_by_case_do_not_match_a_constraint() {
        let c = m(&[("a", "1")]);
        assert!(!grant_constraints_allow(None, Some(&c), &m(&[("a", "1"), ("A", "2")])));
        assert!(grant_constraints_allow(None, None, &m(&[("a", "1"), ("A", "2")])));
    }
}
