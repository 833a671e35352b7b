use super::put_secret_value::new_version;
use crate::model::AWSCURRENT;
use crate::secrets::{check_token, secret_id_constraint, value_of};
use crate::{SecretsManager, SmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;
use trent_wire::json::SecretBlob;
use trent_wire::validate::Validator;

/// No `Debug`: it holds the secret.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub secret_id: Option<String>,
    pub client_request_token: Option<String>,
    pub description: Option<String>,
    pub kms_key_id: Option<String>,
    pub secret_binary: Option<SecretBlob>,
    pub secret_string: Option<String>,
    #[serde(rename = "Type")]
    pub kind: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    #[serde(rename = "ARN")]
    pub arn: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

/// Changes the description and KMS key; with a value, adds an AWSCURRENT version (encrypted
/// under the new key if one was given).
pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<Response, SmError> {
    let mut v = Validator::new();
    secret_id_constraint(&mut v, &req.secret_id);
    check_token(&mut v, &req.client_request_token);
    v.len("description", req.description.as_deref(), 0, 2048)
        .len("kmsKeyId", req.kms_key_id.as_deref(), 0, 2048)
        .blob_len("secretBinary", req.secret_binary.as_ref().map(|b| b.0.len()), 1, 65536)
        .len("secretString", req.secret_string.as_deref(), 1, 65536);
    v.finish()?;
    let id = req.secret_id.unwrap_or_default();
    crate::replication::require_primary(&sm.find(&mut *sm.store.read()?, caller, &id)?)?;
    let value = value_of(req.secret_string, req.secret_binary.map(|b| b.0.to_vec()))?;
    let new_key = match req.kms_key_id.as_deref() {
        Some(k) => Some(sm.key_arn(caller, Some(k))?),
        None => None,
    };
    // As on AWS, changing the key re-encrypts the versions that carry a staging label.
    let reencrypted = match &new_key {
        Some(key_arn) => {
            let rec = {
                let mut tx = sm.store.read()?;
                sm.find(&mut *tx, caller, &id)?
            };
            let mut out = Vec::new();
            for (version, meta) in
                rec.versions.iter().filter(|(_, m)| !m.stages.is_empty() && m.kms_key_arn != *key_arn)
            {
                let stored = {
                    let mut tx = sm.store.read()?;
                    sm.load_value(&mut *tx, caller, &rec.name, version)?
                };
                let Some(stored) = stored else { continue };
                let plain = sm.decrypt(caller, &rec.arn, version, &stored)?;
                let mut fresh = sm.encrypt(caller, key_arn, &rec.arn, version, stored.binary, &plain)?;
                fresh.older = stored.older.clone();
                fresh.older.insert(
                    0,
                    crate::model::OlderCopy {
                        key_arn: meta.kms_key_arn.clone(),
                        ciphertext: stored.ciphertext.clone(),
                    },
                );
                out.push((version.clone(), fresh));
            }
            out
        }
        None => Vec::new(),
    };
    {
        let mut tx = sm.store.write()?;
        let mut rec = sm.find(&mut *tx, caller, &id)?;
        crate::replication::require_primary(&rec)?;
        if rec.deleted_ms.is_some() {
            return Err(SmError::deleted());
        }
        if let Some(d) = req.description {
            rec.description = Some(d);
        }
        if let Some(k) = req.kms_key_id {
            rec.kms_key_id = Some(k).filter(|k| !k.is_empty());
        }
        if let Some(key_arn) = &new_key {
            for (version, value) in &reencrypted {
                tx.put(
                    crate::secrets::T_VALUE,
                    &crate::secrets::value_key(caller, &rec.name, version),
                    &serde_json::to_vec(value).map_err(SmError::internal)?,
                )?;
                if let Some(m) = rec.versions.get_mut(version) {
                    let old = std::mem::replace(&mut m.kms_key_arn, key_arn.clone());
                    m.older_key_arns.insert(0, old);
                }
            }
        }
        rec.changed_ms = sm.clock.now_ms();
        let replicated = sm.sync_in_tx(&mut *tx, caller, &mut rec)?;
        sm.save(&mut *tx, caller, &rec)?;
        tx.commit()?;
        // With a value, new_version below copies everything to the replicas.
        if !replicated && value.is_none() {
            sm.sync_replicas(caller, &rec.name);
        }
    }
    let (rec, version_id) = match value {
        Some(value) => {
            let (rec, v) = new_version(sm, caller, &id, req.client_request_token, value, vec![AWSCURRENT.to_string()])?;
            (rec, Some(v))
        }
        None => {
            let mut tx = sm.store.read()?;
            (sm.find(&mut *tx, caller, &id)?, None)
        }
    };
    Ok(Response { arn: rec.arn, name: rec.name, version_id })
}
