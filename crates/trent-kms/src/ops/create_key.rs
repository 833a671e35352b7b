use crate::checks;
use crate::custom_key_stores::CLOUDHSM;
use crate::keys::{KeyRef, T_KEY, T_OWNER};
use crate::model::{
    KeyMetadata, KeyRecord, KeyState, Tag, ENCAPSULATE_DECAPSULATE, ENCRYPT_DECRYPT, GENERATE_VERIFY_MAC,
    KEY_AGREEMENT, SIGN_VERIFY, SYMMETRIC_DEFAULT,
};
use crate::{Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_crypto::asym::Spec;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub policy: Option<String>,
    pub description: Option<String>,
    pub key_usage: Option<String>,
    pub customer_master_key_spec: Option<String>,
    pub key_spec: Option<String>,
    pub origin: Option<String>,
    pub custom_key_store_id: Option<String>,
    pub bypass_policy_lockout_safety_check: Option<bool>,
    pub tags: Option<Vec<Tag>>,
    pub multi_region: Option<bool>,
    pub xks_key_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub key_metadata: KeyMetadata,
}

/// The key usages KMS allows for a key spec (None: SYMMETRIC_DEFAULT).
fn allowed_usages(spec: Option<Spec>) -> &'static [&'static str] {
    match spec {
        None => &[ENCRYPT_DECRYPT],
        Some(Spec::Rsa2048 | Spec::Rsa3072 | Spec::Rsa4096) => &[ENCRYPT_DECRYPT, SIGN_VERIFY],
        Some(Spec::EccP256 | Spec::EccP384 | Spec::EccP521) => &[SIGN_VERIFY, KEY_AGREEMENT],
        Some(Spec::EccSecp256k1 | Spec::Ed25519 | Spec::MlDsa44 | Spec::MlDsa65 | Spec::MlDsa87) => &[SIGN_VERIFY],
        Some(Spec::Hmac224 | Spec::Hmac256 | Spec::Hmac384 | Spec::Hmac512) => &[GENERATE_VERIFY_MAC],
        Some(Spec::MlKem512 | Spec::MlKem768 | Spec::MlKem1024) => &[ENCAPSULATE_DECAPSULATE],
    }
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::policy(&mut v, req.policy.as_deref());
    checks::description(&mut v, req.description.as_deref());
    // KeyUsage, KeySpec, CustomerMasterKeySpec and Origin are checked against the model's enums
    // before the handler runs (trent_wire::model).
    v.len("customKeyStoreId", req.custom_key_store_id.as_deref(), 1, 64).len(
        "xksKeyId",
        req.xks_key_id.as_deref(),
        1,
        128,
    );
    let tags = req.tags.unwrap_or_default();
    checks::tags(&mut v, &tags)?;
    if req.key_spec.is_some() && req.customer_master_key_spec.is_some() {
        return Err(KmsError::validation(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.",
        ));
    }
    let spec = req.key_spec.or(req.customer_master_key_spec).unwrap_or_else(|| SYMMETRIC_DEFAULT.to_string());
    let origin = req.origin.unwrap_or_else(|| "AWS_KMS".to_string());
    let external = origin == "EXTERNAL";
    let cloudhsm = origin == CLOUDHSM;
    let store = match (&req.custom_key_store_id, cloudhsm) {
        (Some(id), true) => Some(kms.load_store(caller.account(), &caller.region, id)?),
        (None, true) => return Err(KmsError::validation("CustomKeyStoreId is required when Origin is AWS_CLOUDHSM.")),
        (Some(_), false) if origin == "EXTERNAL_KEY_STORE" => None,
        (Some(_), false) => {
            return Err(KmsError::validation(
                "CustomKeyStoreId is valid only when Origin is AWS_CLOUDHSM or EXTERNAL_KEY_STORE.",
            ))
        }
        (None, false) => None,
    };
    if let Some(s) = &store {
        if spec != SYMMETRIC_DEFAULT || req.key_usage.as_deref().is_some_and(|u| u != ENCRYPT_DECRYPT) {
            return Err(KmsError::UnsupportedOperation(
                "Keys in an AWS_CLOUDHSM custom key store must be symmetric encryption keys (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT).".into(),
            ));
        }
        if req.multi_region == Some(true) {
            return Err(KmsError::UnsupportedOperation("Multi-Region keys cannot be in a custom key store.".into()));
        }
        if s.connection_state != crate::custom_key_stores::CONNECTED {
            return Err(crate::custom_key_stores::invalid_state(format!(
                "The custom key store {} is {}: connect it before creating keys in it.",
                s.id, s.connection_state
            )));
        }
    }
    if origin != "AWS_KMS" && !external && !cloudhsm {
        return Err(KmsError::UnsupportedOperation(format!(
            "Origin {origin} needs a custom key store, which this server does not have."
        )));
    }
    let asym = Spec::from_name(&spec);
    if external && asym.is_some_and(|s| matches!(s, Spec::MlDsa44 | Spec::MlDsa65 | Spec::MlDsa87) || s.is_mlkem()) {
        return Err(KmsError::UnsupportedOperation(format!("{spec} keys cannot have imported key material.")));
    }
    if asym.is_none() && spec != SYMMETRIC_DEFAULT {
        return Err(KmsError::UnsupportedOperation(format!(
            "KeySpec {spec} is not supported by this server: aws-lc has no vetted implementation of it."
        )));
    }
    let allowed = allowed_usages(asym);
    // KMS defaults KeyUsage to ENCRYPT_DECRYPT; where a spec allows only one usage, to that one.
    let usage =
        req.key_usage.unwrap_or_else(|| if allowed.len() == 1 { allowed[0] } else { ENCRYPT_DECRYPT }.to_string());
    if !allowed.contains(&usage.as_str()) {
        return Err(KmsError::validation(format!(
            "KeyUsage {usage} is not compatible with KeySpec {spec}. Use one of: {}.",
            allowed.join(", ")
        )));
    }
    let multi_region = req.multi_region == Some(true);
    if multi_region && external {
        return Err(KmsError::UnsupportedOperation(
            "Multi-Region keys with imported key material are not supported by this server.".into(),
        ));
    }
    let policy = match req.policy {
        Some(p) => {
            checks::policy_document(&p)?;
            p
        }
        None => checks::default_policy(caller.partition(), caller.account()),
    };
    let mut all_tags = Vec::new();
    checks::merge_tags(&mut all_tags, tags)?;

    let now = kms.clock.now_ms();
    let key_id = if multi_region {
        let mut r = [0u8; 16];
        trent_crypto::fill_random(&mut r).map_err(KmsError::internal)?;
        format!("mrk-{}", hex::encode(r))
    } else {
        uuid::Uuid::new_v4().to_string()
    };
    let (materials, public_key) = match asym {
        _ if external => (Vec::new(), None),
        None if store.is_some() => {
            // The AES key is made in the token; the record names it by a material id only.
            let mut mid = [0u8; trent_crypto::blob::MATERIAL_ID_LEN];
            trent_crypto::fill_random(&mut mid).map_err(KmsError::internal)?;
            let m = crate::model::Material {
                id: hex::encode(mid),
                wrapped: String::new(),
                created_ms: now,
                rotation_type: None,
            };
            (vec![m], None)
        }
        None => (vec![kms.new_material(&key_id, now)?], None),
        Some(s) => {
            let generated = trent_crypto::asym::generate(s, usage == KEY_AGREEMENT)?;
            let public =
                (!generated.public_spki.is_empty()).then(|| trent_wire::json::base64_encode(&generated.public_spki));
            (vec![kms.wrap_material(&key_id, &generated.private, now)?], public)
        }
    };
    let rec = KeyRecord {
        key_id: key_id.clone(),
        account_id: caller.account().to_string(),
        region: caller.region.clone(),
        created_ms: now,
        description: req.description.unwrap_or_default(),
        key_usage: usage,
        key_spec: spec,
        origin,
        key_manager: "CUSTOMER".into(),
        state: if external { KeyState::PendingImport } else { KeyState::Enabled },
        deletion_ms: None,
        pending_window_days: None,
        multi_region,
        policy,
        tags: all_tags,
        current_material: materials.first().map(|m| m.id.clone()).unwrap_or_default(),
        materials,
        public_key,
        rotation_period_days: None,
        next_rotation_ms: None,
        on_demand_rotations: 0,
        expiration_model: None,
        valid_to_ms: None,
        imported_material_id: None,
        custom_key_store_id: store.as_ref().map(|s| s.id.clone()),
        cloud_hsm_cluster_id: store.as_ref().map(|s| s.cluster_id.clone()),
    };
    if let Some(s) = &store {
        kms.hsm_generate(s, &rec.key_id)?;
    }
    let r = KeyRef { account: rec.account_id.clone(), region: rec.region.clone(), key_id };
    let mut tx = kms.store().write()?;
    let raw = serde_json::to_vec(&rec).map_err(KmsError::internal)?;
    if !tx.insert_new(T_KEY, &r.store_key(), &raw)? {
        return Err(KmsError::internal("generated key id collided"));
    }
    tx.put(T_OWNER, &format!("{}/{}", r.region, r.key_id), r.account.as_bytes())?;
    if multi_region {
        let m = crate::model::MrkRecord { primary_region: r.region.clone(), replicas: Vec::new() };
        kms.save_mrk(&mut *tx, &r.account, &r.key_id, &m)?;
    }
    tx.commit()?;
    Ok(Response { key_metadata: kms.describe(&rec)? })
}
