use super::get_parameters_for_import::{ImportRecord, IMPORT_WRAP_PURPOSE};
use crate::keys::{key_ref, rotation_store_key, T_EXPIRY, T_IMPORT};
use crate::model::{KeyState, KEY_AGREEMENT};
use crate::{checks, Caller, Kms, KmsError};
use serde::{Deserialize, Serialize};
use trent_crypto::asym::{self, ImportWrap};
use trent_crypto::SecretBytes;
use trent_wire::json::Blob;
use trent_wire::validate::Validator;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub key_id: Option<String>,
    pub import_token: Option<Blob>,
    pub encrypted_key_material: Option<Blob>,
    pub valid_to: Option<f64>,
    pub expiration_model: Option<String>,
    pub import_type: Option<String>,
    pub key_material_description: Option<String>,
    pub key_material_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub key_id: String,
    pub key_material_id: String,
}

const MAX_VALID_MS: i64 = 365 * 86_400_000;

/// The id of imported material is derived from it, so reimporting the same material restores
/// every ciphertext made with it, and different material is recognised as different.
fn imported_material_id(key_id: &str, material: &SecretBytes) -> [u8; 32] {
    trent_crypto::sha256(input_buffer(key_id, material).expose())
}

/// `"trent-imported-material-v1" || u32 len(key id) || key id || material`, in zeroizing memory.
fn input_buffer(key_id: &str, material: &SecretBytes) -> SecretBytes {
    let mut v = Vec::with_capacity(30 + key_id.len() + material.len());
    v.extend_from_slice(b"trent-imported-material-v1");
    v.extend_from_slice(&(key_id.len() as u32).to_be_bytes());
    v.extend_from_slice(key_id.as_bytes());
    v.extend_from_slice(material.expose());
    SecretBytes::new(v)
}

pub fn handle(kms: &Kms, caller: &Caller, req: Request) -> Result<Response, KmsError> {
    let mut v = Validator::new();
    checks::key_id(&mut v, "keyId", &req.key_id);
    v.required("importToken", &req.import_token)
        .blob_len("importToken", req.import_token.as_ref().map(|b| b.0.len()), 1, 6144)
        .required("encryptedKeyMaterial", &req.encrypted_key_material)
        .blob_len("encryptedKeyMaterial", req.encrypted_key_material.as_ref().map(|b| b.0.len()), 1, 6144)
        .one_of(
            "expirationModel",
            req.expiration_model.as_deref(),
            &["KEY_MATERIAL_EXPIRES", "KEY_MATERIAL_DOES_NOT_EXPIRE"],
        )
        .one_of("importType", req.import_type.as_deref(), &["NEW_KEY_MATERIAL", "EXISTING_KEY_MATERIAL"])
        .len("keyMaterialDescription", req.key_material_description.as_deref(), 0, 256)
        .len("keyMaterialId", req.key_material_id.as_deref(), 64, 64);
    v.finish()?;
    let now = kms.clock.now_ms();
    let valid_to_ms = req.valid_to.map(|s| (s * 1000.0) as i64);
    let model = match (req.expiration_model.as_deref(), valid_to_ms) {
        (Some("KEY_MATERIAL_EXPIRES") | None, Some(v)) => {
            if v <= now || v > now + MAX_VALID_MS {
                return Err(KmsError::validation("ValidTo must be in the future and at most 365 days away."));
            }
            "KEY_MATERIAL_EXPIRES"
        }
        (Some("KEY_MATERIAL_EXPIRES"), None) => {
            return Err(KmsError::validation("ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES."))
        }
        (Some(_), Some(_)) => {
            return Err(KmsError::validation(
                "ValidTo must be omitted when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE.",
            ))
        }
        (_, None) => "KEY_MATERIAL_DOES_NOT_EXPIRE",
    };
    let token_hex = hex::encode(req.import_token.as_ref().map(|b| b.0.as_slice()).unwrap_or_default());
    let rec = kms.find(caller, req.key_id.as_deref().unwrap_or_default(), false)?;
    if rec.origin != "EXTERNAL" {
        return Err(KmsError::UnsupportedOperation(format!("{} does not take imported key material.", rec.arn())));
    }
    let import: ImportRecord = match kms.store().read()?.get(T_IMPORT, &token_hex)? {
        Some(raw) => serde_json::from_slice(&raw).map_err(KmsError::internal)?,
        None => return Err(KmsError::InvalidImportToken),
    };
    if import.key_id != rec.key_id || import.account != rec.account_id || import.region != rec.region {
        return Err(KmsError::InvalidImportToken);
    }
    if import.expires_ms <= now {
        return Err(KmsError::ExpiredImportToken);
    }
    let wrap = ImportWrap::from_name(&import.wrapping_algorithm)
        .ok_or_else(|| KmsError::internal("bad stored wrapping algorithm"))?;
    let wrapping_private = kms.unwrap_secret(IMPORT_WRAP_PURPOSE, &token_hex, &import.wrapping_private)?;
    let wrapped = req.encrypted_key_material.map(|b| b.0).unwrap_or_default();
    let material = asym::unwrap_import(wrap, &wrapping_private, &wrapped).map_err(|_| KmsError::InvalidCiphertext)?;
    let public_key = match rec.spec() {
        None => {
            if material.len() != 32 {
                return Err(KmsError::validation(
                    "Imported SYMMETRIC_DEFAULT key material must be exactly 256 bits (32 bytes).",
                ));
            }
            None
        }
        Some(spec) => {
            let checked = asym::import_private(spec, rec.key_usage == KEY_AGREEMENT, &material)?;
            (!checked.public_spki.is_empty()).then(|| trent_wire::json::base64_encode(&checked.public_spki))
        }
    };
    let mid = imported_material_id(&rec.key_id, &material);
    let mid_hex = hex::encode(mid);
    if let Some(requested) = &req.key_material_id {
        if *requested != mid_hex {
            return Err(KmsError::IncorrectKeyMaterial(
                "The key material does not match the KeyMaterialId given.".into(),
            ));
        }
    }
    let rec = kms.update(caller, req.key_id.as_deref().unwrap_or_default(), |rec, tx| {
        if rec.state != KeyState::PendingImport {
            return Err(KmsError::InvalidState(format!(
                "{} already has key material: delete it first (DeleteImportedKeyMaterial) to import again.",
                rec.arn()
            )));
        }
        if rec.imported_material_id.as_deref().is_some_and(|prev| prev != mid_hex) {
            return Err(KmsError::IncorrectKeyMaterial(format!(
                "The key material is not the material that was previously imported into {}.",
                rec.arn()
            )));
        }
        let m = kms.wrap_material_with_id(&rec.key_id, mid, &material, now)?;
        rec.current_material = m.id.clone();
        rec.materials = vec![m];
        rec.imported_material_id = Some(mid_hex.clone());
        rec.expiration_model = Some(model.to_string());
        rec.valid_to_ms = valid_to_ms;
        if public_key.is_some() {
            rec.public_key = public_key.clone();
        }
        rec.state = KeyState::Enabled;
        if let Some(v) = valid_to_ms {
            tx.put(T_EXPIRY, &rotation_store_key(v, &key_ref(rec)), b"")?;
        }
        tx.delete(T_IMPORT, &token_hex)?;
        Ok(())
    })?;
    Ok(Response { key_id: rec.arn(), key_material_id: mid_hex })
}
