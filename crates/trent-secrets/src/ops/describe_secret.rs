use crate::model::{SecretRecord, Tag};
use crate::secrets::{ms_to_epoch, secret_id_constraint};
use crate::{SecretsManager, SmError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub secret_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Description {
    #[serde(rename = "ARN")]
    pub arn: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    pub rotation_enabled: bool,
    pub last_changed_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_date: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    pub version_ids_to_stages: BTreeMap<String, Vec<String>>,
    pub created_date: f64,
    pub primary_region: String,
}

pub(crate) fn describe(rec: &SecretRecord, region: &str) -> Description {
    Description {
        arn: rec.arn.clone(),
        name: rec.name.clone(),
        description: rec.description.clone(),
        kms_key_id: rec.kms_key_id.clone(),
        rotation_enabled: false,
        last_changed_date: ms_to_epoch(rec.changed_ms),
        deleted_date: rec.deleted_ms.map(ms_to_epoch),
        tags: rec.tags.clone(),
        version_ids_to_stages: rec.versions_to_stages(),
        created_date: ms_to_epoch(rec.created_ms),
        primary_region: region.to_string(),
    }
}

pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<Description, SmError> {
    let mut v = Validator::new();
    secret_id_constraint(&mut v, &req.secret_id);
    v.finish()?;
    let mut tx = sm.store.read()?;
    let rec = sm.find(&mut *tx, caller, req.secret_id.as_deref().unwrap_or_default())?;
    Ok(describe(&rec, &caller.region))
}
