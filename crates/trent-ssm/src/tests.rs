//! Operation-level tests: JSON in, JSON or an AWS error code out, against a real SQLite store
//! and the real in-process KMS.

use crate::{Operation, Ssm};
use serde_json::{json, Value};
use std::sync::Arc;
use trent_crypto::RootKey;
use trent_kms::{Caller, Clock, Kms};
use trent_policy::Principal;
use trent_store::sqlite::SqliteStore;
use trent_wire::AwsError;

struct Env {
    dir: tempfile::TempDir,
    ssm: Ssm,
    kms: Arc<Kms>,
    clock: Arc<Clock>,
    events: Arc<Collect>,
}

/// Keeps every event, for assertions.
#[derive(Default)]
struct Collect(std::sync::Mutex<Vec<Value>>);

impl crate::events::EventSink for Collect {
    fn emit(&self, event: Value) {
        self.0.lock().unwrap().push(event);
    }
}

impl Collect {
    fn take(&self) -> Vec<Value> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn env_with(limits: crate::Limits) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let (root, _) = RootKey::generate().unwrap();
    let clock = Arc::new(Clock::default());
    let kms = Arc::new(Kms::new(store.clone(), Arc::new(root), clock.clone()));
    let events = Arc::new(Collect::default());
    let ssm = Ssm::new(store, kms.clone(), clock.clone()).with_events(events.clone()).with_limits(limits);
    Env { ssm, kms, dir, clock, events }
}

fn env() -> Env {
    env_with(crate::Limits::default())
}

fn caller() -> Caller {
    Caller::new(Principal::root("111122223333"), "us-east-1".into())
}

fn call(e: &Env, op: &str, body: Value) -> Result<Value, String> {
    let op = Operation::from_name(op).expect("known operation");
    match e.ssm.dispatch(op, &caller(), body.to_string().as_bytes()) {
        Ok(out) => Ok(serde_json::from_slice(&out).unwrap()),
        Err(err) => {
            assert!(err.status() < 500, "{} gave a 5xx: {}", op.name(), err.message());
            Err(err.code().to_string())
        }
    }
}

fn put(e: &Env, name: &str, kind: &str, value: &str) -> Value {
    call(e, "PutParameter", json!({"Name": name, "Type": kind, "Value": value, "Overwrite": true})).unwrap()
}

fn kms(e: &Env, op: &str, body: Value) -> Value {
    let op = trent_kms::Operation::from_name(op).unwrap();
    serde_json::from_slice(&e.kms.dispatch(op, &caller(), body.to_string().as_bytes()).unwrap()).unwrap()
}

#[test]
fn versions_overwrite_and_already_exists() {
    let e = env();
    assert_eq!(put(&e, "/app/url", "String", "a")["Version"], 1);
    assert_eq!(
        call(&e, "PutParameter", json!({"Name": "/app/url", "Type": "String", "Value": "b"})),
        Err("ParameterAlreadyExists".into())
    );
    assert_eq!(put(&e, "/app/url", "String", "b")["Version"], 2);
    let p = call(&e, "GetParameter", json!({"Name": "/app/url"})).unwrap();
    assert_eq!(p["Parameter"]["Value"], "b");
    assert_eq!(p["Parameter"]["ARN"], "arn:aws:ssm:us-east-1:111122223333:parameter/app/url");
    let old = call(&e, "GetParameter", json!({"Name": "/app/url:1"})).unwrap();
    assert_eq!((old["Parameter"]["Value"].as_str(), old["Parameter"]["Selector"].as_str()), (Some("a"), Some(":1")));
    assert_eq!(call(&e, "GetParameter", json!({"Name": "/app/url:9"})), Err("ParameterVersionNotFound".into()));
    assert_eq!(call(&e, "GetParameter", json!({"Name": "/none"})), Err("ParameterNotFound".into()));
    let by_arn =
        call(&e, "GetParameter", json!({"Name": "arn:aws:ssm:us-east-1:111122223333:parameter/app/url"})).unwrap();
    assert_eq!(by_arn["Parameter"]["Version"], 2);
}

#[test]
fn secure_strings_are_kms_ciphertext_bound_to_the_parameter_arn() {
    let e = env();
    put(&e, "/db/password", "SecureString", "hunter2-very-secret");
    let raw = call(&e, "GetParameter", json!({"Name": "/db/password"})).unwrap();
    let blob = raw["Parameter"]["Value"].as_str().unwrap().to_string();
    assert_ne!(blob, "hunter2-very-secret");
    let dec = call(&e, "GetParameter", json!({"Name": "/db/password", "WithDecryption": true})).unwrap();
    assert_eq!(dec["Parameter"]["Value"], "hunter2-very-secret");
    let ctx = json!({"PARAMETER_ARN": "arn:aws:ssm:us-east-1:111122223333:parameter/db/password"});
    let out = kms(&e, "Decrypt", json!({"CiphertextBlob": blob, "EncryptionContext": ctx}));
    assert_eq!(out["Plaintext"], trent_wire::json::base64_encode(b"hunter2-very-secret"));
    let aliases = kms(&e, "ListAliases", json!({}));
    assert_eq!(aliases["Aliases"][0]["AliasName"], "alias/aws/ssm");
    let key = kms(&e, "DescribeKey", json!({"KeyId": "alias/aws/ssm"}));
    assert_eq!(key["KeyMetadata"]["KeyManager"], "AWS");
    for f in ["t.db", "t.db-wal"] {
        if let Ok(bytes) = std::fs::read(e.dir.path().join(f)) {
            assert!(!bytes.windows(19).any(|w| w == b"hunter2-very-secret"), "plaintext found in {f}");
        }
    }
    let missing_key = json!({"Name": "/x", "Type": "SecureString", "Value": "v", "KeyId": "alias/none"});
    assert_eq!(call(&e, "PutParameter", missing_key), Err("InvalidKeyId".into()));
    let not_secure = json!({"Name": "/y", "Type": "String", "Value": "v", "KeyId": "alias/aws/ssm"});
    assert_eq!(call(&e, "PutParameter", not_secure), Err("ValidationException".into()));
}

#[test]
fn names_follow_aws_rules() {
    let e = env();
    for bad in ["a/b", "/a//b", "/a/", "/aws/x", "SSM-thing", "/a b", "/a$"] {
        assert_eq!(
            call(&e, "PutParameter", json!({"Name": bad, "Type": "String", "Value": "v"})),
            Err("ValidationException".into()),
            "{bad}"
        );
    }
    let deep = format!("/{}", (0..16).map(|i| format!("l{i}")).collect::<Vec<_>>().join("/"));
    assert_eq!(
        call(&e, "PutParameter", json!({"Name": deep, "Type": "String", "Value": "v"})),
        Err("HierarchyLevelLimitExceededException".into())
    );
    assert_eq!(call(&e, "PutParameter", json!({"Name": "/new", "Value": "v"})), Err("ValidationException".into()));
}

#[test]
fn by_path_respects_recursion_filters_and_paging() {
    let e = env();
    for n in ["/a/1", "/a/2", "/a/b/3", "/a/b/c/4", "/ab/5", "/z"] {
        put(&e, n, "String", "v");
    }
    put(&e, "/a/s", "SecureString", "secret");
    let names = |body: Value| -> Vec<String> {
        let mut out = Vec::new();
        let mut body = body;
        loop {
            let r = call(&e, "GetParametersByPath", body.clone()).unwrap();
            out.extend(r["Parameters"].as_array().unwrap().iter().map(|p| p["Name"].as_str().unwrap().to_string()));
            match r.get("NextToken") {
                Some(t) => body["NextToken"] = t.clone(),
                None => return out,
            }
        }
    };
    assert_eq!(names(json!({"Path": "/a"})), ["/a/1", "/a/2", "/a/s"]);
    assert_eq!(
        names(json!({"Path": "/a", "Recursive": true, "MaxResults": 2})),
        ["/a/1", "/a/2", "/a/b/3", "/a/b/c/4", "/a/s"]
    );
    assert_eq!(names(json!({"Path": "/", "MaxResults": 1})), ["/z"]);
    let typed =
        json!({"Path": "/a", "Recursive": true, "ParameterFilters": [{"Key": "Type", "Values": ["SecureString"]}]});
    assert_eq!(names(typed), ["/a/s"]);
    let bad_key = json!({"Path": "/a", "ParameterFilters": [{"Key": "Name", "Values": ["x"]}]});
    assert_eq!(call(&e, "GetParametersByPath", bad_key), Err("InvalidFilterKey".into()));
    assert_eq!(call(&e, "GetParametersByPath", json!({"Path": "a"})), Err("ValidationException".into()));
    assert_eq!(
        call(&e, "GetParametersByPath", json!({"Path": "/a", "NextToken": "@@"})),
        Err("InvalidNextToken".into())
    );
}

#[test]
fn history_keeps_100_versions_unless_the_oldest_is_labelled() {
    let e = env();
    for i in 1..=102 {
        put(&e, "/h", "String", &format!("v{i}"));
    }
    let h = call(&e, "GetParameterHistory", json!({"Name": "/h", "MaxResults": 50})).unwrap();
    assert_eq!(h["Parameters"][0]["Version"], 3);
    assert!(h.get("NextToken").is_some());
    call(&e, "LabelParameterVersion", json!({"Name": "/h", "ParameterVersion": 3, "Labels": ["keep"]})).unwrap();
    assert_eq!(
        call(&e, "PutParameter", json!({"Name": "/h", "Type": "String", "Value": "x", "Overwrite": true})),
        Err("ParameterMaxVersionLimitExceeded".into())
    );
}

#[test]
fn labels_move_are_limited_and_invalid_ones_are_reported() {
    let e = env();
    put(&e, "/l", "String", "one");
    put(&e, "/l", "String", "two");
    let r = call(
        &e,
        "LabelParameterVersion",
        json!({"Name": "/l", "ParameterVersion": 1, "Labels": ["prod", "1bad", "awsx"]}),
    )
    .unwrap();
    assert_eq!(r["InvalidLabels"], json!(["1bad", "awsx"]));
    assert_eq!(call(&e, "GetParameter", json!({"Name": "/l:prod"})).unwrap()["Parameter"]["Value"], "one");
    call(&e, "LabelParameterVersion", json!({"Name": "/l", "Labels": ["prod"]})).unwrap();
    assert_eq!(call(&e, "GetParameter", json!({"Name": "/l:prod"})).unwrap()["Parameter"]["Value"], "two");
    let eleven: Vec<String> = (0..11).map(|i| format!("l{i}")).collect();
    let many = json!({"Name": "/l", "ParameterVersion": 1, "Labels": eleven[..10]});
    call(&e, "LabelParameterVersion", many).unwrap();
    let one_more = json!({"Name": "/l", "ParameterVersion": 1, "Labels": ["extra"]});
    assert_eq!(call(&e, "LabelParameterVersion", one_more), Err("ParameterVersionLabelLimitExceeded".into()));
    let un =
        call(&e, "UnlabelParameterVersion", json!({"Name": "/l", "ParameterVersion": 2, "Labels": ["prod", "l0"]}))
            .unwrap();
    assert_eq!((un["RemovedLabels"].clone(), un["InvalidLabels"].clone()), (json!(["prod"]), json!(["l0"])));
    assert_eq!(call(&e, "GetParameter", json!({"Name": "/l:prod"})), Err("ParameterVersionNotFound".into()));
}

#[test]
fn tiers_patterns_and_policies() {
    let e = env();
    let big = "x".repeat(4097);
    assert_eq!(
        call(&e, "PutParameter", json!({"Name": "/t", "Type": "String", "Value": big})),
        Err("ValidationException".into())
    );
    let r =
        call(&e, "PutParameter", json!({"Name": "/t", "Type": "String", "Value": big, "Tier": "Intelligent-Tiering"}))
            .unwrap();
    assert_eq!(r["Tier"], "Advanced");
    let down = json!({"Name": "/t", "Type": "String", "Value": "s", "Tier": "Standard", "Overwrite": true});
    assert_eq!(call(&e, "PutParameter", down), Err("ValidationException".into()));
    assert_eq!(put(&e, "/t", "String", "small")["Tier"], "Advanced");
    let pat = json!({"Name": "/p", "Type": "String", "Value": "12a", "AllowedPattern": "^\\d+$"});
    assert_eq!(call(&e, "PutParameter", pat), Err("ParameterPatternMismatchException".into()));
    let bad_re = json!({"Name": "/p", "Type": "String", "Value": "1", "AllowedPattern": "("});
    assert_eq!(call(&e, "PutParameter", bad_re), Err("InvalidAllowedPatternException".into()));
    let policy =
        json!([{"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": "2030-01-01T00:00:00.000Z"}}])
            .to_string();
    let std_policy = json!({"Name": "/q", "Type": "String", "Value": "v", "Policies": policy});
    assert_eq!(call(&e, "PutParameter", std_policy), Err("ValidationException".into()));
    let adv = json!({"Name": "/q", "Type": "String", "Value": "v", "Policies": policy, "Tier": "Advanced"});
    call(&e, "PutParameter", adv).unwrap();
    let d = call(&e, "DescribeParameters", json!({"ParameterFilters": [{"Key": "Name", "Values": ["/q"]}]})).unwrap();
    assert_eq!(d["Parameters"][0]["Policies"][0]["PolicyType"], "Expiration");
    let bad_type = json!({"Name": "/r", "Type": "String", "Value": "v", "Tier": "Advanced", "Policies": "[{\"Type\": \"Nope\", \"Attributes\": {}}]"});
    assert_eq!(call(&e, "PutParameter", bad_type), Err("InvalidPolicyTypeException".into()));
}

#[test]
fn get_parameters_delete_parameters_and_tags() {
    let e = env();
    put(&e, "/g/1", "String", "a");
    put(&e, "/g/2", "StringList", "b,c");
    let r = call(&e, "GetParameters", json!({"Names": ["/g/2", "/nope", "/g/1:7", "/g/1"]})).unwrap();
    let names: Vec<&str> = r["Parameters"].as_array().unwrap().iter().map(|p| p["Name"].as_str().unwrap()).collect();
    assert_eq!(names, ["/g/2", "/g/1"]);
    assert_eq!(r["InvalidParameters"], json!(["/nope", "/g/1:7"]));
    let tag = json!({"ResourceType": "Parameter", "ResourceId": "/g/1", "Tags": [{"Key": "env", "Value": "dev"}]});
    call(&e, "AddTagsToResource", tag).unwrap();
    let tags = call(&e, "ListTagsForResource", json!({"ResourceType": "Parameter", "ResourceId": "/g/1"})).unwrap();
    assert_eq!(tags["TagList"], json!([{"Key": "env", "Value": "dev"}]));
    let wrong = json!({"ResourceType": "Document", "ResourceId": "/g/1"});
    assert_eq!(call(&e, "ListTagsForResource", wrong), Err("InvalidResourceType".into()));
    let missing = json!({"ResourceType": "Parameter", "ResourceId": "/none"});
    assert_eq!(call(&e, "ListTagsForResource", missing), Err("InvalidResourceId".into()));
    let d = call(&e, "DeleteParameters", json!({"Names": ["/g/1", "/nope"]})).unwrap();
    assert_eq!((d["DeletedParameters"].clone(), d["InvalidParameters"].clone()), (json!(["/g/1"]), json!(["/nope"])));
    assert_eq!(call(&e, "DeleteParameter", json!({"Name": "/g/1"})), Err("ParameterNotFound".into()));
    call(&e, "DeleteParameter", json!({"Name": "/g/2"})).unwrap();
    assert_eq!(call(&e, "GetParameterHistory", json!({"Name": "/g/2"})), Err("ParameterNotFound".into()));
}

/// The operations whose botocore input shape has no required member and that succeed on `{}`.
const EMPTY_BODY_SUCCEEDS: &[&str] = &["DescribeParameters"];

#[test]
fn every_operation_answers_an_empty_body_with_an_aws_error_or_success() {
    let e = env();
    for body in [&b""[..], b"{}", b"  \n"] {
        for op in Operation::ALL {
            match e.ssm.dispatch(*op, &caller(), body) {
                Ok(out) => {
                    let v: Value = serde_json::from_slice(&out).unwrap_or_else(|_| panic!("{}: not JSON", op.name()));
                    assert!(v.is_object(), "{}: {v}", op.name());
                    assert!(EMPTY_BODY_SUCCEEDS.contains(&op.name()), "{} accepted an empty body", op.name());
                }
                Err(err) => {
                    assert!((400..500).contains(&err.status()), "{} on an empty body gave {}", op.name(), err.code());
                    assert!(!err.code().is_empty() && !err.message().is_empty(), "{}", op.name());
                    assert!(!EMPTY_BODY_SUCCEEDS.contains(&op.name()), "{}: {}", op.name(), err.code());
                }
            }
        }
    }
}

#[test]
fn compatibility_doc_lists_every_dispatched_operation_as_implemented() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/COMPATIBILITY.md")).unwrap();
    let section = doc.split("\n## ").find(|s| s.starts_with("SSM Parameter Store")).expect("the section exists");
    let mut claimed: Vec<&str> = section
        .lines()
        .filter(|l| l.contains("| ✅ implemented |"))
        .filter_map(|l| l.trim_start_matches('|').split('|').next().map(str::trim))
        .collect();
    let mut served: Vec<&str> = Operation::ALL.iter().map(|op| op.name()).collect();
    claimed.sort_unstable();
    served.sort_unstable();
    assert_eq!(
        claimed, served,
        "the SSM Parameter Store section of docs/COMPATIBILITY.md and the operations dispatched differ"
    );
}

#[test]
fn changes_emit_eventbridge_shaped_events_after_commit() {
    let e = env();
    put(&e, "/ev", "String", "1");
    put(&e, "/ev", "String", "2");
    call(&e, "LabelParameterVersion", json!({"Name": "/ev", "Labels": ["live"]})).unwrap();
    call(&e, "DeleteParameter", json!({"Name": "/ev"})).unwrap();
    let _ = call(&e, "PutParameter", json!({"Name": "/aws/x", "Type": "String", "Value": "v"}));
    let events = e.events.take();
    let ops: Vec<&str> = events.iter().map(|ev| ev["detail"]["operation"].as_str().unwrap()).collect();
    assert_eq!(ops, ["Create", "Update", "LabelParameterVersion", "Delete"], "a failed call emits nothing");
    let first = &events[0];
    assert_eq!(first["detail-type"], "Parameter Store Change");
    assert_eq!(first["source"], "aws.ssm");
    assert_eq!(first["account"], "111122223333");
    assert_eq!(first["region"], "us-east-1");
    assert_eq!(first["resources"], json!(["arn:aws:ssm:us-east-1:111122223333:parameter/ev"]));
    assert_eq!(first["detail"]["name"], "/ev");
    assert_eq!(first["detail"]["type"], "String");
    assert_eq!(events[2]["detail"]["labels"], json!(["live"]));
}

fn policy_put(e: &Env, name: &str, policies: Value) -> Result<Value, String> {
    call(
        e,
        "PutParameter",
        json!({"Name": name, "Type": "String", "Value": "v", "Tier": "Advanced", "Policies": policies.to_string()}),
    )
}

fn iso(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[test]
fn expiration_policies_notify_then_delete_on_the_test_clock() {
    let e = env();
    let expire_at = e.clock.now_ms() + 3 * 3_600_000;
    let policies = json!([
        {"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": iso(expire_at)}},
        {"Type": "ExpirationNotification", "Version": "1.0", "Attributes": {"Before": "2", "Unit": "Hours"}}
    ]);
    policy_put(&e, "/exp", policies).unwrap();
    e.events.take();
    assert_eq!(e.ssm.sweep_policies().unwrap(), 0);
    e.clock.advance(3600 + 60);
    assert_eq!(e.ssm.sweep_policies().unwrap(), 1);
    assert_eq!(e.ssm.sweep_policies().unwrap(), 0, "a notification is sent once");
    let notice = e.events.take();
    assert_eq!(notice[0]["detail-type"], "Parameter Store Policy Action");
    assert_eq!(notice[0]["detail"]["policy-type"], "ExpirationNotification");
    assert!(call(&e, "GetParameter", json!({"Name": "/exp"})).is_ok());
    e.clock.advance(2 * 3600);
    assert_eq!(e.ssm.sweep_policies().unwrap(), 1);
    assert_eq!(call(&e, "GetParameter", json!({"Name": "/exp"})), Err("ParameterNotFound".into()));
    assert_eq!(e.events.take()[0]["detail"]["policy-type"], "Expiration");
}

#[test]
fn no_change_notification_fires_once_per_version() {
    let e = env();
    let policies =
        json!([{"Type": "NoChangeNotification", "Version": "1.0", "Attributes": {"After": "1", "Unit": "Days"}}]);
    policy_put(&e, "/stale", policies).unwrap();
    e.clock.advance(86400 + 1);
    assert_eq!(e.ssm.sweep_policies().unwrap(), 1);
    assert_eq!(e.ssm.sweep_policies().unwrap(), 0);
    let bad_unit = json!([{"Type": "NoChangeNotification", "Attributes": {"After": "1", "Unit": "Weeks"}}]);
    assert_eq!(policy_put(&e, "/bad", bad_unit), Err("InvalidPolicyAttributeException".into()));
    let orphan = json!([{"Type": "ExpirationNotification", "Attributes": {"Before": "1", "Unit": "Days"}}]);
    assert_eq!(policy_put(&e, "/orphan", orphan), Err("InvalidPolicyAttributeException".into()));
    let bad_ts = json!([{"Type": "Expiration", "Attributes": {"Timestamp": "tomorrow"}}]);
    assert_eq!(policy_put(&e, "/ts", bad_ts), Err("InvalidPolicyAttributeException".into()));
}

#[test]
fn parameter_counts_per_tier_are_limited() {
    let e = env_with(crate::Limits { max_standard: 2, max_advanced: 1 });
    put(&e, "/c/1", "String", "v");
    put(&e, "/c/2", "String", "v");
    assert_eq!(
        call(&e, "PutParameter", json!({"Name": "/c/3", "Type": "String", "Value": "v"})),
        Err("ParameterLimitExceeded".into())
    );
    put(&e, "/c/1", "String", "overwrites do not count");
    call(&e, "DeleteParameter", json!({"Name": "/c/2"})).unwrap();
    put(&e, "/c/3", "String", "v");
    let up = json!({"Name": "/c/3", "Type": "String", "Value": "v", "Tier": "Advanced", "Overwrite": true});
    call(&e, "PutParameter", up).unwrap();
    put(&e, "/c/4", "String", "v: the upgrade freed a Standard slot");
    let adv = json!({"Name": "/c/5", "Type": "String", "Value": "v", "Tier": "Advanced"});
    assert_eq!(call(&e, "PutParameter", adv), Err("ParameterLimitExceeded".into()));
}
