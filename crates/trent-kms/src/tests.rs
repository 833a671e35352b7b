//! Operation-level tests: JSON in, JSON or an AWS error code out, against a real SQLite store.

use crate::{Caller, Clock, Kms, Operation};
use serde_json::{json, Value};
use std::sync::Arc;
use trent_crypto::RootKey;
use trent_policy::Principal;
use trent_store::sqlite::SqliteStore;
use trent_wire::AwsError;

struct Env {
    _dir: tempfile::TempDir,
    kms: Kms,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let (root, _) = RootKey::generate().unwrap();
    let kms = Kms::new(store, Arc::new(root), Arc::new(Clock::default()));
    Env { _dir: dir, kms }
}

fn caller(region: &str) -> Caller {
    Caller::new(Principal::root("111122223333"), region.into())
}

fn call_in(e: &Env, region: &str, op: &str, body: Value) -> Result<Value, (String, String)> {
    let op = Operation::from_name(op).expect("known operation");
    match e.kms.dispatch(op, &caller(region), body.to_string().as_bytes()) {
        Ok(out) => Ok(serde_json::from_slice(&out).unwrap()),
        Err(err) => Err((err.code().to_string(), err.message())),
    }
}

fn call(e: &Env, op: &str, body: Value) -> Result<Value, (String, String)> {
    call_in(e, "us-east-1", op, body)
}

fn code(r: Result<Value, (String, String)>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v}"),
        Err((c, _)) => c,
    }
}

fn new_key(e: &Env) -> String {
    call(e, "CreateKey", json!({})).unwrap()["KeyMetadata"]["KeyId"].as_str().unwrap().to_string()
}

fn b64(b: &[u8]) -> String {
    trent_wire::json::base64_encode(b)
}

fn unb64(v: &Value) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap()).unwrap()
}

fn encrypt(e: &Env, key: &str, pt: &[u8], ctx: Value) -> String {
    call(e, "Encrypt", json!({"KeyId": key, "Plaintext": b64(pt), "EncryptionContext": ctx})).unwrap()["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn create_key_returns_full_symmetric_metadata() {
    let e = env();
    let m = call(&e, "CreateKey", json!({"Description": "d", "Tags": [{"TagKey": "k", "TagValue": "v"}]})).unwrap();
    let m = &m["KeyMetadata"];
    let id = m["KeyId"].as_str().unwrap();
    assert_eq!(m["Arn"], format!("arn:aws:kms:us-east-1:111122223333:key/{id}"));
    assert_eq!(m["AWSAccountId"], "111122223333");
    assert_eq!(m["KeyState"], "Enabled");
    assert_eq!(m["Enabled"], true);
    assert_eq!(m["KeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(m["CustomerMasterKeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(m["KeyUsage"], "ENCRYPT_DECRYPT");
    assert_eq!(m["Origin"], "AWS_KMS");
    assert_eq!(m["KeyManager"], "CUSTOMER");
    assert_eq!(m["EncryptionAlgorithms"], json!(["SYMMETRIC_DEFAULT"]));
    assert_eq!(m["MultiRegion"], false);
    assert_eq!(m["Description"], "d");
    assert!(m["CreationDate"].as_f64().unwrap() > 1.7e9);
    let mid = m["CurrentKeyMaterialId"].as_str().unwrap();
    assert!(mid.len() == 64 && mid.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert!(m.get("DeletionDate").is_none());
}

#[test]
fn create_key_refuses_unsupported_and_incompatible_specs() {
    let e = env();
    assert_eq!(
        code(call(&e, "CreateKey", json!({"KeySpec": "SM2", "KeyUsage": "SIGN_VERIFY"}))),
        "UnsupportedOperationException"
    );
    assert_eq!(code(call(&e, "CreateKey", json!({"KeyUsage": "SIGN_VERIFY"}))), "ValidationException");
    assert_eq!(code(call(&e, "CreateKey", json!({"KeySpec": "AES_999"}))), "ValidationException");
    assert_eq!(
        code(call(
            &e,
            "CreateKey",
            json!({"KeySpec": "SYMMETRIC_DEFAULT", "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT"})
        )),
        "ValidationException"
    );
    assert_eq!(code(call(&e, "CreateKey", json!({"CustomKeyStoreId": "cks-1"}))), "ValidationException");
    assert_eq!(
        code(call(&e, "CreateKey", json!({"CustomKeyStoreId": "cks-1", "Origin": "AWS_CLOUDHSM"}))),
        "CustomKeyStoreNotFoundException"
    );
    assert_eq!(code(call(&e, "CreateKey", json!({"Policy": "{not json"}))), "MalformedPolicyDocumentException");
    assert_eq!(code(call(&e, "CreateKey", json!({"Description": 5}))), "SerializationException");
}

#[test]
fn encrypt_then_decrypt_without_key_id_round_trips() {
    let e = env();
    let k = new_key(&e);
    let ct = encrypt(&e, &k, b"attack at dawn", json!({"purpose": "test"}));
    let out = call(&e, "Decrypt", json!({"CiphertextBlob": ct, "EncryptionContext": {"purpose": "test"}})).unwrap();
    assert_eq!(unb64(&out["Plaintext"]), b"attack at dawn");
    assert_eq!(out["KeyId"], format!("arn:aws:kms:us-east-1:111122223333:key/{k}"));
    assert_eq!(out["EncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    assert_eq!(out["KeyMaterialId"].as_str().unwrap().len(), 64);
}

#[test]
fn decrypt_with_another_keys_id_is_incorrect_key() {
    let e = env();
    let (a, b) = (new_key(&e), new_key(&e));
    let ct = encrypt(&e, &a, b"x", json!({}));
    assert_eq!(code(call(&e, "Decrypt", json!({"CiphertextBlob": ct, "KeyId": b}))), "IncorrectKeyException");
    assert!(call(&e, "Decrypt", json!({"CiphertextBlob": ct, "KeyId": a})).is_ok());
    let missing = "00000000-0000-4000-8000-000000000000";
    assert_eq!(code(call(&e, "Decrypt", json!({"CiphertextBlob": ct, "KeyId": missing}))), "NotFoundException");
}

#[test]
fn decrypt_rejects_wrong_missing_or_shifted_encryption_context() {
    let e = env();
    let k = new_key(&e);
    let ct = encrypt(&e, &k, b"x", json!({"ab": "c"}));
    for ctx in [json!({"a": "bc"}), json!({}), json!({"ab": "c", "d": "e"}), json!({"ab": "C"})] {
        assert_eq!(
            code(call(&e, "Decrypt", json!({"CiphertextBlob": ct, "EncryptionContext": ctx}))),
            "InvalidCiphertextException",
            "{ctx}"
        );
    }
}

#[test]
fn decrypt_rejects_every_single_byte_tamper() {
    let e = env();
    let k = new_key(&e);
    let ct = unb64(&json!(encrypt(&e, &k, b"payload", json!({}))));
    for i in 0..ct.len() {
        let mut t = ct.clone();
        t[i] ^= 0x40;
        let c = code(call(&e, "Decrypt", json!({"CiphertextBlob": b64(&t)})));
        assert!(["InvalidCiphertextException", "NotFoundException"].contains(&c.as_str()), "byte {i} flipped gave {c}");
    }
}

#[test]
fn encrypt_rejects_plaintext_over_4096_bytes_without_echoing_it() {
    let e = env();
    let k = new_key(&e);
    let Err((c, m)) = call(&e, "Encrypt", json!({"KeyId": k, "Plaintext": b64(&[b'S'; 4097])})) else { panic!() };
    assert_eq!(c, "ValidationException");
    assert_eq!(
        m,
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096"
    );
    assert!(call(&e, "Encrypt", json!({"KeyId": k, "Plaintext": b64(&[0; 4096])})).is_ok());
    assert_eq!(code(call(&e, "Encrypt", json!({"KeyId": k}))), "ValidationException");
    assert_eq!(code(call(&e, "Encrypt", json!({"KeyId": k, "Plaintext": "***"}))), "SerializationException");
}

#[test]
fn disabled_key_refuses_crypto_until_enabled() {
    let e = env();
    let k = new_key(&e);
    let ct = encrypt(&e, &k, b"x", json!({}));
    call(&e, "DisableKey", json!({"KeyId": k})).unwrap();
    assert_eq!(call(&e, "DescribeKey", json!({"KeyId": k})).unwrap()["KeyMetadata"]["KeyState"], "Disabled");
    assert_eq!(code(call(&e, "Encrypt", json!({"KeyId": k, "Plaintext": b64(b"x")}))), "DisabledException");
    assert_eq!(code(call(&e, "Decrypt", json!({"CiphertextBlob": ct}))), "DisabledException");
    assert_eq!(code(call(&e, "GenerateDataKey", json!({"KeyId": k, "KeySpec": "AES_256"}))), "DisabledException");
    call(&e, "EnableKey", json!({"KeyId": k})).unwrap();
    assert!(call(&e, "Decrypt", json!({"CiphertextBlob": ct})).is_ok());
}

#[test]
fn schedule_and_cancel_deletion_follow_aws_states() {
    let e = env();
    let k = new_key(&e);
    for bad in [6, 31] {
        assert_eq!(
            code(call(&e, "ScheduleKeyDeletion", json!({"KeyId": k, "PendingWindowInDays": bad}))),
            "ValidationException"
        );
    }
    let out = call(&e, "ScheduleKeyDeletion", json!({"KeyId": k})).unwrap();
    assert_eq!(out["KeyState"], "PendingDeletion");
    assert_eq!(out["PendingWindowInDays"], 30);
    assert_eq!(out["KeyId"], format!("arn:aws:kms:us-east-1:111122223333:key/{k}"));
    let md = call(&e, "DescribeKey", json!({"KeyId": k})).unwrap();
    assert_eq!(md["KeyMetadata"]["DeletionDate"], out["DeletionDate"]);
    assert_eq!(code(call(&e, "Encrypt", json!({"KeyId": k, "Plaintext": b64(b"x")}))), "KMSInvalidStateException");
    assert_eq!(code(call(&e, "ScheduleKeyDeletion", json!({"KeyId": k}))), "KMSInvalidStateException");
    assert_eq!(code(call(&e, "EnableKey", json!({"KeyId": k}))), "KMSInvalidStateException");
    call(&e, "CancelKeyDeletion", json!({"KeyId": k})).unwrap();
    let md = call(&e, "DescribeKey", json!({"KeyId": k})).unwrap();
    assert_eq!(md["KeyMetadata"]["KeyState"], "Disabled");
    assert!(md["KeyMetadata"].get("DeletionDate").is_none());
    assert_eq!(code(call(&e, "CancelKeyDeletion", json!({"KeyId": k}))), "KMSInvalidStateException");
}

#[test]
fn sweep_destroys_keys_and_their_aliases_only_after_the_deletion_date() {
    let e = env();
    let (doomed, kept) = (new_key(&e), new_key(&e));
    call(&e, "CreateAlias", json!({"AliasName": "alias/doomed", "TargetKeyId": doomed})).unwrap();
    call(&e, "CreateAlias", json!({"AliasName": "alias/kept", "TargetKeyId": kept})).unwrap();
    call(&e, "ScheduleKeyDeletion", json!({"KeyId": doomed, "PendingWindowInDays": 7})).unwrap();
    e.kms.clock.advance(6 * 86400);
    assert_eq!(e.kms.sweep_deletions().unwrap(), 0);
    e.kms.clock.advance(2 * 86400);
    assert_eq!(e.kms.sweep_deletions().unwrap(), 1);
    assert_eq!(code(call(&e, "DescribeKey", json!({"KeyId": doomed}))), "NotFoundException");
    let aliases = call(&e, "ListAliases", json!({})).unwrap();
    let names: Vec<&str> =
        aliases["Aliases"].as_array().unwrap().iter().map(|a| a["AliasName"].as_str().unwrap()).collect();
    assert_eq!(names, ["alias/kept"]);
    assert_eq!(e.kms.sweep_deletions().unwrap(), 0);
}

#[test]
fn cancelled_deletion_is_not_swept() {
    let e = env();
    let k = new_key(&e);
    call(&e, "ScheduleKeyDeletion", json!({"KeyId": k, "PendingWindowInDays": 7})).unwrap();
    call(&e, "CancelKeyDeletion", json!({"KeyId": k})).unwrap();
    e.kms.clock.advance(8 * 86400);
    assert_eq!(e.kms.sweep_deletions().unwrap(), 0);
    assert!(call(&e, "DescribeKey", json!({"KeyId": k})).is_ok());
}

#[test]
fn aliases_follow_aws_naming_rules() {
    let e = env();
    let k = new_key(&e);
    call(&e, "CreateAlias", json!({"AliasName": "alias/app/prod", "TargetKeyId": k})).unwrap();
    assert_eq!(
        code(call(&e, "CreateAlias", json!({"AliasName": "alias/app/prod", "TargetKeyId": k}))),
        "AlreadyExistsException"
    );
    assert_eq!(
        code(call(&e, "CreateAlias", json!({"AliasName": "alias/aws/mine", "TargetKeyId": k}))),
        "NotAuthorizedException"
    );
    assert_eq!(code(call(&e, "CreateAlias", json!({"AliasName": "app", "TargetKeyId": k}))), "ValidationException");
    assert_eq!(
        code(call(&e, "CreateAlias", json!({"AliasName": "alias/a:b", "TargetKeyId": k}))),
        "ValidationException"
    );
    assert_eq!(
        code(call(&e, "CreateAlias", json!({"AliasName": "alias/sp ace", "TargetKeyId": k}))),
        "ValidationException"
    );
    assert_eq!(
        code(call(&e, "CreateAlias", json!({"AliasName": "alias/x", "TargetKeyId": "alias/app/prod"}))),
        "NotFoundException"
    );
    let missing = "00000000-0000-4000-8000-000000000000";
    assert_eq!(
        code(call(&e, "CreateAlias", json!({"AliasName": "alias/x", "TargetKeyId": missing}))),
        "NotFoundException"
    );
    let arn = "arn:aws:kms:us-east-1:111122223333:alias/app/prod";
    assert_eq!(call(&e, "DescribeKey", json!({"KeyId": arn})).unwrap()["KeyMetadata"]["KeyId"], k.as_str());
    assert_eq!(code(call(&e, "DeleteAlias", json!({"AliasName": "alias/nope"}))), "NotFoundException");
    call(&e, "DeleteAlias", json!({"AliasName": "alias/app/prod"})).unwrap();
    assert_eq!(code(call(&e, "DescribeKey", json!({"KeyId": "alias/app/prod"}))), "NotFoundException");
}

#[test]
fn update_alias_moves_new_encryptions_and_old_ciphertexts_still_decrypt() {
    let e = env();
    let (old, new) = (new_key(&e), new_key(&e));
    call(&e, "CreateAlias", json!({"AliasName": "alias/app", "TargetKeyId": old})).unwrap();
    let ct_old = encrypt(&e, "alias/app", b"one", json!({}));
    call(&e, "UpdateAlias", json!({"AliasName": "alias/app", "TargetKeyId": new})).unwrap();
    let out = call(&e, "Encrypt", json!({"KeyId": "alias/app", "Plaintext": b64(b"two")})).unwrap();
    assert!(out["KeyId"].as_str().unwrap().ends_with(&new));
    assert_eq!(unb64(&call(&e, "Decrypt", json!({"CiphertextBlob": ct_old})).unwrap()["Plaintext"]), b"one");
    let listed = call(&e, "ListAliases", json!({"KeyId": new})).unwrap();
    assert_eq!(listed["Aliases"].as_array().unwrap().len(), 1);
    assert_eq!(
        code(call(&e, "UpdateAlias", json!({"AliasName": "alias/none", "TargetKeyId": new}))),
        "NotFoundException"
    );
}

#[test]
fn regions_are_separate_and_arns_carry_the_partition() {
    let e = env();
    let k = new_key(&e);
    assert_eq!(code(call_in(&e, "eu-west-1", "DescribeKey", json!({"KeyId": k}))), "NotFoundException");
    assert_eq!(call_in(&e, "eu-west-1", "ListKeys", json!({})).unwrap()["Keys"], json!([]));
    let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{k}");
    assert_eq!(code(call_in(&e, "eu-west-1", "DescribeKey", json!({"KeyId": arn}))), "NotFoundException");
    let cn = call_in(&e, "cn-north-1", "CreateKey", json!({})).unwrap();
    assert!(cn["KeyMetadata"]["Arn"].as_str().unwrap().starts_with("arn:aws-cn:kms:cn-north-1:111122223333:key/"));
    let gov = call_in(&e, "us-gov-west-1", "CreateKey", json!({})).unwrap();
    assert!(gov["KeyMetadata"]["Arn"].as_str().unwrap().starts_with("arn:aws-us-gov:kms:"));
    let ct = encrypt(&e, &k, b"x", json!({}));
    assert_eq!(code(call_in(&e, "eu-west-1", "Decrypt", json!({"CiphertextBlob": ct}))), "InvalidCiphertextException");
}

#[test]
fn other_accounts_keys_are_refused() {
    let e = env();
    let arn = "arn:aws:kms:us-east-1:999999999999:key/00000000-0000-4000-8000-000000000000";
    assert_eq!(code(call(&e, "Encrypt", json!({"KeyId": arn, "Plaintext": b64(b"x")}))), "AccessDeniedException");
}

#[test]
fn list_keys_pages_through_every_key_once() {
    let e = env();
    let mut made: Vec<String> = (0..5).map(|_| new_key(&e)).collect();
    made.sort();
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut body = json!({"Limit": 2});
        if let Some(m) = &marker {
            body["Marker"] = json!(m);
        }
        let page = call(&e, "ListKeys", body).unwrap();
        for k in page["Keys"].as_array().unwrap() {
            assert!(k["KeyArn"].as_str().unwrap().ends_with(k["KeyId"].as_str().unwrap()));
            seen.push(k["KeyId"].as_str().unwrap().to_string());
        }
        if page["Truncated"] == true {
            marker = Some(page["NextMarker"].as_str().unwrap().to_string());
        } else {
            assert!(page.get("NextMarker").is_none());
            break;
        }
    }
    assert_eq!(seen, made);
    assert_eq!(code(call(&e, "ListKeys", json!({"Limit": 0}))), "ValidationException");
    assert_eq!(code(call(&e, "ListKeys", json!({"Marker": "garbage"}))), "InvalidMarkerException");
}

#[test]
fn tags_replace_remove_and_reject_reserved_keys() {
    let e = env();
    let k = new_key(&e);
    call(
        &e,
        "TagResource",
        json!({"KeyId": k, "Tags": [{"TagKey": "env", "TagValue": "dev"}, {"TagKey": "team", "TagValue": "a"}]}),
    )
    .unwrap();
    call(&e, "TagResource", json!({"KeyId": k, "Tags": [{"TagKey": "env", "TagValue": "prod"}]})).unwrap();
    let tags = call(&e, "ListResourceTags", json!({"KeyId": k})).unwrap();
    assert_eq!(tags["Tags"], json!([{"TagKey": "env", "TagValue": "prod"}, {"TagKey": "team", "TagValue": "a"}]));
    let page = call(&e, "ListResourceTags", json!({"KeyId": k, "Limit": 1})).unwrap();
    assert_eq!(page["Truncated"], true);
    let rest = call(&e, "ListResourceTags", json!({"KeyId": k, "Marker": page["NextMarker"]})).unwrap();
    assert_eq!(rest["Tags"], json!([{"TagKey": "team", "TagValue": "a"}]));
    call(&e, "UntagResource", json!({"KeyId": k, "TagKeys": ["team"]})).unwrap();
    assert_eq!(call(&e, "ListResourceTags", json!({"KeyId": k})).unwrap()["Tags"].as_array().unwrap().len(), 1);
    assert_eq!(
        code(call(&e, "TagResource", json!({"KeyId": k, "Tags": [{"TagKey": "aws:x", "TagValue": "v"}]}))),
        "TagException"
    );
    let too_long = "k".repeat(129);
    assert_eq!(
        code(call(&e, "TagResource", json!({"KeyId": k, "Tags": [{"TagKey": too_long, "TagValue": "v"}]}))),
        "ValidationException"
    );
    let many: Vec<Value> = (0..51).map(|i| json!({"TagKey": format!("t{i}"), "TagValue": ""})).collect();
    assert_eq!(code(call(&e, "TagResource", json!({"KeyId": k, "Tags": many}))), "LimitExceededException");
}

#[test]
fn key_policy_defaults_to_account_root_and_can_be_replaced() {
    let e = env();
    let k = new_key(&e);
    let p = call(&e, "GetKeyPolicy", json!({"KeyId": k})).unwrap();
    assert_eq!(p["PolicyName"], "default");
    let doc: Value = serde_json::from_str(p["Policy"].as_str().unwrap()).unwrap();
    assert_eq!(doc["Version"], "2012-10-17");
    assert_eq!(doc["Statement"][0]["Principal"]["AWS"], "arn:aws:iam::111122223333:root");
    assert_eq!(doc["Statement"][0]["Action"], "kms:*");
    let new_policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"}]}).to_string();
    call(&e, "PutKeyPolicy", json!({"KeyId": k, "Policy": new_policy})).unwrap();
    assert_eq!(call(&e, "GetKeyPolicy", json!({"KeyId": k, "PolicyName": "default"})).unwrap()["Policy"], new_policy);
    assert_eq!(code(call(&e, "PutKeyPolicy", json!({"KeyId": k, "Policy": "[]"}))), "MalformedPolicyDocumentException");
    assert_eq!(
        code(call(&e, "PutKeyPolicy", json!({"KeyId": k, "Policy": "{\"Statement\": [{\"Effect\": \"Maybe\"}]}"}))),
        "MalformedPolicyDocumentException"
    );
    assert_eq!(code(call(&e, "GetKeyPolicy", json!({"KeyId": k, "PolicyName": "other"}))), "NotFoundException");
    assert_eq!(call(&e, "ListKeyPolicies", json!({"KeyId": k})).unwrap()["PolicyNames"], json!(["default"]));
}

fn key_policy(statement: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()
}

fn err(r: Result<Value, (String, String)>) -> (String, String) {
    r.expect_err("expected an error")
}

#[test]
fn key_policies_are_checked_with_the_engine_grammar_on_every_write() {
    let e = env();
    let k = new_key(&e);
    let before = call(&e, "GetKeyPolicy", json!({"KeyId": k})).unwrap()["Policy"].clone();
    let root = json!({"AWS": "arn:aws:iam::111122223333:root"});
    // "Encrypt" without "kms:" would be stored and then match nothing: a key only root could use.
    let no_vendor = key_policy(json!({"Effect": "Allow", "Principal": root, "Action": "Encrypt", "Resource": "*"}));
    let vendor_msg = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
    let cases = [
        (no_vendor.clone(), vendor_msg),
        (
            key_policy(json!({"Effect": "Allow", "Action": "kms:*", "Resource": "*"})),
            "Missing required field Principal",
        ),
        (
            key_policy(json!({"Effect": "allow", "Principal": root, "Action": "kms:*", "Resource": "*"})),
            "The policy failed legacy parsing",
        ),
        (json!({"Version": "2012-10-18", "Statement": []}).to_string(), "The policy failed legacy parsing"),
        (json!({"Version": "2012-10-17", "Statment": []}).to_string(), "Syntax errors in policy."),
        ("".to_string(), "Syntax errors in policy."),
        (
            key_policy(json!({"Effect": "Allow", "Principal": {"AWS": "bob"}, "Action": "kms:*", "Resource": "*"})),
            super::checks::INVALID_PRINCIPALS,
        ),
        (
            key_policy(json!({"Effect": "Allow", "NotPrincipal": root, "Action": "kms:*", "Resource": "*"})),
            "NotPrincipal",
        ),
        (
            key_policy(
                json!({"Effect": "Allow", "Principal": root, "Action": "kms:*", "Resource": "*", "Condition": {"StringEqualz": {"kms:ViaService": "x"}}}),
            ),
            "Invalid Condition type : StringEqualz",
        ),
    ];
    for (doc, msg) in &cases {
        // PolicyName "default" is the only name; an empty document fails the model's length first.
        let (c, m) = err(call(&e, "PutKeyPolicy", json!({"KeyId": k, "PolicyName": "default", "Policy": doc})));
        if doc.is_empty() {
            assert_eq!(c, "ValidationException");
            continue;
        }
        assert_eq!(c, "MalformedPolicyDocumentException", "{doc}");
        assert!(m.contains(msg), "{doc}: {m}");
        let (c, m) = err(call(&e, "CreateKey", json!({"Policy": doc})));
        assert_eq!((c.as_str(), m.contains(msg)), ("MalformedPolicyDocumentException", true), "{doc}: {m}");
    }
    assert_eq!(
        call(&e, "GetKeyPolicy", json!({"KeyId": k})).unwrap()["Policy"],
        before,
        "a refused policy is not stored"
    );
    assert_eq!(call(&e, "ListKeys", json!({})).unwrap()["Keys"].as_array().unwrap().len(), 1, "no key was created");
    let fixed = no_vendor.replace("\"Encrypt\"", "\"kms:Encrypt\"");
    call(&e, "PutKeyPolicy", json!({"KeyId": k, "Policy": fixed})).unwrap();
}

#[test]
fn key_policy_over_32_kb_is_limit_exceeded_and_over_the_model_length_is_validation() {
    let e = env();
    let k = new_key(&e);
    let padded = |n: usize| {
        json!({"Version": "2012-10-17", "Id": "x".repeat(n), "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}]})
        .to_string()
    };
    let base = padded(0).len();
    let at_quota = padded(32_768 - base);
    assert_eq!(at_quota.len(), 32_768);
    call(&e, "PutKeyPolicy", json!({"KeyId": k, "Policy": at_quota})).unwrap();
    let over = padded(32_769 - base);
    let (c, m) = err(call(&e, "PutKeyPolicy", json!({"KeyId": k, "Policy": over})));
    assert_eq!(c, "LimitExceededException");
    assert!(m.contains("32768"), "{m}");
    assert_eq!(code(call(&e, "CreateKey", json!({"Policy": over}))), "LimitExceededException");
    let (c, m) = err(call(&e, "PutKeyPolicy", json!({"KeyId": k, "Policy": padded(131_073)})));
    assert_eq!(c, "ValidationException");
    assert!(m.contains("Member must have length less than or equal to 131072"), "{m}");
}

#[test]
fn replicate_key_checks_its_policy_like_create_key() {
    let e = env();
    let k = call(&e, "CreateKey", json!({"MultiRegion": true})).unwrap()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let bad = key_policy(
        json!({"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "Decrypt", "Resource": "*"}),
    );
    let (c, m) = err(call(&e, "ReplicateKey", json!({"KeyId": k, "ReplicaRegion": "eu-west-1", "Policy": bad})));
    assert_eq!(c, "MalformedPolicyDocumentException");
    assert!(m.contains("prefaced by a vendor"), "{m}");
}

#[test]
fn data_keys_have_the_requested_size_and_decrypt_to_the_plaintext() {
    let e = env();
    let k = new_key(&e);
    for (body, n) in
        [(json!({"KeySpec": "AES_256"}), 32), (json!({"KeySpec": "AES_128"}), 16), (json!({"NumberOfBytes": 7}), 7)]
    {
        let mut b = body.clone();
        b["KeyId"] = json!(k);
        b["EncryptionContext"] = json!({"f": "1"});
        let out = call(&e, "GenerateDataKey", b).unwrap();
        let pt = unb64(&out["Plaintext"]);
        assert_eq!(pt.len(), n);
        let back =
            call(&e, "Decrypt", json!({"CiphertextBlob": out["CiphertextBlob"], "EncryptionContext": {"f": "1"}}))
                .unwrap();
        assert_eq!(unb64(&back["Plaintext"]), pt);
    }
    assert_eq!(code(call(&e, "GenerateDataKey", json!({"KeyId": k}))), "ValidationException");
    assert_eq!(
        code(call(&e, "GenerateDataKey", json!({"KeyId": k, "KeySpec": "AES_256", "NumberOfBytes": 32}))),
        "ValidationException"
    );
    assert_eq!(code(call(&e, "GenerateDataKey", json!({"KeyId": k, "NumberOfBytes": 1025}))), "ValidationException");
    let wp = call(&e, "GenerateDataKeyWithoutPlaintext", json!({"KeyId": k, "KeySpec": "AES_256"})).unwrap();
    assert!(wp.get("Plaintext").is_none());
    assert_eq!(
        unb64(&call(&e, "Decrypt", json!({"CiphertextBlob": wp["CiphertextBlob"]})).unwrap()["Plaintext"]).len(),
        32
    );
}

#[test]
fn generate_random_checks_its_range() {
    let e = env();
    assert_eq!(unb64(&call(&e, "GenerateRandom", json!({"NumberOfBytes": 1024})).unwrap()["Plaintext"]).len(), 1024);
    for n in [0, 1025] {
        assert_eq!(code(call(&e, "GenerateRandom", json!({"NumberOfBytes": n}))), "ValidationException");
    }
    let a = call(&e, "GenerateRandom", json!({"NumberOfBytes": 32})).unwrap();
    let b = call(&e, "GenerateRandom", json!({"NumberOfBytes": 32})).unwrap();
    assert_ne!(a["Plaintext"], b["Plaintext"]);
}

#[test]
fn re_encrypt_moves_a_ciphertext_to_another_key_and_context() {
    let e = env();
    let (a, b) = (new_key(&e), new_key(&e));
    let ct = encrypt(&e, &a, b"secret", json!({"s": "1"}));
    let out = call(
        &e,
        "ReEncrypt",
        json!({"CiphertextBlob": ct, "SourceEncryptionContext": {"s": "1"}, "DestinationKeyId": b, "DestinationEncryptionContext": {"d": "2"}}),
    )
    .unwrap();
    assert!(out["SourceKeyId"].as_str().unwrap().ends_with(&a));
    assert!(out["KeyId"].as_str().unwrap().ends_with(&b));
    let back =
        call(&e, "Decrypt", json!({"CiphertextBlob": out["CiphertextBlob"], "EncryptionContext": {"d": "2"}})).unwrap();
    assert_eq!(unb64(&back["Plaintext"]), b"secret");
    assert_eq!(
        code(call(&e, "ReEncrypt", json!({"CiphertextBlob": ct, "DestinationKeyId": b}))),
        "InvalidCiphertextException"
    );
}

#[test]
fn dry_run_checks_everything_and_performs_nothing() {
    let e = env();
    let k = new_key(&e);
    assert_eq!(
        code(call(&e, "Encrypt", json!({"KeyId": k, "Plaintext": b64(b"x"), "DryRun": true}))),
        "DryRunOperationException"
    );
    call(&e, "DisableKey", json!({"KeyId": k})).unwrap();
    assert_eq!(
        code(call(&e, "Encrypt", json!({"KeyId": k, "Plaintext": b64(b"x"), "DryRun": true}))),
        "DisabledException"
    );
}

#[test]
fn keys_and_ciphertexts_survive_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (root, bytes) = RootKey::generate().unwrap();
    let open = |root: RootKey| {
        let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
        Kms::new(store, Arc::new(root), Arc::new(Clock::default()))
    };
    let c = caller("us-east-1");
    let kms = open(root);
    let m: Value = serde_json::from_slice(&kms.dispatch(Operation::CreateKey, &c, b"{}").unwrap()).unwrap();
    let k = m["KeyMetadata"]["KeyId"].as_str().unwrap();
    let ct: Value = serde_json::from_slice(
        &kms.dispatch(Operation::Encrypt, &c, json!({"KeyId": k, "Plaintext": b64(b"durable")}).to_string().as_bytes())
            .unwrap(),
    )
    .unwrap();
    drop(kms);
    let kms = open(RootKey::from_bytes(&bytes).unwrap());
    let out: Value = serde_json::from_slice(
        &kms.dispatch(Operation::Decrypt, &c, json!({"CiphertextBlob": ct["CiphertextBlob"]}).to_string().as_bytes())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(unb64(&out["Plaintext"]), b"durable");
    let (other_root, _) = RootKey::generate().unwrap();
    let kms = open(other_root);
    let err = kms
        .dispatch(Operation::Decrypt, &c, json!({"CiphertextBlob": ct["CiphertextBlob"]}).to_string().as_bytes())
        .unwrap_err();
    assert_eq!(err.code(), "KMSInternalException", "material under another root key must not unwrap");
    assert_eq!(err.status(), 500);
    assert!(!err.message().contains(k), "internal detail must not reach the client");
}

/// The operations whose botocore input shape has no required member and that succeed on `{}`.
const KMS_EMPTY_BODY_SUCCEEDS: &[&str] = &["CreateKey", "DescribeCustomKeyStores", "ListAliases", "ListKeys"];

#[test]
fn every_operation_answers_an_empty_body_with_an_aws_error_or_success() {
    let e = env();
    for body in [&b""[..], b"{}", b"  \n"] {
        for op in Operation::ALL {
            match e.kms.dispatch(*op, &caller("us-east-1"), body) {
                Ok(out) => {
                    let v: Value = serde_json::from_slice(&out).unwrap_or_else(|_| panic!("{}: not JSON", op.name()));
                    assert!(v.is_object(), "{}: {v}", op.name());
                    assert!(KMS_EMPTY_BODY_SUCCEEDS.contains(&op.name()), "{} accepted an empty body", op.name());
                }
                Err(err) => {
                    assert!((400..500).contains(&err.status()), "{} on an empty body gave {}", op.name(), err.code());
                    assert!(!err.code().is_empty() && !err.message().is_empty(), "{}", op.name());
                    assert!(!KMS_EMPTY_BODY_SUCCEEDS.contains(&op.name()), "{}: {}", op.name(), err.code());
                }
            }
        }
    }
}

/// The section of docs/COMPATIBILITY.md whose heading starts with `heading`: its operation rows
/// marked implemented, by name.
fn implemented_in_doc_section(heading: &str) -> Vec<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/COMPATIBILITY.md")).unwrap();
    let section = doc.split("\n## ").find(|s| s.starts_with(heading)).expect("the section exists");
    section
        .lines()
        .filter(|l| l.contains("| ✅ implemented |"))
        .filter_map(|l| l.trim_start_matches('|').split('|').next().map(|n| n.trim().to_string()))
        .collect()
}

#[test]
fn compatibility_doc_lists_every_dispatched_operation_as_implemented() {
    let claimed = implemented_in_doc_section("KMS");
    let mut served: Vec<String> = Operation::ALL.iter().map(|op| op.name().to_string()).collect();
    let mut sorted = claimed.clone();
    sorted.sort();
    served.sort();
    assert_eq!(sorted, served, "the KMS section of docs/COMPATIBILITY.md and the operations dispatched differ");
}

fn new_key_with(e: &Env, spec: &str, usage: &str) -> String {
    call(e, "CreateKey", json!({"KeySpec": spec, "KeyUsage": usage})).unwrap()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn key_usage_must_fit_the_key_spec() {
    let e = env();
    assert_eq!(code(call(&e, "CreateKey", json!({"KeySpec": "ECC_NIST_P256"}))), "ValidationException");
    assert_eq!(
        code(call(&e, "CreateKey", json!({"KeySpec": "ECC_SECG_P256K1", "KeyUsage": "KEY_AGREEMENT"}))),
        "ValidationException"
    );
    assert_eq!(
        code(call(&e, "CreateKey", json!({"KeySpec": "HMAC_256", "KeyUsage": "SIGN_VERIFY"}))),
        "ValidationException"
    );
    let rsa = call(&e, "CreateKey", json!({"KeySpec": "RSA_2048"})).unwrap();
    assert_eq!(rsa["KeyMetadata"]["KeyUsage"], "ENCRYPT_DECRYPT");
    assert_eq!(rsa["KeyMetadata"]["EncryptionAlgorithms"], json!(["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]));
    assert!(rsa["KeyMetadata"].get("CurrentKeyMaterialId").is_none());
    let hmac = call(&e, "CreateKey", json!({"KeySpec": "HMAC_512"})).unwrap();
    assert_eq!(hmac["KeyMetadata"]["MacAlgorithms"], json!(["HMAC_SHA_512"]));
    let ed = call(&e, "CreateKey", json!({"KeySpec": "ECC_NIST_EDWARDS25519"})).unwrap();
    assert_eq!(ed["KeyMetadata"]["SigningAlgorithms"], json!(["ED25519_SHA_512", "ED25519_PH_SHA_512"]));
    assert!(ed["KeyMetadata"].get("CustomerMasterKeySpec").is_none(), "not in the deprecated enum");
    let kem = call(&e, "CreateKey", json!({"KeySpec": "ML_KEM_512"})).unwrap();
    assert_eq!(kem["KeyMetadata"]["EncapsulationAlgorithms"], json!(["ML_KEM"]));
    let ka = call(&e, "CreateKey", json!({"KeySpec": "ECC_NIST_P521", "KeyUsage": "KEY_AGREEMENT"})).unwrap();
    assert_eq!(ka["KeyMetadata"]["KeyAgreementAlgorithms"], json!(["ECDH"]));
}

#[test]
fn sign_and_verify_with_errors_as_aws() {
    let e = env();
    let k = new_key_with(&e, "ECC_NIST_P256", "SIGN_VERIFY");
    let sig = call(&e, "Sign", json!({"KeyId": k, "Message": b64(b"m"), "SigningAlgorithm": "ECDSA_SHA_256"})).unwrap();
    let ok = call(
        &e,
        "Verify",
        json!({"KeyId": k, "Message": b64(b"m"), "Signature": sig["Signature"], "SigningAlgorithm": "ECDSA_SHA_256"}),
    )
    .unwrap();
    assert_eq!(ok["SignatureValid"], true);
    let bad =
        json!({"KeyId": k, "Message": b64(b"n"), "Signature": sig["Signature"], "SigningAlgorithm": "ECDSA_SHA_256"});
    assert_eq!(code(call(&e, "Verify", bad)), "KMSInvalidSignatureException");
    let wrong_alg = json!({"KeyId": k, "Message": b64(b"m"), "SigningAlgorithm": "ECDSA_SHA_384"});
    assert_eq!(code(call(&e, "Sign", wrong_alg)), "InvalidKeyUsageException");
    let short_digest =
        json!({"KeyId": k, "Message": b64(&[0; 31]), "MessageType": "DIGEST", "SigningAlgorithm": "ECDSA_SHA_256"});
    assert_eq!(code(call(&e, "Sign", short_digest)), "ValidationException");
    let sym = new_key(&e);
    let on_sym = json!({"KeyId": sym, "Message": b64(b"m"), "SigningAlgorithm": "ECDSA_SHA_256"});
    assert_eq!(code(call(&e, "Sign", on_sym)), "InvalidKeyUsageException");
    assert_eq!(code(call(&e, "GetPublicKey", json!({"KeyId": sym}))), "UnsupportedOperationException");
    let ml = new_key_with(&e, "ML_DSA_44", "SIGN_VERIFY");
    let mu = json!({"KeyId": ml, "Message": b64(&[0; 64]), "MessageType": "EXTERNAL_MU", "SigningAlgorithm": "ML_DSA_SHAKE_256"});
    assert_eq!(code(call(&e, "Sign", mu)), "UnsupportedOperationException");
}

#[test]
fn rsa_encryption_needs_an_algorithm_and_no_context_and_respects_the_size_limit() {
    let e = env();
    let k = new_key_with(&e, "RSA_2048", "ENCRYPT_DECRYPT");
    assert_eq!(code(call(&e, "Encrypt", json!({"KeyId": k, "Plaintext": b64(b"x")}))), "ValidationException");
    let with_ctx = json!({"KeyId": k, "Plaintext": b64(b"x"), "EncryptionAlgorithm": "RSAES_OAEP_SHA_256", "EncryptionContext": {"a": "b"}});
    assert_eq!(code(call(&e, "Encrypt", with_ctx)), "ValidationException");
    let too_long = json!({"KeyId": k, "Plaintext": b64(&[1; 191]), "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"});
    assert_eq!(code(call(&e, "Encrypt", too_long)), "ValidationException");
    let ct = call(
        &e,
        "Encrypt",
        json!({"KeyId": k, "Plaintext": b64(&[1; 190]), "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
    )
    .unwrap();
    assert_eq!(unb64(&ct["CiphertextBlob"]).len(), 256);
    let back = call(
        &e,
        "Decrypt",
        json!({"KeyId": k, "CiphertextBlob": ct["CiphertextBlob"], "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
    )
    .unwrap();
    assert_eq!(unb64(&back["Plaintext"]), vec![1u8; 190]);
    assert!(back.get("KeyMaterialId").is_none());
    let wrong = json!({"KeyId": k, "CiphertextBlob": ct["CiphertextBlob"], "EncryptionAlgorithm": "RSAES_OAEP_SHA_1"});
    assert_eq!(code(call(&e, "Decrypt", wrong)), "InvalidCiphertextException");
    // ReEncrypt from RSA to a symmetric key.
    let sym = new_key(&e);
    let re = call(
        &e,
        "ReEncrypt",
        json!({"CiphertextBlob": ct["CiphertextBlob"], "SourceKeyId": k, "SourceEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "DestinationKeyId": sym}),
    )
    .unwrap();
    assert_eq!(re["SourceEncryptionAlgorithm"], "RSAES_OAEP_SHA_256");
    assert_eq!(
        unb64(&call(&e, "Decrypt", json!({"CiphertextBlob": re["CiphertextBlob"]})).unwrap()["Plaintext"]),
        vec![1u8; 190]
    );
}

#[test]
fn macs_shared_secrets_and_data_key_pairs() {
    let e = env();
    let h = new_key_with(&e, "HMAC_224", "GENERATE_VERIFY_MAC");
    let mac =
        call(&e, "GenerateMac", json!({"KeyId": h, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_224"})).unwrap();
    assert_eq!(unb64(&mac["Mac"]).len(), 28);
    let bad = json!({"KeyId": h, "Message": b64(b"n"), "Mac": mac["Mac"], "MacAlgorithm": "HMAC_SHA_224"});
    assert_eq!(code(call(&e, "VerifyMac", bad)), "KMSInvalidMacException");
    let wrong = json!({"KeyId": h, "Message": b64(b"m"), "MacAlgorithm": "HMAC_SHA_256"});
    assert_eq!(code(call(&e, "GenerateMac", wrong)), "InvalidKeyUsageException");

    let a = new_key_with(&e, "ECC_NIST_P256", "KEY_AGREEMENT");
    let b = new_key_with(&e, "ECC_NIST_P256", "KEY_AGREEMENT");
    let pa = call(&e, "GetPublicKey", json!({"KeyId": a})).unwrap()["PublicKey"].clone();
    let pb = call(&e, "GetPublicKey", json!({"KeyId": b})).unwrap()["PublicKey"].clone();
    let ab =
        call(&e, "DeriveSharedSecret", json!({"KeyId": a, "KeyAgreementAlgorithm": "ECDH", "PublicKey": pb})).unwrap();
    let ba =
        call(&e, "DeriveSharedSecret", json!({"KeyId": b, "KeyAgreementAlgorithm": "ECDH", "PublicKey": pa})).unwrap();
    assert_eq!(ab["SharedSecret"], ba["SharedSecret"]);
    let junk = json!({"KeyId": a, "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(b"not a key")});
    assert_eq!(code(call(&e, "DeriveSharedSecret", junk)), "ValidationException");

    let sym = new_key(&e);
    let pair = call(
        &e,
        "GenerateDataKeyPair",
        json!({"KeyId": sym, "KeyPairSpec": "RSA_2048", "EncryptionContext": {"p": "1"}}),
    )
    .unwrap();
    let back = call(
        &e,
        "Decrypt",
        json!({"CiphertextBlob": pair["PrivateKeyCiphertextBlob"], "EncryptionContext": {"p": "1"}}),
    )
    .unwrap();
    assert_eq!(back["Plaintext"], pair["PrivateKeyPlaintext"]);
    let wp =
        call(&e, "GenerateDataKeyPairWithoutPlaintext", json!({"KeyId": sym, "KeyPairSpec": "ECC_NIST_P256"})).unwrap();
    assert!(wp.get("PrivateKeyPlaintext").is_none() && wp["PublicKey"].is_string());
    assert_eq!(
        code(call(&e, "GenerateDataKeyPair", json!({"KeyId": sym, "KeyPairSpec": "SM2"}))),
        "UnsupportedOperationException"
    );
    assert_eq!(
        code(call(&e, "GenerateDataKeyPair", json!({"KeyId": a, "KeyPairSpec": "RSA_2048"}))),
        "InvalidKeyUsageException"
    );
}

#[test]
fn ml_kem_encapsulation_round_trips() {
    let e = env();
    let k = new_key_with(&e, "ML_KEM_768", "ENCAPSULATE_DECAPSULATE");
    let enc = call(&e, "Encapsulate", json!({"KeyId": k, "EncapsulationAlgorithm": "ML_KEM"})).unwrap();
    let dec = call(
        &e,
        "Decapsulate",
        json!({"KeyId": k, "SharedSecretCiphertextBlob": enc["SharedSecretCiphertextBlob"], "EncapsulationAlgorithm": "ML_KEM"}),
    )
    .unwrap();
    assert_eq!(enc["SharedSecret"], dec["SharedSecret"]);
    let short = json!({"KeyId": k, "SharedSecretCiphertextBlob": b64(b"short"), "EncapsulationAlgorithm": "ML_KEM"});
    assert_eq!(code(call(&e, "Decapsulate", short)), "InvalidCiphertextException");
}

#[test]
fn automatic_rotation_happens_when_due_and_old_ciphertexts_still_decrypt() {
    let e = env();
    let k = new_key(&e);
    assert_eq!(
        code(call(&e, "EnableKeyRotation", json!({"KeyId": k, "RotationPeriodInDays": 89}))),
        "ValidationException"
    );
    call(&e, "EnableKeyRotation", json!({"KeyId": k, "RotationPeriodInDays": 90})).unwrap();
    let st = call(&e, "GetKeyRotationStatus", json!({"KeyId": k})).unwrap();
    assert_eq!((st["KeyRotationEnabled"].clone(), st["RotationPeriodInDays"].clone()), (json!(true), json!(90)));
    let first_material =
        call(&e, "DescribeKey", json!({"KeyId": k})).unwrap()["KeyMetadata"]["CurrentKeyMaterialId"].clone();
    let before = encrypt(&e, &k, b"before rotation", json!({}));
    e.kms.clock.advance(89 * 86400);
    assert_eq!(e.kms.sweep_rotations().unwrap(), 0);
    e.kms.clock.advance(2 * 86400);
    assert_eq!(e.kms.sweep_rotations().unwrap(), 1);
    assert_eq!(e.kms.sweep_rotations().unwrap(), 0, "next rotation is a period away");
    let md = call(&e, "DescribeKey", json!({"KeyId": k})).unwrap();
    assert_ne!(md["KeyMetadata"]["CurrentKeyMaterialId"], first_material);
    let after = encrypt(&e, &k, b"after rotation", json!({}));
    let d_after = call(&e, "Decrypt", json!({"CiphertextBlob": after})).unwrap();
    assert_eq!(d_after["KeyMaterialId"], md["KeyMetadata"]["CurrentKeyMaterialId"]);
    let d_before = call(&e, "Decrypt", json!({"CiphertextBlob": before})).unwrap();
    assert_eq!(
        (unb64(&d_before["Plaintext"]), d_before["KeyMaterialId"].clone()),
        (b"before rotation".to_vec(), first_material)
    );
    let rotations = call(&e, "ListKeyRotations", json!({"KeyId": k})).unwrap();
    assert_eq!(rotations["Rotations"].as_array().unwrap().len(), 1);
    assert_eq!(rotations["Rotations"][0]["RotationType"], "AUTOMATIC");
    assert_eq!(rotations["Rotations"][0]["KeyMaterialState"], "CURRENT");
    call(&e, "DisableKeyRotation", json!({"KeyId": k})).unwrap();
    e.kms.clock.advance(200 * 86400);
    assert_eq!(e.kms.sweep_rotations().unwrap(), 0, "disabled rotation does not run");
    assert_eq!(call(&e, "GetKeyRotationStatus", json!({"KeyId": k})).unwrap()["KeyRotationEnabled"], false);
}

#[test]
fn on_demand_rotation_is_limited_and_refused_where_aws_refuses() {
    let e = env();
    let k = new_key(&e);
    let ct = encrypt(&e, &k, b"x", json!({}));
    for _ in 0..25 {
        call(&e, "RotateKeyOnDemand", json!({"KeyId": k})).unwrap();
    }
    assert_eq!(code(call(&e, "RotateKeyOnDemand", json!({"KeyId": k}))), "LimitExceededException");
    let all = call(&e, "ListKeyRotations", json!({"KeyId": k, "IncludeKeyMaterial": "ALL_KEY_MATERIAL", "Limit": 10}))
        .unwrap();
    assert_eq!((all["Rotations"].as_array().unwrap().len(), all["Truncated"].clone()), (10, json!(true)));
    assert!(all["Rotations"][0].get("RotationType").is_none(), "the original material is not a rotation");
    assert_eq!(unb64(&call(&e, "Decrypt", json!({"CiphertextBlob": ct})).unwrap()["Plaintext"]), b"x");
    let rsa = new_key_with(&e, "RSA_2048", "SIGN_VERIFY");
    assert_eq!(code(call(&e, "EnableKeyRotation", json!({"KeyId": rsa}))), "UnsupportedOperationException");
    assert_eq!(code(call(&e, "RotateKeyOnDemand", json!({"KeyId": rsa}))), "UnsupportedOperationException");
    let off = new_key(&e);
    call(&e, "DisableKey", json!({"KeyId": off})).unwrap();
    assert_eq!(code(call(&e, "EnableKeyRotation", json!({"KeyId": off}))), "DisabledException");
    assert_eq!(code(call(&e, "RotateKeyOnDemand", json!({"KeyId": off}))), "DisabledException");
}

#[test]
fn multi_region_replicas_share_id_and_material_and_rotation() {
    let e = env();
    let md = call(&e, "CreateKey", json!({"MultiRegion": true})).unwrap();
    let k = md["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    assert!(k.starts_with("mrk-") && k.len() == 36);
    let rep = call(&e, "ReplicateKey", json!({"KeyId": k, "ReplicaRegion": "eu-west-1"})).unwrap();
    assert_eq!(rep["ReplicaKeyMetadata"]["MultiRegionConfiguration"]["MultiRegionKeyType"], "REPLICA");
    assert_eq!(
        code(call(&e, "ReplicateKey", json!({"KeyId": k, "ReplicaRegion": "not_a_region"}))),
        "ValidationException"
    );
    let ct = encrypt(&e, &k, b"global", json!({}));
    let out = call_in(&e, "eu-west-1", "Decrypt", json!({"CiphertextBlob": ct})).unwrap();
    assert_eq!(unb64(&out["Plaintext"]), b"global");
    call(&e, "RotateKeyOnDemand", json!({"KeyId": k})).unwrap();
    let us = call(&e, "DescribeKey", json!({"KeyId": k})).unwrap()["KeyMetadata"]["CurrentKeyMaterialId"].clone();
    let eu = call_in(&e, "eu-west-1", "DescribeKey", json!({"KeyId": k})).unwrap()["KeyMetadata"]
        ["CurrentKeyMaterialId"]
        .clone();
    assert_eq!(us, eu);
    assert_eq!(
        code(call_in(&e, "eu-west-1", "EnableKeyRotation", json!({"KeyId": k}))),
        "UnsupportedOperationException"
    );
}

#[test]
fn grants_are_created_listed_honoured_within_constraints_retired_and_revoked() {
    use crate::ops::{create_grant, list_grants, list_retirable_grants, retire_grant, revoke_grant};
    let e = env();
    let kid = call(&e, "CreateKey", json!({})).unwrap()["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    let c = caller("us-east-1");
    let grantee = "arn:aws:iam::111122223333:user/app";
    let req = |name: Option<&str>| -> create_grant::Request {
        serde_json::from_value(json!({
            "KeyId": kid, "GranteePrincipal": grantee, "RetiringPrincipal": "arn:aws:iam::111122223333:user/ops",
            "Operations": ["Encrypt", "Decrypt"], "Name": name,
            "Constraints": {"EncryptionContextSubset": {"app": "billing"}}
        }))
        .unwrap()
    };
    let g = create_grant::handle(&e.kms, &c, req(Some("n1"))).unwrap();
    assert_eq!(g.grant_id.len(), 64);
    assert_eq!(
        create_grant::handle(&e.kms, &c, req(Some("n1"))).unwrap().grant_id,
        g.grant_id,
        "same Name, same grant"
    );
    let facts = e.kms.authorization_facts(&c, Operation::Encrypt, json!({"KeyId": kid}).as_object().unwrap());
    let grant = &facts[0].grants[0];
    let ctx = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert!(grant.allows(&[grantee], "Encrypt", &ctx(&[("app", "billing"), ("x", "y")])));
    assert!(!grant.allows(&[grantee], "Encrypt", &ctx(&[("app", "payroll")])));
    assert!(!grant.allows(&[grantee], "Sign", &ctx(&[("app", "billing")])));
    assert!(!grant.allows(&["arn:aws:iam::111122223333:user/other"], "Encrypt", &ctx(&[("app", "billing")])));
    let listed = list_grants::handle(&e.kms, &c, serde_json::from_value(json!({"KeyId": kid})).unwrap()).unwrap();
    assert_eq!(listed.grants.len(), 1);
    let retirable = list_retirable_grants::handle(
        &e.kms,
        &c,
        serde_json::from_value(json!({"RetiringPrincipal": "arn:aws:iam::111122223333:user/ops"})).unwrap(),
    )
    .unwrap();
    assert_eq!(retirable.grants.len(), 1);
    retire_grant::handle(&e.kms, &c, serde_json::from_value(json!({"GrantToken": g.grant_token})).unwrap()).unwrap();
    let err = retire_grant::handle(&e.kms, &c, serde_json::from_value(json!({"GrantToken": g.grant_token})).unwrap())
        .err()
        .unwrap();
    assert_eq!(err.code(), "InvalidGrantTokenException");
    let g2 = create_grant::handle(&e.kms, &c, req(None)).unwrap();
    revoke_grant::handle(&e.kms, &c, serde_json::from_value(json!({"KeyId": kid, "GrantId": g2.grant_id})).unwrap())
        .unwrap();
    let err = revoke_grant::handle(
        &e.kms,
        &c,
        serde_json::from_value(json!({"KeyId": kid, "GrantId": g2.grant_id})).unwrap(),
    )
    .err()
    .unwrap();
    assert_eq!(err.code(), "InvalidGrantIdException");
}

#[test]
fn deleting_a_key_deletes_its_grants_and_their_tokens() {
    use crate::ops::{create_grant, retire_grant};
    let e = env();
    let kid = call(&e, "CreateKey", json!({})).unwrap()["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    let c = caller("us-east-1");
    let g = create_grant::handle(
        &e.kms,
        &c,
        serde_json::from_value(
            json!({"KeyId": kid, "GranteePrincipal": "arn:aws:iam::111122223333:user/a", "Operations": ["Decrypt"]}),
        )
        .unwrap(),
    )
    .unwrap();
    call(&e, "ScheduleKeyDeletion", json!({"KeyId": kid, "PendingWindowInDays": 7})).unwrap();
    e.kms.clock.advance(8 * 86_400);
    assert_eq!(e.kms.sweep_deletions().unwrap(), 1);
    let rows = e.kms.store().read().unwrap().scan(crate::grants::T_GRANT, "", None, 10).unwrap();
    assert!(rows.is_empty(), "grants outlived their key");
    let err = retire_grant::handle(&e.kms, &c, serde_json::from_value(json!({"GrantToken": g.grant_token})).unwrap())
        .err()
        .unwrap();
    assert_eq!(err.code(), "InvalidGrantTokenException");
}

mod via_service {
    use super::*;
    use crate::authz::{KeyFacts, ViaContext};
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn via(service: &str) -> ViaContext {
        ViaContext { service: service.into(), source_ip: "127.0.0.1".into(), secure_transport: true, now_secs: 0 }
    }

    /// An authorizer that denies every use made through `ssm.us-east-1.amazonaws.com`, and
    /// counts the checks it was asked.
    fn deny_ssm() -> (Arc<crate::authz::ServiceAuthorizer>, Arc<AtomicUsize>) {
        let asked = Arc::new(AtomicUsize::new(0));
        let seen = asked.clone();
        let check: Arc<crate::authz::ServiceAuthorizer> =
            Arc::new(move |_: &Caller, f: &KeyFacts, _: &BTreeMap<String, String>, v: &ViaContext| {
                seen.fetch_add(1, Ordering::SeqCst);
                if v.service == "ssm.us-east-1.amazonaws.com" {
                    Err(crate::KmsError::Wire(trent_wire::WireError::AccessDenied(format!("no {}", f.action))))
                } else {
                    Ok(())
                }
            });
        (check, asked)
    }

    #[test]
    fn a_service_use_is_refused_before_any_key_material_is_unwrapped() {
        let e = env();
        let key = new_key(&e);
        let ctx = BTreeMap::from([("PARAMETER_ARN".to_string(), "p".to_string())]);
        let (blob, _) = e.kms.encrypt_for_service(&caller("us-east-1"), &key, &ctx, b"v").unwrap();
        let (check, asked) = deny_ssm();
        // The material cache counts every lookup: a refused decrypt must not make one.
        let (hits, misses) = e.kms.key_cache_stats();
        let through = caller("us-east-1").through(via("ssm.us-east-1.amazonaws.com"), check);
        let err = e.kms.decrypt_for_service(&through, &blob, &ctx).unwrap_err();
        assert_eq!(err.code(), "AccessDeniedException");
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        assert_eq!(e.kms.key_cache_stats(), (hits, misses), "no material was unwrapped for a refused use");
        // The same caller acting directly (no service) is not checked here.
        let (plain, _) = e.kms.decrypt_for_service(&caller("us-east-1"), &blob, &ctx).unwrap();
        assert_eq!(plain.expose(), b"v");
        // Another service is allowed by this authorizer; the context is the caller's, not the thread's.
        let other = through.through_service("secretsmanager.us-east-1.amazonaws.com".into());
        assert!(e.kms.decrypt_for_service(&other, &blob, &ctx).is_ok());
    }

    #[test]
    fn the_service_context_travels_with_the_caller_across_threads() {
        // With the context in a thread-local, work moved to another thread lost its check.
        let e = Arc::new(env());
        let key = new_key(&e);
        let ctx = BTreeMap::new();
        let (check, _) = deny_ssm();
        let through = caller("us-east-1").through(via("ssm.us-east-1.amazonaws.com"), check);
        let moved = through.in_region("us-east-1");
        let e2 = e.clone();
        let r = std::thread::spawn(move || e2.kms.encrypt_for_service(&moved, &key, &ctx, b"v").map(|_| ()))
            .join()
            .unwrap();
        assert_eq!(r.unwrap_err().code(), "AccessDeniedException");
    }
}
