use super::{secs, Out};
use crate::model::url_encode;
use crate::{Caller, Iam, IamError};
use trent_wire::query::{Params, XmlWriter};

/// Managed policies have one version, `v1`, the default.
pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let arn = p.required("PolicyArn")?;
    let m = iam.policy_by_arn(c, arn)?;
    let version = p.required("VersionId")?;
    if version != "v1" {
        return Err(IamError::NoSuchEntity(format!(
            "Policy {} version {} does not exist or is not attachable.",
            crate::truncate(arn),
            crate::truncate(version)
        )));
    }
    let mut w = XmlWriter::new();
    w.node("PolicyVersion", |w| {
        w.text("Document", &url_encode(&m.document))
            .text("VersionId", "v1")
            .boolean("IsDefaultVersion", true)
            .timestamp("CreateDate", secs(m.created_ms));
    });
    Ok(Some(w))
}
