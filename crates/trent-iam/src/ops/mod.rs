//! One file per IAM and STS action, named after the action in snake_case.

use crate::model::{self, ManagedPolicyRecord, RoleRecord, UserRecord};
use crate::{Caller, IamError};
use trent_wire::query::{Params, XmlWriter};

pub mod add_client_id_to_open_id_connect_provider;
pub mod assume_role;
pub mod assume_role_with_web_identity;
pub mod attach_role_policy;
pub mod attach_user_policy;
pub mod create_access_key;
pub mod create_open_id_connect_provider;
pub mod create_policy;
pub mod create_role;
pub mod create_user;
pub mod delete_access_key;
pub mod delete_open_id_connect_provider;
pub mod delete_policy;
pub mod delete_role;
pub mod delete_role_policy;
pub mod delete_user;
pub mod delete_user_policy;
pub mod detach_role_policy;
pub mod detach_user_policy;
pub mod get_caller_identity;
pub mod get_open_id_connect_provider;
pub mod get_policy;
pub mod get_policy_version;
pub mod get_role;
pub mod get_role_policy;
pub mod get_session_token;
pub mod get_user;
pub mod get_user_policy;
pub mod list_access_keys;
pub mod list_attached_role_policies;
pub mod list_attached_user_policies;
pub mod list_open_id_connect_providers;
pub mod list_policies;
pub mod list_role_policies;
pub mod list_roles;
pub mod list_user_policies;
pub mod list_users;
pub(crate) mod oidc_common;
pub mod put_role_policy;
pub mod put_user_policy;
pub mod remove_client_id_from_open_id_connect_provider;
pub mod update_access_key;
pub mod update_assume_role_policy;
pub mod update_open_id_connect_provider_thumbprint;

pub(crate) type Out = Result<Option<XmlWriter>, IamError>;

pub(crate) fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

pub(crate) fn user_xml(w: &mut XmlWriter, c: &Caller, u: &UserRecord) {
    w.text("Path", &u.path)
        .text("UserName", &u.name)
        .text("UserId", &u.id)
        .text("Arn", &model::user_arn(c.partition(), c.account(), &u.path, &u.name))
        .timestamp("CreateDate", secs(u.created_ms));
}

pub(crate) fn role_xml(w: &mut XmlWriter, c: &Caller, r: &RoleRecord, with_trust: bool) {
    w.text("Path", &r.path)
        .text("RoleName", &r.name)
        .text("RoleId", &r.id)
        .text("Arn", &model::role_arn(c.partition(), c.account(), &r.path, &r.name))
        .timestamp("CreateDate", secs(r.created_ms));
    if with_trust {
        w.text("AssumeRolePolicyDocument", &model::url_encode(&r.trust_policy));
    }
    w.opt_text("Description", r.description.as_deref()).number("MaxSessionDuration", r.max_session_secs);
}

pub(crate) fn policy_xml(w: &mut XmlWriter, c: &Caller, p: &ManagedPolicyRecord) {
    w.text("PolicyName", &p.name)
        .text("PolicyId", &p.id)
        .text("Arn", &model::policy_arn(c.partition(), c.account(), &p.path, &p.name))
        .text("Path", &p.path)
        .text("DefaultVersionId", "v1")
        .number("AttachmentCount", p.attachment_count)
        .number("PermissionsBoundaryUsageCount", 0)
        .boolean("IsAttachable", true)
        .opt_text("Description", p.description.as_deref())
        .timestamp("CreateDate", secs(p.created_ms))
        .timestamp("UpdateDate", secs(p.updated_ms));
}

pub(crate) fn path_param(p: &Params) -> Result<String, IamError> {
    let path = p.get("Path").unwrap_or("/");
    model::check_path(path, "path")?;
    Ok(path.to_string())
}

pub(crate) fn user_name(p: &Params) -> Result<&str, IamError> {
    let n = p.required("UserName")?;
    model::check_name(n, "userName", 64)?;
    Ok(n)
}

pub(crate) fn role_name(p: &Params) -> Result<&str, IamError> {
    let n = p.required("RoleName")?;
    model::check_name(n, "roleName", 64)?;
    Ok(n)
}

pub(crate) fn policy_name(p: &Params) -> Result<&str, IamError> {
    let n = p.required("PolicyName")?;
    model::check_name(n, "policyName", 128)?;
    Ok(n)
}

/// Attaching a managed policy to a user's or role's list (at most 10, as IAM's default quota).
pub(crate) fn attach(list: &mut Vec<String>, arn: &str, quota: &str) -> Result<bool, IamError> {
    if list.iter().any(|a| a == arn) {
        return Ok(false);
    }
    if list.len() >= 10 {
        return Err(IamError::LimitExceeded(format!("Cannot exceed quota for {quota}: 10")));
    }
    list.push(arn.to_string());
    Ok(true)
}

pub(crate) fn detach(list: &mut Vec<String>, arn: &str) -> Result<(), IamError> {
    let before = list.len();
    list.retain(|a| a != arn);
    if list.len() == before {
        return Err(IamError::NoSuchEntity(format!("Policy {} was not found.", crate::truncate(arn))));
    }
    Ok(())
}

/// Changes a managed policy's attachment count in the same transaction as the attachment.
pub(crate) fn bump_attachments(tx: &mut dyn trent_store::Txn, c: &Caller, arn: &str, by: i64) -> Result<(), IamError> {
    let name = arn.rsplit('/').next().unwrap_or("");
    if let Some(mut m) = crate::Iam::get_in::<ManagedPolicyRecord>(tx, model::T_POLICY, c.account(), name)? {
        m.attachment_count = (m.attachment_count + by).max(0);
        crate::Iam::put_in(tx, model::T_POLICY, c.account(), name, &m)?;
    }
    Ok(())
}

pub(crate) fn attached_xml(w: &mut XmlWriter, arns: &[String]) {
    w.members("AttachedPolicies", arns, |w, arn| {
        w.text("PolicyName", arn.rsplit('/').next().unwrap_or("")).text("PolicyArn", arn);
    });
}
