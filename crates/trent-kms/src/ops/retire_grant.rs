use crate::grants::{GrantRecord, T_GRANT};
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub grant_token: Option<String>,
    pub key_id: Option<String>,
    pub grant_id: Option<String>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct Response {}

/// RetireGrant, by token or by key and grant id. Allowed to the grant's retiring principal,
/// to its grantee when the grant includes RetireGrant, and to the account that owns the key
/// (as AWS does; no policy is consulted).
pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    v.len("grantToken", req.grant_token.as_deref(), 1, 8192).len("grantId", req.grant_id.as_deref(), 1, 128);
    checks::optional_key_id(&mut v, "keyId", &req.key_id);
    v.finish()?;
    let mut tx = kms.store().write()?;
    let g: GrantRecord = match (&req.grant_token, &req.key_id, &req.grant_id) {
        (Some(t), _, _) => kms
            .grant_by_token(&mut *tx, t)?
            .ok_or_else(|| KmsError::InvalidGrantToken("The grant token is not valid.".into()))?,
        (None, Some(k), Some(id)) => {
            let r = kms.resolve(&mut *tx, caller, k, false)?;
            let key = format!("{}/{id}", r.store_key());
            let raw =
                tx.get(T_GRANT, &key)?.ok_or_else(|| KmsError::InvalidGrantId(format!("Grant ID {id} not found")))?;
            serde_json::from_slice(&raw).map_err(KmsError::internal)?
        }
        _ => return Err(KmsError::validation("Specify either GrantToken, or both KeyId and GrantId.")),
    };
    let partition = caller.partition();
    let me = caller.principal.arn(partition);
    let role = match &caller.principal.kind {
        trent_policy::PrincipalKind::AssumedRole { role_name, .. } => {
            Some(format!("arn:{partition}:iam::{}:role/{role_name}", caller.account()))
        }
        _ => None,
    };
    let is = |p: &str| p == me || role.as_deref() == Some(p);
    let allowed = (caller.principal.kind == trent_policy::PrincipalKind::Root && caller.account() == g.account)
        || g.retiring_principal.as_deref().is_some_and(is)
        || (is(&g.grantee_principal) && g.operations.iter().any(|o| o == "RetireGrant"));
    if !allowed {
        return Err(KmsError::Wire(trent_wire::WireError::AccessDenied(format!(
            "User: {me} is not authorized to perform: kms:RetireGrant on resource: {} because it is neither the grant's retiring principal nor a grantee allowed to retire it",
            g.key_arn
        ))));
    }
    if req.dry_run == Some(true) {
        return Err(KmsError::DryRun);
    }
    kms.delete_grant(&mut *tx, &g)?;
    tx.commit()?;
    Ok(Response {})
}
