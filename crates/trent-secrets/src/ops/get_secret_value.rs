use crate::model::{SecretRecord, AWSCURRENT};
use crate::secrets::{ms_to_epoch, secret_id_constraint};
use crate::{SecretsManager, SmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub secret_id: Option<String>,
    pub version_id: Option<String>,
    pub version_stage: Option<String>,
}

/// A secret value on the wire. No `Debug`: it holds the secret.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretValue {
    #[serde(rename = "ARN")]
    pub arn: String,
    pub name: String,
    pub version_id: String,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "b64_opt")]
    pub secret_binary: Option<zeroize::Zeroizing<Vec<u8>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_string: Option<zeroize::Zeroizing<String>>,
    pub version_stages: Vec<String>,
    pub created_date: f64,
}

fn b64_opt<S: serde::Serializer>(v: &Option<zeroize::Zeroizing<Vec<u8>>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(b) => trent_wire::json::b64(b, s),
        None => s.serialize_none(),
    }
}

/// Picks the version (by id, or by stage, AWSCURRENT by default) and decrypts it.
pub(crate) fn read_value(
    sm: &SecretsManager,
    caller: &Caller,
    rec: &SecretRecord,
    version_id: Option<&str>,
    stage: Option<&str>,
) -> Result<SecretValue, SmError> {
    if rec.deleted_ms.is_some() {
        return Err(SmError::deleted());
    }
    let version = match (version_id, stage) {
        (Some(id), stage) => {
            let meta = rec.versions.get(id).ok_or_else(|| {
                SmError::ResourceNotFound(format!(
                    "Secrets Manager can't find the specified secret value for VersionId: {id}"
                ))
            })?;
            if let Some(s) = stage {
                if !meta.stages.iter().any(|x| x == s) {
                    return Err(SmError::InvalidRequest(
                        "You provided a VersionStage that is not associated to the provided VersionId.".into(),
                    ));
                }
            }
            id.to_string()
        }
        (None, stage) => {
            let s = stage.unwrap_or(AWSCURRENT);
            rec.version_with_stage(s)
                .ok_or_else(|| {
                    SmError::ResourceNotFound(format!(
                        "Secrets Manager can't find the specified secret value for staging label: {s}"
                    ))
                })?
                .to_string()
        }
    };
    let meta = &rec.versions[&version];
    let stored = {
        let mut tx = sm.store.read()?;
        sm.load_value(&mut *tx, caller, &rec.name, &version)?
            .ok_or_else(|| SmError::internal("version without a value"))?
    };
    let plain = sm.decrypt(caller, &rec.arn, &version, &stored)?;
    let (secret_binary, secret_string) = if stored.binary {
        (Some(zeroize::Zeroizing::new(plain.expose().to_vec())), None)
    } else {
        let s = String::from_utf8(plain.expose().to_vec()).map_err(SmError::internal)?;
        (None, Some(zeroize::Zeroizing::new(s)))
    };
    Ok(SecretValue {
        arn: rec.arn.clone(),
        name: rec.name.clone(),
        version_id: version.clone(),
        secret_binary,
        secret_string,
        version_stages: meta.stages.clone(),
        created_date: ms_to_epoch(meta.created_ms),
    })
}

pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<SecretValue, SmError> {
    let mut v = Validator::new();
    secret_id_constraint(&mut v, &req.secret_id);
    v.len("versionId", req.version_id.as_deref(), 32, 64).len("versionStage", req.version_stage.as_deref(), 1, 256);
    v.finish()?;
    let rec = {
        let mut tx = sm.store.read()?;
        sm.find(&mut *tx, caller, req.secret_id.as_deref().unwrap_or_default())?
    };
    let value = read_value(sm, caller, &rec, req.version_id.as_deref(), req.version_stage.as_deref())?;
    sm.note_access(caller, &rec)?;
    Ok(value)
}
