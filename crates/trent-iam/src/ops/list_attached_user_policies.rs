use super::{attached_xml, user_name, Out};
use crate::{page, write_paging, Caller, Iam};
use trent_wire::query::{Params, XmlWriter};

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let r = iam.user(c.account(), user_name(p)?)?;
    let prefix = p.get("PathPrefix").unwrap_or("/");
    let arns: Vec<String> = r
        .attached
        .into_iter()
        .filter(|a| a.split_once(":policy").is_some_and(|(_, rest)| rest.starts_with(prefix)))
        .collect();
    let (arns, marker) = page(arns, p, |a| a.clone())?;
    let mut w = XmlWriter::new();
    attached_xml(&mut w, &arns);
    write_paging(&mut w, marker);
    Ok(Some(w))
}
