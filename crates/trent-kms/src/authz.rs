//! What the server's policy evaluation needs to know about a KMS request before it runs, read
//! without changing anything: which keys the request uses, for which action, and each key's
//! ARN, owner, key policy, spec, usage, origin and aliases.
//!
//! Cross-account use: a key in another account is resolved only for a caller marked
//! [`Caller::with_cross_account`], which the server does after the key policy and the caller's
//! identity policies both allowed the request. Everywhere else (and for SSM and Secrets
//! Manager's in-process calls) another account's key is refused as before.
//!
//! Service use: SSM's and Secrets Manager's in-process calls carry their context explicitly
//! ([`Caller::through`]); the service authorizer checks them (`kms:ViaService`) before any
//! material is unwrapped.

use crate::keys::{KeyRef, T_ALIAS, T_OWNER};
use crate::{Caller, Kms, KmsError, Operation};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use trent_policy::Principal;

/// One key a request uses, and the action it is used for.
#[derive(Debug, Clone)]
pub struct KeyFacts {
    /// `kms:Decrypt`, `kms:ReEncryptFrom`, …
    pub action: String,
    pub key_arn: String,
    pub key_account: String,
    pub policy: String,
    pub key_spec: String,
    pub key_usage: String,
    pub key_origin: String,
    /// Alias names (`alias/…`) pointing at the key (`kms:ResourceAliases`).
    pub aliases: Vec<String>,
    /// The alias the request named the key by (`kms:RequestAlias`).
    pub request_alias: Option<String>,
    /// The key's grants (the server checks whether one allows the caller).
    pub grants: Vec<crate::grants::GrantRecord>,
    /// `AWS` for AWS-managed keys (`alias/aws/ssm`, …), else `CUSTOMER`.
    pub key_manager: String,
}

/// The request a service (SSM, Secrets Manager) is serving when it calls KMS in-process.
#[derive(Debug, Clone)]
pub struct ViaContext {
    /// `kms:ViaService`, e.g. `ssm.us-east-1.amazonaws.com`.
    pub service: String,
    pub source_ip: String,
    pub secure_transport: bool,
    pub now_secs: i64,
}

/// Decides whether `caller` may use a key through another service: (caller, key and action
/// such as `kms:Decrypt`, encryption context, the request being served).
pub type ServiceAuthorizer = dyn Fn(&Caller, &KeyFacts, &std::collections::BTreeMap<String, String>, &ViaContext) -> Result<(), KmsError>
    + Send
    + Sync;

/// A request served through another service, as its caller carries it ([`Caller::through`]):
/// the request's facts and the check every key use through the service must pass.
pub struct ServiceUse {
    pub via: ViaContext,
    pub authorizer: std::sync::Arc<ServiceAuthorizer>,
}

impl std::fmt::Debug for ServiceUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceUse").field("via", &self.via).finish_non_exhaustive()
    }
}

/// Operations another account may perform with a key its key policy shares (AWS's list).
pub const CROSS_ACCOUNT_OPERATIONS: &[Operation] = &[
    Operation::Decrypt,
    Operation::DescribeKey,
    Operation::Encrypt,
    Operation::GenerateDataKey,
    Operation::GenerateDataKeyPair,
    Operation::GenerateDataKeyPairWithoutPlaintext,
    Operation::GenerateDataKeyWithoutPlaintext,
    Operation::GenerateMac,
    Operation::GetKeyRotationStatus,
    Operation::GetPublicKey,
    Operation::ReEncrypt,
    Operation::Sign,
    Operation::Verify,
    Operation::VerifyMac,
    Operation::DeriveSharedSecret,
    Operation::Decapsulate,
    Operation::Encapsulate,
];

impl Kms {
    /// The keys `body` names for `op`, with what evaluation needs. Keys that do not resolve
    /// are left out: the operation itself then answers NotFound (or the like) as usual.
    ///
    /// An AWS-managed alias of a served service (`alias/aws/ssm`, `alias/aws/secretsmanager`)
    /// that does not exist yet is created first, with its key, as AWS creates it on first
    /// reference, so that evaluation and then the operation find it.
    pub fn authorization_facts(
        &self,
        caller: &Caller,
        op: Operation,
        body: &serde_json::Map<String, serde_json::Value>,
    ) -> Vec<KeyFacts> {
        let wanted = wanted(op, body);
        // The alias operations name aliases, not keys to use (and `alias/aws/` is theirs to refuse).
        let uses_keys = !matches!(op, Operation::CreateAlias | Operation::UpdateAlias | Operation::DeleteAlias);
        for id in wanted.iter().filter(|_| uses_keys).filter_map(|(_, id, _)| id.as_deref()) {
            if let Err(e) = self.ensure_managed_alias(caller, id) {
                tracing::warn!(error = ?e, "could not create an AWS-managed key on first reference");
            }
        }
        wanted
            .into_iter()
            .filter_map(|(a, id, blob)| self.facts_for(caller, a, id.as_deref(), blob.as_deref()))
            .collect()
    }

    /// Creates the AWS-managed key `id` names (`alias/aws/<service>` of a served service, or
    /// its alias ARN in the caller's account and region) if it does not exist yet.
    pub fn ensure_managed_alias(&self, caller: &Caller, id: &str) -> Result<(), KmsError> {
        let alias = match id.strip_prefix("arn:") {
            None => id,
            Some(_) => match trent_policy::Arn::parse(id) {
                Some(a) if a.service == "kms" && a.account == caller.account() && a.region == caller.region => {
                    return match crate::model::aws_managed_alias_description(&a.resource) {
                        Some(d) => self.aws_managed_key(caller, &a.resource, d).map(drop),
                        None => Ok(()),
                    };
                }
                _ => return Ok(()),
            },
        };
        match crate::model::aws_managed_alias_description(alias) {
            Some(description) => self.aws_managed_key(caller, alias, description).map(drop),
            None => Ok(()),
        }
    }

    fn facts_for(&self, caller: &Caller, action: String, id: Option<&str>, blob: Option<&[u8]>) -> Option<KeyFacts> {
        let mut tx = self.store().read().ok()?;
        let (r, request_alias) = match id {
            Some(id) => {
                let owner = trent_policy::Arn::parse(id).map(|a| a.account).filter(|a| a != caller.account());
                let as_caller = match owner {
                    Some(acct) => Caller::new(Principal::root(&acct), caller.region.clone()),
                    None => caller.clone(),
                };
                let alias = if id.starts_with("alias/") {
                    Some(id.to_string())
                } else {
                    trent_policy::Arn::parse(id).map(|a| a.resource).filter(|r| r.starts_with("alias/"))
                };
                (self.resolve(&mut *tx, &as_caller, id, true).ok()?, alias)
            }
            None => {
                let parsed = trent_crypto::blob::parse(blob?).ok()?;
                let owner = tx.get(T_OWNER, &format!("{}/{}", caller.region, parsed.key_id)).ok()??;
                let account = String::from_utf8(owner).ok()?;
                (KeyRef { account, region: caller.region.clone(), key_id: parsed.key_id.to_string() }, None)
            }
        };
        let rec = self.load(&mut *tx, &r).ok()?;
        let grants = self.grants_of(&mut *tx, &r).ok()?;
        let prefix = format!("{}/{}/", r.account, r.region);
        let aliases = tx
            .scan(T_ALIAS, &prefix, None, 1000)
            .ok()?
            .into_iter()
            .filter_map(|(k, v)| {
                let a: crate::model::AliasRecord = serde_json::from_slice(&v).ok()?;
                (a.target_key_id == rec.key_id).then(|| k[prefix.len()..].to_string())
            })
            .collect();
        Some(KeyFacts {
            action,
            key_arn: rec.arn(),
            key_account: rec.account_id.clone(),
            policy: rec.policy.clone(),
            key_spec: rec.key_spec.clone(),
            key_usage: rec.key_usage.clone(),
            key_origin: rec.origin.clone(),
            aliases,
            request_alias,
            grants,
            key_manager: rec.key_manager.clone(),
        })
    }

    /// For a caller served through a service ([`Caller::through`]), asks the service authorizer
    /// whether it may use `rec` for `action` through that service. A caller acting directly
    /// (background work) is not checked here.
    pub(crate) fn authorize_service_use(
        &self,
        caller: &Caller,
        rec: &crate::model::KeyRecord,
        action: &str,
        ctx: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), KmsError> {
        let Some(service_use) = caller.service_use() else { return Ok(()) };
        let grants = {
            let mut tx = self.store().read()?;
            let r = KeyRef { account: rec.account_id.clone(), region: rec.region.clone(), key_id: rec.key_id.clone() };
            self.grants_of(&mut *tx, &r)?
        };
        let facts = KeyFacts {
            action: action.to_string(),
            key_arn: rec.arn(),
            key_account: rec.account_id.clone(),
            policy: rec.policy.clone(),
            key_spec: rec.key_spec.clone(),
            key_usage: rec.key_usage.clone(),
            key_origin: rec.origin.clone(),
            aliases: Vec::new(),
            request_alias: None,
            grants,
            key_manager: rec.key_manager.clone(),
        };
        (service_use.authorizer)(caller, &facts, ctx, &service_use.via)
    }
}

type Wanted = Vec<(String, Option<String>, Option<Vec<u8>>)>;

/// The keys a request names, each with the action it is used for: (action, key id / ARN /
/// alias, ciphertext whose key to use when no id is given). The members are the operation's
/// row in the `operations!` table (`KeyId`, `TargetKeyId`, `AliasName`, ReEncrypt's source and
/// destination); a `CiphertextBlob` member stands in for the first key member when that is
/// absent (Decrypt, ReEncrypt's source). ReEncrypt uses its keys as `kms:ReEncryptFrom` and
/// `kms:ReEncryptTo`; every other operation as its own action.
fn wanted(op: Operation, b: &serde_json::Map<String, serde_json::Value>) -> Wanted {
    let s = |k: &str| b.get(k).and_then(|v| v.as_str());
    let members = op.resource_members();
    let blob = members
        .contains(&"CiphertextBlob")
        .then(|| s("CiphertextBlob").and_then(|v| STANDARD.decode(v).ok()))
        .flatten();
    let actions: &[&str] =
        if op == Operation::ReEncrypt { &["kms:ReEncryptFrom", "kms:ReEncryptTo"] } else { &[op.action()] };
    let mut blob = blob;
    members
        .iter()
        .filter(|m| **m != "CiphertextBlob")
        .enumerate()
        .map(|(i, m)| {
            let action = actions.get(i).copied().unwrap_or(op.action()).to_string();
            (action, s(m).map(str::to_string), if i == 0 { blob.take() } else { None })
        })
        .collect()
}

type Body = serde_json::Map<String, serde_json::Value>;

fn string_map(v: Option<&serde_json::Value>) -> Vec<(String, String)> {
    v.and_then(|v| v.as_object())
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
        .unwrap_or_default()
}

/// The request member holding the encryption context a use of a key for `action` binds.
fn context_member(action: &str) -> &'static str {
    match action {
        "kms:ReEncryptFrom" => "SourceEncryptionContext",
        "kms:ReEncryptTo" => "DestinationEncryptionContext",
        _ => "EncryptionContext",
    }
}

/// The condition keys every KMS request supplies from its body, for `action` (AWS's
/// `kms:CallerAccount`, `kms:EncryptionContext:*`, `kms:EncryptionAlgorithm`, the grant keys …).
fn request_condition_keys(
    mut ctx: trent_policy::RequestContext,
    caller_account: &str,
    action: &str,
    b: &Body,
) -> trent_policy::RequestContext {
    let s = |k: &str| b.get(k).and_then(|v| v.as_str());
    ctx = ctx.with("kms:CallerAccount", caller_account);
    let ec = string_map(b.get(context_member(action)));
    if !ec.is_empty() {
        ctx = ctx.with_encryption_context(ec.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    let alg = match action {
        "kms:ReEncryptFrom" => s("SourceEncryptionAlgorithm"),
        "kms:ReEncryptTo" => s("DestinationEncryptionAlgorithm"),
        _ => s("EncryptionAlgorithm"),
    };
    if let Some(a) = alg {
        ctx = ctx.with("kms:EncryptionAlgorithm", a);
    } else if matches!(action, "kms:Encrypt" | "kms:Decrypt" | "kms:ReEncryptFrom" | "kms:ReEncryptTo") {
        ctx = ctx.with("kms:EncryptionAlgorithm", "SYMMETRIC_DEFAULT");
    }
    if let Some(a) = s("SigningAlgorithm") {
        ctx = ctx.with("kms:SigningAlgorithm", a);
    }
    if let Some(a) = s("MacAlgorithm") {
        ctx = ctx.with("kms:MacAlgorithm", a);
    }
    if let Some(v) = b.get("BypassPolicyLockoutSafetyCheck").and_then(|v| v.as_bool()) {
        ctx = ctx.with("kms:BypassPolicyLockoutSafetyCheck", if v { "true" } else { "false" });
    }
    if action == "kms:CreateGrant" {
        if let Some(ops) = b.get("Operations").and_then(|v| v.as_array()) {
            ctx = ctx.with_values("kms:GrantOperations", ops.iter().filter_map(|o| o.as_str()));
        }
        if let Some(p) = s("GranteePrincipal") {
            ctx = ctx.with("kms:GranteePrincipal", p);
        }
        if let Some(p) = s("RetiringPrincipal") {
            ctx = ctx.with("kms:RetiringPrincipal", p);
        }
        if let Some(c) = b.get("Constraints").and_then(|v| v.as_object()) {
            ctx = ctx.with_values("kms:GrantConstraintType", c.keys().map(String::as_str));
        }
        ctx = ctx.with("kms:GrantIsForAWSResource", "false");
    }
    if let Some(v) = b.get("GrantTokens").and_then(|v| v.as_array()) {
        ctx = ctx.with_values("kms:GrantTokens", v.iter().filter_map(|t| t.as_str()));
    }
    ctx
}

/// An account-level KMS request (no key named: CreateKey, ListKeys, …): its condition keys,
/// CreateKey's `kms:KeySpec`, `kms:KeyUsage`, `kms:KeyOrigin`, `kms:MultiRegion` included.
pub fn account_condition_keys(
    ctx: trent_policy::RequestContext,
    caller_account: &str,
    op: Operation,
    action: &str,
    b: &Body,
) -> trent_policy::RequestContext {
    let s = |k: &str| b.get(k).and_then(|v| v.as_str());
    let mut ctx = request_condition_keys(ctx, caller_account, action, b);
    if op == Operation::CreateKey {
        ctx = ctx
            .with("kms:KeySpec", s("KeySpec").or(s("CustomerMasterKeySpec")).unwrap_or("SYMMETRIC_DEFAULT"))
            .with("kms:KeyUsage", s("KeyUsage").unwrap_or("ENCRYPT_DECRYPT"))
            .with("kms:KeyOrigin", s("Origin").unwrap_or("AWS_KMS"))
            .with(
                "kms:MultiRegion",
                if b.get("MultiRegion") == Some(&serde_json::Value::Bool(true)) { "true" } else { "false" },
            );
    }
    ctx
}

/// One use of a key (`f`): the request's condition keys and the key's own (`kms:KeySpec`,
/// `kms:KeyUsage`, `kms:KeyOrigin`, `kms:ResourceAliases`, `kms:RequestAlias`).
pub fn key_condition_keys(
    ctx: trent_policy::RequestContext,
    caller_account: &str,
    f: &KeyFacts,
    b: &Body,
) -> trent_policy::RequestContext {
    let mut ctx = request_condition_keys(ctx, caller_account, &f.action, b)
        .with("kms:KeySpec", &f.key_spec)
        .with("kms:KeyUsage", &f.key_usage)
        .with("kms:KeyOrigin", &f.key_origin)
        .with_values("kms:ResourceAliases", f.aliases.iter().map(String::as_str));
    if let Some(a) = &f.request_alias {
        ctx = ctx.with("kms:RequestAlias", a);
    }
    ctx
}

/// Whether one of the key's grants allows this use to the request's principal (its ARN, or
/// its role's), within the grant's encryption-context constraints.
pub fn grant_allows(ctx: &trent_policy::RequestContext, f: &KeyFacts, b: &Body) -> bool {
    let op = f.action.trim_start_matches("kms:");
    let arns: Vec<&str> =
        [Some(ctx.principal.arn.as_str()), ctx.principal.role_arn.as_deref()].into_iter().flatten().collect();
    let ec: std::collections::BTreeMap<String, String> =
        string_map(b.get(context_member(&f.action))).into_iter().collect();
    f.grants.iter().any(|g| g.allows(&arns, op, &ec))
}

#[cfg(test)]
mod wanted_tests {
    use super::*;

    fn of(op: Operation, json: &str) -> Vec<(String, Option<String>, bool)> {
        let b = serde_json::from_str(json).unwrap();
        wanted(op, &b).into_iter().map(|(a, id, blob)| (a, id, blob.is_some())).collect()
    }

    #[test]
    fn the_table_rows_name_the_keys_each_operation_uses() {
        let k = |a: &str, id: Option<&str>, blob: bool| (a.to_string(), id.map(str::to_string), blob);
        assert_eq!(of(Operation::Encrypt, r#"{"KeyId":"k1"}"#), vec![k("kms:Encrypt", Some("k1"), false)]);
        assert_eq!(of(Operation::Decrypt, r#"{"CiphertextBlob":"AAAA"}"#), vec![k("kms:Decrypt", None, true)]);
        assert_eq!(
            of(Operation::ReEncrypt, r#"{"CiphertextBlob":"AAAA","DestinationKeyId":"k2"}"#),
            vec![k("kms:ReEncryptFrom", None, true), k("kms:ReEncryptTo", Some("k2"), false)]
        );
        assert_eq!(
            of(Operation::CreateAlias, r#"{"TargetKeyId":"k3"}"#),
            vec![k("kms:CreateAlias", Some("k3"), false)]
        );
        assert_eq!(
            of(Operation::DeleteAlias, r#"{"AliasName":"alias/a"}"#),
            vec![k("kms:DeleteAlias", Some("alias/a"), false)]
        );
        // Account-level operations name no key; RetireGrant is decided by the grant itself.
        assert!(of(Operation::CreateKey, r#"{"KeyId":"k"}"#).is_empty());
        assert!(of(Operation::RetireGrant, r#"{"KeyId":"k"}"#).is_empty());
    }
}
