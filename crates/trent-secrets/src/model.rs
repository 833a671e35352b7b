//! What Secrets Manager keeps: one `SecretRecord` per secret (table `sm_secret`,
//! `<account>/<region>/<name>`) with every version's staging labels, and each version's value
//! only as KMS ciphertext (table `sm_value`, `<account>/<region>/<name>#<version id>`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const AWSCURRENT: &str = "AWSCURRENT";
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";
pub const AWSPENDING: &str = "AWSPENDING";
pub const MAX_VERSIONS: usize = 100;
pub const MAX_TAGS: usize = 50;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionMeta {
    pub stages: Vec<String>,
    pub created_ms: i64,
    /// ARN of the KMS key the value is encrypted under.
    pub kms_key_arn: String,
    /// Keys of older copies of the value (kept when the secret's key was changed).
    #[serde(default)]
    pub older_key_arns: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretRecord {
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    /// The key the caller chose (as given); None: the account's `alias/aws/secretsmanager`.
    pub kms_key_id: Option<String>,
    pub tags: Vec<Tag>,
    pub created_ms: i64,
    pub changed_ms: i64,
    pub deleted_ms: Option<i64>,
    /// When a secret marked for deletion is destroyed.
    pub deletion_ms: Option<i64>,
    /// Version id → metadata. `order` keeps creation order.
    pub versions: BTreeMap<String, VersionMeta>,
    pub order: Vec<String>,
    /// Rotation configuration and history (absent in records written before rotation existed).
    #[serde(default)]
    pub rotation: RotationState,
    /// On a replica: the region of its primary secret (the replica is read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
    /// On a primary: the regions it is replicated to and how each replica is doing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<Replica>,
    /// The day (00:00 UTC, ms) the secret's value was last read in this region (AWS keeps only
    /// the date). Each region's copy keeps its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_accessed_ms: Option<i64>,
    /// The resource-based policy attached with PutResourcePolicy (JSON text, as given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_policy: Option<String>,
    /// The secret had tags once: DescribeSecret then shows `Tags`, `[]` after the last one is
    /// removed (as AWS does; a secret never tagged has no `Tags`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tagged: bool,
}

pub const IN_SYNC: &str = "InSync";
pub const FAILED: &str = "Failed";
pub const IN_PROGRESS: &str = "InProgress";

/// One replica of a primary secret: its region, the KMS key it is encrypted under there (as the
/// caller gave it; None: that region's `alias/aws/secretsmanager`), and its replication status.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Replica {
    pub region: String,
    pub kms_key_id: Option<String>,
    /// `InSync`, `Failed` or `InProgress`.
    pub status: String,
    pub status_message: Option<String>,
    /// ForceOverwriteReplicaSecret was given: a secret of the same name there is replaced.
    #[serde(default)]
    pub force_overwrite: bool,
}

/// RotateSecret's `RotationRules`, as the caller gave them (and as DescribeSecret shows them).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct RotationRules {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automatically_after_days: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
}

/// A secret's rotation: whether it is on, which function rotates it, its schedule, when it
/// last rotated, when it is next due (the key of its `sm_rotation` index entry), and the last
/// failure (cleared by the next success).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RotationState {
    pub enabled: bool,
    /// `RotationLambdaARN` as given: a Lambda ARN or a bare function name.
    pub lambda_arn: Option<String>,
    pub rules: Option<RotationRules>,
    pub last_rotated_ms: Option<i64>,
    /// When the scheduler runs the next rotation (indexed in `sm_rotation`).
    pub next_ms: Option<i64>,
    pub last_failure: Option<RotationFailure>,
}

/// Why the last rotation failed. Messages never contain secret values.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct RotationFailure {
    pub step: String,
    pub message: String,
    pub version_id: String,
    pub date_ms: i64,
}

impl SecretRecord {
    /// A primary with replicas, or a replica: only these show `PrimaryRegion` (as on AWS).
    pub fn is_replicated(&self) -> bool {
        self.primary_region.is_some() || !self.replicas.is_empty()
    }

    /// Rotation was ever set up (RotateSecret): only then is `RotationEnabled` shown.
    pub fn rotation_configured(&self) -> bool {
        self.rotation.enabled || self.rotation.lambda_arn.is_some() || self.rotation.rules.is_some()
    }

    /// `Tags` as DescribeSecret and ListSecrets show them: absent for a secret never tagged.
    pub fn tags_view(&self) -> Option<Vec<Tag>> {
        (self.tagged || !self.tags.is_empty()).then(|| self.tags.clone())
    }

    pub fn version_with_stage(&self, stage: &str) -> Option<&str> {
        self.versions.iter().find(|(_, m)| m.stages.iter().any(|s| s == stage)).map(|(id, _)| id.as_str())
    }

    /// The version that carries AWSPENDING without AWSCURRENT: a rotation that has not finished.
    pub fn pending_rotation(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|(_, m)| m.stages.iter().any(|s| s == AWSPENDING) && !m.stages.iter().any(|s| s == AWSCURRENT))
            .map(|(id, _)| id.as_str())
    }

    pub fn versions_to_stages(&self) -> BTreeMap<String, Vec<String>> {
        self.versions
            .iter()
            .filter(|(_, m)| !m.stages.is_empty())
            .map(|(id, m)| (id.clone(), m.stages.clone()))
            .collect()
    }
}

/// A stored value: ciphertext of the string or binary, base64.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValueRecord {
    pub binary: bool,
    pub ciphertext: String,
    /// Copies under the keys the secret used before (UpdateSecret with a new KmsKeyId keeps them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub older: Vec<OlderCopy>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OlderCopy {
    pub key_arn: String,
    pub ciphertext: String,
}
