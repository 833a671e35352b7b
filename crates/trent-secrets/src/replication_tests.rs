//! Replication across regions and resource policies, through `dispatch` with JSON bodies,
//! against a real SQLite store and the real in-process KMS.

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
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let (root, _) = RootKey::generate().unwrap();
    let clock = Arc::new(Clock::default());
    let kms = Arc::new(Kms::new(store.clone(), Arc::new(root), clock.clone()));
    Env { sm: SecretsManager::new(store, kms.clone(), clock), kms, _dir: dir }
}

fn at(region: &str) -> Caller {
    Caller::new(Principal::root("111122223333"), region.into())
}

fn call_in(e: &Env, region: &str, op: &str, body: Value) -> Result<Value, (String, String)> {
    let op = Operation::from_name(op).unwrap();
    match e.sm.dispatch(op, &at(region), body.to_string().as_bytes()) {
        Ok(out) => Ok(serde_json::from_slice(&out).unwrap()),
        Err(err) => {
            assert!(err.status() < 500, "{} gave a 5xx: {}", op.name(), err.message());
            Err((err.code().to_string(), err.message()))
        }
    }
}

fn call(e: &Env, op: &str, body: Value) -> Result<Value, (String, String)> {
    call_in(e, "us-east-1", op, body)
}

fn value_in(e: &Env, region: &str, id: &str) -> String {
    call_in(e, region, "GetSecretValue", json!({"SecretId": id})).unwrap()["SecretString"].as_str().unwrap().to_string()
}

fn kms_in(e: &Env, region: &str, op: &str, body: Value) -> Value {
    let op = trent_kms::Operation::from_name(op).unwrap();
    serde_json::from_slice(&e.kms.dispatch(op, &at(region), body.to_string().as_bytes()).unwrap()).unwrap()
}

#[test]
fn create_with_replica_regions_copies_the_secret_with_a_regional_arn() {
    let e = env();
    let c = call(
        &e,
        "CreateSecret",
        json!({"Name": "app", "SecretString": "s1", "AddReplicaRegions": [{"Region": "eu-west-1"}, {"Region": "ap-south-1"}]}),
    )
    .unwrap();
    let arn = c["ARN"].as_str().unwrap();
    assert_eq!(c["ReplicationStatus"].as_array().unwrap().len(), 2);
    assert!(c["ReplicationStatus"].as_array().unwrap().iter().all(|s| s["Status"] == "InSync"));
    for region in ["eu-west-1", "ap-south-1"] {
        assert_eq!(value_in(&e, region, "app"), "s1");
        let d = call_in(&e, region, "DescribeSecret", json!({"SecretId": "app"})).unwrap();
        assert_eq!(d["PrimaryRegion"], "us-east-1");
        assert_eq!(d["ARN"], arn.replace("us-east-1", region));
        assert!(d.get("ReplicationStatus").is_none());
        let by_arn = call_in(&e, region, "GetSecretValue", json!({"SecretId": arn.replace("us-east-1", region)}));
        assert_eq!(by_arn.unwrap()["VersionId"], c["VersionId"]);
    }
    let d = call(&e, "DescribeSecret", json!({"SecretId": "app"})).unwrap();
    assert_eq!(d["PrimaryRegion"], "us-east-1");
    assert_eq!(d["ReplicationStatus"][0]["KmsKeyId"], "alias/aws/secretsmanager");
    // The replica's value is under its own region's key, not the primary's.
    let l = call_in(&e, "eu-west-1", "ListSecrets", json!({})).unwrap();
    assert_eq!(l["SecretList"][0]["PrimaryRegion"], "us-east-1");
}

#[test]
fn replicas_follow_every_change_of_the_primary() {
    let e = env();
    call(&e, "CreateSecret", json!({"Name": "app", "SecretString": "s1"})).unwrap();
    call(&e, "ReplicateSecretToRegions", json!({"SecretId": "app", "AddReplicaRegions": [{"Region": "eu-west-1"}]}))
        .unwrap();
    let p = call(&e, "PutSecretValue", json!({"SecretId": "app", "SecretString": "s2"})).unwrap();
    assert_eq!(value_in(&e, "eu-west-1", "app"), "s2");
    call(&e, "TagResource", json!({"SecretId": "app", "Tags": [{"Key": "k", "Value": "v"}]})).unwrap();
    call(&e, "UpdateSecret", json!({"SecretId": "app", "Description": "d"})).unwrap();
    let d = call_in(&e, "eu-west-1", "DescribeSecret", json!({"SecretId": "app"})).unwrap();
    assert_eq!(d["Tags"], json!([{"Key": "k", "Value": "v"}]));
    assert_eq!(d["Description"], "d");
    let primary = call(&e, "DescribeSecret", json!({"SecretId": "app"})).unwrap();
    assert_eq!(d["VersionIdsToStages"], primary["VersionIdsToStages"]);
    assert_eq!(d["VersionIdsToStages"][p["VersionId"].as_str().unwrap()], json!(["AWSCURRENT"]));
    call(&e, "UntagResource", json!({"SecretId": "app", "TagKeys": ["k"]})).unwrap();
    let d = call_in(&e, "eu-west-1", "DescribeSecret", json!({"SecretId": "app"})).unwrap();
    assert_eq!(d["Tags"], json!([]), "AWS keeps Tags: [] after the last tag is removed");
}

#[test]
fn writes_on_a_replica_are_refused_as_aws_refuses_them() {
    let e = env();
    call(
        &e,
        "CreateSecret",
        json!({"Name": "app", "SecretString": "s1", "AddReplicaRegions": [{"Region": "eu-west-1"}]}),
    )
    .unwrap();
    for (op, body) in [
        ("PutSecretValue", json!({"SecretId": "app", "SecretString": "x"})),
        ("UpdateSecret", json!({"SecretId": "app", "Description": "x"})),
        ("TagResource", json!({"SecretId": "app", "Tags": []})),
        ("DeleteSecret", json!({"SecretId": "app"})),
        ("RotateSecret", json!({"SecretId": "app"})),
        ("PutResourcePolicy", json!({"SecretId": "app", "ResourcePolicy": PRIVATE})),
        ("DeleteResourcePolicy", json!({"SecretId": "app"})),
        (
            "UpdateSecretVersionStage",
            json!({"SecretId": "app", "VersionStage": "X", "RemoveFromVersionId": "0".repeat(32)}),
        ),
        ("CancelRotateSecret", json!({"SecretId": "app"})),
        ("RestoreSecret", json!({"SecretId": "app"})),
        ("ReplicateSecretToRegions", json!({"SecretId": "app", "AddReplicaRegions": [{"Region": "ap-south-1"}]})),
    ] {
        let (code, msg) = call_in(&e, "eu-west-1", op, body).unwrap_err();
        assert_eq!(code, "InvalidParameterException", "{op}");
        assert_eq!(
            msg, "Operation not permitted on a replica secret. Call must be made in primary secret's region.",
            "{op}"
        );
    }
    assert_eq!(value_in(&e, "eu-west-1", "app"), "s1");
}

#[test]
fn a_replica_with_a_disabled_key_fails_and_the_primary_write_succeeds() {
    let e = env();
    let key = kms_in(&e, "eu-west-1", "CreateKey", json!({}))["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    call(
        &e,
        "CreateSecret",
        json!({"Name": "app", "SecretString": "s1", "AddReplicaRegions": [{"Region": "eu-west-1", "KmsKeyId": key}]}),
    )
    .unwrap();
    kms_in(&e, "eu-west-1", "DisableKey", json!({"KeyId": key}));
    call(&e, "PutSecretValue", json!({"SecretId": "app", "SecretString": "s2"})).unwrap();
    assert_eq!(value_in(&e, "us-east-1", "app"), "s2");
    let d = call(&e, "DescribeSecret", json!({"SecretId": "app"})).unwrap();
    assert_eq!(d["ReplicationStatus"][0]["Status"], "Failed");
    assert_eq!(d["ReplicationStatus"][0]["KmsKeyId"], key);
    assert!(d["ReplicationStatus"][0]["StatusMessage"].as_str().unwrap().contains("disabled"));
    // Enabled again, the next change brings the replica back in sync.
    kms_in(&e, "eu-west-1", "EnableKey", json!({"KeyId": key}));
    call(&e, "PutSecretValue", json!({"SecretId": "app", "SecretString": "s3"})).unwrap();
    assert_eq!(value_in(&e, "eu-west-1", "app"), "s3");
    let d = call(&e, "DescribeSecret", json!({"SecretId": "app"})).unwrap();
    assert_eq!(d["ReplicationStatus"][0]["Status"], "InSync");
}

#[test]
fn a_name_taken_in_the_replica_region_fails_unless_overwrite_is_forced() {
    let e = env();
    call_in(&e, "eu-west-1", "CreateSecret", json!({"Name": "app", "SecretString": "local"})).unwrap();
    let c = call(
        &e,
        "CreateSecret",
        json!({"Name": "app", "SecretString": "s1", "AddReplicaRegions": [{"Region": "eu-west-1"}]}),
    )
    .unwrap();
    assert_eq!(c["ReplicationStatus"][0]["Status"], "Failed");
    assert_eq!(value_in(&e, "eu-west-1", "app"), "local");
    call(&e, "RemoveRegionsFromReplication", json!({"SecretId": "app", "RemoveReplicaRegions": ["eu-west-1"]}))
        .unwrap();
    assert_eq!(value_in(&e, "eu-west-1", "app"), "local", "removing a failed replica leaves the other secret alone");
    let r = call(
        &e,
        "ReplicateSecretToRegions",
        json!({"SecretId": "app", "AddReplicaRegions": [{"Region": "eu-west-1"}], "ForceOverwriteReplicaSecret": true}),
    )
    .unwrap();
    assert_eq!(r["ReplicationStatus"][0]["Status"], "InSync");
    assert_eq!(value_in(&e, "eu-west-1", "app"), "s1");
}

#[test]
fn remove_deletes_the_replica_and_stop_promotes_it() {
    let e = env();
    call(
        &e,
        "CreateSecret",
        json!({"Name": "app", "SecretString": "s1", "AddReplicaRegions": [{"Region": "eu-west-1"}, {"Region": "ap-south-1"}]}),
    )
    .unwrap();
    let (code, msg) = call(&e, "DeleteSecret", json!({"SecretId": "app"})).unwrap_err();
    assert_eq!(code, "InvalidParameterException");
    assert!(msg.contains("still has replica regions"), "{msg}");
    let r =
        call(&e, "RemoveRegionsFromReplication", json!({"SecretId": "app", "RemoveReplicaRegions": ["ap-south-1"]}))
            .unwrap();
    assert_eq!(r["ReplicationStatus"].as_array().unwrap().len(), 1);
    assert_eq!(
        call_in(&e, "ap-south-1", "GetSecretValue", json!({"SecretId": "app"})).unwrap_err().0,
        "ResourceNotFoundException"
    );
    let (code, _) =
        call(&e, "RemoveRegionsFromReplication", json!({"SecretId": "app", "RemoveReplicaRegions": ["ap-south-1"]}))
            .unwrap_err();
    assert_eq!(code, "InvalidParameterException");
    // StopReplicationToReplica on the primary is refused; in the replica's region it promotes.
    assert_eq!(
        call(&e, "StopReplicationToReplica", json!({"SecretId": "app"})).unwrap_err().0,
        "InvalidRequestException"
    );
    call_in(&e, "eu-west-1", "StopReplicationToReplica", json!({"SecretId": "app"})).unwrap();
    call_in(&e, "eu-west-1", "PutSecretValue", json!({"SecretId": "app", "SecretString": "mine"})).unwrap();
    assert_eq!(value_in(&e, "eu-west-1", "app"), "mine");
    let d = call_in(&e, "eu-west-1", "DescribeSecret", json!({"SecretId": "app"})).unwrap();
    assert!(d.get("PrimaryRegion").is_none(), "a promoted replica is no longer replicated");
    let p = call(&e, "DescribeSecret", json!({"SecretId": "app"})).unwrap();
    assert!(p.get("ReplicationStatus").is_none());
    call(&e, "PutSecretValue", json!({"SecretId": "app", "SecretString": "primary"})).unwrap();
    assert_eq!(value_in(&e, "eu-west-1", "app"), "mine", "the promoted secret no longer follows");
    call(&e, "DeleteSecret", json!({"SecretId": "app", "ForceDeleteWithoutRecovery": true})).unwrap();
}

#[test]
fn rotation_on_the_primary_reaches_the_replicas() {
    let e = env();
    call(
        &e,
        "CreateSecret",
        json!({"Name": "db", "SecretString": "{\"username\":\"u\",\"password\":\"p\"}", "AddReplicaRegions": [{"Region": "eu-west-1"}]}),
    )
    .unwrap();
    let r = call(&e, "RotateSecret", json!({"SecretId": "db"})).unwrap();
    let v = r["VersionId"].as_str().unwrap();
    let got = call_in(&e, "eu-west-1", "GetSecretValue", json!({"SecretId": "db"})).unwrap();
    assert_eq!(got["VersionId"], v);
    assert_ne!(got["SecretString"], "{\"username\":\"u\",\"password\":\"p\"}");
    let d = call_in(&e, "eu-west-1", "DescribeSecret", json!({"SecretId": "db"})).unwrap();
    assert_eq!(d["VersionIdsToStages"][v], json!(["AWSCURRENT"]));
}

#[test]
fn bad_replica_regions_are_aws_errors() {
    let e = env();
    call(&e, "CreateSecret", json!({"Name": "app", "SecretString": "s1"})).unwrap();
    for regions in [json!([{"Region": "us-east-1"}]), json!([{"Region": "eu-west-1"}, {"Region": "eu-west-1"}])] {
        let (code, _) =
            call(&e, "ReplicateSecretToRegions", json!({"SecretId": "app", "AddReplicaRegions": regions})).unwrap_err();
        assert_eq!(code, "InvalidParameterException");
    }
    let (code, _) =
        call(&e, "ReplicateSecretToRegions", json!({"SecretId": "app", "AddReplicaRegions": [{"Region": "Nowhere"}]}))
            .unwrap_err();
    assert_eq!(code, "ValidationException");
    let (code, _) = call(
        &e,
        "ReplicateSecretToRegions",
        json!({"SecretId": "nope", "AddReplicaRegions": [{"Region": "eu-west-1"}]}),
    )
    .unwrap_err();
    assert_eq!(code, "ResourceNotFoundException");
}

const PRIVATE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;
const PUBLIC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;

#[test]
fn resource_policies_put_get_delete_and_reach_the_authorizer() {
    let e = env();
    let c = call(
        &e,
        "CreateSecret",
        json!({"Name": "app", "SecretString": "s1", "AddReplicaRegions": [{"Region": "eu-west-1"}]}),
    )
    .unwrap();
    assert!(call(&e, "GetResourcePolicy", json!({"SecretId": "app"})).unwrap().get("ResourcePolicy").is_none());
    assert_eq!(e.sm.resource_policy(&at("us-east-1"), "app").unwrap(), None);
    call(&e, "PutResourcePolicy", json!({"SecretId": "app", "ResourcePolicy": PRIVATE, "BlockPublicPolicy": true}))
        .unwrap();
    let g = call(&e, "GetResourcePolicy", json!({"SecretId": "app"})).unwrap();
    assert_eq!(g["ResourcePolicy"], PRIVATE);
    assert_eq!(g["ARN"], c["ARN"]);
    let (arn, policy) = e.sm.resource_policy(&at("us-east-1"), "app").unwrap().unwrap();
    assert_eq!((arn.as_str(), policy.as_str()), (c["ARN"].as_str().unwrap(), PRIVATE));
    assert_eq!(
        call_in(&e, "eu-west-1", "GetResourcePolicy", json!({"SecretId": "app"})).unwrap()["ResourcePolicy"],
        PRIVATE
    );
    assert_eq!(e.sm.resource_policy(&at("us-east-1"), "missing").unwrap(), None);
    call(&e, "DeleteResourcePolicy", json!({"SecretId": "app"})).unwrap();
    assert!(call(&e, "GetResourcePolicy", json!({"SecretId": "app"})).unwrap().get("ResourcePolicy").is_none());
    assert!(call_in(&e, "eu-west-1", "GetResourcePolicy", json!({"SecretId": "app"}))
        .unwrap()
        .get("ResourcePolicy")
        .is_none());
}

#[test]
fn block_public_policy_refuses_a_star_principal_and_malformed_policies_are_refused() {
    let e = env();
    call(&e, "CreateSecret", json!({"Name": "app", "SecretString": "s1"})).unwrap();
    let (code, msg) =
        call(&e, "PutResourcePolicy", json!({"SecretId": "app", "ResourcePolicy": PUBLIC, "BlockPublicPolicy": true}))
            .unwrap_err();
    assert_eq!(code, "PublicPolicyException");
    assert!(msg.contains("BlockPublicPolicy"));
    // Without BlockPublicPolicy it is accepted, as on AWS.
    call(&e, "PutResourcePolicy", json!({"SecretId": "app", "ResourcePolicy": PUBLIC})).unwrap();
    for bad in ["{not json", r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#] {
        let (code, _) = call(&e, "PutResourcePolicy", json!({"SecretId": "app", "ResourcePolicy": bad})).unwrap_err();
        assert_eq!(code, "MalformedPolicyDocumentException", "{bad}");
    }
    let (code, _) = call(&e, "PutResourcePolicy", json!({"SecretId": "app", "ResourcePolicy": ""})).unwrap_err();
    assert_eq!(code, "ValidationException");
}

#[test]
fn validate_resource_policy_reports_grammar_and_broad_access() {
    let e = env();
    let ok = call(&e, "ValidateResourcePolicy", json!({"ResourcePolicy": PRIVATE})).unwrap();
    assert_eq!(ok, json!({"PolicyValidationPassed": true, "ValidationErrors": []}));
    let public = call(&e, "ValidateResourcePolicy", json!({"ResourcePolicy": PUBLIC})).unwrap();
    assert_eq!(public["PolicyValidationPassed"], false);
    assert_eq!(public["ValidationErrors"][0]["CheckName"], "BROAD_ACCESS");
    let grammar = call(
        &e,
        "ValidateResourcePolicy",
        json!({"ResourcePolicy": r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#}),
    )
    .unwrap();
    assert_eq!(grammar["ValidationErrors"][0]["CheckName"], "POLICY_GRAMMAR");
    let (code, _) = call(&e, "ValidateResourcePolicy", json!({"ResourcePolicy": "nope"})).unwrap_err();
    assert_eq!(code, "MalformedPolicyDocumentException");
    let (code, _) =
        call(&e, "ValidateResourcePolicy", json!({"SecretId": "missing", "ResourcePolicy": PRIVATE})).unwrap_err();
    assert_eq!(code, "ResourceNotFoundException");
}

#[test]
fn put_secret_value_counts_as_a_rotation_for_automatically_after_days() {
    let e = env();
    call(&e, "CreateSecret", json!({"Name": "db", "SecretString": "{\"password\":\"p\"}"})).unwrap();
    call(
        &e,
        "RotateSecret",
        json!({"SecretId": "db", "RotateImmediately": false, "RotationRules": {"AutomaticallyAfterDays": 10}}),
    )
    .unwrap();
    let before = call(&e, "DescribeSecret", json!({"SecretId": "db"})).unwrap();
    assert!(before.get("LastRotatedDate").is_none());
    call(&e, "PutSecretValue", json!({"SecretId": "db", "SecretString": "{\"password\":\"q\"}"})).unwrap();
    let after = call(&e, "DescribeSecret", json!({"SecretId": "db"})).unwrap();
    let last = after["LastRotatedDate"].as_f64().unwrap();
    let next = after["NextRotationDate"].as_f64().unwrap();
    assert!(next > last + 9.0 * 86400.0 && next <= last + 11.0 * 86400.0, "{last} {next}");
    // A ScheduleExpression schedule is not moved by a manual change.
    call(&e, "CreateSecret", json!({"Name": "cron", "SecretString": "{\"password\":\"p\"}"})).unwrap();
    call(
        &e,
        "RotateSecret",
        json!({"SecretId": "cron", "RotateImmediately": false, "RotationRules": {"ScheduleExpression": "rate(10 days)"}}),
    )
    .unwrap();
    call(&e, "PutSecretValue", json!({"SecretId": "cron", "SecretString": "{\"password\":\"q\"}"})).unwrap();
    assert!(call(&e, "DescribeSecret", json!({"SecretId": "cron"})).unwrap().get("LastRotatedDate").is_none());
}

#[test]
fn rotate_immediately_false_runs_test_secret_and_leaves_no_version_behind() {
    let e = env();
    let c = call(&e, "CreateSecret", json!({"Name": "db", "SecretString": "{\"password\":\"p\"}"})).unwrap();
    let r = call(
        &e,
        "RotateSecret",
        json!({"SecretId": "db", "RotateImmediately": false, "RotationRules": {"AutomaticallyAfterDays": 3}}),
    )
    .unwrap();
    assert!(r.get("VersionId").is_none());
    let l = call(&e, "ListSecretVersionIds", json!({"SecretId": "db", "IncludeDeprecated": true})).unwrap();
    assert_eq!(l["Versions"].as_array().unwrap().len(), 1);
    assert_eq!(l["Versions"][0]["VersionId"], c["VersionId"]);
}

#[test]
fn changes_without_new_values_reach_a_replica_even_when_its_key_is_disabled() {
    // Tags and labels need no KMS work: they are written to the replica in the primary's own
    // transaction, whatever the state of the replica's key.
    let e = env();
    let key = kms_in(&e, "eu-west-1", "CreateKey", json!({}))["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    call(
        &e,
        "CreateSecret",
        json!({"Name": "app", "SecretString": "s1", "AddReplicaRegions": [{"Region": "eu-west-1", "KmsKeyId": key}]}),
    )
    .unwrap();
    kms_in(&e, "eu-west-1", "DisableKey", json!({"KeyId": key}));
    call(&e, "TagResource", json!({"SecretId": "app", "Tags": [{"Key": "k", "Value": "v"}]})).unwrap();
    let d = call_in(&e, "eu-west-1", "DescribeSecret", json!({"SecretId": "app"})).unwrap();
    assert_eq!(d["Tags"], json!([{"Key": "k", "Value": "v"}]));
    let p = call(&e, "DescribeSecret", json!({"SecretId": "app"})).unwrap();
    assert_eq!(p["ReplicationStatus"][0]["Status"], "InSync");
    // A new value needs the key: Failed, and the replica keeps its last good copy's labels.
    call(&e, "PutSecretValue", json!({"SecretId": "app", "SecretString": "s2"})).unwrap();
    let p = call(&e, "DescribeSecret", json!({"SecretId": "app"})).unwrap();
    assert_eq!(p["ReplicationStatus"][0]["Status"], "Failed");
    let d = call_in(&e, "eu-west-1", "DescribeSecret", json!({"SecretId": "app"})).unwrap();
    assert_eq!(d["VersionIdsToStages"].as_object().unwrap().len(), 1);
}

#[test]
fn testing_a_rotation_configuration_leaves_no_temporary_version_on_replicas() {
    let e = env();
    let c = call(
        &e,
        "CreateSecret",
        json!({"Name": "db", "SecretString": "{\"password\":\"p\"}", "AddReplicaRegions": [{"Region": "eu-west-1"}]}),
    )
    .unwrap();
    call(
        &e,
        "RotateSecret",
        json!({"SecretId": "db", "RotateImmediately": false, "RotationRules": {"AutomaticallyAfterDays": 5}}),
    )
    .unwrap();
    let d = call_in(&e, "eu-west-1", "DescribeSecret", json!({"SecretId": "db"})).unwrap();
    assert_eq!(d["VersionIdsToStages"], json!({c["VersionId"].as_str().unwrap(): ["AWSCURRENT"]}));
    assert_eq!(d["RotationEnabled"], true, "the rotation configuration is replicated");
    assert_eq!(d["RotationRules"]["AutomaticallyAfterDays"], 5);
}

#[test]
fn last_accessed_date_is_a_day_and_each_replica_reports_its_own() {
    let e = env();
    call(&e, "CreateSecret", json!({"Name": "app", "SecretString": "s1", "AddReplicaRegions": [{"Region": "eu-west-1"}, {"Region": "ap-south-1"}]}))
        .unwrap();
    assert!(call(&e, "DescribeSecret", json!({"SecretId": "app"})).unwrap().get("LastAccessedDate").is_none());
    value_in(&e, "eu-west-1", "app");
    let d = call(&e, "DescribeSecret", json!({"SecretId": "app"})).unwrap();
    assert!(d.get("LastAccessedDate").is_none(), "read only in eu-west-1");
    let by_region: std::collections::HashMap<String, Value> = d["ReplicationStatus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["Region"].as_str().unwrap().to_string(), s.clone()))
        .collect();
    let eu = by_region["eu-west-1"]["LastAccessedDate"].as_f64().unwrap();
    assert_eq!(eu % 86400.0, 0.0, "a date, as AWS keeps it");
    assert!(by_region["ap-south-1"].get("LastAccessedDate").is_none());
    // A later change of the primary keeps the replica's own access date.
    call(&e, "PutSecretValue", json!({"SecretId": "app", "SecretString": "s2"})).unwrap();
    let d = call_in(&e, "eu-west-1", "DescribeSecret", json!({"SecretId": "app"})).unwrap();
    assert_eq!(d["LastAccessedDate"].as_f64().unwrap(), eu);
    value_in(&e, "us-east-1", "app");
    let l = call(&e, "ListSecrets", json!({})).unwrap();
    assert!(l["SecretList"][0]["LastAccessedDate"].as_f64().is_some());
}
