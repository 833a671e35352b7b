use super::{policy_name, user_name, Out};
use crate::model::url_encode;
use crate::{Caller, Iam, IamError};
use trent_wire::query::{Params, XmlWriter};

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let r = iam.user(c.account(), user_name(p)?)?;
    let policy = policy_name(p)?;
    let doc = r
        .inline
        .get(policy)
        .ok_or_else(|| IamError::NoSuchEntity(format!("The user policy with name {policy} cannot be found.")))?;
    let mut w = XmlWriter::new();
    w.text("UserName", &r.name).text("PolicyName", policy).text("PolicyDocument", &url_encode(doc));
    Ok(Some(w))
}
