use crate::grants::{GrantRecord, T_GRANT};
use crate::{checks, Caller, Kms, KmsError};
use serde::Deserialize;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub limit: Option<i64>,
    pub marker: Option<String>,
    pub retiring_principal: Option<String>,
}

pub use super::list_grants::Response;

/// Grants on the caller's account's keys in this region whose retiring principal is the one named.
pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    v.required("retiringPrincipal", &req.retiring_principal).len(
        "retiringPrincipal",
        req.retiring_principal.as_deref(),
        1,
        256,
    );
    checks::limit(&mut v, req.limit, 100);
    checks::marker(&mut v, &req.marker);
    v.finish()?;
    let who = req.retiring_principal.unwrap_or_default();
    let prefix = format!("{}/{}/", caller.account(), caller.region);
    let rows = kms.store().read()?.scan(T_GRANT, &prefix, None, 100_000)?;
    let mut grants = Vec::new();
    for (_, raw) in rows {
        let g: GrantRecord = serde_json::from_slice(&raw).map_err(KmsError::internal)?;
        if g.retiring_principal.as_deref() == Some(who.as_str()) {
            grants.push(g);
        }
    }
    super::list_grants::page(grants, req.limit, &req.marker)
}
