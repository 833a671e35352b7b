use super::{policy_xml, Out};
use crate::model::{ManagedPolicyRecord, T_POLICY};
use crate::{page, write_paging, Caller, Iam, IamError};
use trent_wire::query::{Params, XmlWriter};

/// Customer managed policies of the account (`Scope=AWS` lists none: Trent has no AWS managed
/// policies).
pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let scope = p.get("Scope").unwrap_or("All");
    if !["All", "AWS", "Local"].contains(&scope) {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]",
            crate::truncate(scope)
        )));
    }
    let only_attached = p.get("OnlyAttached") == Some("true");
    let prefix = p.get("PathPrefix").unwrap_or("/");
    let all: Vec<ManagedPolicyRecord> = if scope == "AWS" { Vec::new() } else { iam.all(T_POLICY, c.account())? };
    let list: Vec<ManagedPolicyRecord> =
        all.into_iter().filter(|m| m.path.starts_with(prefix) && (!only_attached || m.attachment_count > 0)).collect();
    let (list, marker) = page(list, p, |m| m.name.to_lowercase())?;
    let mut w = XmlWriter::new();
    w.members("Policies", &list, |w, m| policy_xml(w, c, m));
    write_paging(&mut w, marker);
    Ok(Some(w))
}
