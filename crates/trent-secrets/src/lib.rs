//! Trent's Secrets Manager: versioned secrets with staging labels (AWSCURRENT, AWSPREVIOUS,
//! AWSPENDING, custom), every value stored only as a KMS ciphertext made through Trent's KMS
//! in-process, under the key the caller names or the account's `alias/aws/secretsmanager`,
//! with the encryption context `{"SecretARN", "SecretVersionId"}`.
//!
//! One file per operation under [`ops`]; [`Operation`] is the single list. Shared logic lives
//! in `secrets.rs`; rotation (schedules, the four-step engine, the `Rotator` trait) in
//! [`rotation`]; replication to other regions in `replication.rs`; resource-based policies in
//! `policy.rs` (the server's authorizer reads them with [`SecretsManager::resource_policy`]).
#![forbid(unsafe_code)]

mod error;
pub mod model;
pub mod ops;
mod policy;
mod replication;
pub mod rotation;
mod secrets;

pub use error::SmError;

use std::sync::Arc;
use trent_kms::{Caller, Clock, Kms};
use trent_store::Store;

/// One secret an operation is about to return, as the server's authorizer sees it.
pub struct SecretAccess<'a> {
    /// The permission reading it needs: `secretsmanager:GetSecretValue`.
    pub action: &'static str,
    /// The secret's ARN, or the ARN a secret of that name would have when none exists.
    pub secret_arn: &'a str,
    /// The secret's resource policy (PutResourcePolicy's JSON), if it has one.
    pub resource_policy: Option<&'a str>,
}

/// Decides, per secret, whether the caller may read it (`Err` is reported for that secret).
/// The server builds one for each request (it knows the caller's identity policies and the
/// connection's condition keys) and passes it to [`SecretsManager::dispatch_authorized`].
pub type SecretAuthorizer<'a> = dyn Fn(&Caller, &SecretAccess<'_>) -> Result<(), SmError> + 'a;

/// The authorizer of plain [`SecretsManager::dispatch`]: there is none, so nothing is readable
/// through operations that need a per-secret check (fail closed).
pub(crate) fn no_authorizer(_: &Caller, a: &SecretAccess<'_>) -> Result<(), SmError> {
    Err(SmError::Wire(trent_wire::WireError::AccessDenied(format!(
        "not authorized to perform: {} on resource: {}",
        a.action, a.secret_arn
    ))))
}

pub struct SecretsManager {
    store: Arc<dyn Store>,
    kms: Arc<Kms>,
    clock: Arc<Clock>,
    rotator: Arc<dyn rotation::Rotator>,
    in_progress: rotation::InProgress,
}

trent_wire::operations!(SecretsManager, Caller, SmError, "secretsmanager", {
    // Operation => module (audit class, quota, request members naming its resources)
    BatchGetSecretValue => batch_get_secret_value (Read, Quota::Own(100.0), ["SecretIdList"]),
    CancelRotateSecret => cancel_rotate_secret (Write, Quota::Own(50.0), ["SecretId"]),
    CreateSecret => create_secret (Write, Quota::Own(50.0), ["Name"]),
    DeleteResourcePolicy => delete_resource_policy (Write, Quota::Own(50.0), ["SecretId"]),
    DeleteSecret => delete_secret (Write, Quota::Own(50.0), ["SecretId"]),
    DescribeSecret => describe_secret (Read, Quota::Shared("secretsmanager:GetSecretValue", 10_000.0), ["SecretId"]),
    GetRandomPassword => get_random_password (Read, Quota::Own(50.0), []),
    GetResourcePolicy => get_resource_policy (Read, Quota::Own(50.0), ["SecretId"]),
    GetSecretValue => get_secret_value (Read, Quota::Shared("secretsmanager:GetSecretValue", 10_000.0), ["SecretId"]),
    ListSecretVersionIds => list_secret_version_ids (Read, Quota::Own(100.0), ["SecretId"]),
    ListSecrets => list_secrets (Read, Quota::Own(100.0), []),
    PutResourcePolicy => put_resource_policy (Write, Quota::Own(50.0), ["SecretId"]),
    PutSecretValue => put_secret_value (Write, Quota::Own(50.0), ["SecretId"]),
    RemoveRegionsFromReplication => remove_regions_from_replication (Write, Quota::Own(50.0), ["SecretId"]),
    ReplicateSecretToRegions => replicate_secret_to_regions (Write, Quota::Own(50.0), ["SecretId"]),
    RestoreSecret => restore_secret (Write, Quota::Own(50.0), ["SecretId"]),
    RotateSecret => rotate_secret (Write, Quota::Own(50.0), ["SecretId"]),
    StopReplicationToReplica => stop_replication_to_replica (Write, Quota::Own(50.0), ["SecretId"]),
    TagResource => tag_resource (Write, Quota::Own(50.0), ["SecretId"]),
    UntagResource => untag_resource (Write, Quota::Own(50.0), ["SecretId"]),
    UpdateSecret => update_secret (Write, Quota::Own(50.0), ["SecretId"]),
    UpdateSecretVersionStage => update_secret_version_stage (Write, Quota::Own(50.0), ["SecretId"]),
    ValidateResourcePolicy => validate_resource_policy (Data, Quota::Own(50.0), ["SecretId"]),
});

impl SecretsManager {
    /// [`dispatch`](Self::dispatch), with `authorize` deciding for each secret that an operation
    /// returns from several (BatchGetSecretValue) whether the caller may read it.
    pub fn dispatch_authorized(
        &self,
        op: Operation,
        caller: &Caller,
        body: &[u8],
        authorize: &SecretAuthorizer<'_>,
    ) -> Result<Vec<u8>, SmError> {
        match op {
            Operation::BatchGetSecretValue => {
                let req = trent_wire::json::decode(body)?;
                let resp = ops::batch_get_secret_value::handle_with(self, caller, req, authorize)?;
                trent_wire::json::encode(&resp).map_err(SmError::from)
            }
            _ => self.dispatch(op, caller, body),
        }
    }

    pub fn new(store: Arc<dyn Store>, kms: Arc<Kms>, clock: Arc<Clock>) -> Self {
        SecretsManager { store, kms, clock, rotator: Arc::new(rotation::GenericOnly), in_progress: Default::default() }
    }

    /// A secret's current version (or the one a staging label or version id names), for
    /// Parameter Store's `/aws/reference/secretsmanager/` names: (value, version id, ARN,
    /// created ms, DescribeSecret JSON). `Ok(None)` if the secret or version does not exist.
    #[allow(clippy::type_complexity)]
    pub fn reference(
        &self,
        caller: &Caller,
        secret_id: &str,
        selector: Option<&str>,
    ) -> Result<Option<(zeroize::Zeroizing<String>, String, String, i64, String)>, SmError> {
        let rec = {
            let mut tx = self.store.read()?;
            match self.find(&mut *tx, caller, secret_id) {
                Ok(r) => r,
                Err(SmError::ResourceNotFound(_)) => return Ok(None),
                Err(e) => return Err(e),
            }
        };
        let (version, stage) = match selector {
            Some(s) if rec.versions.contains_key(s) => (Some(s), None),
            other => (None, other),
        };
        let v = match ops::get_secret_value::read_value(self, caller, &rec, version, stage) {
            Ok(v) => v,
            Err(SmError::ResourceNotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let value = match (v.secret_string, v.secret_binary) {
            (Some(s), _) => s,
            (None, Some(b)) => zeroize::Zeroizing::new(trent_wire::json::base64_encode(&b)),
            (None, None) => return Ok(None),
        };
        let created_ms = rec.versions.get(&v.version_id).map(|m| m.created_ms).unwrap_or_default();
        let source =
            serde_json::to_string(&ops::describe_secret::describe(&rec, &caller.region)).map_err(SmError::internal)?;
        Ok(Some((value, v.version_id, v.arn, created_ms, source)))
    }

    /// The resource-based policy attached to a secret, for the server's authorizer: the secret's
    /// ARN and the policy JSON as stored with PutResourcePolicy. `Ok(None)` when the secret has no
    /// policy or does not exist (in the caller's account and region) — the operation itself then
    /// answers ResourceNotFoundException. Works on replicas too (they carry the primary's policy).
    pub fn resource_policy(&self, caller: &Caller, secret_id: &str) -> Result<Option<(String, String)>, SmError> {
        let mut tx = self.store.read()?;
        match self.find(&mut *tx, caller, secret_id) {
            Ok(rec) => Ok(rec.resource_policy.map(|p| (rec.arn, p))),
            Err(SmError::ResourceNotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Destroys secrets whose recovery window has ended. Returns how many were destroyed.
    pub fn sweep_deletions(&self) -> Result<usize, SmError> {
        ops::delete_secret::sweep(self)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod rotation_tests;

#[cfg(test)]
mod replication_tests;
