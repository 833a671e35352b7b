//! CreateCustomKeyStore: a store of type AWS_CLOUDHSM over a cluster declared with
//! `--pkcs11-cluster`. Created DISCONNECTED; the password (the token's user PIN) is kept wrapped
//! under the root key. EXTERNAL_KEY_STORE stores are not served yet.

use crate::custom_key_stores::{new_id, store_key, StoreRecord, CLOUDHSM, DISCONNECTED, T_CKS};
use crate::{Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_wire::validate::Validator;

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub custom_key_store_name: Option<String>,
    pub cloud_hsm_cluster_id: Option<String>,
    pub trust_anchor_certificate: Option<String>,
    pub key_store_password: Option<zeroize::Zeroizing<String>>,
    pub custom_key_store_type: Option<String>,
    pub xks_proxy_uri_endpoint: Option<String>,
    pub xks_proxy_uri_path: Option<String>,
    pub xks_proxy_connectivity: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub custom_key_store_id: String,
}

/// A PEM certificate: one `CERTIFICATE` block whose base64 decodes to a DER SEQUENCE.
pub(crate) fn is_pem_certificate(pem: &str) -> bool {
    let Some(rest) = pem.trim().strip_prefix("-----BEGIN CERTIFICATE-----") else { return false };
    let Some(body) = rest.strip_suffix("-----END CERTIFICATE-----") else { return false };
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64.as_bytes())
        .is_ok_and(|der| der.len() > 16 && der[0] == 0x30)
}

pub(crate) fn validate_common(
    v: &mut Validator,
    name_field: &str,
    name: Option<&str>,
    cluster: Option<&str>,
    password: Option<&str>,
) {
    v.len(name_field, name, 1, 256).len("cloudHsmClusterId", cluster, 19, 24).pattern(
        "cloudHsmClusterId",
        cluster,
        crate::hsm::valid_cluster_id,
        "cluster-[2-7a-zA-Z]{11,16}",
    );
    // The password is sensitive: its constraint is checked without echoing the value.
    if password.is_some_and(|p| !(7..=32).contains(&p.chars().count())) {
        v.custom("Value at 'keyStorePassword' failed to satisfy constraint: Member must have length between 7 and 32");
    }
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    v.required("customKeyStoreName", &req.custom_key_store_name);
    validate_common(
        &mut v,
        "customKeyStoreName",
        req.custom_key_store_name.as_deref(),
        req.cloud_hsm_cluster_id.as_deref(),
        req.key_store_password.as_deref().map(|s| s.as_str()),
    );
    v.len("trustAnchorCertificate", req.trust_anchor_certificate.as_deref(), 1, 5000).one_of(
        "customKeyStoreType",
        req.custom_key_store_type.as_deref(),
        &["AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"],
    );
    v.finish()?;
    let store_type = req.custom_key_store_type.unwrap_or_else(|| CLOUDHSM.to_string());
    if store_type != CLOUDHSM {
        return Err(KmsError::UnsupportedOperation(
            "External key stores (EXTERNAL_KEY_STORE) are not supported by this server yet; Trent serves the XKS proxy API for them instead.".into(),
        ));
    }
    if req.xks_proxy_uri_endpoint.is_some() || req.xks_proxy_uri_path.is_some() || req.xks_proxy_connectivity.is_some()
    {
        return Err(KmsError::validation(
            "XksProxy* parameters are only valid with CustomKeyStoreType EXTERNAL_KEY_STORE.",
        ));
    }
    let (Some(cluster), Some(anchor), Some(password)) =
        (req.cloud_hsm_cluster_id, req.trust_anchor_certificate, req.key_store_password)
    else {
        return Err(KmsError::validation(
            "CloudHsmClusterId, TrustAnchorCertificate and KeyStorePassword are required for an AWS_CLOUDHSM key store.",
        ));
    };
    let name = req.custom_key_store_name.unwrap_or_default();
    if kms.hsm.cluster(&cluster).is_none() {
        return Err(KmsError::CustomKeyStore(
            "CloudHsmClusterNotFoundException",
            format!("No cluster {cluster} is configured on this server (--pkcs11-cluster)."),
        ));
    }
    if !is_pem_certificate(&anchor) {
        return Err(KmsError::CustomKeyStore(
            "IncorrectTrustAnchorException",
            "The TrustAnchorCertificate is not a PEM-encoded X.509 certificate.".into(),
        ));
    }
    let existing = kms.stores(caller.account(), &caller.region)?;
    if existing.iter().any(|s| s.name == name) {
        return Err(KmsError::CustomKeyStore(
            "CustomKeyStoreNameInUseException",
            format!("A custom key store named {name} already exists in this account and Region."),
        ));
    }
    if existing.iter().any(|s| s.cluster_id == cluster) {
        return Err(KmsError::CustomKeyStore(
            "CloudHsmClusterInUseException",
            format!("The cluster {cluster} is already associated with a custom key store."),
        ));
    }
    let id = new_id()?;
    let rec = StoreRecord {
        wrapped_password: kms.wrap_password(&id, &password)?,
        id: id.clone(),
        account_id: caller.account().to_string(),
        region: caller.region.clone(),
        name,
        store_type,
        cluster_id: cluster,
        trust_anchor_certificate: anchor,
        connection_state: DISCONNECTED.into(),
        connection_error_code: None,
        created_ms: kms.clock.now_ms(),
    };
    let mut tx = kms.store().write()?;
    let raw = serde_json::to_vec(&rec).map_err(KmsError::internal)?;
    if !tx.insert_new(T_CKS, &store_key(&rec.account_id, &rec.region, &id), &raw)? {
        return Err(KmsError::internal("generated custom key store id collided"));
    }
    tx.commit()?;
    Ok(Response { custom_key_store_id: id })
}
