use super::oidc_common::{self, check_client_id, check_thumbprints, tags_xml};
use super::Out;
use crate::model::{self, OidcProviderRecord};
use crate::{Caller, Iam, IamError};
use trent_wire::query::{Params, XmlWriter};

/// `CreateOpenIDConnectProvider`: an issuer whose ID tokens `AssumeRoleWithWebIdentity`
/// accepts for roles trusting `{"Federated": "<its ARN>"}`. `https://` only (`http://` for a
/// loopback address, for tests); the thumbprints are kept and returned (trentd verifies the
/// issuer's certificate against its trusted roots instead, as AWS does for most issuers).
pub fn handle(iam: &Iam, c: &Caller, p: &Params) -> Out {
    let url = model::normalize_issuer_url(p.required("Url")?)?;
    let mut client_ids: Vec<String> = Vec::new();
    for id in p.list("ClientIDList")? {
        check_client_id(&id)?;
        if !client_ids.contains(&id) {
            client_ids.push(id);
        }
    }
    if client_ids.len() > oidc_common::MAX_CLIENT_IDS {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {}",
            oidc_common::MAX_CLIENT_IDS
        )));
    }
    let thumbprints = p.list("ThumbprintList")?;
    check_thumbprints(&thumbprints)?;
    let mut tags = Vec::new();
    for t in p.structs("Tags")? {
        let (Some(k), Some(v)) = (t.get("Key"), t.get("Value")) else {
            return Err(IamError::InvalidInput("Every tag needs a Key and a Value.".into()));
        };
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(IamError::InvalidInput("A tag key is 1-128 characters and a tag value at most 256.".into()));
        }
        tags.push((k.to_string(), v.to_string()));
    }
    if tags.len() > 50 {
        return Err(IamError::LimitExceeded("Cannot exceed quota for TagsPerOpenIdConnectProvider: 50".into()));
    }
    let rec = OidcProviderRecord { url: url.clone(), client_ids, thumbprints, created_ms: iam.now_ms(), tags };
    let id = rec.id().to_string();
    if oidc_common::load(iam, c.account(), &id)?.is_some() {
        return Err(IamError::EntityAlreadyExists(format!("Provider with url {url} already exists.")));
    }
    if iam.all::<OidcProviderRecord>(model::T_OIDC_PROVIDER, c.account())?.len() >= oidc_common::MAX_PROVIDERS {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for OpenIdConnectProvidersPerAccount: {}",
            oidc_common::MAX_PROVIDERS
        )));
    }
    oidc_common::save(iam, c.account(), &id, &rec)?;
    let mut w = XmlWriter::new();
    w.text("OpenIDConnectProviderArn", &model::oidc_provider_arn(c.partition(), c.account(), &id));
    tags_xml(&mut w, &rec.tags);
    Ok(Some(w))
}
