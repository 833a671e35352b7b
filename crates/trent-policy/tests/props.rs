//! Property tests: wildcard and ARN matching against a reference matcher, and policy parsing
//! and evaluation that never panic on arbitrary input.

use proptest::prelude::*;
use serde_json::Value;
use trent_policy::{
    arn_match, evaluate, wildcard_match, wildcard_match_ignore_case, Policy, PolicyKind, RequestContext,
    RequestPrincipal,
};

/// A plainly correct (exponential, memo-free) matcher for small inputs.
fn reference(p: &[char], s: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('*', rest)) => (0..=s.len()).any(|i| reference(rest, &s[i..])),
        Some(('?', rest)) => !s.is_empty() && reference(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && reference(rest, &s[1..]),
    }
}

fn small_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof![Just('a'), Just('b'), Just('/'), Just(':'), Just('é')], 0..10)
        .prop_map(|v| v.into_iter().collect())
}

fn small_pattern() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof![Just('a'), Just('b'), Just('/'), Just('*'), Just('?'), Just('é')], 0..8)
        .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #[test]
    fn wildcard_match_agrees_with_reference_matcher(p in small_pattern(), s in small_text()) {
        let pc: Vec<char> = p.chars().collect();
        let sc: Vec<char> = s.chars().collect();
        prop_assert_eq!(wildcard_match(&p, &s), reference(&pc, &sc));
    }

    #[test]
    fn pattern_without_wildcards_matches_only_itself(p in "[a-zA-Z0-9/:_-]{0,12}", s in "[a-zA-Z0-9/:_-]{0,12}") {
        prop_assert!(wildcard_match(&p, &p));
        prop_assert_eq!(wildcard_match(&p, &s), p == s);
    }

    #[test]
    fn star_matches_every_string(s in ".{0,40}") {
        prop_assert!(wildcard_match("*", &s));
        prop_assert!(wildcard_match("**", &s));
    }

    #[test]
    fn replacing_a_substring_with_star_still_matches(s in "[a-z:/]{0,20}", a in 0usize..21, b in 0usize..21) {
        let (lo, hi) = (a.min(b).min(s.len()), a.max(b).min(s.len()));
        let p = format!("{}*{}", &s[..lo], &s[hi..]);
        prop_assert!(wildcard_match(&p, &s), "{} should match {}", p, s);
    }

    #[test]
    fn replacing_one_character_with_question_mark_still_matches(s in "[a-z:/]{1,20}", i in 0usize..20) {
        let i = i % s.len();
        let p = format!("{}?{}", &s[..i], &s[i + 1..]);
        prop_assert!(wildcard_match(&p, &s));
        // `?` is exactly one character: the string one shorter does not match.
        prop_assert!(!wildcard_match(&p, &s[1..]));
    }

    #[test]
    fn ignore_case_equals_matching_lowercased_ascii(p in "[a-zA-Z*?:]{0,10}", s in "[a-zA-Z:]{0,10}") {
        prop_assert_eq!(
            wildcard_match_ignore_case(&p, &s),
            wildcard_match(&p.to_ascii_lowercase(), &s.to_ascii_lowercase())
        );
    }

    #[test]
    fn concrete_arn_pattern_matches_only_the_same_arn(
        region in "[a-z]{2}-[a-z]{4}-[0-9]", acct in "[0-9]{12}", id in "[a-f0-9-]{1,20}", other in "[a-f0-9-]{1,20}"
    ) {
        let arn = format!("arn:aws:kms:{region}:{acct}:key/{id}");
        let arn2 = format!("arn:aws:kms:{region}:{acct}:key/{other}");
        prop_assert!(arn_match(&arn, &arn));
        prop_assert_eq!(arn_match(&arn, &arn2), id == other);
    }

    #[test]
    fn region_wildcard_matches_any_region_but_not_another_account(
        region in "[a-z]{2}-[a-z]{4}-[0-9]", acct in "[0-9]{12}", other_acct in "[0-9]{12}", id in "[a-f0-9-]{1,20}"
    ) {
        let pattern = format!("arn:aws:kms:*:{acct}:key/*");
        let same = format!("arn:aws:kms:{region}:{acct}:key/{id}");
        prop_assert!(arn_match(&pattern, &same));
        prop_assert_eq!(arn_match(&pattern, &format!("arn:aws:kms:{region}:{other_acct}:key/{id}")), acct == other_acct);
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in ".{0,200}") {
        let _ = Policy::parse(&text, PolicyKind::Identity);
        let _ = Policy::parse(&text, PolicyKind::Resource);
    }

    #[test]
    fn parsing_and_evaluating_arbitrary_statements_never_panics(doc in policy_like(), action in "[a-z]{1,5}:[A-Za-z*?]{1,8}") {
        let user = RequestPrincipal::from_arn("arn:aws:iam::111122223333:user/bob", "AIDA1").unwrap();
        let ctx = RequestContext::new(user, &action, "arn:aws:kms:us-east-1:111122223333:key/k")
            .with("aws:SourceIp", "10.1.2.3")
            .with("aws:CurrentTime", "2024-01-01T00:00:00Z")
            .with_values("kms:EncryptionContextKeys", ["a", "b"]);
        for kind in [PolicyKind::Identity, PolicyKind::Resource] {
            if let Ok(p) = Policy::from_value(&doc, kind) {
                let _ = evaluate(&ctx, std::slice::from_ref(&p), None, "111122223333");
                let _ = evaluate::<Policy>(&ctx, &[], Some(&p), "111122223333");
            }
        }
    }
}

/// Random policy-shaped JSON: known element names with random (often wrong) values.
fn policy_like() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        Just(Value::from("*")),
        Just(Value::from("kms:*")),
        Just(Value::from("kms:Decrypt")),
        Just(Value::from("arn:aws:kms:*:111122223333:key/*")),
        Just(Value::from("10.0.0.0/8")),
        Just(Value::from("2024-01-01T00:00:00Z")),
        Just(Value::from("${aws:username}")),
        Just(Value::from("${")),
        Just(Value::from("111122223333")),
        Just(Value::from(12)),
        Just(Value::from(true)),
        Just(Value::Null),
        ".{0,12}".prop_map(Value::from),
    ];
    let values = prop_oneof![scalar.clone(), proptest::collection::vec(scalar.clone(), 0..3).prop_map(Value::from)];
    let operators = prop_oneof![
        Just("StringEquals"),
        Just("StringLike"),
        Just("ForAllValues:StringNotEquals"),
        Just("ForAnyValue:StringLike"),
        Just("NumericLessThan"),
        Just("DateGreaterThanIfExists"),
        Just("Bool"),
        Just("BinaryEquals"),
        Just("IpAddress"),
        Just("NotIpAddress"),
        Just("ArnLike"),
        Just("Null"),
        Just("Bogus"),
    ];
    let keys = prop_oneof![
        Just("aws:SourceIp"),
        Just("aws:CurrentTime"),
        Just("kms:EncryptionContextKeys"),
        Just("aws:username"),
        Just("aws:PrincipalArn"),
        Just("nokey"),
    ];
    let condition =
        proptest::collection::btree_map(operators, proptest::collection::btree_map(keys, values.clone(), 1..3), 0..3)
            .prop_map(|m| {
                Value::Object(
                    m.into_iter()
                        .map(|(op, ks)| {
                            (op.to_string(), Value::Object(ks.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
                        })
                        .collect(),
                )
            });
    let principal = prop_oneof![
        Just(Value::from("*")),
        Just(serde_json::json!({"AWS": "arn:aws:iam::111122223333:root"})),
        Just(serde_json::json!({"AWS": ["111122223333", "arn:aws:iam::111122223333:user/bob"]})),
        Just(serde_json::json!({"Service": "kms.amazonaws.com"})),
        values.clone(),
    ];
    let statement = (
        prop_oneof![Just("Allow"), Just("Deny"), Just("allow")],
        values.clone(),
        values.clone(),
        proptest::option::of(principal),
        proptest::option::of(condition),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(effect, action, resource, principal, condition, not_action, not_principal)| {
            let mut s = serde_json::Map::new();
            s.insert("Effect".into(), Value::from(effect));
            s.insert(if not_action { "NotAction" } else { "Action" }.into(), action);
            s.insert("Resource".into(), resource);
            if let Some(p) = principal {
                s.insert(if not_principal { "NotPrincipal" } else { "Principal" }.into(), p);
            }
            if let Some(c) = condition {
                s.insert("Condition".into(), c);
            }
            Value::Object(s)
        });
    proptest::collection::vec(statement, 1..3)
        .prop_map(|stmts| serde_json::json!({"Version": "2012-10-17", "Statement": stmts}))
}
