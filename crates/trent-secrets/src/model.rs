//! What Secrets Manager keeps: one `SecretRecord` per secret (table `sm_secret`,
//! `<account>/<region>/<name>`) with every version's staging labels, and each version's value
//! only as KMS ciphertext (table `sm_value`, `<account>/<region>/<name>#<version id>`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const AWSCURRENT: &str = "AWSCURRENT";
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";
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
}

impl SecretRecord {
    pub fn version_with_stage(&self, stage: &str) -> Option<&str> {
        self.versions.iter().find(|(_, m)| m.stages.iter().any(|s| s == stage)).map(|(id, _)| id.as_str())
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
