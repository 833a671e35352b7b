use super::{user_xml, Out};
use crate::model::{UserRecord, T_USER};
use crate::{page, write_paging, Caller, Iam};
use trent_wire::query::{Params, XmlWriter};

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let prefix = p.get("PathPrefix").unwrap_or("/");
    let users: Vec<UserRecord> =
        iam.all::<UserRecord>(T_USER, c.account())?.into_iter().filter(|u| u.path.starts_with(prefix)).collect();
    let (users, marker) = page(users, p, |u| u.name.to_lowercase())?;
    let mut w = XmlWriter::new();
    w.members("Users", &users, |w, u| user_xml(w, c, u));
    write_paging(&mut w, marker);
    Ok(Some(w))
}
