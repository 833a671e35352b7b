use super::{path_param, policy_name, policy_xml, Out};
use crate::model::{check_identity_policy, ManagedPolicyRecord, T_POLICY};
use crate::{Caller, Iam, IamError};
use trent_wire::query::{Params, XmlWriter};

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let name = policy_name(p)?;
    let path = path_param(p)?;
    let doc = p.required("PolicyDocument")?;
    check_identity_policy(doc, Some(trent_policy::MANAGED_POLICY_MAX_CHARS))?;
    let mut tx = iam.write()?;
    if Iam::get_in::<ManagedPolicyRecord>(&mut *tx, T_POLICY, c.account(), name)?.is_some() {
        return Err(IamError::EntityAlreadyExists(format!(
            "A policy called {name} already exists. Duplicate names are not allowed."
        )));
    }
    let now = iam.now_ms();
    let m = ManagedPolicyRecord {
        name: name.to_string(),
        path,
        id: crate::credentials::random_id("ANPA", 17).map_err(IamError::internal)?,
        created_ms: now,
        updated_ms: now,
        document: doc.to_string(),
        description: p.get("Description").map(str::to_string),
        attachment_count: 0,
    };
    Iam::put_in(&mut *tx, T_POLICY, c.account(), name, &m)?;
    tx.commit()?;
    let mut w = XmlWriter::new();
    w.node("Policy", |w| policy_xml(w, c, &m));
    Ok(Some(w))
}
