//! What the OpenID Connect provider actions share: the provider named by
//! `OpenIDConnectProviderArn`, and the checks of client ids and thumbprints.

use crate::model::{self, OidcProviderRecord, T_OIDC_PROVIDER};
use crate::{Caller, Iam, IamError};
use trent_wire::query::Params;

/// AWS's quotas: client ids per provider, thumbprints per provider, providers per account.
pub(crate) const MAX_CLIENT_IDS: usize = 100;
pub(crate) const MAX_THUMBPRINTS: usize = 5;
pub(crate) const MAX_PROVIDERS: usize = 100;

fn constraint(value: &str, member: &str, what: &str) -> IamError {
    IamError::Validation(format!(
        "1 validation error detected: Value '{}' at '{member}' failed to satisfy constraint: {what}",
        crate::truncate(value)
    ))
}

/// The provider id an `OpenIDConnectProviderArn` of the caller's account names.
pub(crate) fn arn_param(c: &Caller, p: &Params) -> Result<String, IamError> {
    let arn = p.required("OpenIDConnectProviderArn")?;
    let n = arn.chars().count();
    if n < 20 {
        return Err(constraint(arn, "openIDConnectProviderArn", "Member must have length greater than or equal to 20"));
    }
    if n > 2048 {
        return Err(constraint(arn, "openIDConnectProviderArn", "Member must have length less than or equal to 2048"));
    }
    let invalid = || IamError::InvalidInput(format!("ARN {} is not valid.", crate::truncate(arn)));
    let a = trent_policy::Arn::parse(arn).ok_or_else(invalid)?;
    let id = a.resource.strip_prefix("oidc-provider/").filter(|r| !r.is_empty()).ok_or_else(invalid)?;
    if a.service != "iam" || !a.region.is_empty() {
        return Err(invalid());
    }
    if a.account != c.account() || a.partition != c.partition() {
        return Err(not_found(arn));
    }
    Ok(id.to_string())
}

pub(crate) fn not_found(arn: &str) -> IamError {
    IamError::NoSuchEntity(format!("OpenIDConnect Provider not found for arn {}", crate::truncate(arn)))
}

/// The stored provider `id` of `account`.
pub(crate) fn load(iam: &Iam, account: &str, id: &str) -> Result<Option<OidcProviderRecord>, IamError> {
    let raw = iam.store_read(T_OIDC_PROVIDER, &model::oidc_store_key(account, id))?;
    raw.map(|r| serde_json::from_slice(&r).map_err(IamError::internal)).transpose()
}

pub(crate) fn load_required(iam: &Iam, c: &Caller, p: &Params) -> Result<(String, OidcProviderRecord), IamError> {
    let id = arn_param(c, p)?;
    match load(iam, c.account(), &id)? {
        Some(r) => Ok((id, r)),
        None => Err(not_found(p.get("OpenIDConnectProviderArn").unwrap_or(""))),
    }
}

pub(crate) fn save(iam: &Iam, account: &str, id: &str, rec: &OidcProviderRecord) -> Result<(), IamError> {
    let mut tx = iam.write()?;
    tx.put(
        T_OIDC_PROVIDER,
        &model::oidc_store_key(account, id),
        &serde_json::to_vec(rec).map_err(IamError::internal)?,
    )?;
    tx.commit()?;
    Ok(())
}

pub(crate) fn check_client_id(id: &str) -> Result<(), IamError> {
    let n = id.chars().count();
    if n < 1 {
        return Err(constraint(id, "clientID", "Member must have length greater than or equal to 1"));
    }
    if n > 255 {
        return Err(constraint(id, "clientID", "Member must have length less than or equal to 255"));
    }
    Ok(())
}

/// A thumbprint: the hex SHA-1 of a certificate (40 characters).
pub(crate) fn check_thumbprints(list: &[String]) -> Result<(), IamError> {
    if list.len() > MAX_THUMBPRINTS {
        return Err(IamError::LimitExceeded(format!(
            "Thumbprint list must contain at most {MAX_THUMBPRINTS} entries."
        )));
    }
    for t in list {
        if t.chars().count() != 40 {
            return Err(constraint(t, "thumbprintList", "Member must have length greater than or equal to 40"));
        }
        if !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(IamError::InvalidInput(format!(
                "Thumbprint {} is not a hexadecimal SHA-1 digest.",
                crate::truncate(t)
            )));
        }
    }
    Ok(())
}

pub(crate) fn tags_xml(w: &mut trent_wire::query::XmlWriter, tags: &[(String, String)]) {
    w.members("Tags", tags, |w, (k, v)| {
        w.text("Key", k).text("Value", v);
    });
}
