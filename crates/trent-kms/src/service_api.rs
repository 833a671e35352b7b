//! The in-process KMS API other services use, as the real SSM and Secrets Manager call KMS:
//! encrypt and decrypt a value under a key the caller names, and the account's AWS-managed
//! service keys (`alias/aws/ssm`, `alias/aws/secretsmanager`), created on first use.

use crate::keys::{alias_store_key, require_symmetric, require_usable, KeyRef, T_ALIAS, T_KEY, T_OWNER};
use crate::model::{AliasRecord, KeyRecord, KeyState, ENCRYPT_DECRYPT, SYMMETRIC_DEFAULT};
use crate::{checks, Caller, Kms, KmsError};
use std::collections::BTreeMap;
use trent_crypto::SecretBytes;

impl Kms {
    /// Encrypts `plaintext` under a symmetric key named by id, ARN or alias, binding `ctx`.
    /// Returns the ciphertext blob and the key's ARN.
    pub fn encrypt_for_service(
        &self,
        caller: &Caller,
        key_id: &str,
        ctx: &BTreeMap<String, String>,
        plaintext: &[u8],
    ) -> Result<(Vec<u8>, String), KmsError> {
        let rec = self.find(caller, key_id, true)?;
        require_usable(&rec)?;
        require_symmetric(&rec)?;
        self.authorize_service_use(caller, &rec, "kms:Encrypt", ctx)?;
        Ok((self.seal(&rec, ctx, plaintext)?, rec.arn()))
    }

    /// Decrypts a blob made by [`Kms::encrypt_for_service`] (or Encrypt) with the same context.
    /// A caller served through a service is authorized for `kms:Decrypt` on the blob's key
    /// before any key material is unwrapped.
    pub fn decrypt_for_service(
        &self,
        caller: &Caller,
        blob: &[u8],
        ctx: &BTreeMap<String, String>,
    ) -> Result<(SecretBytes, String), KmsError> {
        // Authorized before anything is unwrapped or decrypted.
        let check = |rec: &KeyRecord| self.authorize_service_use(caller, rec, "kms:Decrypt", ctx);
        let (rec, plain, _) = self.open_checked(caller, blob, ctx, None, &check)?;
        Ok((plain, rec.arn()))
    }

    /// The ARN of a key named by id, ARN or alias, if it is a usable symmetric encryption key.
    pub fn symmetric_key_arn(&self, caller: &Caller, key_id: &str) -> Result<String, KmsError> {
        let rec = self.find(caller, key_id, true)?;
        require_symmetric(&rec)?;
        Ok(rec.arn())
    }

    /// The account's AWS-managed key for a service (`alias` is e.g. `alias/aws/ssm`), created
    /// with its alias on first use. Returns the key's ARN.
    pub fn aws_managed_key(&self, caller: &Caller, alias: &str, description: &str) -> Result<String, KmsError> {
        let alias_key = alias_store_key(caller.account(), &caller.region, alias);
        if let Some(raw) = self.store().read()?.get(T_ALIAS, &alias_key)? {
            let a: AliasRecord = serde_json::from_slice(&raw).map_err(KmsError::internal)?;
            return Ok(crate::model::key_arn(&caller.region, caller.account(), &a.target_key_id));
        }
        let mut tx = self.store().write()?;
        // Another request may have created it since the read above.
        if let Some(raw) = tx.get(T_ALIAS, &alias_key)? {
            let a: AliasRecord = serde_json::from_slice(&raw).map_err(KmsError::internal)?;
            return Ok(crate::model::key_arn(&caller.region, caller.account(), &a.target_key_id));
        }
        let now = self.clock.now_ms();
        let key_id = uuid::Uuid::new_v4().to_string();
        let material = self.new_material(&key_id, now)?;
        let rec = KeyRecord {
            key_id: key_id.clone(),
            account_id: caller.account().to_string(),
            region: caller.region.clone(),
            created_ms: now,
            description: description.to_string(),
            key_usage: ENCRYPT_DECRYPT.into(),
            key_spec: SYMMETRIC_DEFAULT.into(),
            origin: "AWS_KMS".into(),
            key_manager: "AWS".into(),
            state: KeyState::Enabled,
            deletion_ms: None,
            pending_window_days: None,
            multi_region: false,
            policy: checks::default_policy(caller.partition(), caller.account()),
            tags: Vec::new(),
            current_material: material.id.clone(),
            materials: vec![material],
            public_key: None,
            // AWS rotates AWS-managed keys every year.
            rotation_period_days: Some(365),
            next_rotation_ms: Some(now + 365 * 86_400_000),
            on_demand_rotations: 0,
            expiration_model: None,
            valid_to_ms: None,
            imported_material_id: None,
            custom_key_store_id: None,
            cloud_hsm_cluster_id: None,
        };
        let r = KeyRef { account: rec.account_id.clone(), region: rec.region.clone(), key_id: key_id.clone() };
        tx.put(T_KEY, &r.store_key(), &serde_json::to_vec(&rec).map_err(KmsError::internal)?)?;
        tx.put(T_OWNER, &format!("{}/{}", r.region, r.key_id), r.account.as_bytes())?;
        tx.put(crate::keys::T_ROTATION, &crate::keys::rotation_store_key(now + 365 * 86_400_000, &r), b"")?;
        let a = AliasRecord { target_key_id: key_id, created_ms: now, updated_ms: now };
        tx.put(T_ALIAS, &alias_key, &serde_json::to_vec(&a).map_err(KmsError::internal)?)?;
        tx.commit()?;
        Ok(rec.arn())
    }
}
