use super::create_access_key::{key_owner, owned_by};
use super::{secs, Out};
use crate::{page, write_paging, Caller, Iam};
use trent_wire::query::{Params, XmlWriter};

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let (owner, user_name) = key_owner(iam, c, p)?;
    let keys = iam.identity().records_where(|r| owned_by(r, &owner))?;
    let (keys, marker) = page(keys, p, |k| k.access_key_id.clone())?;
    let mut w = XmlWriter::new();
    w.members("AccessKeyMetadata", &keys, |w, k| {
        w.opt_text("UserName", user_name.as_deref())
            .text("AccessKeyId", &k.access_key_id)
            .text("Status", &k.status)
            .timestamp("CreateDate", secs(k.created_ms));
    });
    write_paging(&mut w, marker);
    Ok(Some(w))
}
