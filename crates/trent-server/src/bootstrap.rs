//! First start and every start: the root key, and the admin credentials.

use crate::identity::{AccessKeyRecord, Identity};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::io::Write;
use std::path::Path;
use trent_crypto::{RootKey, SecretBytes};
use trent_policy::Principal;
use trent_store::Store;

const META: &str = "meta";
const ROOT_CHECK: &str = "root_check";

/// Loads the root key (TRENT_ROOT_KEY, else the file TRENT_ROOT_KEY_FILE names, else
/// `<data-dir>/root.key`, created on first start) and
/// checks it against the store. A wrong key, or a missing key file for an existing store, is an
/// error: never silently start over.
pub fn root_key(data_dir: &Path, store: &dyn Store) -> Result<RootKey, String> {
    let check = store.read().and_then(|mut t| t.get(META, ROOT_CHECK)).map_err(|e| e.to_string())?;
    let path = data_dir.join("root.key");
    let key = if let Ok(b64) = std::env::var("TRENT_ROOT_KEY") {
        let bytes = SecretBytes::new(
            STANDARD.decode(b64.trim()).map_err(|_| "TRENT_ROOT_KEY is not valid base64".to_string())?,
        );
        RootKey::from_bytes(&bytes).map_err(|e| format!("TRENT_ROOT_KEY: {e}"))?
    } else if let Some(file) = std::env::var_os("TRENT_ROOT_KEY_FILE").filter(|v| !v.is_empty()) {
        // A file handed over by the service manager (systemd LoadCredential=), never generated.
        let file = std::path::PathBuf::from(file);
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(&file)
                .map_err(|e| fs_error("reading the root key file named by TRENT_ROOT_KEY_FILE,", &file, &e))?,
        );
        let bytes = SecretBytes::new(
            STANDARD.decode(text.trim()).map_err(|_| format!("{} does not hold a base64 root key", file.display()))?,
        );
        RootKey::from_bytes(&bytes).map_err(|e| format!("{}: {e}", file.display()))?
    } else if path.exists() {
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(&path).map_err(|e| fs_error("reading the root key file", &path, &e))?,
        );
        let bytes = SecretBytes::new(STANDARD.decode(text.trim()).map_err(|_| {
            format!(
                "reading the root key file {}: it does not hold a base64 root key; put back the root key this \
                     data dir was created with (or set TRENT_ROOT_KEY)",
                path.display()
            )
        })?);
        RootKey::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))?
    } else if check.is_some() {
        return Err(format!(
            "this data directory's database was created with a root key, but neither TRENT_ROOT_KEY nor {} is there; \
             restore the root key (trentd will not start over and lose every key)",
            path.display()
        ));
    } else {
        let (key, bytes) = RootKey::generate().map_err(|e| e.to_string())?;
        write_private(&path, STANDARD.encode(bytes.expose()).as_bytes())?;
        tracing::info!(path = %path.display(), "generated a new root key; back it up: without it nothing stored can be decrypted");
        key
    };
    match check {
        Some(c) => key.verify_check_value(&c).map_err(|_| {
            "the root key does not match the one this data directory was created with (TRENT_ROOT_KEY or root.key is wrong)"
                .to_string()
        })?,
        None => {
            let c = key.check_value().map_err(|e| e.to_string())?;
            let mut t = store.write().map_err(|e| e.to_string())?;
            // Another node sharing the store may have written its check value since we read:
            // never overwrite it, check our key against it instead.
            if !t.insert_new(META, ROOT_CHECK, &c).map_err(|e| e.to_string())? {
                let theirs = t.get(META, ROOT_CHECK).map_err(|e| e.to_string())?.unwrap_or_default();
                key.verify_check_value(&theirs).map_err(|_| {
                    "the root key does not match the one another node started this store with".to_string()
                })?;
            }
            t.commit().map_err(|e| e.to_string())?;
        }
    }
    Ok(key)
}

/// A startup file-system failure, named for an operator: what trentd was doing, the path, the
/// system's reason, and what to do about it.
pub fn fs_error(doing: &str, path: &Path, e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    #[cfg(unix)]
    let who = format!("uid {}", rustix::process::getuid().as_raw());
    #[cfg(not(unix))]
    let who = "this user".to_string();
    let hint = match e.kind() {
        ErrorKind::PermissionDenied => {
            format!("it (or its directory) is not writable by {who}: chown it, or choose another --data-dir")
        }
        ErrorKind::AlreadyExists | ErrorKind::NotADirectory => {
            "something that is not a directory is in the way: remove it, or choose another --data-dir".into()
        }
        ErrorKind::ReadOnlyFilesystem => "the file system is read-only: choose a --data-dir on a writable one".into(),
        ErrorKind::StorageFull => "the disk is full: free some space".into(),
        ErrorKind::NotFound => "a directory on the way is missing: create it, or choose another --data-dir".into(),
        _ => "check the path and its permissions, or choose another --data-dir".into(),
    };
    format!("{doing} {}: {e}; {hint}", path.display())
}

/// Makes a directory of trentd's own (the data dir, the audit dir) readable by the owner only:
/// created 0700 if missing, and an existing one that others could enter is narrowed to 0700.
pub fn create_private_dir(dir: &Path) -> Result<(), String> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|e| fs_error("creating the directory", dir, &e))?;
    if !dir.is_dir() {
        return Err(format!(
            "creating the directory {}: something that is not a directory is in the way; remove it or choose another path",
            dir.display()
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            std::fs::metadata(dir).map_err(|e| fs_error("reading the permissions of", dir, &e))?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| fs_error("making private (0700) the directory", dir, &e))?;
            tracing::info!(dir = %dir.display(), "made the directory readable by its owner only (0700)");
        }
    }
    Ok(())
}

/// An exclusive lock on a data dir (`<data-dir>/trentd.lock`, holding the owner's pid), held
/// until dropped: two trentd processes on one data dir would break its audit chain.
#[derive(Debug)]
pub struct DataDirLock {
    _file: std::fs::File,
}

/// Takes the data dir's lock, or says which process holds it.
pub fn lock_data_dir(data_dir: &Path) -> Result<DataDirLock, String> {
    use std::io::{Read, Seek};
    create_private_dir(data_dir)?;
    let path = data_dir.join("trentd.lock");
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(&path).map_err(|e| fs_error("creating the data directory's lock file", &path, &e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            let who = if pid.is_empty() { String::new() } else { format!(" (pid {pid})") };
            return Err(format!(
                "the data directory {} is in use by another trentd{who}; stop it, or give this one its own --data-dir",
                data_dir.display()
            ));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(fs_error("locking", &path, &e)),
    }
    file.set_len(0)
        .and_then(|_| file.rewind())
        .and_then(|_| writeln!(file, "{}", std::process::id()))
        .and_then(|_| file.flush())
        .map_err(|e| fs_error("writing the pid into the lock file", &path, &e))?;
    Ok(DataDirLock { _file: file })
}

/// This node's id: random, made on first start and kept in `<data-dir>/node-id`.
pub fn node_id(data_dir: &Path) -> Result<String, String> {
    let path = data_dir.join("node-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim();
        if !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Ok(id.to_string());
        }
        return Err(format!("{} does not hold a node id", path.display()));
    }
    let mut b = [0u8; 8];
    trent_crypto::fill_random(&mut b).map_err(|e| e.to_string())?;
    let id = format!("node-{}", hex::encode(b));
    write_private(&path, format!("{id}\n").as_bytes())?;
    Ok(id)
}

/// Writes a file readable by the owner only, durably.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(|e| fs_error("creating", &tmp, &e))?;
    f.write_all(contents).and_then(|_| f.sync_all()).map_err(|e| fs_error("writing", &tmp, &e))?;
    std::fs::rename(&tmp, path).map_err(|e| fs_error("putting in place", path, &e))?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn valid_access_key_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The admin access key id and secret of `trentd --dev` (the ones LocalStack and moto accept).
pub const DEV_ACCESS_KEY: (&str, &str) = ("test", "test");

/// Makes sure the account has an admin key: the one named in the environment (added if new,
/// its secret updated if changed), or on first start a generated one, printed once. In dev
/// mode the key is always `test` / `test`.
pub fn admin_credentials(identity: &Identity, account_id: &str, dev: bool) -> Result<(), String> {
    let principal = Principal::root(account_id);
    let (env_id, env_secret) = if dev {
        (Some(DEV_ACCESS_KEY.0.to_string()), Some(DEV_ACCESS_KEY.1.to_string()))
    } else {
        (
            std::env::var("TRENT_ADMIN_ACCESS_KEY_ID").ok().filter(|s| !s.is_empty()),
            std::env::var("TRENT_ADMIN_SECRET_ACCESS_KEY").ok().filter(|s| !s.is_empty()),
        )
    };
    match (env_id, env_secret) {
        (Some(id), Some(secret)) => {
            if !valid_access_key_id(&id) {
                return Err("TRENT_ADMIN_ACCESS_KEY_ID must be 1-128 letters and digits".into());
            }
            let secret = zeroize::Zeroizing::new(secret);
            match identity.secret_matches(&id, &secret).map_err(|e| e.to_string())? {
                Some(true) => {}
                Some(false) => {
                    tracing::warn!(access_key_id = %id, "TRENT_ADMIN_SECRET_ACCESS_KEY changed: updating that key's secret");
                    identity.put(&AccessKeyRecord::new(&id, principal), &secret).map_err(|e| e.to_string())?;
                }
                None => {
                    tracing::info!(access_key_id = %id, account_id, "added the admin access key (TRENT_ADMIN_ACCESS_KEY_ID, or test with --dev)");
                    identity.put(&AccessKeyRecord::new(&id, principal), &secret).map_err(|e| e.to_string())?;
                }
            }
            Ok(())
        }
        (Some(_), None) | (None, Some(_)) => {
            Err("set both TRENT_ADMIN_ACCESS_KEY_ID and TRENT_ADMIN_SECRET_ACCESS_KEY, or neither".into())
        }
        (None, None) => {
            if identity.has_keys_for(account_id).map_err(|e| e.to_string())? {
                return Ok(());
            }
            let (id, secret) = Identity::generate_key_pair().map_err(|e| e.to_string())?;
            identity.put(&AccessKeyRecord::new(&id, principal), &secret).map_err(|e| e.to_string())?;
            // Printed once, to stdout only (never to the log), so the operator can copy it.
            println!(
                "\nCreated the admin access key for account {account_id}. It is shown only this once:\n\n  \
                 AWS_ACCESS_KEY_ID={id}\n  AWS_SECRET_ACCESS_KEY={}\n\nConfigure the AWS CLI with:\n  \
                 aws configure set aws_access_key_id {id} --profile trent\n  \
                 aws configure set aws_secret_access_key <the secret above> --profile trent\n  \
                 aws configure set region us-east-1 --profile trent\n\
                 and call it with: aws --profile trent --endpoint-url http://<listen address> kms list-keys\n",
                &*secret
            );
            Ok(())
        }
    }
}

/// `TRENT_EXTRA_ADMIN_KEYS`: comma-separated `ACCOUNT_ID:ACCESS_KEY_ID:SECRET` entries, each the
/// root key of that account (added if new, its secret updated if changed). The secrets are
/// never logged.
pub fn extra_admin_credentials(identity: &Identity) -> Result<(), String> {
    let Ok(raw) = std::env::var("TRENT_EXTRA_ADMIN_KEYS") else { return Ok(()) };
    let raw = zeroize::Zeroizing::new(raw);
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let mut parts = entry.splitn(3, ':');
        let (Some(account), Some(id), Some(secret)) = (parts.next(), parts.next(), parts.next()) else {
            return Err("TRENT_EXTRA_ADMIN_KEYS entries must be ACCOUNT_ID:ACCESS_KEY_ID:SECRET".into());
        };
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err("TRENT_EXTRA_ADMIN_KEYS: an account id is exactly 12 digits".into());
        }
        if !valid_access_key_id(id) {
            return Err("TRENT_EXTRA_ADMIN_KEYS: an access key id is 1-128 letters and digits".into());
        }
        if secret.is_empty() {
            return Err("TRENT_EXTRA_ADMIN_KEYS: a secret must not be empty".into());
        }
        let principal = Principal::root(account);
        if let Some(existing) = identity.record(id).map_err(|e| e.to_string())? {
            if existing.principal != principal {
                return Err(format!("TRENT_EXTRA_ADMIN_KEYS: access key {id} already belongs to another principal"));
            }
        }
        if identity.secret_matches(id, secret).map_err(|e| e.to_string())? != Some(true) {
            tracing::info!(access_key_id = %id, account_id = account, "stored an admin access key from TRENT_EXTRA_ADMIN_KEYS");
            identity.put(&AccessKeyRecord::new(id, principal), secret).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod startup_error_tests {
    use super::*;

    #[test]
    fn a_permission_error_names_the_path_the_uid_and_what_to_do() {
        let e = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let msg = fs_error("creating", Path::new("/srv/trent/node-id.tmp"), &e);
        assert!(msg.starts_with("creating /srv/trent/node-id.tmp: "), "{msg}");
        assert!(msg.contains("is not writable by uid ") && msg.contains("choose another --data-dir"), "{msg}");
    }

    #[test]
    fn a_file_in_the_way_of_the_data_dir_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("afile");
        std::fs::write(&file, "x").unwrap();
        let msg = lock_data_dir(&file).unwrap_err();
        assert!(msg.contains("creating the directory") && msg.contains("remove it"), "{msg}");
    }
}
