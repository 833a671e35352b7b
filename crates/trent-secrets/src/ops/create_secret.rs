use crate::model::{SecretRecord, Tag, AWSCURRENT};
use crate::secrets::{self, check_name, check_token, new_arn, new_version_id, value_of};
use crate::{SecretsManager, SmError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use trent_kms::Caller;
use trent_wire::json::SecretBlob;
use trent_wire::validate::Validator;

/// No `Debug`: it holds the secret.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub name: Option<String>,
    pub client_request_token: Option<String>,
    pub description: Option<String>,
    pub kms_key_id: Option<String>,
    pub secret_binary: Option<SecretBlob>,
    pub secret_string: Option<String>,
    pub tags: Option<Vec<Tag>>,
    pub add_replica_regions: Option<Vec<crate::replication::ReplicaRegion>>,
    pub force_overwrite_replica_secret: Option<bool>,
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replication_status: Vec<crate::replication::StatusView>,
}

pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<Response, SmError> {
    let mut v = Validator::new();
    v.required("name", &req.name).len("name", req.name.as_deref(), 1, 512);
    check_token(&mut v, &req.client_request_token);
    v.len("description", req.description.as_deref(), 0, 2048)
        .len("kmsKeyId", req.kms_key_id.as_deref(), 0, 2048)
        .blob_len("secretBinary", req.secret_binary.as_ref().map(|b| b.0.len()), 1, 65536)
        .len("secretString", req.secret_string.as_deref(), 1, 65536);
    let tags = req.tags.unwrap_or_default();
    secrets::tags_constraint(&mut v, &tags);
    v.finish()?;
    let replicas = match &req.add_replica_regions {
        Some(add) => crate::replication::new_replicas(
            &caller.region,
            &[],
            add,
            req.force_overwrite_replica_secret == Some(true),
        )?,
        None => Vec::new(),
    };
    if tags.iter().any(|t| t.key.starts_with("aws:")) {
        return Err(SmError::InvalidParameter("Tag keys beginning with 'aws:' are reserved.".into()));
    }
    let name = req.name.unwrap_or_default();
    check_name(&name)?;
    let value = value_of(req.secret_string, req.secret_binary.map(|b| b.0.to_vec()))?;
    let version = req.client_request_token.unwrap_or_else(new_version_id);
    let arn =
        {
            let mut tx = sm.store.read()?;
            match sm.load(&mut *tx, caller, &name)? {
                Some(r) if r.deleted_ms.is_some() => return Err(SmError::InvalidRequest(
                    "You can't create this secret because a secret with this name is already scheduled for deletion."
                        .into(),
                )),
                // A retry with the same token and value answers as the first call did.
                Some(r) if r.versions.contains_key(&version) => r.arn.clone(),
                Some(_) => {
                    return Err(SmError::ResourceExists(format!(
                        "The operation failed because the secret {name} already exists."
                    )))
                }
                None => new_arn(caller, &name)?,
            }
        };
    let key_arn = sm.key_arn(caller, req.kms_key_id.as_deref())?;
    let encrypted = match &value {
        Some((binary, plain)) => Some(sm.encrypt(caller, &key_arn, &arn, &version, *binary, plain)?),
        None => None,
    };
    let mut tx = sm.store.write()?;
    let now = sm.clock.now_ms();
    let mut rec = match sm.load(&mut *tx, caller, &name)? {
        Some(r) if r.arn == arn => r,
        Some(_) => {
            return Err(SmError::ResourceExists(format!(
                "The operation failed because the secret {name} already exists."
            )))
        }
        None => SecretRecord {
            name: name.clone(),
            arn: arn.clone(),
            description: req.description,
            kms_key_id: req.kms_key_id.filter(|k| !k.is_empty()),
            tags: Vec::new(),
            created_ms: now,
            changed_ms: now,
            deleted_ms: None,
            deletion_ms: None,
            versions: BTreeMap::new(),
            order: Vec::new(),
            rotation: Default::default(),
            primary_region: None,
            replicas,
            resource_policy: None,
            last_accessed_ms: None,
            tagged: false,
        },
    };
    secrets::merge_tags(&mut rec.tags, tags)?;
    let version_id = match (encrypted, value) {
        (Some(enc), Some((_, plain))) => {
            sm.add_version(&mut *tx, caller, &mut rec, &version, enc, &plain, &key_arn, &[AWSCURRENT.to_string()])?;
            Some(version)
        }
        _ => None,
    };
    sm.save(&mut *tx, caller, &rec)?;
    tx.commit()?;
    sm.sync_replicas(caller, &rec.name);
    let rec = sm.load(&mut *sm.store.read()?, caller, &rec.name)?.unwrap_or(rec);
    let replication_status = crate::replication::status_view(&rec);
    Ok(Response { arn: rec.arn, name: rec.name, version_id, replication_status })
}
