//! What Parameter Store keeps. A parameter's metadata and its current version number live in
//! table `ssm_param` (`<account>/<region>/<name>`); every version's value and attributes in
//! `ssm_version` (`<account>/<region>/<name>#<version, 20 digits>`). SecureString values are
//! stored only as KMS ciphertext (base64).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const TYPES: &[&str] = &["String", "StringList", "SecureString"];
pub const TIERS: &[&str] = &["Standard", "Advanced", "Intelligent-Tiering"];
pub const DATA_TYPES: &[&str] = &["text", "aws:ec2:image", "aws:ssm:integration"];
pub const MAX_VERSIONS: u64 = 100;
pub const MAX_LABELS_PER_VERSION: usize = 10;
pub const MAX_TAGS: usize = 50;
pub const MAX_LEVELS: usize = 15;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParamRecord {
    pub name: String,
    /// Current (highest) version.
    pub version: u64,
    /// Oldest version still kept (at most 100 are).
    pub oldest: u64,
    pub tags: Vec<Tag>,
    /// Label → version.
    pub labels: BTreeMap<String, u64>,
    /// Policy notifications already sent, as `<policy type>:<version>`.
    #[serde(default)]
    pub notified: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionRecord {
    pub version: u64,
    #[serde(rename = "type")]
    pub kind: String,
    /// The value, or for SecureString the base64 KMS ciphertext.
    pub value: String,
    /// SecureString: the KMS key as the caller named it (`alias/aws/ssm` by default).
    pub key_id: Option<String>,
    pub description: Option<String>,
    pub allowed_pattern: Option<String>,
    pub tier: String,
    pub policies: Vec<String>,
    pub data_type: String,
    pub modified_ms: i64,
    pub modified_user: String,
}
