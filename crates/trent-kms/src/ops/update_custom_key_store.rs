//! UpdateCustomKeyStore: a new name, password or cluster for a DISCONNECTED store. A store with
//! keys keeps its cluster (another cluster would not hold their key material:
//! CloudHsmClusterNotRelatedException).

use crate::custom_key_stores::{invalid_state, DISCONNECTED};
use crate::ops::create_custom_key_store::validate_common;
use crate::{Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_wire::validate::Validator;

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub custom_key_store_id: Option<String>,
    pub new_custom_key_store_name: Option<String>,
    pub key_store_password: Option<zeroize::Zeroizing<String>>,
    pub cloud_hsm_cluster_id: Option<String>,
    pub xks_proxy_uri_endpoint: Option<String>,
    pub xks_proxy_uri_path: Option<String>,
    pub xks_proxy_connectivity: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Response {}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    v.required("customKeyStoreId", &req.custom_key_store_id).len(
        "customKeyStoreId",
        req.custom_key_store_id.as_deref(),
        1,
        64,
    );
    validate_common(
        &mut v,
        "newCustomKeyStoreName",
        req.new_custom_key_store_name.as_deref(),
        req.cloud_hsm_cluster_id.as_deref(),
        req.key_store_password.as_deref().map(|s| s.as_str()),
    );
    v.finish()?;
    let id = req.custom_key_store_id.unwrap_or_default();
    let mut rec = kms.load_store(caller.account(), &caller.region, &id)?;
    if req.xks_proxy_uri_endpoint.is_some() || req.xks_proxy_uri_path.is_some() || req.xks_proxy_connectivity.is_some()
    {
        return Err(KmsError::validation("XksProxy* parameters are only valid for an EXTERNAL_KEY_STORE key store."));
    }
    if rec.connection_state != DISCONNECTED {
        return Err(invalid_state(format!(
            "The custom key store {id} is {}: disconnect it before updating it.",
            rec.connection_state
        )));
    }
    if let Some(name) = req.new_custom_key_store_name {
        if name != rec.name && kms.stores(caller.account(), &caller.region)?.iter().any(|s| s.name == name) {
            return Err(KmsError::CustomKeyStore(
                "CustomKeyStoreNameInUseException",
                format!("A custom key store named {name} already exists in this account and Region."),
            ));
        }
        rec.name = name;
    }
    if let Some(cluster) = req.cloud_hsm_cluster_id {
        if cluster != rec.cluster_id {
            if kms.hsm.cluster(&cluster).is_none() {
                return Err(KmsError::CustomKeyStore(
                    "CloudHsmClusterNotFoundException",
                    format!("No cluster {cluster} is configured on this server (--pkcs11-cluster)."),
                ));
            }
            if kms.stores(caller.account(), &caller.region)?.iter().any(|s| s.cluster_id == cluster) {
                return Err(KmsError::CustomKeyStore(
                    "CloudHsmClusterInUseException",
                    format!("The cluster {cluster} is already associated with a custom key store."),
                ));
            }
            if kms.keys_in_store(caller.account(), &caller.region, &id)? > 0 {
                return Err(KmsError::CustomKeyStore(
                    "CloudHsmClusterNotRelatedException",
                    format!("The custom key store {id} has KMS keys whose key material is in {}; it cannot move to {cluster}.", rec.cluster_id),
                ));
            }
            rec.cluster_id = cluster;
        }
    }
    if let Some(pin) = req.key_store_password {
        rec.wrapped_password = kms.wrap_password(&id, &pin)?;
    }
    kms.save_store(&rec)?;
    Ok(Response {})
}
