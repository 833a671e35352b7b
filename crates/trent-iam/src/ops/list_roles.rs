use super::{role_xml, Out};
use crate::model::{RoleRecord, T_ROLE};
use crate::{page, write_paging, Caller, Iam};
use trent_wire::query::{Params, XmlWriter};

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let prefix = p.get("PathPrefix").unwrap_or("/");
    let roles: Vec<RoleRecord> =
        iam.all::<RoleRecord>(T_ROLE, c.account())?.into_iter().filter(|r| r.path.starts_with(prefix)).collect();
    let (roles, marker) = page(roles, p, |r| r.name.to_lowercase())?;
    let mut w = XmlWriter::new();
    w.members("Roles", &roles, |w, r| role_xml(w, c, r, true));
    write_paging(&mut w, marker);
    Ok(Some(w))
}
