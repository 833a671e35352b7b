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
mod error;
pub mod grants;
mod keys;
pub mod model;
pub mod ops;
mod service_api;

pub use error::KmsError;
pub use keys::KeyRef;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use trent_crypto::aead::Aes256Gcm;
use trent_crypto::RootKey;
use trent_policy::Principal;
use trent_store::Store;

/// Who is calling, and in which region (from the verified SigV4 scope).
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub region: String,
}

impl Caller {
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
    /// Checks SSM's and Secrets Manager's use of a key for their caller (kms:ViaService).
    service_authorizer: std::sync::OnceLock<Arc<authz::ServiceAuthorizer>>,
}

/// Hits and misses of the unwrapped-material cache, for metrics.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub hits: std::sync::atomic::AtomicU64,
    pub misses: std::sync::atomic::AtomicU64,
}

const MATERIAL_CACHE_MAX: usize = 10_000;

trent_wire::operations!(Kms, Caller, KmsError, {
    CancelKeyDeletion => cancel_key_deletion,
    CreateAlias => create_alias,
    CreateGrant => create_grant,
    CreateKey => create_key,
    Decapsulate => decapsulate,
    Decrypt => decrypt,
    DeleteAlias => delete_alias,
    DeleteImportedKeyMaterial => delete_imported_key_material,
    DeriveSharedSecret => derive_shared_secret,
    DescribeKey => describe_key,
    DisableKey => disable_key,
    DisableKeyRotation => disable_key_rotation,
    EnableKey => enable_key,
    EnableKeyRotation => enable_key_rotation,
    Encapsulate => encapsulate,
    Encrypt => encrypt,
    GenerateDataKey => generate_data_key,
    GenerateDataKeyPair => generate_data_key_pair,
    GenerateDataKeyPairWithoutPlaintext => generate_data_key_pair_without_plaintext,
    GenerateDataKeyWithoutPlaintext => generate_data_key_without_plaintext,
    GenerateMac => generate_mac,
    GenerateRandom => generate_random,
    GetKeyPolicy => get_key_policy,
    GetKeyRotationStatus => get_key_rotation_status,
    GetParametersForImport => get_parameters_for_import,
    GetPublicKey => get_public_key,
    ImportKeyMaterial => import_key_material,
    ListAliases => list_aliases,
    ListGrants => list_grants,
    ListKeyPolicies => list_key_policies,
    ListKeyRotations => list_key_rotations,
    ListKeys => list_keys,
    ListResourceTags => list_resource_tags,
    ListRetirableGrants => list_retirable_grants,
    PutKeyPolicy => put_key_policy,
    ReEncrypt => re_encrypt,
    ReplicateKey => replicate_key,
    RetireGrant => retire_grant,
    RevokeGrant => revoke_grant,
    RotateKeyOnDemand => rotate_key_on_demand,
    ScheduleKeyDeletion => schedule_key_deletion,
    Sign => sign,
    TagResource => tag_resource,
    UntagResource => untag_resource,
    UpdateAlias => update_alias,
    UpdateKeyDescription => update_key_description,
    UpdatePrimaryRegion => update_primary_region,
    Verify => verify,
    VerifyMac => verify_mac,
});

impl Kms {
    pub fn new(store: Arc<dyn Store>, root: Arc<RootKey>, clock: Arc<Clock>) -> Self {
        Kms {
            store,
            root,
            clock,
            materials: Mutex::new(HashMap::new()),
            cache_stats: CacheStats::default(),
            service_authorizer: std::sync::OnceLock::new(),
        }
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
