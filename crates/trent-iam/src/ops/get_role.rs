use super::{role_name, role_xml, Out};
use crate::{Caller, Iam};
use trent_wire::query::{Params, XmlWriter};

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let r = iam.role(c.account(), role_name(p)?)?;
    let mut w = XmlWriter::new();
    w.node("Role", |w| {
        role_xml(w, c, &r, true);
        w.node("RoleLastUsed", |_| {});
    });
    Ok(Some(w))
}
