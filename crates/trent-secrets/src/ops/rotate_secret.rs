use crate::model::{RotationRules, AWSCURRENT};
use crate::rotation::{function_name, parse_rules, reindex, schedule_of, RotationError};
use crate::secrets::{check_token, new_version_id, secret_id_constraint};
use crate::{SecretsManager, SmError};
use serde::{Deserialize, Serialize};
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub secret_id: Option<String>,
    pub client_request_token: Option<String>,
    #[serde(rename = "RotationLambdaARN")]
    pub rotation_lambda_arn: Option<String>,
    pub rotation_rules: Option<RotationRules>,
    pub rotate_immediately: Option<bool>,
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

pub(crate) const PREVIOUS_NOT_COMPLETE: &str = "A previous rotation isn't complete. That rotation will be reattempted.";

fn schedule_chars(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || "()#?*-/, ".contains(c))
}

/// Stores the rotation configuration (function, rules) and, unless RotateImmediately is false,
/// rotates now. Unlike AWS, which answers at once and rotates in the background, the four steps
/// run before the answer: a failed step answers InvalidRequestException naming the step (and
/// is recorded on the secret) with AWSCURRENT unchanged.
pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<Response, SmError> {
    let mut v = Validator::new();
    secret_id_constraint(&mut v, &req.secret_id);
    check_token(&mut v, &req.client_request_token);
    v.len("rotationLambdaARN", req.rotation_lambda_arn.as_deref(), 0, 2048);
    if let Some(r) = &req.rotation_rules {
        let expr = r.schedule_expression.as_deref();
        v.range("rotationRules.automaticallyAfterDays", r.automatically_after_days, 1, 1000)
            .len("rotationRules.duration", r.duration.as_deref(), 2, 3)
            .pattern(
                "rotationRules.duration",
                r.duration.as_deref(),
                |d| d.bytes().all(|b| b.is_ascii_digit() || b == b'h'),
                "[0-9h]+",
            )
            .len("rotationRules.scheduleExpression", expr, 1, 256)
            .pattern("rotationRules.scheduleExpression", expr, schedule_chars, "[0-9A-Za-z\\(\\)#\\?\\*\\-\\/, ]+");
    }
    v.finish()?;
    if let Some(r) = &req.rotation_rules {
        parse_rules(r)?;
    }
    let secret_id = req.secret_id.unwrap_or_default();
    let rec = sm.find(&mut *sm.store.read()?, caller, &secret_id)?;
    crate::replication::require_primary(&rec)?;
    if rec.deleted_ms.is_some() {
        return Err(SmError::deleted());
    }
    let lambda = match req.rotation_lambda_arn {
        Some(a) if a.is_empty() => None,
        Some(a) => Some(a),
        None => rec.rotation.lambda_arn.clone(),
    };
    sm.rotator().check(lambda.as_deref().and_then(function_name)).map_err(SmError::InvalidRequest)?;
    if rec.version_with_stage(AWSCURRENT).is_none() {
        return Err(SmError::InvalidRequest("The secret has no AWSCURRENT version to rotate.".into()));
    }
    let pending = rec.pending_rotation().map(str::to_string);
    if pending.is_some() && req.client_request_token != pending {
        return Err(SmError::InvalidRequest(PREVIOUS_NOT_COMPLETE.into()));
    }
    if let Some(t) = &req.client_request_token {
        if rec.versions.contains_key(t) && pending.as_ref() != Some(t) {
            if rec.version_with_stage(AWSCURRENT) == Some(t.as_str()) {
                // A retry of a rotation that already finished answers as the first call did.
                return Ok(Response { arn: rec.arn, name: rec.name, version_id: Some(t.clone()) });
            }
            return Err(SmError::ResourceExists(format!(
                "A resource with the ID you requested already exists: version {t} is not the rotation in progress."
            )));
        }
    }
    let token = req.client_request_token.unwrap_or_else(new_version_id);
    let name = rec.name.clone();
    let test_only = req.rotate_immediately == Some(false);
    {
        let mut tx = sm.store.write()?;
        let mut rec = sm.find(&mut *tx, caller, &name)?;
        rec.rotation.enabled = true;
        rec.rotation.lambda_arn = lambda;
        if let Some(r) = req.rotation_rules {
            rec.rotation.rules = Some(r);
        }
        let now = sm.clock.now_ms();
        let from = rec.rotation.last_rotated_ms.unwrap_or(now);
        let next = schedule_of(&rec).and_then(|s| s.next_after(from));
        reindex(&mut *tx, caller, &mut rec, next)?;
        rec.changed_ms = now;
        let replicated = sm.sync_in_tx(&mut *tx, caller, &mut rec)?;
        sm.save(&mut *tx, caller, &rec)?;
        tx.commit()?;
        if !replicated {
            sm.sync_replicas(caller, &name);
        }
    }
    if test_only {
        // AWS tests the configuration with the function's testSecret step.
        return match sm.test_rotation(caller, &name) {
            Ok(()) => Ok(Response { arn: rec.arn, name, version_id: None }),
            Err(RotationError::Busy) => Err(SmError::InvalidRequest(PREVIOUS_NOT_COMPLETE.into())),
            Err(RotationError::Failed(f)) => Err(SmError::InvalidRequest(format!(
                "The rotation configuration was saved, but its test failed at step testSecret: {}",
                f.message.trim_end_matches('.').to_string() + "."
            ))),
            Err(RotationError::Sm(e)) => Err(e),
        };
    }
    match sm.run_rotation(caller, &name, &token) {
        Ok(()) => Ok(Response { arn: rec.arn, name, version_id: Some(token) }),
        Err(RotationError::Busy) => Err(SmError::InvalidRequest(PREVIOUS_NOT_COMPLETE.into())),
        Err(RotationError::Failed(f)) => Err(SmError::InvalidRequest(format!(
            "Rotation failed at step {}: {} AWSCURRENT is unchanged; AWSPENDING stays on version {} until a later attempt finishes the rotation.",
            f.step,
            f.message.trim_end_matches('.').to_string() + ".",
            f.version_id
        ))),
        Err(RotationError::Sm(e)) => Err(e),
    }
}
