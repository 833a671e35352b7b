use super::{user_name, user_xml, Out};
use crate::{Caller, Iam, IamError};
use trent_policy::PrincipalKind;
use trent_wire::query::{Params, XmlWriter};

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let mut w = XmlWriter::new();
    let name = match (p.get("UserName"), &c.principal.kind) {
        (Some(_), _) => user_name(p)?.to_string(),
        (None, PrincipalKind::User { name, .. }) => name.clone(),
        (None, PrincipalKind::Root) => {
            // AWS describes the root user itself.
            w.node("User", |w| {
                w.text("UserId", c.account()).text("Arn", &c.arn());
            });
            return Ok(Some(w));
        }
        (None, PrincipalKind::AssumedRole { .. }) => {
            return Err(IamError::Validation("Must specify userName when calling with non-User credentials".into()))
        }
    };
    let u = iam.user(c.account(), &name)?;
    w.node("User", |w| user_xml(w, c, &u));
    Ok(Some(w))
}
