//! Request quotas: token buckets per account, region and quota, as AWS applies them.
//!
//! Off by default (`--quotas off`): a server run on one's own hardware has no reason to throttle
//! ordinary client code. `--quotas aws` applies AWS's published defaults (to test retry logic,
//! or to keep tenants fair), and `--quota NAME=RATE` changes one of them.
//!
//! Every authenticated request takes one token from its quota's bucket before any other work
//! is done; an empty bucket answers `ThrottlingException` (HTTP 400, as AWS), which the SDKs'
//! standard retry handles. A bucket holds one second of its rate (at least one request) and
//! refills continuously.
//!
//! Which quota a request counts against (the names `--quota NAME=RATE` takes):
//! * `kms:symmetric` — Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext),
//!   GenerateRandom, GenerateMac, VerifyMac with symmetric or HMAC keys (AWS: 50,000/s in
//!   us-east-1, us-west-2, eu-west-1; 10,000/s in us-east-2, ap-southeast-1, ap-southeast-2,
//!   ap-northeast-1, eu-central-1, eu-west-2; 5,500/s elsewhere).
//! * `kms:rsa` (500/s) — the same operations and Sign/Verify with RSA keys. Which one is
//!   decided from the request's algorithm member (RSAES_* / RSASSA_*), so no key is read first.
//! * `kms:ecc` (300/s) — Sign/Verify with ECC, Ed25519 and ML-DSA keys, DeriveSharedSecret,
//!   Encapsulate, Decapsulate.
//! * `kms:GenerateDataKeyPair/<KeyPairSpec>` — GenerateDataKeyPair(WithoutPlaintext) per spec
//!   (RSA_2048 1/s, RSA_3072 0.5/s, RSA_4096 0.1/s, ECC_NIST_P256 25/s, ECC_NIST_P384 10/s,
//!   ECC_NIST_P521 5/s, ECC_SECG_P256K1 25/s, others 5/s).
//! * `kms:<Operation>` — every other KMS operation, with AWS's per-operation figure.
//! * `ssm:GetParameter` (40/s, AWS's standard throughput) — GetParameter, GetParameters,
//!   GetParametersByPath; `ssm:PutParameter` (3/s); `ssm:<Operation>` (40/s) for the rest.
//! * `secretsmanager:GetSecretValue` (10,000/s) — GetSecretValue and DescribeSecret;
//!   `secretsmanager:<Operation>` for the rest (List*: 100/s, BatchGetSecretValue 100/s, others 50/s).
//! * `cloudtrail:LookupEvents` (2/s).
//! * `sts:all` (600/s, AWS's documented STS request quota per account and region) — every STS
//!   action; `iam:all` (100/s; AWS publishes no per-second figure for IAM) — every IAM action.
//!
//! Every operation of every served service can be given a quota of its own with
//! `<service>:<Operation>=RATE` (`kms:Encrypt`, `ssm:GetParametersByPath`, `iam:CreateUser`,
//! `sts:AssumeRole`, …): the operation then leaves the shared quota it counts against by default
//! and gets its own bucket at that rate.
//!
//! # Several nodes: per-node shares
//!
//! A quota is per deployment, however many `trentd` nodes serve it. Each node enforces its
//! **share**, `rate / live_nodes` of every quota ([`Quotas::set_share`]), where `live_nodes` is
//! the number of nodes that heartbeat into the store in the last few seconds
//! ([`crate::nodes`]). The shares are rebalanced as nodes come and go, within the heartbeat
//! window. Shares rather than one shared counter in the database: admitting a request then
//! costs no database round trip (a shared counter would put a write, serialized across all
//! nodes, in front of every Encrypt), and throttling keeps working while the database is slow.
//! The price: a deployment's total is exact only when clients spread their calls evenly over
//! the nodes (a load balancer does); a client pinned to one node gets that node's share.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use trent_wire::{AwsError, Quota};

/// A request body as parsed once by the request path (empty when it is not a JSON object).
pub type Body = serde_json::Map<String, serde_json::Value>;

/// `ThrottlingException`, worded as each service words it.
#[derive(Debug)]
pub struct Throttled {
    service: &'static str,
}

impl AwsError for Throttled {
    fn code(&self) -> &'static str {
        match self.service {
            // IAM and STS (awsQuery) name it `Throttling`, as AWS does.
            "iam" | "sts" => "Throttling",
            _ => "ThrottlingException",
        }
    }
    fn message(&self) -> String {
        match self.service {
            "kms" => "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.".into(),
            _ => "Rate exceeded".into(),
        }
    }
    fn status(&self) -> u16 {
        400
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct Quotas {
    enabled: bool,
    overrides: HashMap<String, f64>,
    buckets: Mutex<HashMap<(String, String, String), Bucket>>,
    /// How many nodes share each quota (at least 1).
    share: AtomicU32,
}

/// Parses `NAME=RATE` (requests per second, may be fractional, > 0). NAME is a quota
/// ([`known_name`]): a typo is refused here rather than silently ignored.
pub fn parse_override(s: &str) -> Result<(String, f64), String> {
    let (name, rate) = s.split_once('=').ok_or_else(|| format!("'{s}': expected NAME=RATE, e.g. kms:symmetric=100"))?;
    let rate: f64 =
        rate.trim().parse().map_err(|_| format!("'{s}': the rate must be a number of requests per second"))?;
    if !(rate > 0.0 && rate.is_finite()) {
        return Err(format!("'{s}': the rate must be greater than zero"));
    }
    let name = name.trim();
    if !known_name(name) {
        return Err(format!(
            "'{s}': unknown quota name; a quota name is <service>:<Operation> for any operation Trent serves \
             (kms:, ssm:, secretsmanager:, cloudtrail:, iam:, sts:), or a shared quota: kms:symmetric, kms:rsa, \
             kms:ecc, kms:GenerateDataKeyPair/<KeyPairSpec>, iam:all, sts:all"
        ));
    }
    Ok((name.to_string(), rate))
}

/// Whether `name` is a quota `--quota` can set: a shared quota, or `<service>:<Operation>` for
/// an operation of a served service.
pub fn known_name(name: &str) -> bool {
    let Some((service, rest)) = name.split_once(':') else { return false };
    match service {
        "kms" => {
            ["symmetric", "rsa", "ecc"].contains(&rest)
                || rest.strip_prefix("GenerateDataKeyPair/").is_some_and(|spec| {
                    !spec.is_empty() && spec.len() <= 32 && spec.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                })
                || trent_kms::Operation::from_name(rest).is_some()
        }
        "ssm" => trent_ssm::Operation::from_name(rest).is_some(),
        "secretsmanager" => trent_secrets::Operation::from_name(rest).is_some(),
        "cloudtrail" => rest == "LookupEvents",
        "iam" => rest == "all" || trent_iam::IAM_ACTIONS.iter().any(|(n, _)| *n == rest),
        "sts" => rest == "all" || trent_iam::STS_ACTIONS.iter().any(|(n, _)| *n == rest),
        _ => false,
    }
}

impl Quotas {
    pub fn new(enabled: bool, overrides: &[(String, f64)]) -> Self {
        Quotas {
            enabled,
            overrides: overrides.iter().cloned().collect(),
            buckets: Mutex::new(HashMap::new()),
            share: AtomicU32::new(1),
        }
    }

    /// Enforces `1/nodes` of every quota from now on (`nodes` live nodes share the deployment;
    /// 0 counts as 1). A bucket holding more than its new share is cut down at its next use.
    pub fn set_share(&self, nodes: u32) {
        self.share.store(nodes.max(1), Ordering::Relaxed);
    }

    /// How many nodes this node currently shares its quotas with (itself included).
    pub fn share(&self) -> u32 {
        self.share.load(Ordering::Relaxed)
    }

    /// Takes a token for this request, or answers ThrottlingException. `quota` is the
    /// operation's row in its service's table; `body` the request as parsed once.
    pub fn admit(
        &self,
        service: &'static str,
        op: &str,
        quota: Quota,
        account: &str,
        region: &str,
        body: &Body,
    ) -> Result<(), Throttled> {
        if !self.enabled {
            return Ok(());
        }
        let (name, rate) = self.rate_of(service, op, quota, region, body);
        let rate = rate / f64::from(self.share());
        let capacity = rate.max(1.0);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = buckets
            .entry((account.to_string(), region.to_string(), name))
            .or_insert(Bucket { tokens: capacity, at: now });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Throttled { service })
        }
    }
}

impl Quotas {
    /// The bucket a request takes its token from and its rate (for the whole deployment): the
    /// operation's own quota when `--quota <service>:<Operation>` set one, else the quota it
    /// counts against by default, at its override or AWS's rate.
    fn rate_of(&self, service: &str, op: &str, quota: Quota, region: &str, body: &Body) -> (String, f64) {
        let own = format!("{service}:{op}");
        if let Some(rate) = self.overrides.get(&own) {
            return (own, *rate);
        }
        let (name, default) = classify(service, op, quota, region, body);
        let rate = self.overrides.get(&name).copied().unwrap_or(default);
        (name, rate)
    }
}

fn symmetric_rate(region: &str) -> f64 {
    match region {
        "us-east-1" | "us-west-2" | "eu-west-1" => 50_000.0,
        "us-east-2" | "ap-southeast-1" | "ap-southeast-2" | "ap-northeast-1" | "eu-central-1" | "eu-west-2" => 10_000.0,
        _ => 5_500.0,
    }
}

/// The quota a request counts against, and AWS's default rate for it: the operation's
/// [`Quota`] (from its service's `operations!` table), with the KMS cryptographic quotas told
/// apart by the request's algorithm members.
pub fn classify(service: &str, op: &str, quota: Quota, region: &str, body: &Body) -> (String, f64) {
    let s = |k: &str| body.get(k).and_then(|v| v.as_str());
    let symmetric = || ("kms:symmetric".to_string(), symmetric_rate(region));
    let rsa = || ("kms:rsa".to_string(), 500.0);
    let ecc = || ("kms:ecc".to_string(), 300.0);
    let is_rsa = |k: &str| s(k).is_some_and(|a| a.starts_with("RSAES") || a.starts_with("SM2"));
    match quota {
        Quota::Own(rate) => (format!("{service}:{op}"), rate),
        Quota::Shared(name, rate) => (name.to_string(), rate),
        Quota::KmsSymmetric => symmetric(),
        Quota::KmsEncryption => {
            if ["EncryptionAlgorithm", "SourceEncryptionAlgorithm", "DestinationEncryptionAlgorithm"]
                .into_iter()
                .any(is_rsa)
            {
                rsa()
            } else {
                symmetric()
            }
        }
        Quota::KmsSigning => {
            if s("SigningAlgorithm").is_some_and(|a| a.starts_with("RSASSA")) {
                rsa()
            } else {
                ecc()
            }
        }
        Quota::KmsEcc => ecc(),
        Quota::KmsDataKeyPair => {
            let spec = s("KeyPairSpec").unwrap_or_default();
            let rate = match spec {
                "RSA_2048" => 1.0,
                "RSA_3072" => 0.5,
                "RSA_4096" => 0.1,
                "ECC_NIST_P256" | "ECC_SECG_P256K1" => 25.0,
                "ECC_NIST_P384" => 10.0,
                _ => 5.0,
            };
            let spec: String = spec.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(32).collect();
            (format!("kms:GenerateDataKeyPair/{spec}"), rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATE_KEY: Quota = Quota::Own(5.0);

    fn body(json: &str) -> Body {
        serde_json::from_str(json).unwrap_or_default()
    }

    /// The quota of a KMS, SSM or CloudTrail request, as the request path classifies it.
    fn of(service: &str, op: &str, region: &str, json: &str) -> (String, f64) {
        let quota = match service {
            "kms" => trent_kms::Operation::from_name(op).unwrap().quota(),
            "ssm" => trent_ssm::Operation::from_name(op).unwrap().quota(),
            _ => crate::service::Service::CloudTrail.operation(op).unwrap().quota(),
        };
        classify(service, op, quota, region, &body(json))
    }

    #[test]
    fn a_bucket_admits_its_rate_then_throttles() {
        let q = Quotas::new(true, &[("kms:CreateKey".into(), 3.0)]);
        for _ in 0..3 {
            q.admit("kms", "CreateKey", CREATE_KEY, "1", "us-east-1", &Body::new()).unwrap();
        }
        let e = q.admit("kms", "CreateKey", CREATE_KEY, "1", "us-east-1", &Body::new()).unwrap_err();
        assert_eq!(e.code(), "ThrottlingException");
        assert_eq!(e.status(), 400);
        // Other accounts and regions have their own buckets.
        q.admit("kms", "CreateKey", CREATE_KEY, "2", "us-east-1", &Body::new()).unwrap();
        q.admit("kms", "CreateKey", CREATE_KEY, "1", "eu-west-1", &Body::new()).unwrap();
        // The bucket refills with time.
        std::thread::sleep(std::time::Duration::from_millis(400));
        q.admit("kms", "CreateKey", CREATE_KEY, "1", "us-east-1", &Body::new()).unwrap();
    }

    #[test]
    fn a_share_of_two_admits_half_the_rate() {
        let q = Quotas::new(true, &[("kms:CreateKey".into(), 10.0)]);
        q.set_share(2);
        let admitted =
            (0..20).filter(|_| q.admit("kms", "CreateKey", CREATE_KEY, "1", "us-east-1", &Body::new()).is_ok()).count();
        assert_eq!(admitted, 5, "a full bucket holds one second of the node's share");
        // Back to one node: the bucket refills at the whole rate (10/s: ~3 tokens in 300 ms).
        q.set_share(1);
        std::thread::sleep(std::time::Duration::from_millis(300));
        let admitted =
            (0..20).filter(|_| q.admit("kms", "CreateKey", CREATE_KEY, "1", "us-east-1", &Body::new()).is_ok()).count();
        assert!((2..=4).contains(&admitted), "{admitted}");
        q.set_share(0);
        assert_eq!(q.share(), 1, "no node counts as one");
    }

    #[test]
    fn a_bucket_is_cut_down_to_a_smaller_share() {
        let q = Quotas::new(true, &[("kms:CreateKey".into(), 8.0)]);
        q.admit("kms", "CreateKey", CREATE_KEY, "1", "us-east-1", &Body::new()).unwrap(); // a full bucket: 8, now 7
        q.set_share(4);
        let admitted =
            (0..20).filter(|_| q.admit("kms", "CreateKey", CREATE_KEY, "1", "us-east-1", &Body::new()).is_ok()).count();
        assert_eq!(admitted, 2, "capped at the new share's one second (2), not the old 7");
    }

    #[test]
    fn disabled_quotas_never_throttle() {
        let q = Quotas::new(false, &[("kms:CreateKey".into(), 0.001)]);
        for _ in 0..100 {
            q.admit("kms", "CreateKey", CREATE_KEY, "1", "us-east-1", &Body::new()).unwrap();
        }
    }

    #[test]
    fn cryptographic_requests_share_quotas_by_key_type() {
        assert_eq!(of("kms", "Encrypt", "us-east-1", "{}"), ("kms:symmetric".into(), 50_000.0));
        assert_eq!(of("kms", "GenerateDataKey", "sa-east-1", "{}"), ("kms:symmetric".into(), 5_500.0));
        let rsa = r#"{"EncryptionAlgorithm":"RSAES_OAEP_SHA_256"}"#;
        assert_eq!(of("kms", "Decrypt", "us-east-1", rsa).0, "kms:rsa");
        assert_eq!(of("kms", "Sign", "us-east-1", r#"{"SigningAlgorithm":"RSASSA_PSS_SHA_256"}"#).0, "kms:rsa");
        assert_eq!(of("kms", "Sign", "us-east-1", r#"{"SigningAlgorithm":"ECDSA_SHA_256"}"#).0, "kms:ecc");
        let pair = r#"{"KeyPairSpec":"RSA_4096"}"#;
        assert_eq!(
            of("kms", "GenerateDataKeyPair", "us-east-1", pair),
            ("kms:GenerateDataKeyPair/RSA_4096".into(), 0.1)
        );
        assert_eq!(of("ssm", "GetParametersByPath", "us-east-1", ""), ("ssm:GetParameter".into(), 40.0));
        assert_eq!(of("cloudtrail", "LookupEvents", "us-east-1", ""), ("cloudtrail:LookupEvents".into(), 2.0));
        // A body that is not JSON still gets a quota.
        assert_eq!(of("kms", "Encrypt", "us-east-1", "not json").0, "kms:symmetric");
    }

    #[test]
    fn overrides_are_checked() {
        assert_eq!(parse_override("kms:symmetric=100").unwrap(), ("kms:symmetric".into(), 100.0));
        assert_eq!(parse_override("kms:GenerateDataKeyPair/RSA_4096=0.5").unwrap().1, 0.5);
        for bad in ["kms:symmetric", "kms:symmetric=0", "kms:symmetric=-1", "kms:x=abc", "foo:bar=1", "kms:=3"] {
            assert!(parse_override(bad).is_err(), "{bad}");
        }
        // Every operation of every served service is a quota name; typos are refused.
        for name in trent_kms::Operation::ALL.iter().map(|o| format!("kms:{}", o.name())) {
            assert!(parse_override(&format!("{name}=1")).is_ok(), "{name}");
        }
        for name in trent_ssm::Operation::ALL.iter().map(|o| format!("ssm:{}", o.name())) {
            assert!(parse_override(&format!("{name}=1")).is_ok(), "{name}");
        }
        for name in trent_secrets::Operation::ALL.iter().map(|o| format!("secretsmanager:{}", o.name())) {
            assert!(parse_override(&format!("{name}=1")).is_ok(), "{name}");
        }
        for (action, _) in trent_iam::IAM_ACTIONS {
            assert!(parse_override(&format!("iam:{action}=1")).is_ok(), "{action}");
        }
        for (action, _) in trent_iam::STS_ACTIONS {
            assert!(parse_override(&format!("sts:{action}=1")).is_ok(), "{action}");
        }
        for good in ["iam:all=5", "sts:all=5", "cloudtrail:LookupEvents=1", "kms:ecc=1", "kms:rsa=2"] {
            assert!(parse_override(good).is_ok(), "{good}");
        }
        for bad in ["kms:Encrypts=1", "ssm:GetParameterz=1", "iam:Nope=1", "sts:x=1", "cloudtrail:Other=1"] {
            let e = parse_override(bad).unwrap_err();
            assert!(e.contains("unknown quota name"), "{bad}: {e}");
        }
    }

    #[test]
    fn an_operation_override_gives_it_its_own_bucket() {
        // kms:Encrypt=2 takes Encrypt out of the symmetric quota; Decrypt still shares it.
        let q = Quotas::new(true, &[("kms:Encrypt".into(), 2.0)]);
        let enc = trent_kms::Operation::Encrypt.quota();
        let dec = trent_kms::Operation::Decrypt.quota();
        let admitted =
            (0..10).filter(|_| q.admit("kms", "Encrypt", enc, "1", "us-east-1", &Body::new()).is_ok()).count();
        assert_eq!(admitted, 2);
        for _ in 0..10 {
            q.admit("kms", "Decrypt", dec, "1", "us-east-1", &Body::new()).unwrap();
        }
        // An operation of a shared quota: GetParametersByPath alone.
        let q = Quotas::new(true, &[("ssm:GetParametersByPath".into(), 1.0)]);
        let by_path = trent_ssm::Operation::GetParametersByPath.quota();
        let get = trent_ssm::Operation::GetParameter.quota();
        q.admit("ssm", "GetParametersByPath", by_path, "1", "us-east-1", &Body::new()).unwrap();
        assert!(q.admit("ssm", "GetParametersByPath", by_path, "1", "us-east-1", &Body::new()).is_err());
        q.admit("ssm", "GetParameter", get, "1", "us-east-1", &Body::new()).unwrap();
    }

    #[test]
    fn iam_and_sts_have_their_own_quotas() {
        use crate::service::Service;
        let iam = Service::Iam.operation("CreateUser").unwrap().quota();
        let sts = Service::Sts.operation("AssumeRole").unwrap().quota();
        assert_eq!(classify("iam", "CreateUser", iam, "us-east-1", &Body::new()), ("iam:all".into(), 100.0));
        assert_eq!(classify("sts", "AssumeRole", sts, "us-east-1", &Body::new()), ("sts:all".into(), 600.0));
    }
}
