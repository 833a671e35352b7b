use crate::grants::{Constraints, GrantRecord};
use crate::model::ms_to_epoch;
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub limit: Option<i64>,
    pub marker: Option<String>,
    pub grant_id: Option<String>,
    pub grantee_principal: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GrantListEntry {
    pub key_id: String,
    pub grant_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub creation_date: f64,
    pub grantee_principal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retiring_principal: Option<String>,
    pub issuing_account: String,
    pub operations: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Constraints>,
}

impl From<GrantRecord> for GrantListEntry {
    fn from(g: GrantRecord) -> Self {
        GrantListEntry {
            key_id: g.key_arn,
            grant_id: g.grant_id,
            name: g.name,
            creation_date: ms_to_epoch(g.created_ms),
            grantee_principal: g.grantee_principal,
            retiring_principal: g.retiring_principal,
            issuing_account: g.issuing_account,
            operations: g.operations,
            constraints: g.constraints,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub grants: Vec<GrantListEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub truncated: bool,
}

pub(crate) fn page(
    mut grants: Vec<GrantRecord>,
    limit: Option<i64>,
    marker: &Option<String>,
) -> Result<Response, KmsError> {
    grants.sort_by_key(|g| (g.created_ms, g.grant_id.clone()));
    let (range, next_marker) = checks::index_page(grants.len(), marker, limit.unwrap_or(50) as usize)?;
    let grants = grants.drain(range).map(GrantListEntry::from).collect();
    Ok(Response { grants, truncated: next_marker.is_some(), next_marker })
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    checks::limit(&mut v, req.limit, 100);
    checks::marker(&mut v, &req.marker);
    v.len("grantId", req.grant_id.as_deref(), 1, 128).len("granteePrincipal", req.grantee_principal.as_deref(), 1, 256);
    v.finish()?;
    let mut tx = kms.store().read()?;
    let r = kms.resolve(&mut *tx, caller, req.key_id.as_deref().unwrap_or_default(), false)?;
    kms.load(&mut *tx, &r)?;
    let grants: Vec<GrantRecord> = kms
        .grants_of(&mut *tx, &r)?
        .into_iter()
        .filter(|g| req.grant_id.as_ref().is_none_or(|id| *id == g.grant_id))
        .filter(|g| req.grantee_principal.as_ref().is_none_or(|p| *p == g.grantee_principal))
        .collect();
    page(grants, req.limit, &req.marker)
}
