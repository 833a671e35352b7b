//! The evaluation table: `cases.json` holds requests drawn from AWS's documented policy
//! examples (IAM "Policy evaluation logic", "Condition operators", "Variables"; KMS "Key
//! policies", "Condition keys"), each with its expected outcome; `policies.json` holds the
//! policies they name. One test runs them all and reports every mismatch.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use trent_policy::{evaluate, evaluate_kms, Outcome, Policy, PolicyKind, RequestContext, RequestPrincipal};

fn alias(r: &str) -> &str {
    match r {
        "K" => "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "K2" => "arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321",
        "K_EAST" => "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab",
        "SECRET" => "arn:aws:secretsmanager:us-west-2:111122223333:secret:prod/db-AbCdEf",
        "PARAM" => "arn:aws:ssm:us-west-2:111122223333:parameter/app/config",
        other => other,
    }
}

fn load(name: &str) -> Value {
    let path = format!("{}/tests/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn strs(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|x| x.as_str().expect("string value").to_string()).collect(),
        other => panic!("expected string(s), got {other}"),
    }
}

struct Table {
    policies: BTreeMap<String, Value>,
    used: BTreeSet<String>,
}

impl Table {
    fn policy(&mut self, name: &str, kind: PolicyKind) -> Policy {
        self.used.insert(name.to_string());
        let doc = self.policies.get(name).unwrap_or_else(|| panic!("no policy named {name}"));
        Policy::from_value(doc, kind).unwrap_or_else(|e| panic!("policy {name} is invalid: {e}"))
    }
}

/// Runs one case; `Err` describes a mismatch.
fn run(t: &mut Table, case: &Value) -> Result<(), String> {
    let get = |k: &str| case.get(k).and_then(Value::as_str);
    let principal_arn = get("principal").expect("principal");
    let principal = match principal_arn.strip_prefix("service:") {
        Some(svc) => RequestPrincipal::service(svc),
        None => {
            let userid = get("userid").unwrap_or("AIDAEXAMPLEUSERID");
            RequestPrincipal::from_arn(principal_arn, userid).expect("principal ARN")
        }
    };
    let resource = alias(get("resource").expect("resource"));
    let mut ctx = RequestContext::new(principal, get("action").expect("action"), resource);
    if let Some(Value::Object(keys)) = case.get("context") {
        for (k, v) in keys {
            ctx = ctx.with_values(k, strs(v));
        }
    }
    if let Some(Value::Object(ec)) = case.get("encryption_context") {
        let pairs: Vec<(String, String)> =
            ec.iter().map(|(k, v)| (k.clone(), v.as_str().expect("string").to_string())).collect();
        ctx = ctx.with_encryption_context(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    if let Some(secs) = case.get("time").and_then(Value::as_i64) {
        ctx = ctx.with_time(secs);
    }
    let identity: Vec<Policy> =
        case.get("identity").map(strs).unwrap_or_default().iter().map(|n| t.policy(n, PolicyKind::Identity)).collect();
    let resource_account = get("resource_account")
        .map(str::to_string)
        .unwrap_or_else(|| trent_policy::Arn::parse(resource).map(|a| a.account).unwrap_or_default());
    let decision = match get("mode").expect("mode") {
        "kms" => {
            let key = t.policy(get("key_policy").expect("key_policy"), PolicyKind::Resource);
            let grant = case.get("grant").and_then(Value::as_bool).unwrap_or(false);
            evaluate_kms(&ctx, &key, &resource_account, &identity, grant)
        }
        "general" => {
            let kind = if case.get("trust").and_then(Value::as_bool) == Some(true) {
                PolicyKind::Trust
            } else {
                PolicyKind::Resource
            };
            let res = get("resource_policy").map(|n| t.policy(n, kind));
            evaluate(&ctx, &identity, res.as_ref(), &resource_account)
        }
        m => panic!("unknown mode {m}"),
    };
    let expected = match get("expect").expect("expect") {
        "Allow" => Outcome::Allow,
        "ExplicitDeny" => Outcome::ExplicitDeny,
        "ImplicitDeny" => Outcome::ImplicitDeny,
        e => panic!("unknown expectation {e}"),
    };
    if decision.outcome() != expected {
        return Err(format!("expected {expected:?}, got {decision:?}"));
    }
    if let Some(reason) = get("reason") {
        let got = decision.reason(&ctx.action);
        if got.as_deref() != Some(reason) {
            return Err(format!("expected reason {reason:?}, got {got:?}"));
        }
        let msg = decision.message(&ctx).unwrap_or_default();
        let head =
            format!("User: {principal_arn} is not authorized to perform: {} on resource: {resource} ", ctx.action);
        if !msg.starts_with(&head) {
            return Err(format!("message {msg:?} does not start with {head:?}"));
        }
    }
    Ok(())
}

#[test]
fn documented_policy_examples_evaluate_as_aws_does() {
    let Value::Object(policies) = load("policies.json") else { panic!("policies.json must be an object") };
    let mut table = Table { policies: policies.into_iter().collect(), used: BTreeSet::new() };
    let Value::Array(cases) = load("cases.json") else { panic!("cases.json must be an array") };
    assert!(cases.len() >= 60, "the table must have at least 60 cases, has {}", cases.len());

    let mut names = BTreeSet::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.get("name").and_then(Value::as_str).expect("every case has a name");
        assert!(names.insert(name), "duplicate case name {name}");
        assert!(case.get("source").and_then(Value::as_str).is_some(), "case {name} names no source");
        *counts.entry(case.get("expect").and_then(Value::as_str).unwrap_or("?")).or_default() += 1;
        if let Err(e) = run(&mut table, case) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    for outcome in ["Allow", "ExplicitDeny", "ImplicitDeny"] {
        assert!(counts.get(outcome).copied().unwrap_or(0) >= 10, "too few {outcome} cases: {counts:?}");
    }
    let unused: Vec<&String> = table.policies.keys().filter(|k| !table.used.contains(*k)).collect();
    assert!(unused.is_empty(), "policies no case uses: {unused:?}");
}
