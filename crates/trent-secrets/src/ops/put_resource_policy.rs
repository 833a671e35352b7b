use super::ArnName;
use crate::policy::{parse, public_statements, MAX_POLICY_CHARS, PUBLIC_POLICY_MESSAGE};
use crate::replication::require_primary;
use crate::secrets::secret_id_constraint;
use crate::{SecretsManager, SmError};
use serde::Deserialize;
use trent_kms::Caller;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub secret_id: Option<String>,
    pub resource_policy: Option<String>,
    pub block_public_policy: Option<bool>,
}

/// Attaches a resource-based policy (replacing the one before). With BlockPublicPolicy, a
/// policy that grants broad access is refused with PublicPolicyException. Replicas get it too.
pub fn handle(sm: &SecretsManager, caller: &Caller, req: Request) -> Result<ArnName, SmError> {
    let mut v = Validator::new();
    secret_id_constraint(&mut v, &req.secret_id);
    v.required("resourcePolicy", &req.resource_policy).len(
        "resourcePolicy",
        req.resource_policy.as_deref(),
        1,
        MAX_POLICY_CHARS,
    );
    v.finish()?;
    let text = req.resource_policy.unwrap_or_default();
    let policy = parse(&text)?;
    if req.block_public_policy == Some(true) && !public_statements(&policy).is_empty() {
        return Err(SmError::PublicPolicy(PUBLIC_POLICY_MESSAGE.into()));
    }
    let mut tx = sm.store.write()?;
    let mut rec = sm.find(&mut *tx, caller, req.secret_id.as_deref().unwrap_or_default())?;
    require_primary(&rec)?;
    if rec.deleted_ms.is_some() {
        return Err(SmError::deleted());
    }
    rec.resource_policy = Some(text);
    rec.changed_ms = sm.clock.now_ms();
    let replicated = sm.sync_in_tx(&mut *tx, caller, &mut rec)?;
    sm.save(&mut *tx, caller, &rec)?;
    tx.commit()?;
    if !replicated {
        sm.sync_replicas(caller, &rec.name);
    }
    Ok(ArnName { arn: rec.arn, name: rec.name })
}
