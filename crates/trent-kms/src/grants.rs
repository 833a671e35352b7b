//! KMS grants: stored per key, found by grant token, and what the request path needs to
//! honour them (`kms_grant`: `<account>/<region>/<key id>/<grant id>` → [`GrantRecord`];
//! `kms_grant_token`: SHA-256 of a token → the grant's store key). A grant is usable as soon
//! as CreateGrant returns (the store is consistent), so grant tokens are accepted but not
//! needed.

use crate::keys::KeyRef;
use crate::{Kms, KmsError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use trent_store::Txn;

pub(crate) const T_GRANT: &str = "kms_grant";
pub(crate) const T_GRANT_TOKEN: &str = "kms_grant_token";

/// The operations a grant may allow (AWS's `GrantOperation` enum).
pub const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// Grant operations that take an encryption context (constraints apply to them only).
pub const CONTEXT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Constraints {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context_subset: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context_equals: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    pub grant_id: String,
    pub key_arn: String,
    pub account: String,
    pub region: String,
    pub key_id: String,
    pub name: Option<String>,
    pub created_ms: i64,
    pub grantee_principal: String,
    pub retiring_principal: Option<String>,
    pub issuing_account: String,
    pub operations: Vec<String>,
    pub constraints: Option<Constraints>,
    /// SHA-256 (hex) of every token issued for this grant.
    #[serde(default)]
    pub token_hashes: Vec<String>,
}

impl GrantRecord {
    pub(crate) fn store_key(&self) -> String {
        format!("{}/{}/{}/{}", self.account, self.region, self.key_id, self.grant_id)
    }

    /// Whether this grant lets `caller_arns` (the caller's ARN and, for a role session, its
    /// role's ARN) perform `operation` with `context`.
    pub fn allows(&self, caller_arns: &[&str], operation: &str, context: &BTreeMap<String, String>) -> bool {
        if !caller_arns.contains(&self.grantee_principal.as_str()) || !self.operations.iter().any(|o| o == operation) {
            return false;
        }
        match &self.constraints {
            Some(c) if CONTEXT_OPERATIONS.contains(&operation) => trent_policy::grant_constraints_allow(
                c.encryption_context_equals.as_ref(),
                c.encryption_context_subset.as_ref(),
                context,
            ),
            _ => true,
        }
    }
}

pub(crate) fn sha256_hex(s: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes()))
}

impl Kms {
    /// Every grant of a key.
    pub(crate) fn grants_of(&self, tx: &mut dyn Txn, r: &KeyRef) -> Result<Vec<GrantRecord>, KmsError> {
        let prefix = format!("{}/", r.store_key());
        let rows = tx.scan(T_GRANT, &prefix, None, 10_000)?;
        rows.into_iter().map(|(_, v)| serde_json::from_slice(&v).map_err(KmsError::internal)).collect()
    }

    /// The grant a token was issued for.
    pub(crate) fn grant_by_token(&self, tx: &mut dyn Txn, token: &str) -> Result<Option<GrantRecord>, KmsError> {
        let Some(key) = tx.get(T_GRANT_TOKEN, &sha256_hex(token))? else { return Ok(None) };
        let key = String::from_utf8(key).map_err(KmsError::internal)?;
        match tx.get(T_GRANT, &key)? {
            Some(v) => Ok(Some(serde_json::from_slice(&v).map_err(KmsError::internal)?)),
            None => Ok(None),
        }
    }

    pub(crate) fn delete_grant(&self, tx: &mut dyn Txn, g: &GrantRecord) -> Result<(), KmsError> {
        tx.delete(T_GRANT, &g.store_key())?;
        for h in &g.token_hashes {
            tx.delete(T_GRANT_TOKEN, h)?;
        }
        Ok(())
    }
}
