use super::decrypt::{recipient_unsupported, secret_b64};
use crate::keys::{require_symmetric, require_usable};
use crate::model::KeyRecord;
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use trent_crypto::asym::{self, Spec};
use trent_crypto::SecretBytes;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub encryption_context: Option<BTreeMap<String, String>>,
    pub key_id: Option<String>,
    pub key_pair_spec: Option<String>,
    pub grant_tokens: Option<Vec<String>>,
    pub recipient: Option<serde_json::Value>,
    pub dry_run: Option<bool>,
}

/// No `Debug`: it holds a private key.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    #[serde(serialize_with = "trent_wire::json::b64")]
    pub private_key_ciphertext_blob: Vec<u8>,
    #[serde(serialize_with = "secret_b64")]
    pub private_key_plaintext: SecretBytes,
    #[serde(serialize_with = "trent_wire::json::b64")]
    pub public_key: Vec<u8>,
    pub key_id: String,
    pub key_pair_spec: String,
    pub key_material_id: String,
}

pub(crate) struct DataKeyPair {
    pub rec: KeyRecord,
    pub spec: Spec,
    pub private: SecretBytes,
    pub public: Vec<u8>,
    pub blob: Vec<u8>,
}

/// Shared by both data-key-pair operations: a new key pair whose PKCS#8 private key is
/// encrypted under the symmetric KMS key.
pub(crate) fn make_pair(kms: &Kms, caller: &Caller, req: Request) -> Result<DataKeyPair, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    checks::grant_tokens(&mut v, &req.grant_tokens);
    // Its value is checked against the model's DataKeyPairSpec before the handler runs.
    v.required("keyPairSpec", &req.key_pair_spec);
    v.finish()?;
    recipient_unsupported(&req.recipient)?;
    let name = req.key_pair_spec.unwrap_or_default();
    let spec = Spec::from_name(&name).filter(|s| !s.is_mlkem()).ok_or_else(|| {
        KmsError::UnsupportedOperation(format!("KeyPairSpec {name} is not supported by this server."))
    })?;
    let rec = kms.find(caller, req.key_id.as_deref().unwrap_or_default(), true)?;
    require_usable(&rec)?;
    require_symmetric(&rec)?;
    if req.dry_run == Some(true) {
        return Err(KmsError::DryRun);
    }
    let pair = asym::generate(spec, false)?;
    let blob = kms.seal(&rec, &checks::context(req.encryption_context), pair.private.expose())?;
    Ok(DataKeyPair { rec, spec, private: pair.private, public: pair.public_spki, blob })
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let p = make_pair(kms, caller, req)?;
    Ok(Response {
        private_key_ciphertext_blob: p.blob,
        private_key_plaintext: p.private,
        public_key: p.public,
        key_id: p.rec.arn(),
        key_pair_spec: p.spec.name().to_string(),
        key_material_id: p.rec.current_material.clone(),
    })
}
