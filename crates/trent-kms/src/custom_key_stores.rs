//! Custom key stores of type `AWS_CLOUDHSM`, backed by a PKCS#11 token ([`crate::hsm`]): their
//! records (table `kms_custom_key_store`, key `<account>/<region>/<id>`), the connection rules,
//! and the AES-GCM of their keys, which runs in the token.
//!
//! The store's password (the token's user PIN) is kept wrapped under the root key, bound to the
//! store id. A store recorded CONNECTED is reconnected on first use after a restart; if that
//! fails it becomes FAILED with AWS's `ConnectionErrorCode`.

use crate::hsm::HsmError;
use crate::model::KeyRecord;
use crate::{Kms, KmsError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use trent_crypto::{blob, SecretBytes};

pub(crate) const T_CKS: &str = "kms_custom_key_store";
const PIN_PURPOSE: &str = "kms-custom-key-store-password";
pub(crate) const CLOUDHSM: &str = "AWS_CLOUDHSM";
pub const CONNECTED: &str = "CONNECTED";
pub const DISCONNECTED: &str = "DISCONNECTED";
pub const FAILED: &str = "FAILED";

/// A custom key store as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreRecord {
    pub id: String,
    pub account_id: String,
    pub region: String,
    pub name: String,
    pub store_type: String,
    pub cluster_id: String,
    pub trust_anchor_certificate: String,
    /// The password, wrapped under the root key (base64).
    pub wrapped_password: String,
    pub connection_state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_error_code: Option<String>,
    pub created_ms: i64,
}

/// One entry of DescribeCustomKeyStores.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Entry {
    pub custom_key_store_id: String,
    pub custom_key_store_name: String,
    pub cloud_hsm_cluster_id: String,
    pub trust_anchor_certificate: String,
    pub connection_state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_error_code: Option<String>,
    pub creation_date: f64,
    pub custom_key_store_type: String,
}

impl StoreRecord {
    pub fn entry(&self) -> Entry {
        Entry {
            custom_key_store_id: self.id.clone(),
            custom_key_store_name: self.name.clone(),
            cloud_hsm_cluster_id: self.cluster_id.clone(),
            trust_anchor_certificate: self.trust_anchor_certificate.clone(),
            connection_state: self.connection_state.clone(),
            connection_error_code: self.connection_error_code.clone(),
            creation_date: crate::model::ms_to_epoch(self.created_ms),
            custom_key_store_type: self.store_type.clone(),
        }
    }
}

pub(crate) fn store_key(account: &str, region: &str, id: &str) -> String {
    format!("{account}/{region}/{id}")
}

/// `cks-` and 17 hex digits, as AWS's ids.
pub(crate) fn new_id() -> Result<String, KmsError> {
    let mut b = [0u8; 9];
    trent_crypto::fill_random(&mut b).map_err(KmsError::internal)?;
    Ok(format!("cks-{}", &hex::encode(b)[..17]))
}

pub(crate) fn invalid_state(m: impl Into<String>) -> KmsError {
    KmsError::CustomKeyStore("CustomKeyStoreInvalidStateException", m.into())
}

impl Kms {
    pub(crate) fn wrap_password(&self, id: &str, pin: &str) -> Result<String, KmsError> {
        self.wrap_secret(PIN_PURPOSE, id, &SecretBytes::from_slice(pin.as_bytes()))
    }

    /// Every store of an account and region.
    pub(crate) fn stores(&self, account: &str, region: &str) -> Result<Vec<StoreRecord>, KmsError> {
        let mut tx = self.store().read()?;
        let prefix = format!("{account}/{region}/");
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = tx.scan(T_CKS, &prefix, after.as_deref(), 500)?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            for (_, v) in &page {
                out.push(serde_json::from_slice(v).map_err(KmsError::internal)?);
            }
        }
        Ok(out)
    }

    pub(crate) fn load_store(&self, account: &str, region: &str, id: &str) -> Result<StoreRecord, KmsError> {
        let mut tx = self.store().read()?;
        let raw = tx.get(T_CKS, &store_key(account, region, id))?.ok_or(KmsError::CustomKeyStoreNotFound)?;
        serde_json::from_slice(&raw).map_err(KmsError::internal)
    }

    pub(crate) fn save_store(&self, rec: &StoreRecord) -> Result<(), KmsError> {
        let mut tx = self.store().write()?;
        tx.put(
            T_CKS,
            &store_key(&rec.account_id, &rec.region, &rec.id),
            &serde_json::to_vec(rec).map_err(KmsError::internal)?,
        )?;
        tx.commit()?;
        Ok(())
    }

    /// How many keys (in any state) belong to the store.
    pub(crate) fn keys_in_store(&self, account: &str, region: &str, id: &str) -> Result<usize, KmsError> {
        let mut tx = self.store().read()?;
        let prefix = format!("{account}/{region}/");
        let mut n = 0;
        let mut after: Option<String> = None;
        loop {
            let page = tx.scan(crate::keys::T_KEY, &prefix, after.as_deref(), 500)?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            for (_, v) in &page {
                let k: KeyRecord = serde_json::from_slice(v).map_err(KmsError::internal)?;
                n += usize::from(k.custom_key_store_id.as_deref() == Some(id));
            }
        }
        Ok(n)
    }

    /// Logs in to the store's token. Success: CONNECTED; failure: FAILED with its code.
    /// Returns the record as saved.
    pub(crate) fn connect_store(&self, mut rec: StoreRecord) -> Result<StoreRecord, KmsError> {
        let pin = self.unwrap_secret(PIN_PURPOSE, &rec.id, &rec.wrapped_password)?;
        let pin = String::from_utf8(pin.expose().to_vec()).map_err(KmsError::internal)?;
        let pin = zeroize::Zeroizing::new(pin);
        match self.hsm.connect(&rec.id, &rec.cluster_id, &pin) {
            Ok(()) => {
                rec.connection_state = CONNECTED.into();
                rec.connection_error_code = None;
            }
            Err(e) => {
                tracing::warn!(store = %rec.id, code = e.code(), "custom key store failed to connect");
                rec.connection_state = FAILED.into();
                rec.connection_error_code = Some(e.code().into());
            }
        }
        self.save_store(&rec)?;
        Ok(rec)
    }

    /// The store id of an HSM-backed key whose store is connected, reconnecting it if this
    /// process has no live connection (after a restart, or after the token went away).
    fn hsm_store(&self, rec: &KeyRecord) -> Result<String, KmsError> {
        let id = rec
            .custom_key_store_id
            .clone()
            .ok_or_else(|| KmsError::internal(format!("{} has no custom key store", rec.key_id)))?;
        if self.hsm.is_connected(&id) {
            return Ok(id);
        }
        let store = self.load_store(&rec.account_id, &rec.region, &id)?;
        let disconnected = || {
            KmsError::InvalidState(format!(
                "{} is unavailable: its custom key store {id} is not connected to its HSM. Connect the custom key store and try again.",
                rec.arn()
            ))
        };
        if store.connection_state != CONNECTED {
            return Err(disconnected());
        }
        let store = self.connect_store(store)?;
        if store.connection_state != CONNECTED {
            return Err(disconnected());
        }
        Ok(id)
    }

    fn hsm_error(&self, rec: &KeyRecord, e: HsmError) -> KmsError {
        match e {
            HsmError::NotConnected => KmsError::InvalidState(format!(
                "{} is unavailable: the connection to its HSM was lost. Connect its custom key store again.",
                rec.arn()
            )),
            HsmError::KeyMissing => KmsError::InvalidState(format!(
                "The key material of {} is not in its HSM token (was the token re-initialized or the key object deleted?).",
                rec.arn()
            )),
            HsmError::InvalidCiphertext => KmsError::InvalidCiphertext,
            HsmError::Module(m) => KmsError::internal(format!("PKCS#11 module error for {}: {m}", rec.key_id)),
        }
    }

    /// Runs `f` against the key's store, once more after reconnecting if the connection broke.
    pub(crate) fn with_hsm<T>(&self, rec: &KeyRecord, f: impl Fn(&str) -> Result<T, HsmError>) -> Result<T, KmsError> {
        let id = self.hsm_store(rec)?;
        match f(&id) {
            Err(HsmError::NotConnected) => {
                let id = self.hsm_store(rec)?;
                f(&id).map_err(|e| self.hsm_error(rec, e))
            }
            other => other.map_err(|e| self.hsm_error(rec, e)),
        }
    }

    /// The blob of `plaintext` encrypted in the token (same format as every symmetric blob).
    pub(crate) fn hsm_seal(
        &self,
        rec: &KeyRecord,
        ctx: &BTreeMap<String, String>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, KmsError> {
        let mut mid = [0u8; blob::MATERIAL_ID_LEN];
        hex::decode_to_slice(&rec.current_material, &mut mid).map_err(KmsError::internal)?;
        let (header, aad) =
            blob::frame(&rec.key_id, &mid, &trent_crypto::context::encode(ctx)).map_err(KmsError::internal)?;
        let mut iv = [0u8; trent_crypto::aead::IV_LEN];
        trent_crypto::fill_random(&mut iv).map_err(KmsError::internal)?;
        let body = self.with_hsm(rec, |id| self.hsm.encrypt(id, &rec.key_id, &iv, &aad, plaintext))?;
        Ok(blob::assemble(&header, &iv, &body))
    }

    /// Decrypts a parsed blob of an HSM-backed key in its token.
    pub(crate) fn hsm_open(
        &self,
        rec: &KeyRecord,
        parsed: &blob::Blob<'_>,
        ctx: &BTreeMap<String, String>,
    ) -> Result<SecretBytes, KmsError> {
        if hex::encode(parsed.material_id) != rec.current_material {
            return Err(KmsError::InvalidCiphertext);
        }
        let aad = parsed.aad(&trent_crypto::context::encode(ctx));
        self.with_hsm(rec, |id| self.hsm.decrypt(id, &rec.key_id, parsed.iv(), &aad, parsed.body()))
    }

    /// Makes the AES key of a new HSM-backed key in its store's token.
    pub(crate) fn hsm_generate(&self, store: &StoreRecord, key_id: &str) -> Result<(), KmsError> {
        let missing = || invalid_state(format!("The custom key store {} is not connected.", store.id));
        if !self.hsm.is_connected(&store.id) {
            let s = self.connect_store(store.clone())?;
            if s.connection_state != CONNECTED {
                return Err(missing());
            }
        }
        self.hsm.generate_aes(&store.id, key_id).map_err(|e| match e {
            HsmError::NotConnected => missing(),
            other => KmsError::internal(format!("PKCS#11 key generation failed: {other:?}")),
        })
    }

    /// Destroys a deleted key's token object, if its store can be reached.
    pub(crate) fn hsm_destroy(&self, rec: &KeyRecord) {
        match self.hsm_store(rec) {
            Ok(id) => {
                if let Err(e) = self.hsm.destroy(&id, &rec.key_id) {
                    tracing::warn!(key_id = %rec.key_id, error = ?e, "could not destroy the key's HSM object");
                }
            }
            Err(_) => tracing::warn!(
                key_id = %rec.key_id,
                "the key's custom key store is not connected: its HSM object was left in the token"
            ),
        }
    }
}
