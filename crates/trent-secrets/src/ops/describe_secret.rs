use crate::model::{RotationRules, SecretRecord, Tag};
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
    /// Absent for a secret never set up for rotation (as on AWS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_enabled: Option<bool>,
    #[serde(rename = "RotationLambdaARN", skip_serializing_if = "Option::is_none")]
    pub rotation_lambda_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_rules: Option<RotationRules>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_rotated_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_rotation_date: Option<f64>,
    /// Not an AWS member: why the last rotation failed (absent once a rotation succeeds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trent_last_rotation_failure: Option<RotationFailureView>,
    pub last_changed_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_accessed_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    /// Absent for a secret without a value (as on AWS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_ids_to_stages: Option<BTreeMap<String, Vec<String>>>,
    pub created_date: f64,
    /// The primary's region (the secret's own region unless it is a replica); only for a
    /// replicated secret (as on AWS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
    /// On a primary: each replica's region, key and status.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replication_status: Vec<crate::replication::StatusView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationFailureView {
    pub step: String,
    pub message: String,
    pub version_id: String,
    pub date: f64,
}

/// The rotation members as AWS shows them: LastRotatedDate and NextRotationDate only while
/// rotation is on.
#[allow(clippy::type_complexity)]
pub(crate) fn rotation_view(
    rec: &SecretRecord,
) -> (bool, Option<String>, Option<RotationRules>, Option<f64>, Option<f64>) {
    let r = &rec.rotation;
    let rules = r.rules.clone().map(|mut rules| {
        // AWS shows the day count of a rate in days as AutomaticallyAfterDays too.
        if let Some(crate::rotation::Schedule::Days(n)) =
            rules.schedule_expression.as_deref().and_then(|e| crate::rotation::parse_expression(e).ok())
        {
            rules.automatically_after_days = Some(n);
        }
        rules
    });
    let on = |v: Option<i64>| if r.enabled { v.map(ms_to_epoch) } else { None };
    (r.enabled, r.lambda_arn.clone(), rules, on(r.last_rotated_ms), on(r.next_ms))
}

pub(crate) fn describe(rec: &SecretRecord, region: &str) -> Description {
    let (rotation_enabled, rotation_lambda_arn, rotation_rules, last_rotated_date, next_rotation_date) =
        rotation_view(rec);
    Description {
        rotation_lambda_arn,
        rotation_rules,
        last_rotated_date,
        next_rotation_date,
        trent_last_rotation_failure: rec.rotation.last_failure.as_ref().map(|f| RotationFailureView {
            step: f.step.clone(),
            message: f.message.clone(),
            version_id: f.version_id.clone(),
            date: ms_to_epoch(f.date_ms),
        }),
        arn: rec.arn.clone(),
        name: rec.name.clone(),
        description: rec.description.clone(),
        kms_key_id: rec.kms_key_id.clone(),
        rotation_enabled: rec.rotation_configured().then_some(rotation_enabled),
        last_changed_date: ms_to_epoch(rec.changed_ms),
        last_accessed_date: rec.last_accessed_ms.map(ms_to_epoch),
        deleted_date: rec.deleted_ms.map(ms_to_epoch),
        tags: rec.tags_view(),
        version_ids_to_stages: (!rec.versions.is_empty()).then(|| rec.versions_to_stages()),
        created_date: ms_to_epoch(rec.created_ms),
        primary_region: rec.is_replicated().then(|| rec.primary_region.clone().unwrap_or_else(|| region.to_string())),
        replication_status: crate::replication::status_view(rec),
    }
}

pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<Description, SmError> {
    let mut v = Validator::new();
    secret_id_constraint(&mut v, &req.secret_id);
    v.finish()?;
    let mut tx = sm.store.read()?;
    let rec = sm.find(&mut *tx, caller, req.secret_id.as_deref().unwrap_or_default())?;
    let mut d = describe(&rec, &caller.region);
    // Each replica's LastAccessedDate is its own region's.
    for st in d.replication_status.iter_mut() {
        let rc = crate::replication::in_region(caller, &st.region);
        if let Some(r) = sm.load(&mut *tx, &rc, &rec.name)? {
            if r.primary_region.as_deref() == Some(caller.region.as_str()) {
                st.last_accessed_date = r.last_accessed_ms.map(ms_to_epoch);
            }
        }
    }
    Ok(d)
}
