//! RotateSecret, CancelRotateSecret and the scheduler against a fake rotator that records
//! every step it is asked to run and can be told to fail one.

use crate::rotation::{self, RotationEvent, Rotator, Step};
use crate::{Operation, SecretsManager};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use trent_crypto::RootKey;
use trent_kms::{Caller, Clock, Kms};
use trent_policy::Principal;
use trent_store::sqlite::SqliteStore;
use trent_wire::AwsError;

#[derive(Default)]
struct Fake {
    steps: Mutex<Vec<(String, Step)>>,
    fail_at: Mutex<Option<Step>>,
}

impl Rotator for Fake {
    fn check(&self, function: Option<&str>) -> Result<(), String> {
        match function {
            None | Some("fake") => Ok(()),
            Some(f) => Err(format!("The rotation function {f} is not registered with this server.")),
        }
    }

    fn invoke(&self, sm: &SecretsManager, caller: &Caller, _: Option<&str>, ev: &RotationEvent) -> Result<(), String> {
        self.steps.lock().unwrap().push((ev.client_request_token.clone(), ev.step));
        if *self.fail_at.lock().unwrap() == Some(ev.step) {
            return Err("the new password does not log in".into());
        }
        rotation::generic_step(sm, caller, ev)
    }
}

struct Env {
    _dir: tempfile::TempDir,
    sm: SecretsManager,
    fake: Arc<Fake>,
    clock: Arc<Clock>,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let (root, _) = RootKey::generate().unwrap();
    let clock = Arc::new(Clock::default());
    let kms = Arc::new(Kms::new(store.clone(), Arc::new(root), clock.clone()));
    let fake = Arc::new(Fake::default());
    let sm = SecretsManager::new(store, kms, clock.clone()).with_rotator(fake.clone());
    Env { _dir: dir, sm, fake, clock }
}

fn caller() -> Caller {
    Caller::new(Principal::root("111122223333"), "us-east-1".into())
}

fn call(e: &Env, op: &str, body: Value) -> Result<Value, (String, String)> {
    let op = Operation::from_name(op).unwrap();
    match e.sm.dispatch(op, &caller(), body.to_string().as_bytes()) {
        Ok(out) => Ok(serde_json::from_slice(&out).unwrap()),
        Err(err) => {
            assert!(err.status() < 500, "{} gave a 5xx: {}", op.name(), err.message());
            Err((err.code().to_string(), err.message()))
        }
    }
}

fn value(e: &Env, stage: &str) -> Value {
    let v = call(e, "GetSecretValue", json!({"SecretId": "db", "VersionStage": stage})).unwrap();
    serde_json::from_str(v["SecretString"].as_str().unwrap()).unwrap()
}

fn create(e: &Env) {
    let secret = json!({"engine": "postgres", "username": "app", "password": "first-password"});
    call(e, "CreateSecret", json!({"Name": "db", "SecretString": secret.to_string()})).unwrap();
}

const TOKEN: &str = "11111111-2222-3333-4444-555555555555";

#[test]
fn rotate_secret_runs_the_four_steps_and_promotes_a_new_password() {
    let e = env();
    create(&e);
    let before = value(&e, "AWSCURRENT");
    let r = call(
        &e,
        "RotateSecret",
        json!({"SecretId": "db", "ClientRequestToken": TOKEN, "RotationRules": {"AutomaticallyAfterDays": 30}}),
    )
    .unwrap();
    assert_eq!(r["VersionId"], TOKEN);
    let steps: Vec<Step> = e.fake.steps.lock().unwrap().iter().map(|(_, s)| *s).collect();
    assert_eq!(steps, Step::ALL);
    let after = value(&e, "AWSCURRENT");
    assert_eq!(after["username"], "app");
    assert_ne!(after["password"], before["password"]);
    assert_eq!(after["password"].as_str().unwrap().len(), 32);
    assert_eq!(value(&e, "AWSPREVIOUS"), before);
    let d = call(&e, "DescribeSecret", json!({"SecretId": "db"})).unwrap();
    assert_eq!(d["RotationEnabled"], true);
    assert_eq!(d["RotationRules"], json!({"AutomaticallyAfterDays": 30}));
    let rotated = d["LastRotatedDate"].as_f64().unwrap();
    let next = d["NextRotationDate"].as_f64().unwrap();
    assert!(next > rotated + 29.0 * 86400.0 && next <= rotated + 30.0 * 86400.0, "{rotated} → {next}");
    assert_eq!(d["VersionIdsToStages"][TOKEN], json!(["AWSCURRENT"]), "AWSPENDING is removed after finishSecret");
    // A retry of the finished rotation with the same token changes nothing.
    call(&e, "RotateSecret", json!({"SecretId": "db", "ClientRequestToken": TOKEN})).unwrap();
    assert_eq!(e.fake.steps.lock().unwrap().len(), 4);
    let listed = call(&e, "ListSecrets", json!({})).unwrap();
    assert_eq!(listed["SecretList"][0]["RotationEnabled"], true);
    assert_eq!(listed["SecretList"][0]["NextRotationDate"], d["NextRotationDate"]);
}

#[test]
fn a_failing_test_secret_keeps_awscurrent_and_awspending_and_a_retry_finishes() {
    let e = env();
    create(&e);
    let before = value(&e, "AWSCURRENT");
    *e.fake.fail_at.lock().unwrap() = Some(Step::TestSecret);
    let (code, msg) = call(&e, "RotateSecret", json!({"SecretId": "db", "ClientRequestToken": TOKEN})).unwrap_err();
    assert_eq!(code, "InvalidRequestException");
    assert!(msg.contains("testSecret") && msg.contains("does not log in"), "{msg}");
    assert_eq!(value(&e, "AWSCURRENT"), before);
    assert_ne!(value(&e, "AWSPENDING")["password"], before["password"]);
    let d = call(&e, "DescribeSecret", json!({"SecretId": "db"})).unwrap();
    assert_eq!(d["TrentLastRotationFailure"]["Step"], "testSecret");
    assert_eq!(d["TrentLastRotationFailure"]["VersionId"], TOKEN);
    // Another token while that rotation is unfinished: AWS's error.
    let (code, msg) = call(&e, "RotateSecret", json!({"SecretId": "db"})).unwrap_err();
    assert_eq!(code, "InvalidRequestException");
    assert_eq!(msg, "A previous rotation isn't complete. That rotation will be reattempted.");
    // The same token resumes it: createSecret keeps the pending password.
    let pending = value(&e, "AWSPENDING");
    *e.fake.fail_at.lock().unwrap() = None;
    call(&e, "RotateSecret", json!({"SecretId": "db", "ClientRequestToken": TOKEN})).unwrap();
    assert_eq!(value(&e, "AWSCURRENT"), pending);
    let d = call(&e, "DescribeSecret", json!({"SecretId": "db"})).unwrap();
    assert!(d.get("TrentLastRotationFailure").is_none());
}

#[test]
fn the_sweep_rotates_when_the_schedule_falls_due_and_not_before() {
    let e = env();
    create(&e);
    call(
        &e,
        "RotateSecret",
        json!({"SecretId": "db", "RotateImmediately": false, "RotationRules": {"ScheduleExpression": "rate(2 days)"}}),
    )
    .unwrap();
    let steps: Vec<Step> = e.fake.steps.lock().unwrap().drain(..).map(|(_, s)| s).collect();
    assert_eq!(steps, [Step::TestSecret], "RotateImmediately=false only tests the configuration");
    let before = value(&e, "AWSCURRENT");
    assert_eq!(e.sm.sweep_rotations().unwrap(), 0);
    e.clock.advance(86400);
    assert_eq!(e.sm.sweep_rotations().unwrap(), 0);
    e.clock.advance(2 * 86400);
    assert_eq!(e.sm.sweep_rotations().unwrap(), 1);
    assert_ne!(value(&e, "AWSCURRENT")["password"], before["password"]);
    assert_eq!(e.sm.sweep_rotations().unwrap(), 0, "the next rotation is two days later");
    let d = call(&e, "DescribeSecret", json!({"SecretId": "db"})).unwrap();
    assert_eq!(d["RotationRules"]["ScheduleExpression"], "rate(2 days)");
    assert_eq!(d["RotationRules"]["AutomaticallyAfterDays"], 2);
}

#[test]
fn a_failed_scheduled_rotation_is_retried_an_hour_later_with_the_same_version() {
    let e = env();
    create(&e);
    call(
        &e,
        "RotateSecret",
        json!({"SecretId": "db", "RotateImmediately": false, "RotationRules": {"AutomaticallyAfterDays": 1}}),
    )
    .unwrap();
    e.fake.steps.lock().unwrap().clear();
    *e.fake.fail_at.lock().unwrap() = Some(Step::SetSecret);
    e.clock.advance(2 * 86400);
    assert_eq!(e.sm.sweep_rotations().unwrap(), 0);
    let first_token = e.fake.steps.lock().unwrap()[0].0.clone();
    *e.fake.fail_at.lock().unwrap() = None;
    assert_eq!(e.sm.sweep_rotations().unwrap(), 0, "not retried at once");
    e.clock.advance(3601);
    assert_eq!(e.sm.sweep_rotations().unwrap(), 1);
    let steps = e.fake.steps.lock().unwrap().clone();
    assert!(steps.iter().all(|(t, _)| *t == first_token), "the retry resumes the same version");
    let d = call(&e, "DescribeSecret", json!({"SecretId": "db"})).unwrap();
    assert_eq!(d["VersionIdsToStages"][&first_token], json!(["AWSCURRENT"]));
}

#[test]
fn cancel_rotate_secret_turns_the_schedule_off() {
    let e = env();
    create(&e);
    call(&e, "RotateSecret", json!({"SecretId": "db", "RotationRules": {"AutomaticallyAfterDays": 1}})).unwrap();
    let c = call(&e, "CancelRotateSecret", json!({"SecretId": "db"})).unwrap();
    assert!(c["ARN"].as_str().unwrap().contains(":secret:db-"));
    let d = call(&e, "DescribeSecret", json!({"SecretId": "db"})).unwrap();
    assert_eq!(d["RotationEnabled"], false);
    assert!(d.get("NextRotationDate").is_none());
    e.clock.advance(5 * 86400);
    let n = e.fake.steps.lock().unwrap().len();
    assert_eq!(e.sm.sweep_rotations().unwrap(), 0);
    assert_eq!(e.fake.steps.lock().unwrap().len(), n);
    // RotateSecret without rules turns it back on with the stored ones.
    call(&e, "RotateSecret", json!({"SecretId": "db"})).unwrap();
    let d = call(&e, "DescribeSecret", json!({"SecretId": "db"})).unwrap();
    assert_eq!(d["RotationEnabled"], true);
    assert_eq!(d["RotationRules"]["AutomaticallyAfterDays"], 1);
}

#[test]
fn rotate_secret_errors_are_aws_errors() {
    let e = env();
    create(&e);
    let err = |body: Value| call(&e, "RotateSecret", body).unwrap_err().0;
    assert_eq!(err(json!({"SecretId": "nope"})), "ResourceNotFoundException");
    assert_eq!(
        err(
            json!({"SecretId": "db", "RotationRules": {"AutomaticallyAfterDays": 3, "ScheduleExpression": "rate(3 days)"}})
        ),
        "InvalidParameterException"
    );
    assert_eq!(err(json!({"SecretId": "db", "RotationRules": {"AutomaticallyAfterDays": 0}})), "ValidationException");
    assert_eq!(
        err(json!({"SecretId": "db", "RotationRules": {"ScheduleExpression": "cron(0 * * * ? *)"}})),
        "InvalidParameterException"
    );
    assert_eq!(
        err(json!({"SecretId": "db", "RotationLambdaARN": "arn:aws:lambda:us-east-1:111122223333:function:unknown"})),
        "InvalidRequestException"
    );
    assert!(call(&e, "RotateSecret", json!({"SecretId": "db", "RotationLambdaARN": "fake"})).is_ok());
    call(&e, "CreateSecret", json!({"Name": "empty"})).unwrap();
    assert_eq!(err(json!({"SecretId": "empty"})), "InvalidRequestException");
    call(&e, "DeleteSecret", json!({"SecretId": "db"})).unwrap();
    assert_eq!(err(json!({"SecretId": "db"})), "InvalidRequestException");
    assert_eq!(call(&e, "CancelRotateSecret", json!({"SecretId": "db"})).unwrap_err().0, "InvalidRequestException");
    assert_eq!(call(&e, "CancelRotateSecret", json!({"SecretId": "nope"})).unwrap_err().0, "ResourceNotFoundException");
}

#[test]
fn a_plain_string_secret_rotates_to_a_random_password() {
    let e = env();
    call(&e, "CreateSecret", json!({"Name": "plain", "SecretString": "hunter2"})).unwrap();
    call(&e, "RotateSecret", json!({"SecretId": "plain"})).unwrap();
    let v = call(&e, "GetSecretValue", json!({"SecretId": "plain"})).unwrap();
    let s = v["SecretString"].as_str().unwrap();
    assert_eq!(s.len(), 32);
    assert!(!s.chars().any(|c| rotation::EXCLUDE_CHARACTERS.contains(c)));
}
