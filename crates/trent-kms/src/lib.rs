//! Trent's KMS: the symmetric-key API of AWS KMS over real AES-256-GCM.
//!
//! * One file per operation under [`ops`], named after the AWS operation in snake_case
//!   (`ops/generate_data_key.rs` handles `GenerateDataKey`). Each has a `Request`, a
//!   `Response` and `handle(&Kms, &Caller, Request)`.
//! * [`Operation`] is the single list of operations; [`Kms::dispatch`] decodes the awsJson
//!   body, runs the handler and encodes the answer.
//! * [`KmsError`] names every AWS exception KMS returns.
//! * SSM and Secrets Manager call the same handlers in-process, as the real services call KMS.
#![forbid(unsafe_code)]

pub mod authz;
mod checks;
pub mod custom_key_stores;
mod error;
pub mod grants;
pub mod hsm;
mod keys;
pub mod model;
pub mod ops;
mod service_api;
pub mod xks_api;

pub use error::KmsError;
pub use keys::KeyRef;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use trent_crypto::aead::Aes256Gcm;
use trent_crypto::RootKey;
use trent_policy::Principal;
use trent_store::Store;

/// Who is calling, and in which region (from the verified SigV4 scope) — and, explicitly, how:
/// whether the request is served through another service (SSM, Secrets Manager), whose uses of
/// a key are then checked for this caller with `kms:ViaService`, and whether policy evaluation
/// allowed it to use another account's key. No thread-local or other ambient state decides
/// either: the call context travels with the caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub region: String,
    via: Option<Arc<authz::ServiceUse>>,
    cross_account: bool,
}

impl Caller {
    /// A caller acting directly (a KMS request, or a service's own background work).
    pub fn new(principal: Principal, region: String) -> Self {
        Caller { principal, region, via: None, cross_account: false }
    }

    /// The same caller, served through another service: its key uses are checked by
    /// `authorizer` as made through `via.service` (`ssm.us-east-1.amazonaws.com`).
    pub fn through(&self, via: authz::ViaContext, authorizer: Arc<authz::ServiceAuthorizer>) -> Self {
        Caller { via: Some(Arc::new(authz::ServiceUse { via, authorizer })), ..self.clone() }
    }

    /// Served through `service` instead, same connection facts and check (Parameter Store
    /// reading a Secrets Manager secret: Secrets Manager decrypts it, so `kms:ViaService` is
    /// its). A caller not served through a service is returned unchanged.
    pub fn through_service(&self, service: String) -> Self {
        match &self.via {
            Some(u) => self.through(authz::ViaContext { service, ..u.via.clone() }, u.authorizer.clone()),
            None => self.clone(),
        }
    }

    /// The service this caller is served through, if any.
    pub fn via(&self) -> Option<&authz::ViaContext> {
        self.via.as_deref().map(|u| &u.via)
    }

    pub(crate) fn service_use(&self) -> Option<&authz::ServiceUse> {
        self.via.as_deref()
    }

    /// The same caller (and call context) in another region.
    pub fn in_region(&self, region: &str) -> Self {
        Caller { region: region.to_string(), ..self.clone() }
    }

    /// The same caller, allowed to resolve other accounts' keys by ARN: only for a request
    /// whose key policy and identity policies both allowed it.
    pub fn with_cross_account(&self) -> Self {
        Caller { cross_account: true, ..self.clone() }
    }

    pub(crate) fn cross_account_allowed(&self) -> bool {
        self.cross_account
    }

    pub fn account(&self) -> &str {
        &self.principal.account_id
    }
    pub fn partition(&self) -> &'static str {
        trent_policy::partition_for_region(&self.region)
    }
}

/// The business clock: deletion dates and creation dates read it. Tests may move it forward
/// (`advance`); SigV4 never reads it, it uses the real clock.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn now_ms(&self) -> i64 {
        let real = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        real as i64 + self.offset_ms.load(Ordering::Relaxed)
    }
    pub fn advance(&self, seconds: i64) {
        self.offset_ms.fetch_add(seconds.saturating_mul(1000), Ordering::Relaxed);
    }
    /// How far the clock has been moved, in milliseconds.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }
    pub fn set_offset_ms(&self, ms: i64) {
        self.offset_ms.store(ms, Ordering::Relaxed);
    }
}

type MaterialCache = HashMap<(String, String), Arc<Aes256Gcm>>;

pub struct Kms {
    store: Arc<dyn Store>,
    root: Arc<RootKey>,
    pub clock: Arc<Clock>,
    /// Unwrapped material by (key id, material id). Material never changes under a given id,
    /// so entries need no invalidation; deletion evicts them.
    materials: Mutex<MaterialCache>,
    cache_stats: CacheStats,
    /// Parsed key records by store key, with the bytes they were parsed from: a record read
    /// again unchanged (the store's read cache hands back the same bytes) is not parsed again.
    records: Mutex<HashMap<String, (Vec<u8>, model::KeyRecord)>>,
    /// PKCS#11 clusters and the connections of custom key stores.
    pub(crate) hsm: hsm::Hsm,
}

/// Hits and misses of the unwrapped-material cache, for metrics.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub hits: std::sync::atomic::AtomicU64,
    pub misses: std::sync::atomic::AtomicU64,
}

const MATERIAL_CACHE_MAX: usize = 10_000;

trent_wire::operations!(Kms, Caller, KmsError, "kms", {
    // Operation => module (audit class, quota, request members naming its resources)
    CancelKeyDeletion => cancel_key_deletion (Write, Quota::Own(5.0), ["KeyId"]),
    ConnectCustomKeyStore => connect_custom_key_store (Write, Quota::Own(5.0), []),
    CreateAlias => create_alias (Write, Quota::Own(5.0), ["TargetKeyId"]),
    CreateCustomKeyStore => create_custom_key_store (Write, Quota::Own(5.0), []),
    CreateGrant => create_grant (Write, Quota::Own(50.0), ["KeyId"]),
    CreateKey => create_key (Write, Quota::Own(5.0), []),
    Decapsulate => decapsulate (Data, Quota::KmsEcc, ["KeyId"]),
    Decrypt => decrypt (Data, Quota::KmsEncryption, ["KeyId", "CiphertextBlob"]),
    DeleteAlias => delete_alias (Write, Quota::Own(15.0), ["AliasName"]),
    DeleteCustomKeyStore => delete_custom_key_store (Write, Quota::Own(5.0), []),
    DeleteImportedKeyMaterial => delete_imported_key_material (Write, Quota::Own(15.0), ["KeyId"]),
    DeriveSharedSecret => derive_shared_secret (Data, Quota::KmsEcc, ["KeyId"]),
    DescribeCustomKeyStores => describe_custom_key_stores (Read, Quota::Own(5.0), []),
    DescribeKey => describe_key (Read, Quota::Own(2000.0), ["KeyId"]),
    DisconnectCustomKeyStore => disconnect_custom_key_store (Write, Quota::Own(5.0), []),
    DisableKey => disable_key (Write, Quota::Own(5.0), ["KeyId"]),
    DisableKeyRotation => disable_key_rotation (Write, Quota::Own(5.0), ["KeyId"]),
    EnableKey => enable_key (Write, Quota::Own(5.0), ["KeyId"]),
    EnableKeyRotation => enable_key_rotation (Write, Quota::Own(5.0), ["KeyId"]),
    Encapsulate => encapsulate (Data, Quota::KmsEcc, ["KeyId"]),
    Encrypt => encrypt (Data, Quota::KmsEncryption, ["KeyId"]),
    GenerateDataKey => generate_data_key (Data, Quota::KmsSymmetric, ["KeyId"]),
    GenerateDataKeyPair => generate_data_key_pair (Data, Quota::KmsDataKeyPair, ["KeyId"]),
    GenerateDataKeyPairWithoutPlaintext => generate_data_key_pair_without_plaintext (Data, Quota::KmsDataKeyPair, ["KeyId"]),
    GenerateDataKeyWithoutPlaintext => generate_data_key_without_plaintext (Data, Quota::KmsSymmetric, ["KeyId"]),
    GenerateMac => generate_mac (Data, Quota::KmsSymmetric, ["KeyId"]),
    GenerateRandom => generate_random (Data, Quota::KmsSymmetric, []),
    GetKeyPolicy => get_key_policy (Read, Quota::Own(1000.0), ["KeyId"]),
    GetKeyRotationStatus => get_key_rotation_status (Read, Quota::Own(1000.0), ["KeyId"]),
    GetParametersForImport => get_parameters_for_import (ReadWithIntent, Quota::Own(0.25), ["KeyId"]),
    GetPublicKey => get_public_key (Read, Quota::Own(2000.0), ["KeyId"]),
    ImportKeyMaterial => import_key_material (Write, Quota::Own(5.0), ["KeyId"]),
    ListAliases => list_aliases (Read, Quota::Own(500.0), ["KeyId"]),
    ListGrants => list_grants (Read, Quota::Own(100.0), ["KeyId"]),
    ListKeyPolicies => list_key_policies (Read, Quota::Own(100.0), ["KeyId"]),
    ListKeyRotations => list_key_rotations (Read, Quota::Own(100.0), ["KeyId"]),
    ListKeys => list_keys (Read, Quota::Own(500.0), []),
    ListResourceTags => list_resource_tags (Read, Quota::Own(2000.0), ["KeyId"]),
    ListRetirableGrants => list_retirable_grants (Read, Quota::Own(100.0), []),
    PutKeyPolicy => put_key_policy (Write, Quota::Own(15.0), ["KeyId"]),
    ReEncrypt => re_encrypt (Data, Quota::KmsEncryption, ["SourceKeyId", "CiphertextBlob", "DestinationKeyId"]),
    ReplicateKey => replicate_key (Write, Quota::Own(5.0), ["KeyId"]),
    RetireGrant => retire_grant (Write, Quota::Own(30.0), []),
    RevokeGrant => revoke_grant (Write, Quota::Own(30.0), ["KeyId"]),
    RotateKeyOnDemand => rotate_key_on_demand (Write, Quota::Own(5.0), ["KeyId"]),
    ScheduleKeyDeletion => schedule_key_deletion (Write, Quota::Own(15.0), ["KeyId"]),
    Sign => sign (Data, Quota::KmsSigning, ["KeyId"]),
    TagResource => tag_resource (Write, Quota::Own(10.0), ["KeyId"]),
    UntagResource => untag_resource (Write, Quota::Own(5.0), ["KeyId"]),
    UpdateAlias => update_alias (Write, Quota::Own(5.0), ["TargetKeyId"]),
    UpdateCustomKeyStore => update_custom_key_store (Write, Quota::Own(5.0), []),
    UpdateKeyDescription => update_key_description (Write, Quota::Own(5.0), ["KeyId"]),
    UpdatePrimaryRegion => update_primary_region (Write, Quota::Own(5.0), ["KeyId"]),
    Verify => verify (Data, Quota::KmsSigning, ["KeyId"]),
    VerifyMac => verify_mac (Data, Quota::KmsSymmetric, ["KeyId"]),
});

impl Kms {
    pub fn new(store: Arc<dyn Store>, root: Arc<RootKey>, clock: Arc<Clock>) -> Self {
        Kms {
            store,
            root,
            clock,
            materials: Mutex::new(HashMap::new()),
            cache_stats: CacheStats::default(),
            records: Mutex::new(HashMap::new()),
            hsm: hsm::Hsm::default(),
        }
    }

    /// The PKCS#11 clusters custom key stores may use (`--pkcs11-cluster`).
    pub fn with_pkcs11_clusters(mut self, clusters: Vec<hsm::ClusterSpec>) -> Self {
        self.hsm = hsm::Hsm::new(clusters);
        self
    }

    /// Destroys every key whose deletion date has passed: its record, its wrapped material,
    /// its aliases and any cached unwrapped material. Returns how many keys were deleted.
    pub fn sweep_deletions(&self) -> Result<usize, KmsError> {
        keys::sweep_deletions(self)
    }

    /// Deletes imported key material past its ValidTo. Returns how many keys lost material.
    pub fn sweep_material_expiry(&self) -> Result<usize, KmsError> {
        keys::sweep_material_expiry(self)
    }

    /// Whether the store answers a read (for readiness checks).
    /// (hits, misses) of the unwrapped key-material cache since start.
    pub fn key_cache_stats(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.cache_stats.hits.load(Relaxed), self.cache_stats.misses.load(Relaxed))
    }

    pub fn store_ready(&self) -> bool {
        self.store.read().and_then(|mut t| t.get("meta", "root_check")).is_ok()
    }

    /// Rotates every key whose automatic rotation is due. Returns how many were rotated.
    pub fn sweep_rotations(&self) -> Result<usize, KmsError> {
        keys::sweep_rotations(self)
    }
}

#[cfg(test)]
mod tests;
