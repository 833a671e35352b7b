//! Operation-level tests against a real SQLite store and the real in-process KMS.

use crate::{Operation, SecretsManager};
use serde_json::{json, Value};
use std::sync::Arc;
use trent_crypto::RootKey;
use trent_kms::{Caller, Clock, Kms};
use trent_policy::Principal;
use trent_store::sqlite::SqliteStore;
use trent_wire::AwsError;

struct Env {
    _dir: tempfile::TempDir,
    sm: SecretsManager,
    kms: Arc<Kms>,
    clock: Arc<Clock>,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let (root, _) = RootKey::generate().unwrap();
    let clock = Arc::new(Clock::default());
    let kms = Arc::new(Kms::new(store.clone(), Arc::new(root), clock.clone()));
    Env { sm: SecretsManager::new(store, kms.clone(), clock.clone()), kms, clock, _dir: dir }
}

fn caller() -> Caller {
    Caller::new(Principal::root("111122223333"), "us-east-1".into())
}

fn call(e: &Env, op: &str, body: Value) -> Result<Value, String> {
    let op = Operation::from_name(op).unwrap();
    let allow_all = |_: &Caller, _: &crate::SecretAccess<'_>| Ok(());
    match e.sm.dispatch_authorized(op, &caller(), body.to_string().as_bytes(), &allow_all) {
        Ok(out) => Ok(serde_json::from_slice(&out).unwrap()),
        Err(err) => {
            assert!(err.status() < 500, "{} gave a 5xx: {}", op.name(), err.message());
            Err(err.code().to_string())
        }
    }
}

fn kms(e: &Env, op: &str, body: Value) -> Result<Value, String> {
    let op = trent_kms::Operation::from_name(op).unwrap();
    e.kms
        .dispatch(op, &caller(), body.to_string().as_bytes())
        .map(|out| serde_json::from_slice(&out).unwrap())
        .map_err(|err| err.code().to_string())
}

#[test]
fn versions_and_stages_move_as_aws_moves_them() {
    let e = env();
    let c = call(&e, "CreateSecret", json!({"Name": "db/app", "SecretString": "one"})).unwrap();
    assert!(c["ARN"].as_str().unwrap().starts_with("arn:aws:secretsmanager:us-east-1:111122223333:secret:db/app-"));
    assert_eq!(
        c["ARN"].as_str().unwrap().len(),
        "arn:aws:secretsmanager:us-east-1:111122223333:secret:db/app-".len() + 6
    );
    let v1 = c["VersionId"].as_str().unwrap().to_string();
    let p = call(&e, "PutSecretValue", json!({"SecretId": "db/app", "SecretString": "two"})).unwrap();
    let v2 = p["VersionId"].as_str().unwrap().to_string();
    let pending = call(
        &e,
        "PutSecretValue",
        json!({"SecretId": "db/app", "SecretString": "three", "VersionStages": ["AWSPENDING"]}),
    )
    .unwrap();
    let v3 = pending["VersionId"].as_str().unwrap().to_string();
    let d = call(&e, "DescribeSecret", json!({"SecretId": "db/app"})).unwrap();
    assert_eq!(
        d["VersionIdsToStages"],
        json!({v1.clone(): ["AWSPREVIOUS"], v2.clone(): ["AWSCURRENT"], v3.clone(): ["AWSPENDING"]})
    );
    assert_eq!(call(&e, "GetSecretValue", json!({"SecretId": "db/app"})).unwrap()["SecretString"], "two");
    assert_eq!(
        call(&e, "GetSecretValue", json!({"SecretId": "db/app", "VersionStage": "AWSPENDING"})).unwrap()
            ["SecretString"],
        "three"
    );
    // Finish a rotation as the rotation functions do.
    let mv =
        json!({"SecretId": "db/app", "VersionStage": "AWSCURRENT", "MoveToVersionId": v3, "RemoveFromVersionId": v2});
    call(&e, "UpdateSecretVersionStage", mv).unwrap();
    let d = call(&e, "DescribeSecret", json!({"SecretId": c["ARN"]})).unwrap();
    assert_eq!(d["VersionIdsToStages"][&v3], json!(["AWSPENDING", "AWSCURRENT"]));
    assert_eq!(d["VersionIdsToStages"][&v2], json!(["AWSPREVIOUS"]));
    assert!(d["VersionIdsToStages"].get(&v1).is_none(), "v1 is now unlabelled");
    let bad = json!({"SecretId": "db/app", "VersionStage": "AWSCURRENT", "MoveToVersionId": v1});
    assert_eq!(call(&e, "UpdateSecretVersionStage", bad), Err("InvalidParameterException".into()));
    let ids = call(&e, "ListSecretVersionIds", json!({"SecretId": "db/app"})).unwrap();
    assert_eq!(ids["Versions"].as_array().unwrap().len(), 2);
    let all = call(&e, "ListSecretVersionIds", json!({"SecretId": "db/app", "IncludeDeprecated": true})).unwrap();
    assert_eq!(all["Versions"].as_array().unwrap().len(), 3);
}

#[test]
fn tokens_are_idempotent_and_names_unique() {
    let e = env();
    let token = "0123456789abcdef0123456789abcdef";
    let a = call(&e, "CreateSecret", json!({"Name": "s", "SecretString": "v", "ClientRequestToken": token})).unwrap();
    let b = call(&e, "CreateSecret", json!({"Name": "s", "SecretString": "v", "ClientRequestToken": token})).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        call(&e, "CreateSecret", json!({"Name": "s", "SecretString": "w", "ClientRequestToken": token})),
        Err("ResourceExistsException".into())
    );
    assert_eq!(
        call(&e, "CreateSecret", json!({"Name": "s", "SecretString": "v"})),
        Err("ResourceExistsException".into())
    );
    assert_eq!(
        call(&e, "PutSecretValue", json!({"SecretId": "s", "SecretString": "x", "ClientRequestToken": token})),
        Err("ResourceExistsException".into())
    );
    assert_eq!(
        call(&e, "CreateSecret", json!({"Name": "both", "SecretString": "v", "SecretBinary": "AA=="})),
        Err("InvalidParameterException".into())
    );
    assert_eq!(
        call(&e, "CreateSecret", json!({"Name": "bad name!", "SecretString": "v"})),
        Err("InvalidParameterException".into())
    );
    assert_eq!(call(&e, "GetSecretValue", json!({"SecretId": "nope"})), Err("ResourceNotFoundException".into()));
    let bin = call(&e, "CreateSecret", json!({"Name": "bin", "SecretBinary": "AAEC"})).unwrap();
    let got = call(&e, "GetSecretValue", json!({"SecretId": bin["ARN"]})).unwrap();
    assert_eq!(got["SecretBinary"], "AAEC");
    assert!(got.get("SecretString").is_none());
}

#[test]
fn values_are_kms_ciphertext_and_a_disabled_key_is_a_decryption_failure() {
    let e = env();
    let key = kms(&e, "CreateKey", json!({})).unwrap()["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    call(&e, "CreateSecret", json!({"Name": "k", "SecretString": "v", "KmsKeyId": key})).unwrap();
    call(&e, "CreateSecret", json!({"Name": "default", "SecretString": "v"})).unwrap();
    let aliases = kms(&e, "ListAliases", json!({})).unwrap();
    assert_eq!(aliases["Aliases"][0]["AliasName"], "alias/aws/secretsmanager");
    kms(&e, "DisableKey", json!({"KeyId": key})).unwrap();
    assert_eq!(call(&e, "GetSecretValue", json!({"SecretId": "k"})), Err("DecryptionFailure".into()));
    assert_eq!(
        call(&e, "PutSecretValue", json!({"SecretId": "k", "SecretString": "w"})),
        Err("EncryptionFailure".into())
    );
    assert_eq!(
        call(&e, "CreateSecret", json!({"Name": "x", "SecretString": "v", "KmsKeyId": "alias/none"})),
        Err("EncryptionFailure".into())
    );
}

#[test]
fn deletion_recovery_and_the_sweep() {
    let e = env();
    call(&e, "CreateSecret", json!({"Name": "d", "SecretString": "v"})).unwrap();
    assert_eq!(
        call(&e, "DeleteSecret", json!({"SecretId": "d", "RecoveryWindowInDays": 6})),
        Err("InvalidParameterException".into())
    );
    let both = json!({"SecretId": "d", "RecoveryWindowInDays": 7, "ForceDeleteWithoutRecovery": true});
    assert_eq!(call(&e, "DeleteSecret", both), Err("InvalidParameterException".into()));
    call(&e, "DeleteSecret", json!({"SecretId": "d", "RecoveryWindowInDays": 7})).unwrap();
    assert_eq!(call(&e, "GetSecretValue", json!({"SecretId": "d"})), Err("InvalidRequestException".into()));
    assert_eq!(
        call(&e, "CreateSecret", json!({"Name": "d", "SecretString": "v"})),
        Err("InvalidRequestException".into())
    );
    assert_eq!(call(&e, "ListSecrets", json!({})).unwrap()["SecretList"], json!([]));
    assert_eq!(
        call(&e, "ListSecrets", json!({"IncludePlannedDeletion": true})).unwrap()["SecretList"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    call(&e, "RestoreSecret", json!({"SecretId": "d"})).unwrap();
    assert_eq!(call(&e, "GetSecretValue", json!({"SecretId": "d"})).unwrap()["SecretString"], "v");
    call(&e, "DeleteSecret", json!({"SecretId": "d", "RecoveryWindowInDays": 7})).unwrap();
    e.clock.advance(8 * 86400);
    assert_eq!(e.sm.sweep_deletions().unwrap(), 1);
    assert_eq!(call(&e, "DescribeSecret", json!({"SecretId": "d"})), Err("ResourceNotFoundException".into()));
    call(&e, "CreateSecret", json!({"Name": "f", "SecretString": "v"})).unwrap();
    call(&e, "DeleteSecret", json!({"SecretId": "f", "ForceDeleteWithoutRecovery": true})).unwrap();
    assert_eq!(call(&e, "DescribeSecret", json!({"SecretId": "f"})), Err("ResourceNotFoundException".into()));
}

#[test]
fn list_filters_tags_batch_and_random_passwords() {
    let e = env();
    for (n, t) in [("app/a", "blue"), ("app/b", "green"), ("other", "blue")] {
        call(&e, "CreateSecret", json!({"Name": n, "SecretString": n, "Tags": [{"Key": "team", "Value": t}]})).unwrap();
    }
    let names = |body: Value| -> Vec<String> {
        call(&e, "ListSecrets", body).unwrap()["SecretList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(json!({"Filters": [{"Key": "name", "Values": ["app/"]}], "SortBy": "name"})), ["app/a", "app/b"]);
    assert_eq!(
        names(json!({"Filters": [{"Key": "tag-value", "Values": ["blue"]}], "SortBy": "name"})),
        ["app/a", "other"]
    );
    assert_eq!(names(json!({"Filters": [{"Key": "name", "Values": ["!app"]}]})), ["other"]);
    let page = call(&e, "ListSecrets", json!({"MaxResults": 2, "SortBy": "name"})).unwrap();
    let rest =
        call(&e, "ListSecrets", json!({"MaxResults": 2, "SortBy": "name", "NextToken": page["NextToken"]})).unwrap();
    assert_eq!(rest["SecretList"][0]["Name"], "other");
    assert_eq!(call(&e, "ListSecrets", json!({"NextToken": "zz"})), Err("InvalidNextTokenException".into()));
    call(&e, "UntagResource", json!({"SecretId": "other", "TagKeys": ["team"]})).unwrap();
    call(&e, "TagResource", json!({"SecretId": "app/a", "Tags": [{"Key": "team", "Value": "red"}]})).unwrap();
    assert_eq!(
        call(&e, "DescribeSecret", json!({"SecretId": "app/a"})).unwrap()["Tags"],
        json!([{"Key": "team", "Value": "red"}])
    );
    let batch = call(&e, "BatchGetSecretValue", json!({"SecretIdList": ["app/a", "missing"]})).unwrap();
    assert_eq!(batch["SecretValues"][0]["SecretString"], "app/a");
    assert_eq!(batch["Errors"][0]["ErrorCode"], "ResourceNotFoundException");
    let by_filter = call(&e, "BatchGetSecretValue", json!({"Filters": [{"Key": "name", "Values": ["app/"]}]})).unwrap();
    assert_eq!(by_filter["SecretValues"].as_array().unwrap().len(), 2);
    let pw = call(
        &e,
        "GetRandomPassword",
        json!({"PasswordLength": 40, "ExcludePunctuation": true, "ExcludeCharacters": "abc"}),
    )
    .unwrap();
    let pw = pw["RandomPassword"].as_str().unwrap();
    assert_eq!(pw.len(), 40);
    assert!(pw.chars().all(|c| c.is_ascii_alphanumeric() && !"abc".contains(c)));
    assert!(
        pw.chars().any(|c| c.is_ascii_lowercase())
            && pw.chars().any(|c| c.is_ascii_uppercase())
            && pw.chars().any(|c| c.is_ascii_digit())
    );
    let none_left =
        json!({"ExcludeLowercase": true, "ExcludeUppercase": true, "ExcludeNumbers": true, "ExcludePunctuation": true});
    assert_eq!(call(&e, "GetRandomPassword", none_left), Err("InvalidParameterException".into()));
    assert_eq!(call(&e, "GetRandomPassword", json!({"PasswordLength": 3})), Err("InvalidParameterException".into()));
}

#[test]
fn batch_get_without_an_authorizer_returns_no_secret_value() {
    let e = env();
    call(&e, "CreateSecret", json!({"Name": "plain", "SecretString": "hidden-value"})).unwrap();
    let body = json!({"SecretIdList": ["plain"]}).to_string();
    let out = e.sm.dispatch(Operation::BatchGetSecretValue, &caller(), body.as_bytes()).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("hidden-value"), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["SecretValues"], json!([]));
    assert_eq!(v["Errors"][0]["ErrorCode"], "AccessDeniedException");
}

#[test]
fn batch_get_asks_the_authorizer_for_each_secret_and_reports_refusals_as_access_denied() {
    let e = env();
    call(&e, "CreateSecret", json!({"Name": "team/open", "SecretString": "open-value"})).unwrap();
    call(&e, "CreateSecret", json!({"Name": "team/closed", "SecretString": "closed-value"})).unwrap();
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*",
        "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})
    .to_string();
    call(&e, "PutResourcePolicy", json!({"SecretId": "team/closed", "ResourcePolicy": policy})).unwrap();
    let asked = std::cell::RefCell::new(Vec::new());
    // Refuses secrets with a resource policy and anything named "nowhere".
    let check = |_: &Caller, a: &crate::SecretAccess<'_>| {
        asked.borrow_mut().push((a.action, a.secret_arn.to_string()));
        if a.resource_policy.is_some() || a.secret_arn.ends_with(":secret:nowhere") {
            Err(crate::SmError::Wire(trent_wire::WireError::AccessDenied("no".into())))
        } else {
            Ok(())
        }
    };
    let run = |body: Value| -> (Value, String) {
        let out =
            e.sm.dispatch_authorized(Operation::BatchGetSecretValue, &caller(), body.to_string().as_bytes(), &check)
                .unwrap();
        let text = String::from_utf8(out).unwrap();
        (serde_json::from_str(&text).unwrap(), text)
    };
    let (v, text) = run(json!({"SecretIdList": ["team/open", "team/closed", "nowhere", "missing"]}));
    assert!(!text.contains("closed-value"), "{text}");
    assert_eq!(v["SecretValues"].as_array().unwrap().len(), 1);
    assert_eq!(v["SecretValues"][0]["SecretString"], "open-value");
    let errors: Vec<(String, String)> = v["Errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["SecretId"].as_str().unwrap().into(), x["ErrorCode"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        errors,
        [
            ("team/closed".to_string(), "AccessDeniedException".to_string()),
            ("nowhere".into(), "AccessDeniedException".into()),
            ("missing".into(), "ResourceNotFoundException".into()),
        ]
    );
    assert!(asked.borrow().iter().all(|(a, _)| *a == "secretsmanager:GetSecretValue"));
    let (v, text) = run(json!({"Filters": [{"Key": "name", "Values": ["team/"]}]}));
    assert!(!text.contains("closed-value"), "{text}");
    assert_eq!(v["SecretValues"].as_array().unwrap().len(), 1);
    assert_eq!(v["Errors"].as_array().unwrap().len(), 1);
    assert_eq!(v["Errors"][0]["ErrorCode"], "AccessDeniedException");
}

/// The operations whose botocore input shape has no required member and that succeed on `{}`.
const EMPTY_BODY_SUCCEEDS: &[&str] = &["GetRandomPassword", "ListSecrets"];

#[test]
fn every_operation_answers_an_empty_body_with_an_aws_error_or_success() {
    let e = env();
    for body in [&b""[..], b"{}", b"  \n"] {
        for op in Operation::ALL {
            match e.sm.dispatch_authorized(*op, &caller(), body, &|_: &Caller, _: &crate::SecretAccess<'_>| Ok(())) {
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
    let section = doc.split("\n## ").find(|s| s.starts_with("Secrets Manager")).expect("the section exists");
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
        "the Secrets Manager section of docs/COMPATIBILITY.md and the operations dispatched differ"
    );
}
