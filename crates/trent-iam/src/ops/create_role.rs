use super::{path_param, role_name, role_xml, Out};
use crate::model::{check_trust_policy, RoleRecord, T_ROLE};
use crate::{Caller, Iam, IamError};
use trent_wire::query::{Params, XmlWriter};

/// `MaxSessionDuration`: 3600–43200 seconds.
pub(crate) fn max_session(p: &Params) -> Result<Option<i64>, IamError> {
    let Some(s) = p.get("MaxSessionDuration") else { return Ok(None) };
    match s.parse::<i64>() {
        Ok(n) if (3600..=43200).contains(&n) => Ok(Some(n)),
        _ => Err(IamError::Validation(format!(
            "1 validation error detected: Value '{}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200",
            crate::truncate(s)
        ))),
    }
}

pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let name = role_name(p)?;
    let path = path_param(p)?;
    let trust = p.required("AssumeRolePolicyDocument")?;
    check_trust_policy(trust)?;
    let description = p.get("Description").map(str::to_string);
    if description.as_ref().is_some_and(|d| d.chars().count() > 1000) {
        return Err(IamError::Validation(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 1000".into(),
        ));
    }
    let max_session_secs = max_session(p)?.unwrap_or(3600);
    let mut tx = iam.write()?;
    if Iam::get_in::<RoleRecord>(&mut *tx, T_ROLE, c.account(), name)?.is_some() {
        return Err(IamError::EntityAlreadyExists(format!("Role with name {name} already exists.")));
    }
    let r = RoleRecord {
        name: name.to_string(),
        path,
        id: crate::credentials::random_id("AROA", 17).map_err(IamError::internal)?,
        created_ms: iam.now_ms(),
        trust_policy: trust.to_string(),
        description,
        max_session_secs,
        inline: Default::default(),
        attached: Vec::new(),
    };
    Iam::put_in(&mut *tx, T_ROLE, c.account(), name, &r)?;
    tx.commit()?;
    let mut w = XmlWriter::new();
    w.node("Role", |w| role_xml(w, c, &r, true));
    Ok(Some(w))
}
