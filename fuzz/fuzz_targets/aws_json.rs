//! awsJson 1.1 request decoding and handling of every KMS, SSM and Secrets Manager operation,
//! in process, on a real SQLite store. Structure-aware: the fuzzer builds JSON values from the
//! services' real member names, enum values, existing key ids / names / ARNs and base64 blobs,
//! so inputs get past decoding into the handlers; raw bytes are tried too.
//! Oracle: every answer is a JSON object or an AWS error with a 4xx status — never a panic, a 5xx.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};
use std::sync::{Arc, OnceLock};
use trent_crypto::RootKey;
use trent_kms::{Caller, Clock, Kms};
use trent_policy::Principal;
use trent_secrets::SecretsManager;
use trent_ssm::Ssm;
use trent_store::sqlite::SqliteStore;
use trent_wire::AwsError;

const MEMBERS: &[&str] = &[
    "KeyId",
    "Plaintext",
    "CiphertextBlob",
    "EncryptionContext",
    "GrantTokens",
    "KeySpec",
    "KeyUsage",
    "NumberOfBytes",
    "EncryptionAlgorithm",
    "SigningAlgorithm",
    "MessageType",
    "Message",
    "Signature",
    "MacAlgorithm",
    "Mac",
    "Policy",
    "PolicyName",
    "AliasName",
    "TargetKeyId",
    "Description",
    "Tags",
    "TagKey",
    "TagValue",
    "TagKeys",
    "PendingWindowInDays",
    "Limit",
    "Marker",
    "GranteePrincipal",
    "RetiringPrincipal",
    "Operations",
    "Constraints",
    "EncryptionContextSubset",
    "EncryptionContextEquals",
    "GrantId",
    "GrantToken",
    "Name",
    "Origin",
    "MultiRegion",
    "ReplicaRegion",
    "DestinationKeyId",
    "SourceKeyId",
    "SourceEncryptionContext",
    "DestinationEncryptionContext",
    "KeyPairSpec",
    "PublicKey",
    "KeyAgreementAlgorithm",
    "DryRun",
    "DryRunModifiers",
    "WrappingAlgorithm",
    "WrappingKeySpec",
    "ImportToken",
    "EncryptedKeyMaterial",
    "ValidTo",
    "ExpirationModel",
    "RotationPeriodInDays",
    "BypassPolicyLockoutSafetyCheck",
    "IncludeKeyMaterial",
    "Recipient",
    "KeyEncryptionAlgorithm",
    "Value",
    "Type",
    "Overwrite",
    "WithDecryption",
    "Names",
    "Path",
    "Recursive",
    "ParameterFilters",
    "Filters",
    "Key",
    "Option",
    "Values",
    "MaxResults",
    "NextToken",
    "Labels",
    "ParameterVersion",
    "AllowedPattern",
    "Tier",
    "DataType",
    "ResourceType",
    "ResourceId",
    "SecretId",
    "SecretString",
    "SecretBinary",
    "VersionId",
    "VersionStage",
    "VersionStages",
    "ClientRequestToken",
    "KmsKeyId",
    "RecoveryWindowInDays",
    "ForceDeleteWithoutRecovery",
    "RotationLambdaARN",
    "RotationRules",
    "AutomaticallyAfterDays",
    "ScheduleExpression",
    "Duration",
    "RotateImmediately",
    "MoveToVersionId",
    "RemoveFromVersionId",
    "ResourcePolicy",
    "BlockPublicPolicy",
    "SecretIdList",
    "PasswordLength",
    "ExcludeCharacters",
    "ExcludeNumbers",
    "RequireEachIncludedType",
    "AddReplicaRegions",
    "Region",
    "RemoveReplicaRegions",
    "ForceOverwriteReplicaSecret",
    "IncludePlannedDeletion",
    "SortOrder",
    "IncludeDeprecated",
    "MessageType",
    "CustomKeyStoreId",
    "KeyMaterialId",
    "KeyMaterialDescription",
];
const STRINGS: &[&str] = &[
    "alias/fuzz", "SYMMETRIC_DEFAULT", "RSA_2048", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P521", "ECC_SECG_P256K1",
    "ECC_NIST_EDWARDS25519", "HMAC_256", "HMAC_512", "ML_DSA_44", "ML_KEM_768", "ENCRYPT_DECRYPT", "SIGN_VERIFY",
    "GENERATE_VERIFY_MAC", "KEY_AGREEMENT", "ENCAPSULATE_DECAPSULATE", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256",
    "RSASSA_PSS_SHA_256", "ECDSA_SHA_256", "ED25519_SHA_512", "ED25519_PH_SHA_512", "ML_DSA_SHAKE_256",
    "HMAC_SHA_256", "RAW", "DIGEST", "EXTERNAL_MU", "AES_256", "AES_128", "ECDH", "EXTERNAL", "AWS_KMS",
    "RSA_AES_KEY_WRAP_SHA_256", "RSAES_PKCS1_V1_5", "KEY_MATERIAL_EXPIRES", "IGNORE_CIPHERTEXT",
    "/fuzz/p", "/fuzz", "/aws/reference/secretsmanager/fuzz-secret", "/fuzz/p:1", "/fuzz/p:live", "String",
    "SecureString", "StringList", "Standard", "Advanced", "Intelligent-Tiering", "text", "aws:ec2:image",
    "Parameter", "Equals", "BeginsWith", "Recursive", "OneLevel", "Name", "Type", "KeyId", "Label", "DataType",
    "fuzz-secret", "AWSCURRENT", "AWSPREVIOUS", "AWSPENDING", "rate(1 days)", "cron(0 12 * * ? *)",
    "us-west-2", "eu-west-1", "arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:root", "*",
    "Encrypt", "Decrypt", "GenerateDataKey", "CreateGrant", "asc", "desc", "all", "name", "tag-key",
    "primary-region", "owning-service", "description", "tag-value", "00000000-0000-0000-0000-000000000000",
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"*\"},\"Action\":\"*\",\"Resource\":\"*\"}]}",
    "AQIDBAUGBwgJCgsMDQ4PEA==", "AAAA", "", "a", "1",
];

#[derive(Arbitrary, Debug)]
enum J {
    Null,
    Bool(bool),
    Int(i64),
    Small(u8),
    Float(f64),
    Known(u8),
    /// One of the existing resources' identifiers (filled in at start).
    Resource(u8),
    /// A base64 blob of these bytes.
    Blob(Vec<u8>),
    /// A real ciphertext blob of the fuzz key, maybe with a flipped byte.
    Ciphertext(Option<u16>),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(K, J)>),
}

#[derive(Arbitrary, Debug)]
enum K {
    Member(u8),
    Raw(String),
}

/// The structure-aware body.
#[derive(Arbitrary, Debug)]
struct Body(Vec<(K, J)>);

struct Env {
    kms: Arc<Kms>,
    ssm: Ssm,
    sm: SecretsManager,
    resources: Vec<String>,
    ciphertext: Vec<u8>,
    _dir: std::path::PathBuf,
}

fn caller() -> Caller {
    Caller::new(Principal::root("111122223333"), "us-east-1".into())
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm".into() } else { std::env::temp_dir() };
        let dir = base.join(format!("trent-fuzz-json-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Arc::new(SqliteStore::open(&dir.join("t.db")).unwrap());
        let (root, _) = RootKey::generate().unwrap();
        let clock = Arc::new(Clock::default());
        let kms = Arc::new(Kms::new(store.clone(), Arc::new(root), clock.clone()));
        let ssm = Ssm::new(store.clone(), kms.clone(), clock.clone());
        let sm = SecretsManager::new(store, kms.clone(), clock);
        let caller = caller();
        let call = |op: &str, body: Value| -> Value {
            let op = trent_kms::Operation::from_name(op).unwrap();
            serde_json::from_slice(&kms.dispatch(op, &caller, body.to_string().as_bytes()).unwrap()).unwrap()
        };
        let mut resources = Vec::new();
        for spec in ["SYMMETRIC_DEFAULT", "RSA_2048", "ECC_NIST_P256", "HMAC_256", "ML_KEM_768"] {
            let usage = match spec {
                "ECC_NIST_P256" => "SIGN_VERIFY",
                "HMAC_256" => "GENERATE_VERIFY_MAC",
                "ML_KEM_768" => "ENCAPSULATE_DECAPSULATE",
                _ => "ENCRYPT_DECRYPT",
            };
            let k = call("CreateKey", json!({"KeySpec": spec, "KeyUsage": usage}));
            resources.push(k["KeyMetadata"]["KeyId"].as_str().unwrap().to_string());
            resources.push(k["KeyMetadata"]["Arn"].as_str().unwrap().to_string());
        }
        call("CreateAlias", json!({"AliasName": "alias/fuzz", "TargetKeyId": resources[0]}));
        let ct =
            call("Encrypt", json!({"KeyId": resources[0], "Plaintext": "ZnV6eg==", "EncryptionContext": {"a": "b"}}));
        use base64::Engine;
        let ciphertext = base64::engine::general_purpose::STANDARD
            .decode(ct["CiphertextBlob"].as_str().unwrap())
            .unwrap_or_default();
        let ssm_op = trent_ssm::Operation::from_name("PutParameter").unwrap();
        let _ = ssm.dispatch(
            ssm_op,
            &caller,
            json!({"Name": "/fuzz/p", "Value": "v", "Type": "SecureString"}).to_string().as_bytes(),
        );
        let allow = |_: &Caller, _: &trent_secrets::SecretAccess<'_>| Ok(());
        let sm_op = trent_secrets::Operation::from_name("CreateSecret").unwrap();
        if let Ok(out) = sm.dispatch_authorized(sm_op, &caller, br#"{"Name":"fuzz-secret","SecretString":"s"}"#, &allow)
        {
            let v: Value = serde_json::from_slice(&out).unwrap();
            resources.push(v["ARN"].as_str().unwrap_or_default().to_string());
            resources.push(v["VersionId"].as_str().unwrap_or_default().to_string());
        }
        resources.push("alias/fuzz".into());
        Env { kms, ssm, sm, resources, ciphertext, _dir: dir }
    })
}

fn value(j: &J, e: &Env, depth: u32) -> Value {
    match j {
        J::Null => Value::Null,
        J::Bool(b) => json!(b),
        J::Int(i) => json!(i),
        J::Small(i) => json!(i),
        J::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number).unwrap_or(Value::Null),
        J::Known(i) => json!(STRINGS[*i as usize % STRINGS.len()]),
        J::Resource(i) => json!(e.resources[*i as usize % e.resources.len()]),
        J::Blob(b) => json!(trent_wire::json::base64_encode(b)),
        J::Ciphertext(flip) => {
            let mut c = e.ciphertext.clone();
            if let (Some(f), false) = (flip, c.is_empty()) {
                let i = *f as usize % c.len();
                c[i] ^= 0x01;
            }
            json!(trent_wire::json::base64_encode(&c))
        }
        J::Str(s) => json!(s),
        J::Arr(a) if depth < 6 => Value::Array(a.iter().take(16).map(|x| value(x, e, depth + 1)).collect()),
        J::Obj(o) if depth < 6 => object(o, e, depth + 1),
        _ => Value::Null,
    }
}

fn object(members: &[(K, J)], e: &Env, depth: u32) -> Value {
    let mut m = Map::new();
    for (k, v) in members.iter().take(16) {
        let name = match k {
            K::Member(i) => MEMBERS[*i as usize % MEMBERS.len()].to_string(),
            K::Raw(s) => s.clone(),
        };
        m.insert(name, value(v, e, depth));
    }
    Value::Object(m)
}

fn check(what: &str, r: Result<Vec<u8>, impl AwsError>) {
    match r {
        Ok(out) => {
            let v: Value = serde_json::from_slice(&out).unwrap_or_else(|_| panic!("{what}: the answer is not JSON"));
            assert!(v.is_object(), "{what}: the answer is not an object");
        }
        Err(err) => {
            assert!(
                (400..500).contains(&err.status()),
                "{what} gave {} {}: {}",
                err.status(),
                err.code(),
                err.message()
            );
            assert!(!err.code().is_empty(), "{what}: an error without a code");
        }
    }
}

// Input: byte 0 picks the service, bytes 1..3 the operation (big-endian, modulo the count).
// The rest is the body itself when it starts with `{` (seeds: real request bodies), else the
// bytes the structure-aware body is built from.
fuzz_target!(|data: &[u8]| {
    let e = env();
    let (Some(&service), Some(op)) = (data.first(), data.get(1..3)) else { return };
    let op = u16::from_be_bytes([op[0], op[1]]);
    let rest = &data[3..];
    let body = if rest.first() == Some(&b'{') || rest.is_empty() {
        rest.to_vec()
    } else {
        let Ok(Body(members)) = Body::arbitrary(&mut arbitrary::Unstructured::new(rest)) else { return };
        object(&members, e, 0).to_string().into_bytes()
    };
    let allow = |_: &Caller, _: &trent_secrets::SecretAccess<'_>| Ok(());
    let input = (service, op);
    let caller = caller();
    match input.0 % 3 {
        0 => {
            let ops = trent_kms::Operation::ALL;
            let op = ops[input.1 as usize % ops.len()];
            check(op.name(), e.kms.dispatch(op, &caller, &body));
        }
        1 => {
            let ops = trent_ssm::Operation::ALL;
            let op = ops[input.1 as usize % ops.len()];
            check(op.name(), e.ssm.dispatch(op, &caller, &body));
        }
        _ => {
            let ops = trent_secrets::Operation::ALL;
            let op = ops[input.1 as usize % ops.len()];
            check(op.name(), e.sm.dispatch_authorized(op, &caller, &body, &allow));
        }
    }
});
