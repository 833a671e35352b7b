use super::oidc_common::{self, tags_xml};
use super::{secs, Out};
use crate::{Caller, Iam};
use trent_wire::query::{Params, XmlWriter};

/// `GetOpenIDConnectProvider`: the URL (without its scheme, as AWS returns it), client ids,
/// thumbprints, creation date and tags.
pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let (id, rec) = oidc_common::load_required(iam, c, p)?;
    let ids: Vec<&str> = rec.client_ids.iter().map(String::as_str).collect();
    let prints: Vec<&str> = rec.thumbprints.iter().map(String::as_str).collect();
    let mut w = XmlWriter::new();
    w.text("Url", &id).string_members("ClientIDList", &ids).string_members("ThumbprintList", &prints);
    w.timestamp("CreateDate", secs(rec.created_ms));
    tags_xml(&mut w, &rec.tags);
    Ok(Some(w))
}
