//! IAM policy documents and condition values (key policies, identity policies, trust policies,
//! secret resource policies): raw text through the parser, and structure-aware documents built
//! from the real element names, condition operators, keys and policy variables, evaluated
//! against a request context whose condition keys the fuzzer also chooses.
//! Oracles: no panic; a policy without an Allow statement never allows; a Deny statement that
//! matches everything (no conditions) always denies; evaluation is deterministic.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};
use trent_policy::{
    evaluate, evaluate_identity, evaluate_kms, Decision, Effect, Policy, PolicyKind, RequestContext, RequestPrincipal,
};

const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateLessThan",
    "DateGreaterThan",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotLike",
    "Null",
    "ForAnyValue:StringLike",
    "ForAllValues:StringEquals",
    "StringEqualsIfExists",
    "ArnLikeIfExists",
    "NumericLessThanIfExists",
    "ForAnyValue:StringEqualsIgnoreCase",
    "Bogus",
];
const KEYS: &[&str] = &[
    "aws:SourceIp",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:SecureTransport",
    "aws:PrincipalArn",
    "aws:username",
    "aws:PrincipalTag/team",
    "aws:RequestTag/env",
    "aws:TagKeys",
    "aws:MultiFactorAuthAge",
    "kms:ViaService",
    "kms:EncryptionContext:app",
    "kms:EncryptionContextKeys",
    "kms:GrantOperations",
    "kms:KeySpec",
    "kms:CallerAccount",
    "secretsmanager:ResourceTag/env",
    "ssm:Overwrite",
    "aws:SourceVpce",
    "sts:ExternalId",
];
const VALUES: &[&str] = &[
    "10.0.0.0/8",
    "192.168.1.1",
    "::1/128",
    "2026-01-01T00:00:00Z",
    "1767225600",
    "true",
    "false",
    "*",
    "?",
    "${aws:username}",
    "${aws:PrincipalTag/team}",
    "${*}",
    "${$}",
    "${?}",
    "${aws:nope}",
    "arn:aws:iam::111122223333:user/*",
    "arn:aws:kms:us-east-1:111122223333:key/*",
    "kms.us-east-1.amazonaws.com",
    "Encrypt",
    "3600",
    "AQID",
    "",
];
const ACTIONS: &[&str] =
    &["kms:*", "kms:Decrypt", "kms:Encrypt", "*", "kms:Create*", "ssm:GetParameter", "sts:AssumeRole", "iam:*"];
const RESOURCES: &[&str] =
    &["*", "arn:aws:kms:us-east-1:111122223333:key/*", "arn:aws:kms:*:*:key/1234", "arn:aws:ssm:*:*:parameter/a/*"];
const PRINCIPALS: &[&str] = &[
    "*",
    "111122223333",
    "arn:aws:iam::111122223333:root",
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:iam::444455556666:role/r",
];

#[derive(Arbitrary, Debug)]
enum Text {
    Known(u8),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
struct Cond {
    op: Text,
    key: Text,
    values: Vec<Text>,
    as_list: bool,
}

#[derive(Arbitrary, Debug)]
struct Stmt {
    sid: Option<String>,
    deny: bool,
    not_action: bool,
    actions: Vec<u8>,
    resources: Vec<u8>,
    principal: Option<Vec<u8>>,
    conditions: Vec<Cond>,
    extra: Option<(String, String)>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    version_2012: bool,
    statements: Vec<Stmt>,
    /// Condition keys of the request.
    request_keys: Vec<(u8, Text)>,
    action: u8,
    kind: u8,
}

fn pick<'a>(list: &'a [&'a str], t: &'a Text) -> &'a str {
    match t {
        Text::Known(i) => list[*i as usize % list.len()],
        Text::Raw(s) => s,
    }
}

fn document(input: &Input) -> Value {
    let mut stmts = Vec::new();
    for s in input.statements.iter().take(8) {
        let mut m = Map::new();
        if let Some(sid) = &s.sid {
            m.insert("Sid".into(), json!(sid));
        }
        m.insert("Effect".into(), json!(if s.deny { "Deny" } else { "Allow" }));
        let actions: Vec<&str> = s.actions.iter().take(4).map(|i| ACTIONS[*i as usize % ACTIONS.len()]).collect();
        m.insert(if s.not_action { "NotAction" } else { "Action" }.into(), json!(actions));
        let resources: Vec<&str> =
            s.resources.iter().take(4).map(|i| RESOURCES[*i as usize % RESOURCES.len()]).collect();
        m.insert("Resource".into(), json!(resources));
        if let Some(p) = &s.principal {
            let ps: Vec<&str> = p.iter().take(4).map(|i| PRINCIPALS[*i as usize % PRINCIPALS.len()]).collect();
            m.insert("Principal".into(), json!({ "AWS": ps }));
        }
        if !s.conditions.is_empty() {
            let mut c = Map::new();
            for cond in s.conditions.iter().take(6) {
                let values: Vec<&str> = cond.values.iter().take(4).map(|v| pick(VALUES, v)).collect();
                let v = if cond.as_list || values.len() != 1 { json!(values) } else { json!(values[0]) };
                let entry = c.entry(pick(OPERATORS, &cond.op).to_string()).or_insert_with(|| json!({}));
                if let Some(o) = entry.as_object_mut() {
                    o.insert(pick(KEYS, &cond.key).to_string(), v);
                }
            }
            m.insert("Condition".into(), Value::Object(c));
        }
        if let Some((k, v)) = &s.extra {
            m.insert(k.clone(), json!(v));
        }
        stmts.push(Value::Object(m));
    }
    let version = if input.version_2012 { "2012-10-17" } else { "2008-10-17" };
    json!({ "Version": version, "Statement": stmts })
}

fn check(policy: &Policy, ctx: &RequestContext) {
    let once = evaluate_identity(ctx, std::slice::from_ref(policy));
    assert_eq!(once, evaluate_identity(ctx, std::slice::from_ref(policy)), "not deterministic");
    let has_allow = policy.statements.iter().any(|s| s.effect == Effect::Allow);
    if !has_allow {
        assert_ne!(once, Decision::Allow, "allowed without an Allow statement");
    }
    let denies_all = policy.statements.iter().any(|s| {
        s.effect == Effect::Deny
            && !s.action.negated
            && s.action.values.iter().any(|a| a == "*")
            && s.resource.as_ref().is_some_and(|r| !r.negated && r.values.iter().any(|v| v == "*"))
            && s.principal.is_none()
            && s.conditions.is_empty()
    });
    if denies_all {
        assert!(matches!(once, Decision::ExplicitDeny { .. }), "Deny * on * did not deny: {once:?}");
    }
    let kms = evaluate_kms(ctx, policy, "111122223333", &[], false);
    if !has_allow {
        assert_ne!(kms, Decision::Allow, "key policy allowed without an Allow statement");
    }
    let _ = evaluate(ctx, &[], Some(policy), "444455556666");
    let _ = trent_policy::allows_put_key_policy(policy, ctx);
}

// Input: a document as text when it starts with `{` (seeds: the policies of trent-policy's
// tests), else the bytes a structure-aware document and request are built from.
fuzz_target!(|data: &[u8]| {
    let principal = RequestPrincipal::from_arn("arn:aws:iam::111122223333:user/alice", "AIDAFUZZ").unwrap();
    if data.first() == Some(&b'{') {
        let Ok(text) = std::str::from_utf8(data) else { return };
        let ctx = RequestContext::new(principal, "kms:Decrypt", "arn:aws:kms:us-east-1:111122223333:key/1234")
            .with("aws:SourceIp", "10.1.2.3")
            .with("kms:EncryptionContext:app", "billing");
        for kind in [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Trust] {
            if let Ok(p) = Policy::parse(text, kind) {
                check(&p, &ctx);
            }
        }
        let _ = trent_policy::validate_key_policy(text);
        return;
    }
    let Ok(input) = Input::arbitrary(&mut arbitrary::Unstructured::new(data)) else { return };
    let kind = [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Trust][input.kind as usize % 3];
    let mut ctx = RequestContext::new(
        principal,
        ACTIONS[input.action as usize % ACTIONS.len()],
        "arn:aws:kms:us-east-1:111122223333:key/1234",
    );
    for (k, v) in input.request_keys.iter().take(8) {
        ctx = ctx.with(KEYS[*k as usize % KEYS.len()], pick(VALUES, v));
    }
    let doc = document(&input);
    let text = doc.to_string();
    for kind in [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Trust] {
        if let Ok(p) = Policy::parse(&text, kind) {
            check(&p, &ctx);
        }
    }
    let _ = Policy::from_value(&doc, kind);
});
