//! `trentd admin migrate-seal --to SEAL`: moves a stopped data dir's root key from one seal to
//! another (docs/SEAL.md). The root key itself does not change, so nothing else is rewrapped.
//!
//! The current seal is unlocked first (`file`: root.key / TRENT_ROOT_KEY / TRENT_ROOT_KEY_FILE;
//! `shamir`: K shares on standard input, one per line; `kms`: Decrypt). The order of the steps
//! keeps the data dir readable at every instant: to `file`, root.key is written (durably) before
//! the seal record is removed; from `file`, the new seal record is committed before root.key is
//! removed. A change of seal record is one store transaction, which also checks that the record
//! is still the one that was unlocked. The migration is recorded in the audit trail.

use crate::config::Config;
use crate::seal::{self, SealRecord, SealSpec};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::io::BufRead;
use std::sync::Arc;
use trent_crypto::{RootKey, SecretBytes};
use trent_store::Store;
use zeroize::Zeroizing;

/// The raw root key of a `file` store, and whether it came from `<data-dir>/root.key`.
fn file_root(config: &Config) -> Result<(SecretBytes, bool), String> {
    let decode = |text: &str, what: &str| {
        STANDARD
            .decode(text.trim())
            .map(SecretBytes::new)
            .map_err(|_| format!("{what} does not hold a base64 root key"))
    };
    if let Ok(b64) = std::env::var("TRENT_ROOT_KEY") {
        return Ok((decode(Zeroizing::new(b64).as_str(), "TRENT_ROOT_KEY")?, false));
    }
    if let Some(file) = std::env::var_os("TRENT_ROOT_KEY_FILE").filter(|v| !v.is_empty()) {
        let text = Zeroizing::new(std::fs::read_to_string(&file).map_err(|e| format!("TRENT_ROOT_KEY_FILE: {e}"))?);
        return Ok((decode(text.as_str(), "TRENT_ROOT_KEY_FILE")?, false));
    }
    let path = config.data_dir.join("root.key");
    let text = Zeroizing::new(
        std::fs::read_to_string(&path).map_err(|e| format!("reading the root key {}: {e}", path.display()))?,
    );
    Ok((decode(text.as_str(), &path.display().to_string())?, true))
}

/// K shares of the current split from `input`, one per line (blank lines ignored).
fn shares_root(input: &mut dyn BufRead, seal_rec: &seal::ShamirSeal) -> Result<SecretBytes, String> {
    let mut shares: std::collections::BTreeMap<u8, seal::Share> = std::collections::BTreeMap::new();
    let mut line = Zeroizing::new(String::new());
    while shares.len() < seal_rec.k as usize {
        line.clear();
        let n = input.read_line(&mut line).map_err(|e| format!("reading shares from standard input: {e}"))?;
        if n == 0 {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let s = seal::decode_share(line.as_str()).map_err(|_| "a share on standard input is malformed or corrupted")?;
        if s.deployment != seal_rec.deployment || s.k != seal_rec.k || s.n != seal_rec.n {
            return Err("a share on standard input belongs to another deployment or split".into());
        }
        shares.insert(s.index, s);
    }
    if shares.len() < seal_rec.k as usize {
        return Err(format!(
            "the store is sealed with shamir:{}/{}: give {} distinct unseal shares on standard input, one per line",
            seal_rec.n, seal_rec.k, seal_rec.k
        ));
    }
    let list: Vec<&seal::Share> = shares.values().collect();
    seal::combine(&list)
}

/// Moves the data dir's root key to the seal `to`. Returns what was done.
pub fn migrate(config: &Config, to: &str, input: &mut dyn BufRead) -> Result<String, String> {
    let target = SealSpec::parse(to)?;
    let sqlite = !config.store.0.starts_with("postgres");
    if sqlite && !config.data_dir.join("trent.db").exists() {
        return Err(format!(
            "{} holds no trentd database (trent.db); give the --data-dir trentd uses",
            config.data_dir.display()
        ));
    }
    let _lock = crate::bootstrap::lock_data_dir(&config.data_dir)
        .map_err(|e| format!("{e} (trentd admin migrate-seal runs offline)"))?;
    let store: Arc<dyn Store> = trent_store::open(&config.store.0, &config.data_dir).map_err(|e| e.to_string())?;
    let check = store
        .read()
        .and_then(|mut t| t.get(seal::META, "root_check"))
        .map_err(|e| e.to_string())?
        .ok_or("this store was never initialised by trentd (no root key check); nothing to migrate")?;
    let current = seal::read_record(&*store)?;
    // 1. Unlock the current seal.
    let (bytes, from_root_file) = match &current {
        None => file_root(config)?,
        Some(SealRecord::Shamir { n, k, deployment }) => {
            let mut dep = [0u8; 8];
            let raw = hex::decode(deployment).map_err(|_| "bad deployment id in the seal record")?;
            if raw.len() != 8 {
                return Err("bad deployment id in the seal record".into());
            }
            dep.copy_from_slice(&raw);
            (shares_root(input, &seal::ShamirSeal { n: *n, k: *k, deployment: dep })?, false)
        }
        Some(SealRecord::Kms { key_arn, wrapped }) => {
            let blob = STANDARD.decode(wrapped).map_err(|_| "the stored wrapped root key is not base64")?;
            (seal_kms_decrypt(key_arn, &blob)?, false)
        }
        Some(SealRecord::Pkcs11 { module, token, key_label, wrapped }) => {
            let blob = STANDARD.decode(wrapped).map_err(|_| "the stored wrapped root key is not base64")?;
            // The module named by the seal's own spec if the operator passes it again, else the recorded one.
            let spec = crate::seal_pkcs11::Pkcs11Spec {
                module: module.clone(),
                token: token.clone(),
                key_label: key_label.clone(),
            };
            (crate::seal_pkcs11::unwrap(&spec, &blob)?, false)
        }
    };
    let root = RootKey::from_bytes(&bytes).map_err(|e| e.to_string())?;
    root.verify_check_value(&check).map_err(|_| {
        "the unlocked root key does not match this store's check value; nothing was changed".to_string()
    })?;
    let from = current.as_ref().map_or("file".to_string(), |r| match r {
        SealRecord::Shamir { n, k, .. } => format!("shamir:{n}/{k}"),
        SealRecord::Kms { key_arn, .. } => format!("kms:{key_arn}"),
        SealRecord::Pkcs11 { module, token, key_label, .. } => format!("pkcs11:{module}:{token}:{key_label}"),
    });
    // 2. Seal it the new way.
    let root_file = config.data_dir.join("root.key");
    let mut printed = Zeroizing::new(String::new());
    match &target {
        SealSpec::File => {
            if current.is_none() {
                return Err("the store already uses --seal file".into());
            }
            crate::bootstrap::write_private(&root_file, STANDARD.encode(bytes.expose()).as_bytes())?;
            replace_record(&*store, current.as_ref(), None)?;
        }
        SealSpec::Shamir { n, k } => {
            let mut deployment = [0u8; 8];
            trent_crypto::fill_random(&mut deployment).map_err(|e| e.to_string())?;
            let shares = seal::split(&bytes, *n, *k, &deployment)?;
            let rec = SealRecord::Shamir { n: *n, k: *k, deployment: hex::encode(deployment) };
            replace_record(&*store, current.as_ref(), Some(&rec))?;
            printed.push_str(&format!(
                "\nThe root key is now split into {n} unseal shares; any {k} of them rebuild it. They are shown only \
                 this once (the old shares, if any, no longer unseal):\n\n"
            ));
            for (i, s) in shares.iter().enumerate() {
                printed.push_str(&format!("  Unseal share {}: {}\n", i + 1, s.as_str()));
            }
        }
        SealSpec::Kms { key_arn } => {
            let blob = crate::seal_kms::encrypt(key_arn, &bytes)?;
            let rec = SealRecord::Kms { key_arn: key_arn.clone(), wrapped: STANDARD.encode(blob) };
            replace_record(&*store, current.as_ref(), Some(&rec))?;
        }
        SealSpec::Pkcs11(p) => {
            let blob = crate::seal_pkcs11::wrap(p, &bytes)?;
            let rec = SealRecord::Pkcs11 {
                module: p.module.clone(),
                token: p.token.clone(),
                key_label: p.key_label.clone(),
                wrapped: STANDARD.encode(blob),
            };
            replace_record(&*store, current.as_ref(), Some(&rec))?;
        }
    }
    // 3. From file: the key file goes only now that the new seal is committed.
    if target != SealSpec::File && from_root_file {
        remove_root_file(&root_file)?;
    }
    record(config, &store, &root, &from, &target)?;
    let mut msg = format!("the root key moved from --seal {from} to --seal {to}; start trentd with --seal {to}");
    if current.is_none() && !from_root_file {
        msg.push_str(" (and stop passing TRENT_ROOT_KEY / TRENT_ROOT_KEY_FILE)");
    }
    print!("{}", printed.as_str());
    Ok(msg)
}

fn seal_kms_decrypt(key_arn: &str, blob: &[u8]) -> Result<SecretBytes, String> {
    crate::seal_kms::decrypt(key_arn, blob)
}

/// Replaces the seal record in one transaction, if it is still `expected`.
fn replace_record(store: &dyn Store, expected: Option<&SealRecord>, new: Option<&SealRecord>) -> Result<(), String> {
    let mut t = store.write().map_err(|e| e.to_string())?;
    let now = t.get(seal::META, seal::SEAL_KEY).map_err(|e| e.to_string())?;
    let now: Option<SealRecord> = now.map(|r| serde_json::from_slice(&r)).transpose().map_err(|e| e.to_string())?;
    if now.as_ref() != expected {
        return Err(
            "the store's seal changed while migrating (is another trentd using it?); nothing was changed".into()
        );
    }
    match new {
        Some(r) => t.put(seal::META, seal::SEAL_KEY, &serde_json::to_vec(r).map_err(|e| e.to_string())?),
        None => t.delete(seal::META, seal::SEAL_KEY).map(|_| ()),
    }
    .map_err(|e| e.to_string())?;
    t.commit().map_err(|e| e.to_string())
}

/// Removes root.key, overwriting it first (best effort on copy-on-write file systems).
fn remove_root_file(path: &std::path::Path) -> Result<(), String> {
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = crate::bootstrap::write_private(path, &vec![0u8; meta.len() as usize]);
    }
    std::fs::remove_file(path).map_err(|e| format!("removing {}: {e}; remove it by hand", path.display()))
}

/// The migration's audit event.
fn record(config: &Config, store: &Arc<dyn Store>, root: &RootKey, from: &str, to: &SealSpec) -> Result<(), String> {
    let audit_key = crate::audit::signing_key(&**store, root)?;
    let node_id = crate::bootstrap::node_id(&config.data_dir)?;
    let trail = crate::audit::AuditLog::open(crate::audit_settings(config, store, &node_id), audit_key)?;
    let mut m = serde_json::Map::new();
    use serde_json::json;
    m.insert("eventVersion".into(), json!("1.08"));
    m.insert("userIdentity".into(), json!({"type": "Root", "accountId": config.account_id}));
    m.insert("eventTime".into(), json!(crate::audit::rfc3339(time::OffsetDateTime::now_utc())));
    m.insert("eventSource".into(), json!("trentd"));
    m.insert("eventName".into(), json!("MigrateSeal"));
    m.insert("eventType".into(), json!("TrentSeal"));
    m.insert("awsRegion".into(), json!("us-east-1"));
    m.insert("sourceIPAddress".into(), json!("127.0.0.1"));
    m.insert("userAgent".into(), json!("trentd-admin/migrate-seal"));
    m.insert("requestID".into(), json!(crate::http::uuid_v4()));
    m.insert("eventID".into(), json!(crate::http::uuid_v4()));
    m.insert("readOnly".into(), json!(false));
    let to_kind = match to {
        SealSpec::File => "file",
        SealSpec::Shamir { .. } => "shamir",
        SealSpec::Kms { .. } => "kms",
        SealSpec::Pkcs11(_) => "pkcs11",
    };
    let from_kind = from.split(':').next().unwrap_or(from);
    m.insert("additionalEventData".into(), json!({"trentdAdmin": "migrate-seal", "from": from_kind, "to": to_kind}));
    m.insert("recipientAccountId".into(), json!(config.account_id));
    let r = trail.append(trent_crypto::audit::RecordKind::Event, &m);
    trail.close();
    r.map(|_| ()).map_err(|e| format!("the seal moved, but its audit event could not be written: {e}"))
}
