//! What every Secrets Manager operation shares: finding a secret by name or ARN, encrypting
//! values through KMS, moving staging labels, and paging tokens.

use crate::error::{decryption_failure, encryption_failure, SmError};
use crate::model::{SecretRecord, Tag, ValueRecord, VersionMeta, AWSCURRENT, AWSPREVIOUS, MAX_VERSIONS};
use crate::SecretsManager;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::collections::BTreeMap;
use trent_crypto::SecretBytes;
use trent_kms::Caller;
use trent_store::Txn;
use trent_wire::validate::Validator;

pub(crate) const T_SECRET: &str = "sm_secret";
pub(crate) const T_VALUE: &str = "sm_value";
pub(crate) const T_DELETION: &str = "sm_deletion";
const DEFAULT_KEY_ALIAS: &str = "alias/aws/secretsmanager";
const DEFAULT_KEY_DESCRIPTION: &str = "Default key that protects my Secrets Manager data when no other key is defined";

pub(crate) fn secret_key(caller: &Caller, name: &str) -> String {
    format!("{}/{}/{}", caller.account(), caller.region, name)
}

pub(crate) fn value_key(caller: &Caller, name: &str, version: &str) -> String {
    format!("{}/{}/{}#{}", caller.account(), caller.region, name, version)
}

pub(crate) fn deletion_key(ms: i64, caller: &Caller, name: &str) -> String {
    format!("{:020}/{}", ms.max(0), secret_key(caller, name))
}

pub(crate) fn ms_to_epoch(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// A new secret ARN: the name plus `-` and six random characters, as AWS makes them.
pub(crate) fn new_arn(caller: &Caller, name: &str) -> Result<String, SmError> {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut r = [0u8; 6];
    trent_crypto::fill_random(&mut r).map_err(SmError::internal)?;
    let suffix: String = r.iter().map(|b| CHARS[(*b as usize) % CHARS.len()] as char).collect();
    Ok(format!(
        "arn:{}:secretsmanager:{}:{}:secret:{name}-{suffix}",
        caller.partition(),
        caller.region,
        caller.account()
    ))
}

pub(crate) fn secret_id_constraint(v: &mut Validator, id: &Option<String>) {
    v.required("secretId", id).len("secretId", id.as_deref(), 1, 2048);
}

pub(crate) fn check_name(name: &str) -> Result<(), SmError> {
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b)) {
        return Err(SmError::InvalidParameter(
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!"
                .into(),
        ));
    }
    Ok(())
}

pub(crate) fn check_token(v: &mut Validator, token: &Option<String>) {
    v.len("clientRequestToken", token.as_deref(), 32, 64);
}

pub(crate) fn tags_constraint(v: &mut Validator, tags: &[Tag]) {
    for t in tags {
        v.len("tags.member.key", Some(&t.key), 1, 128).len("tags.member.value", Some(&t.value), 0, 256);
    }
}

/// A secret value from the request: exactly one of SecretString / SecretBinary.
pub(crate) fn value_of(
    string: Option<String>,
    binary: Option<Vec<u8>>,
) -> Result<Option<(bool, SecretBytes)>, SmError> {
    match (string, binary) {
        (Some(_), Some(_)) => Err(SmError::InvalidParameter(
            "You can't specify both a binary secret value and a string secret value in the same secret.".into(),
        )),
        (Some(s), None) => Ok(Some((false, SecretBytes::new(s.into_bytes())))),
        (None, Some(b)) => Ok(Some((true, SecretBytes::new(b)))),
        (None, None) => Ok(None),
    }
}

impl SecretsManager {
    pub(crate) fn load(&self, tx: &mut dyn Txn, caller: &Caller, name: &str) -> Result<Option<SecretRecord>, SmError> {
        tx.get(T_SECRET, &secret_key(caller, name))?
            .map(|raw| serde_json::from_slice(&raw).map_err(SmError::internal))
            .transpose()
    }

    /// Finds a secret by name, full ARN, or partial ARN (without the six-character suffix).
    pub(crate) fn find(&self, tx: &mut dyn Txn, caller: &Caller, id: &str) -> Result<SecretRecord, SmError> {
        if !id.starts_with("arn:") {
            return self.load(tx, caller, id)?.ok_or_else(SmError::not_found);
        }
        let arn = trent_policy::Arn::parse(id).ok_or_else(SmError::not_found)?;
        if arn.service != "secretsmanager" || arn.region != caller.region || arn.account != caller.account() {
            return Err(SmError::not_found());
        }
        let resource = arn.resource.strip_prefix("secret:").ok_or_else(SmError::not_found)?;
        if let Some(rec) = self.load(tx, caller, resource)? {
            return Ok(rec);
        }
        if let Some((name, _)) = resource.rsplit_once('-') {
            if let Some(rec) = self.load(tx, caller, name)? {
                if rec.arn == id {
                    return Ok(rec);
                }
            }
        }
        Err(SmError::not_found())
    }

    /// Records that the secret's value was read today (LastAccessedDate, a date as on AWS): at
    /// most one write per secret and day.
    pub(crate) fn note_access(&self, caller: &Caller, rec: &SecretRecord) -> Result<(), SmError> {
        const DAY_MS: i64 = 86_400_000;
        let today = self.clock.now_ms().div_euclid(DAY_MS) * DAY_MS;
        if rec.last_accessed_ms == Some(today) {
            return Ok(());
        }
        let mut tx = self.store.write()?;
        if let Some(mut now) = self.load(&mut *tx, caller, &rec.name)? {
            if now.arn == rec.arn && now.last_accessed_ms != Some(today) {
                now.last_accessed_ms = Some(today);
                self.save(&mut *tx, caller, &now)?;
                tx.commit()?;
            }
        }
        Ok(())
    }

    pub(crate) fn save(&self, tx: &mut dyn Txn, caller: &Caller, rec: &SecretRecord) -> Result<(), SmError> {
        tx.put(T_SECRET, &secret_key(caller, &rec.name), &serde_json::to_vec(rec).map_err(SmError::internal)?)?;
        Ok(())
    }

    /// The ARN of the KMS key a secret's values use (creating `alias/aws/secretsmanager` on
    /// first use). Call outside a write transaction.
    pub(crate) fn key_arn(&self, caller: &Caller, kms_key_id: Option<&str>) -> Result<String, SmError> {
        match kms_key_id.filter(|k| !k.is_empty()) {
            Some(k) => self.kms.symmetric_key_arn(caller, k).map_err(encryption_failure),
            None => {
                self.kms.aws_managed_key(caller, DEFAULT_KEY_ALIAS, DEFAULT_KEY_DESCRIPTION).map_err(encryption_failure)
            }
        }
    }

    pub(crate) fn encrypt(
        &self,
        caller: &Caller,
        key_arn: &str,
        secret_arn: &str,
        version: &str,
        binary: bool,
        value: &SecretBytes,
    ) -> Result<ValueRecord, SmError> {
        let (blob, _) = self
            .kms
            .encrypt_for_service(caller, key_arn, &context(secret_arn, version), value.expose())
            .map_err(encryption_failure)?;
        Ok(ValueRecord { binary, ciphertext: STANDARD.encode(blob), older: Vec::new() })
    }

    pub(crate) fn decrypt(
        &self,
        caller: &Caller,
        secret_arn: &str,
        version: &str,
        v: &ValueRecord,
    ) -> Result<SecretBytes, SmError> {
        let blob = STANDARD.decode(&v.ciphertext).map_err(SmError::internal)?;
        let (plain, _) =
            self.kms.decrypt_for_service(caller, &blob, &context(secret_arn, version)).map_err(decryption_failure)?;
        Ok(plain)
    }

    pub(crate) fn load_value(
        &self,
        tx: &mut dyn Txn,
        caller: &Caller,
        name: &str,
        version: &str,
    ) -> Result<Option<ValueRecord>, SmError> {
        tx.get(T_VALUE, &value_key(caller, name, version))?
            .map(|raw| serde_json::from_slice(&raw).map_err(SmError::internal))
            .transpose()
    }

    /// Adds a version (or, for a token already used with the same value, does nothing — AWS's
    /// idempotency) and moves `stages` onto it. Returns whether a version was added.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add_version(
        &self,
        tx: &mut dyn Txn,
        caller: &Caller,
        rec: &mut SecretRecord,
        version: &str,
        value: ValueRecord,
        plain: &SecretBytes,
        key_arn: &str,
        stages: &[String],
    ) -> Result<bool, SmError> {
        if rec.versions.contains_key(version) {
            let existing = self.load_value(tx, caller, &rec.name, version)?;
            let same = match existing {
                Some(e) if e.binary == value.binary => {
                    self.decrypt(caller, &rec.arn, version, &e)?.ct_eq(plain.expose())
                }
                _ => false,
            };
            if same {
                return Ok(false);
            }
            return Err(SmError::ResourceExists(format!(
                "You can't use ClientRequestToken {version} because that value is already in use for a version of secret {}.",
                rec.arn
            )));
        }
        let now = self.clock.now_ms();
        tx.put(
            T_VALUE,
            &value_key(caller, &rec.name, version),
            &serde_json::to_vec(&value).map_err(SmError::internal)?,
        )?;
        rec.versions.insert(
            version.to_string(),
            VersionMeta {
                stages: Vec::new(),
                created_ms: now,
                kms_key_arn: key_arn.to_string(),
                older_key_arns: Vec::new(),
            },
        );
        rec.order.push(version.to_string());
        for s in stages {
            move_stage(rec, s, version);
        }
        rec.changed_ms = now;
        // Keep at most 100 versions: drop the oldest ones that carry no label.
        while rec.order.len() > MAX_VERSIONS {
            let Some(pos) = rec.order.iter().position(|id| rec.versions.get(id).is_some_and(|m| m.stages.is_empty()))
            else {
                break;
            };
            let id = rec.order.remove(pos);
            rec.versions.remove(&id);
            tx.delete(T_VALUE, &value_key(caller, &rec.name, &id))?;
        }
        Ok(true)
    }
}

/// Puts `stage` on `version` and takes it off every other version; moving AWSCURRENT labels
/// the version that had it AWSPREVIOUS (and takes AWSPREVIOUS off the one before).
pub(crate) fn move_stage(rec: &mut SecretRecord, stage: &str, version: &str) {
    let previous = rec.version_with_stage(stage).map(str::to_string);
    if previous.as_deref() == Some(version) {
        return;
    }
    for m in rec.versions.values_mut() {
        m.stages.retain(|s| s != stage);
    }
    if stage == AWSCURRENT {
        if let Some(prev) = previous {
            for m in rec.versions.values_mut() {
                m.stages.retain(|s| s != AWSPREVIOUS);
            }
            if let Some(m) = rec.versions.get_mut(&prev) {
                m.stages.push(AWSPREVIOUS.to_string());
            }
        }
    }
    if let Some(m) = rec.versions.get_mut(version) {
        if !m.stages.iter().any(|s| s == stage) {
            m.stages.push(stage.to_string());
        }
    }
}

fn context(secret_arn: &str, version: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("SecretARN".to_string(), secret_arn.to_string()),
        ("SecretVersionId".to_string(), version.to_string()),
    ])
}

pub(crate) fn new_version_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn next_token(offset: usize) -> String {
    STANDARD.encode(format!("offset:{offset}"))
}

/// The token for the page after `[start, start + limit)` of `total` items, if there is one.
/// (A token names any offset a client likes: the sum must not overflow.)
pub(crate) fn next_page_token(start: usize, limit: usize, total: usize) -> Option<String> {
    let end = start.saturating_add(limit);
    (end < total).then(|| next_token(end))
}

pub(crate) fn parse_token(token: &Option<String>) -> Result<usize, SmError> {
    match token {
        None => Ok(0),
        Some(t) => {
            let raw = STANDARD.decode(t).map_err(|_| SmError::InvalidNextToken)?;
            let s = String::from_utf8(raw).map_err(|_| SmError::InvalidNextToken)?;
            s.strip_prefix("offset:").and_then(|n| n.parse().ok()).ok_or(SmError::InvalidNextToken)
        }
    }
}

pub(crate) fn merge_tags(existing: &mut Vec<Tag>, new: Vec<Tag>) -> Result<(), SmError> {
    for t in new {
        match existing.iter_mut().find(|e| e.key == t.key) {
            Some(e) => e.value = t.value,
            None => existing.push(t),
        }
    }
    if existing.len() > crate::model::MAX_TAGS {
        return Err(SmError::LimitExceeded("A secret can have at most 50 tags.".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_after_the_largest_offset_has_no_next_token_and_no_overflow() {
        assert_eq!(next_page_token(usize::MAX, 100, 5), None);
        assert_eq!(next_page_token(0, 2, 5), Some(next_token(2)));
        assert_eq!(next_page_token(3, 2, 5), None);
        let token = STANDARD.encode(format!("offset:{}", usize::MAX));
        assert_eq!(parse_token(&Some(token)).unwrap(), usize::MAX);
    }

    fn rec() -> SecretRecord {
        SecretRecord {
            name: "s".into(),
            arn: "a".into(),
            description: None,
            kms_key_id: None,
            tags: vec![],
            created_ms: 0,
            changed_ms: 0,
            deleted_ms: None,
            deletion_ms: None,
            versions: BTreeMap::new(),
            order: vec![],
            rotation: Default::default(),
            primary_region: None,
            replicas: Vec::new(),
            resource_policy: None,
            last_accessed_ms: None,
            tagged: false,
        }
    }

    fn add(r: &mut SecretRecord, id: &str) {
        r.versions.insert(
            id.into(),
            VersionMeta { stages: vec![], created_ms: 0, kms_key_arn: String::new(), older_key_arns: vec![] },
        );
    }

    #[test]
    fn awscurrent_moves_and_previous_follows() {
        let mut r = rec();
        add(&mut r, "v1");
        move_stage(&mut r, AWSCURRENT, "v1");
        add(&mut r, "v2");
        move_stage(&mut r, AWSCURRENT, "v2");
        assert_eq!(r.versions["v1"].stages, [AWSPREVIOUS]);
        assert_eq!(r.versions["v2"].stages, [AWSCURRENT]);
        add(&mut r, "v3");
        move_stage(&mut r, AWSCURRENT, "v3");
        assert!(r.versions["v1"].stages.is_empty());
        assert_eq!(r.versions["v2"].stages, [AWSPREVIOUS]);
        move_stage(&mut r, "AWSPENDING", "v1");
        assert_eq!(r.versions["v1"].stages, ["AWSPENDING"]);
    }
}
