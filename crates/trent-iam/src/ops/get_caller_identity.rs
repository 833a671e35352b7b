use super::Out;
use crate::{Caller, Iam};
use trent_wire::query::{Params, XmlWriter};

/// Needs no permission, as on AWS.
pub fn handle(_iam: &Iam, c: &Caller, _p: &Params) -> Out {
    let mut w = XmlWriter::new();
    w.text("UserId", &c.principal.user_id()).text("Account", c.account()).text("Arn", &c.arn());
    Ok(Some(w))
}
