use super::{policy_xml, Out};
use crate::{Caller, Iam};
use trent_wire::query::{Params, XmlWriter};

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let m = iam.policy_by_arn(c, p.required("PolicyArn")?)?;
    let mut w = XmlWriter::new();
    w.node("Policy", |w| policy_xml(w, c, &m));
    Ok(Some(w))
}
