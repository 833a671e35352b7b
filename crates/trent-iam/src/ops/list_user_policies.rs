use super::{user_name, Out};
use crate::{page, write_paging, Caller, Iam};
use trent_wire::query::{Params, XmlWriter};

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let r = iam.user(c.account(), user_name(p)?)?;
    let names: Vec<String> = r.inline.keys().cloned().collect();
    let (names, marker) = page(names, p, |n| n.clone())?;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut w = XmlWriter::new();
    w.string_members("PolicyNames", &refs);
    write_paging(&mut w, marker);
    Ok(Some(w))
}
