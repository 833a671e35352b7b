use super::oidc_common::{self, check_thumbprints};
use super::Out;
use crate::{Caller, Iam};
use trent_wire::query::Params;

/// `UpdateOpenIDConnectProviderThumbprint`: replaces the thumbprint list.
pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    // The member is required (it may be an empty list, which botocore sends as the bare name).
    if p.get("ThumbprintList").is_none() && !p.names().any(|n| n.starts_with("ThumbprintList.")) {
        p.required("ThumbprintList")?;
    }
    let thumbprints = p.list("ThumbprintList")?;
    check_thumbprints(&thumbprints)?;
    let (id, mut rec) = oidc_common::load_required(iam, c, p)?;
    rec.thumbprints = thumbprints;
    oidc_common::save(iam, c.account(), &id, &rec)?;
    Ok(None)
}
