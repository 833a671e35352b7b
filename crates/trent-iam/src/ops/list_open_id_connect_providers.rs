use super::Out;
use crate::model::{self, OidcProviderRecord};
use crate::{Caller, Iam};
use trent_wire::query::{Params, XmlWriter};

/// `ListOpenIDConnectProviders`: the ARNs of the account's providers.
pub fn handle(iam: &Iam, c: &Caller, _p: &Params) -> Out {
    let all: Vec<OidcProviderRecord> = iam.all(model::T_OIDC_PROVIDER, c.account())?;
    let arns: Vec<String> = all.iter().map(|r| model::oidc_provider_arn(c.partition(), c.account(), r.id())).collect();
    let mut w = XmlWriter::new();
    w.members("OpenIDConnectProviderList", &arns, |w, arn| {
        w.text("Arn", arn);
    });
    Ok(Some(w))
}
