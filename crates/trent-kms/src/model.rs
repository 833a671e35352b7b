//! What KMS stores, and the KeyMetadata it returns.

use serde::{Deserialize, Serialize};
use trent_wire::generated::kms::CustomerMasterKeySpec;

pub const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";
pub const ENCRYPT_DECRYPT: &str = "ENCRYPT_DECRYPT";

pub const SIGN_VERIFY: &str = "SIGN_VERIFY";
pub const GENERATE_VERIFY_MAC: &str = "GENERATE_VERIFY_MAC";
pub const KEY_AGREEMENT: &str = "KEY_AGREEMENT";
pub const ENCAPSULATE_DECAPSULATE: &str = "ENCAPSULATE_DECAPSULATE";
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
    /// Origin EXTERNAL, with no key material imported (yet, or any more).
    PendingImport,
    /// A multi-Region primary scheduled for deletion while it still has replicas.
    PendingReplicaDeletion,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
            KeyState::PendingImport => "PendingImport",
            KeyState::PendingReplicaDeletion => "PendingReplicaDeletion",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub tag_key: String,
    pub tag_value: String,
}

/// One version of a key's material, wrapped under the root key (bound to key id + material id).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Material {
    /// 64 lowercase hex digits (`KeyMaterialId` on the wire); its raw bytes are in every blob.
    pub id: String,
    /// base64 of the root-key-wrapped material.
    pub wrapped: String,
    pub created_ms: i64,
    /// AUTOMATIC or ON_DEMAND for material made by a rotation; None for the original.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_type: Option<String>,
}

/// A KMS key as stored (table `kms_key`, key `<account>/<region>/<key id>`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    pub key_id: String,
    pub account_id: String,
    pub region: String,
    pub created_ms: i64,
    pub description: String,
    pub key_usage: String,
    pub key_spec: String,
    pub origin: String,
    pub key_manager: String,
    pub state: KeyState,
    pub deletion_ms: Option<i64>,
    pub pending_window_days: Option<i64>,
    pub multi_region: bool,
    pub policy: String,
    pub tags: Vec<Tag>,
    pub materials: Vec<Material>,
    pub current_material: String,
    /// base64 of the DER SubjectPublicKeyInfo, for asymmetric keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// Automatic rotation: the period, and when the next rotation is due (None when disabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_period_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_rotation_ms: Option<i64>,
    #[serde(default)]
    pub on_demand_rotations: u32,
    /// Imported material (origin EXTERNAL): its expiry model and date, and the id of the
    /// material this key was first given (a reimport must be the same material).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_material_id: Option<String>,
    /// Origin AWS_CLOUDHSM: the custom key store and cluster whose token holds the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_key_store_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_hsm_cluster_id: Option<String>,
}

impl KeyRecord {
    pub fn arn(&self) -> String {
        key_arn(&self.region, &self.account_id, &self.key_id)
    }

    /// The asymmetric/HMAC spec, or None for SYMMETRIC_DEFAULT.
    pub fn spec(&self) -> Option<trent_crypto::asym::Spec> {
        trent_crypto::asym::Spec::from_name(&self.key_spec)
    }

    pub fn metadata(&self) -> KeyMetadata {
        self.metadata_with(None)
    }

    /// KeyMetadata, with the multi-Region configuration when the key is multi-Region.
    pub fn metadata_with(&self, mrk: Option<&MrkRecord>) -> KeyMetadata {
        let symmetric = self.key_spec == SYMMETRIC_DEFAULT;
        let algs = Algorithms::of(self);
        KeyMetadata {
            aws_account_id: self.account_id.clone(),
            key_id: self.key_id.clone(),
            arn: self.arn(),
            creation_date: ms_to_epoch(self.created_ms),
            enabled: self.state == KeyState::Enabled,
            description: self.description.clone(),
            key_usage: self.key_usage.clone(),
            key_state: self.state.as_str(),
            deletion_date: self.deletion_ms.map(ms_to_epoch),
            origin: self.origin.clone(),
            key_manager: self.key_manager.clone(),
            customer_master_key_spec: CustomerMasterKeySpec::from_wire(&self.key_spec).map(|_| self.key_spec.clone()),
            key_spec: self.key_spec.clone(),
            algorithms: algs,
            multi_region: self.multi_region,
            current_key_material_id: (symmetric && !self.materials.is_empty()).then(|| self.current_material.clone()),
            custom_key_store_id: self.custom_key_store_id.clone(),
            cloud_hsm_cluster_id: self.cloud_hsm_cluster_id.clone(),
            expiration_model: self.expiration_model.clone(),
            valid_to: self.valid_to_ms.map(ms_to_epoch),
            pending_deletion_window_in_days: (self.state == KeyState::PendingReplicaDeletion)
                .then_some(self.pending_window_days)
                .flatten(),
            multi_region_configuration: mrk.map(|m| {
                let entry = |region: &str| MultiRegionKey {
                    arn: key_arn(region, &self.account_id, &self.key_id),
                    region: region.to_string(),
                };
                MultiRegionConfiguration {
                    multi_region_key_type: if m.primary_region == self.region { "PRIMARY" } else { "REPLICA" },
                    primary_key: entry(&m.primary_region),
                    replica_keys: m.replicas.iter().map(|r| entry(r)).collect(),
                }
            }),
        }
    }
}

/// The algorithm lists KMS shows for a key (DescribeKey, GetPublicKey): only the one that fits
/// the key's usage is present.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Algorithms {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_algorithms: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_algorithms: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_agreement_algorithms: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_algorithms: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encapsulation_algorithms: Option<Vec<&'static str>>,
}

impl Algorithms {
    pub fn of(rec: &KeyRecord) -> Self {
        let spec = rec.spec();
        let mut a = Algorithms::default();
        match rec.key_usage.as_str() {
            ENCRYPT_DECRYPT if spec.is_none() => a.encryption_algorithms = Some(vec![SYMMETRIC_DEFAULT]),
            ENCRYPT_DECRYPT => a.encryption_algorithms = Some(vec!["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]),
            SIGN_VERIFY => {
                a.signing_algorithms = spec.map(|s| s.signing_algorithms().iter().map(|alg| alg.name()).collect())
            }
            KEY_AGREEMENT => a.key_agreement_algorithms = Some(vec!["ECDH"]),
            GENERATE_VERIFY_MAC => a.mac_algorithms = spec.and_then(|s| s.mac_algorithm()).map(|m| vec![m]),
            ENCAPSULATE_DECAPSULATE => a.encapsulation_algorithms = Some(vec!["ML_KEM"]),
            _ => {}
        }
        a
    }
}

/// Stored alias (table `kms_alias`, key `<account>/<region>/<alias name>`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AliasRecord {
    pub target_key_id: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// The AWS-managed keys of the services Trent serves that use KMS: their alias and the
/// description AWS gives the key. Referenced as a KeyId, such an alias creates its key on first use.
pub const AWS_MANAGED_ALIASES: &[(&str, &str)] = &[
    ("alias/aws/ssm", "Default key that protects my SSM parameters when no other key is defined"),
    ("alias/aws/secretsmanager", "Default key that protects my Secrets Manager data when no other key is defined"),
];

/// The description of the AWS-managed key `alias` names, if it is one of [`AWS_MANAGED_ALIASES`].
pub fn aws_managed_alias_description(alias: &str) -> Option<&'static str> {
    AWS_MANAGED_ALIASES.iter().find(|(a, _)| *a == alias).map(|(_, d)| *d)
}

pub fn key_arn(region: &str, account: &str, key_id: &str) -> String {
    format!("arn:{}:kms:{region}:{account}:key/{key_id}", trent_policy::partition_for_region(region))
}

pub fn alias_arn(region: &str, account: &str, alias_name: &str) -> String {
    format!("arn:{}:kms:{region}:{account}:{alias_name}", trent_policy::partition_for_region(region))
}

/// Epoch seconds with millisecond precision, as awsJson timestamps are written.
pub fn ms_to_epoch(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata {
    #[serde(rename = "AWSAccountId")]
    pub aws_account_id: String,
    pub key_id: String,
    pub arn: String,
    pub creation_date: f64,
    pub enabled: bool,
    pub description: String,
    pub key_usage: String,
    pub key_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<f64>,
    pub origin: String,
    pub key_manager: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_master_key_spec: Option<String>,
    pub key_spec: String,
    #[serde(flatten)]
    pub algorithms: Algorithms,
    pub multi_region: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_key_material_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_key_store_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_hsm_cluster_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_deletion_window_in_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_region_configuration: Option<MultiRegionConfiguration>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MultiRegionConfiguration {
    pub multi_region_key_type: &'static str,
    pub primary_key: MultiRegionKey,
    pub replica_keys: Vec<MultiRegionKey>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MultiRegionKey {
    pub arn: String,
    pub region: String,
}

/// Which regions hold a multi-Region key (table `kms_mrk`, key `<account>/<key id>`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MrkRecord {
    pub primary_region: String,
    pub replicas: Vec<String>,
}
