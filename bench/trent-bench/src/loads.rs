//! The loads: ONE table ([`LOADS`]). Adding a load is one entry there; a new kind of request
//! is one [`Call`] variant (its wire shape in [`Call::template`], what it needs in [`Call::needs`]).
//!
//! Every load is a weighted mix of calls. Before a load runs against a server, whatever its
//! calls need (keys, a ciphertext, a parameter, a secret) is created once through the real
//! API ([`Fixtures`]), and every call of the mix is sent once as a probe. If any of that
//! fails, the load is reported as `n/a (setup: <error code>)` and the run goes on.

use crate::client::{Client, Reply};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Value};
use std::collections::HashMap;

/// One load of the benchmark.
pub struct Load {
    /// Short id used on the command line (`--loads`) and in the results files.
    pub id: &'static str,
    /// Name in the results table.
    pub title: &'static str,
    /// One line for the README: what the load does.
    pub what: &'static str,
    /// (weight, call): each request picks a call in proportion to its weight.
    pub mix: &'static [(u32, Call)],
}

/// THE table of loads.
pub const LOADS: &[Load] = &[
    Load {
        id: "encrypt-64",
        title: "KMS Encrypt 64 B",
        what: "`TrentService.Encrypt` of 64 random bytes under a symmetric key (made in setup), no encryption context.",
        mix: &[(1, Call::Encrypt { bytes: 64 })],
    },
    Load {
        id: "encrypt-4k",
        title: "KMS Encrypt 4 KB",
        what: "`TrentService.Encrypt` of 4096 bytes (the KMS maximum), so a ~5.5 KB JSON body.",
        mix: &[(1, Call::Encrypt { bytes: 4096 })],
    },
    Load {
        id: "decrypt",
        title: "KMS Decrypt",
        what: "`TrentService.Decrypt` of a 64-byte ciphertext made during setup (no `KeyId` in the request: the blob names it).",
        mix: &[(1, Call::Decrypt)],
    },
    Load {
        id: "generate-data-key",
        title: "KMS GenerateDataKey",
        what: "`TrentService.GenerateDataKey` with `KeySpec` `AES_256` (plaintext and wrapped data key returned).",
        mix: &[(1, Call::GenerateDataKey)],
    },
    Load {
        id: "sign-rsa-2048",
        title: "KMS Sign RSA-2048 PSS",
        what: "`TrentService.Sign`, `RSASSA_PSS_SHA_256`, 64-byte RAW message, with an `RSA_2048` `SIGN_VERIFY` key made in setup.",
        mix: &[(1, Call::Sign { key: SignKey::Rsa2048 })],
    },
    Load {
        id: "sign-ecdsa-p256",
        title: "KMS Sign ECDSA P-256",
        what: "`TrentService.Sign`, `ECDSA_SHA_256`, 64-byte RAW message, with an `ECC_NIST_P256` `SIGN_VERIFY` key made in setup.",
        mix: &[(1, Call::Sign { key: SignKey::EccP256 })],
    },
    Load {
        id: "ssm-get-parameter",
        title: "SSM GetParameter",
        what: "`AmazonSSM.GetParameter` (signing service `ssm`) of a `String` parameter put during setup.",
        mix: &[(1, Call::GetParameter)],
    },
    Load {
        id: "ssm-get-parameter-secure",
        title: "SSM GetParameter SecureString",
        what: "`AmazonSSM.GetParameter` with `WithDecryption` of a `SecureString` parameter (the account's `alias/aws/ssm` key) put during setup: the parameter read plus a KMS decryption made through SSM.",
        mix: &[(1, Call::GetParameterSecure)],
    },
    Load {
        id: "ssm-get-parameters-by-path",
        title: "SSM GetParametersByPath",
        what: "`AmazonSSM.GetParametersByPath` (signing service `ssm`), `Recursive`, one page of `MaxResults` 10 over a tree of 10 `String` parameters put during setup.",
        mix: &[(1, Call::GetParametersByPath)],
    },
    Load {
        id: "ssm-put-parameter",
        title: "SSM PutParameter (overwrite)",
        what: "`AmazonSSM.PutParameter` (signing service `ssm`) with `Overwrite` of one `String` parameter: every request is a durable write making a new version (the oldest of 100 is dropped).",
        mix: &[(1, Call::PutParameter)],
    },
    Load {
        id: "sm-get-secret-value",
        title: "Secrets Manager GetSecretValue",
        what: "`secretsmanager.GetSecretValue` (signing service `secretsmanager`) of a `SecretString` created during setup.",
        mix: &[(1, Call::GetSecretValue)],
    },
    Load {
        id: "mixed",
        title: "Mixed 50/30/20",
        what: "50 % Encrypt 64 B, 30 % Decrypt, 20 % GenerateDataKey, interleaved on every connection.",
        mix: &[
            (50, Call::Encrypt { bytes: 64 }),
            (30, Call::Decrypt),
            (20, Call::GenerateDataKey),
        ],
    },
];

pub fn find(id: &str) -> Option<&'static Load> {
    LOADS.iter().find(|l| l.id == id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignKey {
    Rsa2048,
    EccP256,
}

impl SignKey {
    fn key_spec(self) -> &'static str {
        match self {
            SignKey::Rsa2048 => "RSA_2048",
            SignKey::EccP256 => "ECC_NIST_P256",
        }
    }
    fn algorithm(self) -> &'static str {
        match self {
            SignKey::Rsa2048 => "RSASSA_PSS_SHA_256",
            SignKey::EccP256 => "ECDSA_SHA_256",
        }
    }
}

/// A kind of request the load generator can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Encrypt { bytes: usize },
    Decrypt,
    GenerateDataKey,
    Sign { key: SignKey },
    GetParameter,
    GetParameterSecure,
    GetParametersByPath,
    GetSecretValue,
    PutParameter,
}

/// Something a call needs to exist on the server before it can be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Need {
    SymmetricKey,
    Ciphertext,
    SignKey(SignKey),
    Parameter,
    SecureParameter,
    ParameterTree,
    Secret,
}

/// A ready-to-sign request: the operation, its signing service and its body.
#[derive(Clone)]
pub struct Template {
    /// `X-Amz-Target`, e.g. `TrentService.Encrypt`.
    pub target: &'static str,
    /// The SigV4 signing name, e.g. `kms`.
    pub service: &'static str,
    pub body: Bytes,
}

/// `(X-Amz-Target, SigV4 signing name)` of every operation the harness sends.
mod ops {
    pub type Op = (&'static str, &'static str);
    pub const CREATE_KEY: Op = ("TrentService.CreateKey", "kms");
    pub const GET_KEY_POLICY: Op = ("TrentService.GetKeyPolicy", "kms");
    pub const ENCRYPT: Op = ("TrentService.Encrypt", "kms");
    pub const DECRYPT: Op = ("TrentService.Decrypt", "kms");
    pub const GENERATE_DATA_KEY: Op = ("TrentService.GenerateDataKey", "kms");
    pub const SIGN: Op = ("TrentService.Sign", "kms");
    pub const PUT_PARAMETER: Op = ("AmazonSSM.PutParameter", "ssm");
    pub const GET_PARAMETER: Op = ("AmazonSSM.GetParameter", "ssm");
    pub const GET_PARAMETERS_BY_PATH: Op = ("AmazonSSM.GetParametersByPath", "ssm");
    pub const CREATE_SECRET: Op = ("secretsmanager.CreateSecret", "secretsmanager");
    pub const GET_SECRET_VALUE: Op = ("secretsmanager.GetSecretValue", "secretsmanager");
}

fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    // Contents do not matter to any server's cost; a cheap deterministic filler is enough.
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Every IAM action the loads send (`<signing name>:<Operation>`, plus the KMS decryption that
/// SSM and Secrets Manager make for the caller), sorted: what the load user's policy allows.
pub fn iam_actions() -> Vec<String> {
    let mut actions: Vec<String> = LOADS
        .iter()
        .flat_map(|l| l.mix.iter())
        .flat_map(|(_, c)| {
            let (target, service) = c.op();
            let op = target.rsplit('.').next().unwrap_or(target);
            std::iter::once(format!("{service}:{op}")).chain(c.extra_actions().iter().map(|a| a.to_string()))
        })
        .collect();
    actions.sort();
    actions.dedup();
    actions
}

impl Call {
    /// `(X-Amz-Target, SigV4 signing name)` of the call.
    pub fn op(self) -> ops::Op {
        match self {
            Call::Encrypt { .. } => ops::ENCRYPT,
            Call::Decrypt => ops::DECRYPT,
            Call::GenerateDataKey => ops::GENERATE_DATA_KEY,
            Call::Sign { .. } => ops::SIGN,
            Call::GetParameter | Call::GetParameterSecure => ops::GET_PARAMETER,
            Call::GetParametersByPath => ops::GET_PARAMETERS_BY_PATH,
            Call::GetSecretValue => ops::GET_SECRET_VALUE,
            Call::PutParameter => ops::PUT_PARAMETER,
        }
    }

    /// Actions the call needs besides its own: the service decrypts with KMS for the caller.
    fn extra_actions(self) -> &'static [&'static str] {
        match self {
            Call::GetParameterSecure | Call::GetSecretValue => &["kms:Decrypt"],
            _ => &[],
        }
    }

    pub fn needs(self) -> &'static [Need] {
        match self {
            Call::Encrypt { .. } | Call::GenerateDataKey => &[Need::SymmetricKey],
            Call::Decrypt => &[Need::Ciphertext],
            Call::Sign { key: SignKey::Rsa2048 } => &[Need::SignKey(SignKey::Rsa2048)],
            Call::Sign { key: SignKey::EccP256 } => &[Need::SignKey(SignKey::EccP256)],
            Call::GetParameter | Call::PutParameter => &[Need::Parameter],
            Call::GetParameterSecure => &[Need::SecureParameter],
            Call::GetParametersByPath => &[Need::ParameterTree],
            Call::GetSecretValue => &[Need::Secret],
        }
    }

    /// The request for this call, given the fixtures it needs.
    pub fn template(self, fx: &Fixtures) -> Template {
        let get = |n: Need| fx.ready.get(&n).cloned().unwrap_or_default();
        let (target, service, body) = match self {
            Call::Encrypt { bytes } => {
                let (t, s) = ops::ENCRYPT;
                let body = json!({
                    "KeyId": get(Need::SymmetricKey),
                    "Plaintext": STANDARD.encode(random_bytes(bytes, bytes as u64)),
                });
                (t, s, body)
            }
            Call::Decrypt => {
                let (t, s) = ops::DECRYPT;
                (t, s, json!({ "CiphertextBlob": get(Need::Ciphertext) }))
            }
            Call::GenerateDataKey => {
                let (t, s) = ops::GENERATE_DATA_KEY;
                (t, s, json!({ "KeyId": get(Need::SymmetricKey), "KeySpec": "AES_256" }))
            }
            Call::Sign { key } => {
                let (t, s) = ops::SIGN;
                let body = json!({
                    "KeyId": get(Need::SignKey(key)),
                    "Message": STANDARD.encode(random_bytes(64, 7)),
                    "MessageType": "RAW",
                    "SigningAlgorithm": key.algorithm(),
                });
                (t, s, body)
            }
            Call::GetParameter => {
                let (t, s) = ops::GET_PARAMETER;
                (t, s, json!({ "Name": get(Need::Parameter) }))
            }
            Call::GetParameterSecure => {
                let (t, s) = ops::GET_PARAMETER;
                (t, s, json!({ "Name": get(Need::SecureParameter), "WithDecryption": true }))
            }
            Call::GetParametersByPath => {
                let (t, s) = ops::GET_PARAMETERS_BY_PATH;
                (t, s, json!({ "Path": get(Need::ParameterTree), "Recursive": true, "MaxResults": 10 }))
            }
            Call::GetSecretValue => {
                let (t, s) = ops::GET_SECRET_VALUE;
                (t, s, json!({ "SecretId": get(Need::Secret) }))
            }
            Call::PutParameter => {
                let (t, s) = ops::PUT_PARAMETER;
                let value = "a benchmark parameter value of moderate length, 64 bytes long..";
                (t, s, json!({ "Name": get(Need::Parameter), "Value": value, "Type": "String", "Overwrite": true }))
            }
        };
        Template { target, service, body: Bytes::from(serde_json::to_vec(&body).expect("json")) }
    }
}

/// Server-side objects the loads use, created once per server and run.
pub struct Fixtures {
    /// A run-unique suffix for names (parameters, secrets).
    run_id: String,
    /// Against the baseline nothing is created: every need gets a placeholder.
    placeholders: bool,
    /// Check that every KMS key made here has a key policy that lets IAM policies decide
    /// (`--principal iam-user`: the loads are signed by an IAM user, not the root).
    check_key_policy: bool,
    ready: HashMap<Need, String>,
    failed: HashMap<Need, String>,
}

impl Fixtures {
    pub fn new(run_id: String, placeholders: bool) -> Self {
        Fixtures { run_id, placeholders, check_key_policy: false, ready: HashMap::new(), failed: HashMap::new() }
    }

    /// Checks the key policy of every KMS key made from now on (see `check_key_policy`).
    pub fn check_key_policies(&mut self) {
        self.check_key_policy = true;
    }

    /// Makes sure everything `load` needs exists; on failure returns the error code.
    pub async fn prepare(&mut self, client: &Client, load: &Load) -> Result<(), String> {
        for (_, call) in load.mix {
            for need in call.needs() {
                if *need == Need::Ciphertext {
                    self.ensure(client, Need::SymmetricKey).await?;
                }
                self.ensure(client, *need).await?;
            }
        }
        Ok(())
    }

    async fn ensure(&mut self, client: &Client, need: Need) -> Result<(), String> {
        if self.ready.contains_key(&need) {
            return Ok(());
        }
        if let Some(e) = self.failed.get(&need) {
            return Err(e.clone());
        }
        let made = if self.placeholders { Ok(placeholder(need)) } else { self.create(client, need).await };
        match made {
            Ok(v) => {
                self.ready.insert(need, v);
                Ok(())
            }
            Err(e) => {
                self.failed.insert(need, e.clone());
                Err(e)
            }
        }
    }

    /// A key made with the default key policy: with `check_key_policy`, that policy must let
    /// the account's IAM policies decide, so that the load user's identity policy is what
    /// allows the loads (and both are evaluated on every request).
    async fn checked(&self, client: &Client, key: String) -> Result<String, String> {
        if self.check_key_policy {
            let (target, signing) = ops::GET_KEY_POLICY;
            let body = json!({ "KeyId": key, "PolicyName": "default" });
            let body = Bytes::from(serde_json::to_vec(&body).expect("json"));
            let v = expect_ok(client.call(target, signing, body).await).map_err(|e| format!("GetKeyPolicy: {e}"))?;
            if !crate::iam::delegates_to_iam(&string_at(&v, &["Policy"])?) {
                return Err("the key policy does not let IAM policies decide".to_string());
            }
        }
        Ok(key)
    }

    async fn create(&self, client: &Client, need: Need) -> Result<String, String> {
        let call = |(target, signing): ops::Op, body: Value| {
            let body = Bytes::from(serde_json::to_vec(&body).expect("json"));
            async move { expect_ok(client.call(target, signing, body).await) }
        };
        match need {
            Need::SymmetricKey => {
                let v = call(ops::CREATE_KEY, json!({ "Description": "trent-bench symmetric" })).await?;
                self.checked(client, string_at(&v, &["KeyMetadata", "KeyId"])?).await
            }
            Need::SignKey(k) => {
                let v = call(
                    ops::CREATE_KEY,
                    json!({
                        "Description": "trent-bench signing",
                        "KeySpec": k.key_spec(),
                        "KeyUsage": "SIGN_VERIFY",
                    }),
                )
                .await?;
                self.checked(client, string_at(&v, &["KeyMetadata", "KeyId"])?).await
            }
            Need::Ciphertext => {
                let key = self.ready.get(&Need::SymmetricKey).cloned().unwrap_or_default();
                let v = call(ops::ENCRYPT, json!({ "KeyId": key, "Plaintext": STANDARD.encode(random_bytes(64, 3)) }))
                    .await?;
                string_at(&v, &["CiphertextBlob"])
            }
            Need::Parameter => {
                let name = format!("/trent-bench/{}/parameter", self.run_id);
                call(
                    ops::PUT_PARAMETER,
                    json!({
                        "Name": name,
                        "Value": "a benchmark parameter value of moderate length, 64 bytes long..",
                        "Type": "String",
                        "Overwrite": true,
                    }),
                )
                .await?;
                Ok(name)
            }
            Need::SecureParameter => {
                let name = format!("/trent-bench/{}/secure-parameter", self.run_id);
                call(
                    ops::PUT_PARAMETER,
                    json!({
                        "Name": name,
                        "Value": "a benchmark parameter value of moderate length, 64 bytes long..",
                        "Type": "SecureString",
                        "Overwrite": true,
                    }),
                )
                .await?;
                Ok(name)
            }
            Need::ParameterTree => {
                let path = format!("/trent-bench/{}/tree", self.run_id);
                for i in 0..10 {
                    call(
                        ops::PUT_PARAMETER,
                        json!({
                            "Name": format!("{path}/level-{}/p{i}", i % 3),
                            "Value": "a benchmark parameter value of moderate length, 64 bytes long..",
                            "Type": "String",
                            "Overwrite": true,
                        }),
                    )
                    .await?;
                }
                Ok(path)
            }
            Need::Secret => {
                let name = format!("trent-bench/{}/secret", self.run_id);
                call(
                    ops::CREATE_SECRET,
                    json!({
                        "Name": name,
                        "SecretString": "{\"username\":\"bench\",\"password\":\"0123456789abcdef0123456789abcdef\"}",
                        "ClientRequestToken": format!("trent-bench-{}-0000000000000000", self.run_id),
                    }),
                )
                .await?;
                Ok(name)
            }
        }
    }
}

fn placeholder(need: Need) -> String {
    match need {
        Need::SymmetricKey | Need::SignKey(_) => "00000000-0000-4000-8000-000000000000".into(),
        Need::Ciphertext => STANDARD.encode(random_bytes(162, 5)),
        Need::Parameter => "/trent-bench/placeholder".into(),
        Need::SecureParameter => "/trent-bench/placeholder-secure".into(),
        Need::ParameterTree => "/trent-bench/placeholder-tree".into(),
        Need::Secret => "trent-bench/placeholder".into(),
    }
}

/// A 200 answer's JSON, or the error code of anything else.
pub fn expect_ok(r: Result<Reply, String>) -> Result<Value, String> {
    let reply = r.map_err(|e| format!("transport: {e}"))?;
    if reply.status != 200 {
        return Err(reply.error_code());
    }
    serde_json::from_slice(&reply.body).map_err(|_| "answer is not JSON".to_string())
}

fn string_at(v: &Value, path: &[&str]) -> Result<String, String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p).ok_or_else(|| format!("answer has no {}", path.join(".")))?;
    }
    cur.as_str().map(str::to_string).ok_or_else(|| format!("answer's {} is not a string", path.join(".")))
}

/// The order in which a worker cycles through a load's calls: each call appears `weight`
/// times, spread evenly (50/30/20 → E D E G E D E ...), so any window of the run has the mix.
pub fn schedule(mix: &[(u32, Call)]) -> Vec<usize> {
    let mut slots: Vec<(f64, usize)> = Vec::new();
    for (i, (w, _)) in mix.iter().enumerate() {
        for k in 0..*w {
            slots.push(((k as f64 + 0.5) / *w as f64, i));
        }
    }
    slots.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    slots.into_iter().map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_weights_positive() {
        for (i, a) in LOADS.iter().enumerate() {
            assert!(LOADS[i + 1..].iter().all(|b| b.id != a.id), "{}", a.id);
            assert!(a.mix.iter().all(|(w, _)| *w > 0));
        }
    }

    #[test]
    fn op_is_the_templates_target() {
        let fx = Fixtures::new("t".into(), true);
        for l in LOADS {
            for (_, c) in l.mix {
                let t = c.template(&fx);
                assert_eq!(c.op(), (t.target, t.service), "{c:?}");
            }
        }
    }

    #[test]
    fn the_load_user_may_send_every_call() {
        let a = iam_actions();
        for want in ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:Sign", "ssm:GetParameter"] {
            assert!(a.contains(&want.to_string()), "{want} missing from {a:?}");
        }
        for want in ["ssm:GetParametersByPath", "ssm:PutParameter", "secretsmanager:GetSecretValue"] {
            assert!(a.contains(&want.to_string()), "{want} missing from {a:?}");
        }
        // Nothing the loads do not send: no setup action, no wildcard.
        assert!(!a.iter().any(|x| x.contains('*') || x.ends_with("CreateKey") || x.ends_with("CreateSecret")));
        assert_eq!(a.len(), 8, "{a:?}");
    }

    #[test]
    fn schedule_keeps_the_proportions() {
        let s = schedule(find("mixed").unwrap().mix);
        assert_eq!(s.len(), 100);
        assert_eq!(s.iter().filter(|&&i| i == 0).count(), 50);
        assert_eq!(s.iter().filter(|&&i| i == 1).count(), 30);
        assert_eq!(s.iter().filter(|&&i| i == 2).count(), 20);
        // Spread: no call appears in a run longer than 2 at the start of the mix.
        assert_ne!(&s[..3], &[0, 0, 0]);
    }
}
