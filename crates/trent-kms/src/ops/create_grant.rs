use crate::grants::{sha256_hex, Constraints, GrantRecord, GRANT_OPERATIONS, T_GRANT, T_GRANT_TOKEN};
use crate::keys::require_not_pending_deletion;
use crate::{checks, Caller, Kms, KmsError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub grantee_principal: Option<String>,
    pub retiring_principal: Option<String>,
    pub operations: Option<Vec<String>>,
    pub constraints: Option<Constraints>,
    pub grant_tokens: Option<Vec<String>>,
    pub name: Option<String>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub grant_token: String,
    pub grant_id: String,
}

fn principal(v: &mut Validator, field: &str, value: Option<&str>) {
    v.len(field, value, 1, 256).pattern(
        field,
        value,
        |s| s.chars().all(|c| ('\u{20}'..='\u{7E}').contains(&c)),
        "^[\\w+=,.@:/-]+$",
    );
}

pub(crate) fn name(v: &mut Validator, value: Option<&str>) {
    v.len("name", value, 1, 256).pattern(
        "name",
        value,
        |s| s.chars().all(|c| c.is_ascii_alphanumeric() || ":/_-".contains(c)),
        "^[a-zA-Z0-9:/_-]+$",
    );
}

/// CreateGrant: the grant is effective at once; a repeated request with the same Name and
/// the same parameters returns the existing grant's id (with a new token).
pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    v.required("granteePrincipal", &req.grantee_principal).required("operations", &req.operations);
    principal(&mut v, "granteePrincipal", req.grantee_principal.as_deref());
    principal(&mut v, "retiringPrincipal", req.retiring_principal.as_deref());
    if let Some(ops) = &req.operations {
        v.count("operations", Some(ops.len()), 1, GRANT_OPERATIONS.len());
        for o in ops {
            v.one_of("operations.member", Some(o), GRANT_OPERATIONS);
        }
    }
    checks::grant_tokens(&mut v, &req.grant_tokens);
    name(&mut v, req.name.as_deref());
    v.finish()?;
    let constraints = req.constraints.filter(|c| c != &Constraints::default());
    let mut ops = req.operations.unwrap_or_default();
    ops.sort();
    ops.dedup();
    if constraints.is_some() {
        if let Some(o) = ops.iter().find(|o| {
            !crate::grants::CONTEXT_OPERATIONS.contains(&o.as_str())
                && *o != "CreateGrant"
                && *o != "RetireGrant"
                && *o != "DescribeKey"
        }) {
            return Err(KmsError::validation(format!(
                "Grant constraints are not supported for the {o} operation, which does not take an encryption context."
            )));
        }
    }
    let grantee = req.grantee_principal.unwrap_or_default();
    let mut tx = kms.store().write()?;
    let r = kms.resolve(&mut *tx, caller, req.key_id.as_deref().unwrap_or_default(), false)?;
    let rec = kms.load(&mut *tx, &r)?;
    require_not_pending_deletion(&rec)?;
    if req.dry_run == Some(true) {
        return Err(KmsError::DryRun);
    }
    let raw = trent_crypto::random_secret(64).map_err(KmsError::internal)?;
    let token = URL_SAFE_NO_PAD.encode(raw.expose());
    let existing = kms.grants_of(&mut *tx, &r)?.into_iter().find(|g| {
        req.name.is_some()
            && g.name == req.name
            && g.grantee_principal == grantee
            && g.retiring_principal == req.retiring_principal
            && g.operations == ops
            && g.constraints == constraints
    });
    let mut g = match existing {
        Some(g) => g,
        None => {
            let mut id = [0u8; 32];
            trent_crypto::fill_random(&mut id).map_err(KmsError::internal)?;
            GrantRecord {
                grant_id: hex::encode(id),
                key_arn: rec.arn(),
                account: r.account.clone(),
                region: r.region.clone(),
                key_id: r.key_id.clone(),
                name: req.name,
                created_ms: kms.clock.now_ms(),
                grantee_principal: grantee,
                retiring_principal: req.retiring_principal,
                issuing_account: format!("arn:{}:iam::{}:root", caller.partition(), caller.account()),
                operations: ops,
                constraints,
                token_hashes: Vec::new(),
            }
        }
    };
    if kms.grants_of(&mut *tx, &r)?.len() >= 50_000 {
        return Err(KmsError::LimitExceeded("The key has too many grants.".into()));
    }
    let hash = sha256_hex(&token);
    g.token_hashes.push(hash.clone());
    tx.put(T_GRANT, &g.store_key(), &serde_json::to_vec(&g).map_err(KmsError::internal)?)?;
    tx.put(T_GRANT_TOKEN, &hash, g.store_key().as_bytes())?;
    tx.commit()?;
    Ok(Response { grant_token: token, grant_id: g.grant_id })
}
