//! `trent backup` and `trent restore`: a consistent, checksummed snapshot of a whole store
//! (SQLite or PostgreSQL), taken while trentd runs, and loaded into an empty store of either
//! backend. The format and its guarantees are `trent_store::backup`'s: values stay wrapped under
//! the root key (a backup holds no plaintext key material, and is useless without the root
//! key, which is backed up separately), and a restore writes nothing unless the whole file
//! verified.
//!
//! The audit trail of a SQLite deployment (`<data dir>/audit/trail-*.jsonl`) is in files, not in
//! the store: copy that directory with the backup. Restoring into PostgreSQL, `--audit-dir DIR`
//! imports it (after checking its whole chain) into the store's audit tables, as the chain of
//! that data dir's node, so LookupEvents and `trent audit verify --store` see the old events and
//! a node started on the same data dir continues the chain.

use std::io::Write;
use std::path::{Path, PathBuf};
use trent_store::backup::{BackupError, Summary};

#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    /// The store to back up: `sqlite` (<data dir>/trent.db), `sqlite:PATH` or
    /// `postgres://user@host:port/database?sslmode=…` (as trentd's --store, and its default).
    #[arg(long, env = "TRENT_STORE", hide_env_values = true, default_value = "sqlite")]
    pub store: String,
    /// trentd's data directory (where `--store sqlite` finds trent.db).
    #[arg(long, env = "TRENT_DATA_DIR", default_value = "./trent-data")]
    pub data_dir: PathBuf,
    /// The backup file to write (replaced atomically; created readable by its owner only).
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    /// The store to restore into; it must be empty (a new database, or a data dir without
    /// trent.db). Same forms (and default) as `trent backup --store`. If the restore fails,
    /// a SQLite file (and data dir) it created is removed again.
    #[arg(long, env = "TRENT_STORE", hide_env_values = true, default_value = "sqlite")]
    pub store: String,
    /// trentd's data directory (where `--store sqlite` puts trent.db).
    #[arg(long, env = "TRENT_DATA_DIR", default_value = "./trent-data")]
    pub data_dir: PathBuf,
    /// The backup file `trent backup` wrote.
    pub file: PathBuf,
    /// With a PostgreSQL store: also import this file audit trail (a copy of a SQLite
    /// deployment's <data dir>/audit) into the store, verified first. Its node id is read from
    /// `node-id` in the data dir the directory came from (DIR/../node-id), else made new.
    #[arg(long)]
    pub audit_dir: Option<PathBuf>,
    /// With --audit-dir: the deployment's audit public key (hex, or a file holding it: a copy of
    /// <audit dir>/signing-key.pub kept elsewhere). The trail is imported only if its signed
    /// digests are that key's and its last record is a digest (the trail of a stopped trentd),
    /// so a trail rewritten and re-signed with another key is refused. Without it, the key is
    /// taken from the data dir the trail came from (DIR/..: its trent.db holds the signing key
    /// wrapped under the root key, TRENT_ROOT_KEY or DIR/../root.key).
    #[arg(long)]
    pub audit_public_key: Option<String>,
}

/// The SQLite file a store URL names, if it names one.
fn sqlite_file(store: &str, data_dir: &Path) -> Option<PathBuf> {
    match store.trim() {
        "sqlite" => Some(data_dir.join("trent.db")),
        s => s.strip_prefix("sqlite:").filter(|p| !p.is_empty()).map(PathBuf::from),
    }
}

fn describe(s: &Summary) -> String {
    format!("{} rows in {} tables, sha256 {}", s.rows, s.tables, s.sha256)
}

/// Writes the backup; returns what it holds.
pub fn backup(args: &BackupArgs) -> Result<Summary, String> {
    if let Some(file) = sqlite_file(&args.store, &args.data_dir) {
        // Opening would create an empty database: a typo in the path must not back up nothing.
        if !file.is_file() {
            return Err(format!("no SQLite database at {}", file.display()));
        }
    }
    let store = trent_store::open(&args.store, &args.data_dir).map_err(|e| e.to_string())?;
    let out = &args.output;
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let summary = {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        let s = trent_store::backup::backup(&*store, &mut w).map_err(|e| e.to_string())?;
        w.flush().map_err(|e| format!("{}: {e}", out.display()))?;
        s
    };
    tmp.as_file().sync_all().map_err(|e| format!("{}: {e}", out.display()))?;
    tmp.persist(out).map_err(|e| format!("{}: {}", out.display(), e.error))?;
    Ok(summary)
}

/// Loads the backup into the (empty) store; returns what it held.
pub fn restore(args: &RestoreArgs) -> Result<Summary, String> {
    // A failed restore leaves nothing behind: the SQLite file, its journal and the directories
    // this restore created are removed (a PostgreSQL restore is one transaction).
    let created = sqlite_file(&args.store, &args.data_dir).filter(|f| !f.exists()).map(|file| {
        let mut dirs = Vec::new();
        let mut dir = file.parent().map(Path::to_path_buf);
        while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            dir = d.parent().map(Path::to_path_buf);
            dirs.push(d);
        }
        (file, dirs)
    });
    let result = restore_inner(args);
    if result.is_err() {
        if let Some((file, dirs)) = created {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut p = file.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(p));
            }
            for d in dirs {
                let _ = std::fs::remove_dir(d);
            }
        }
    }
    result
}

fn restore_inner(args: &RestoreArgs) -> Result<Summary, String> {
    let f = std::fs::File::open(&args.file).map_err(|e| format!("{}: {e}", args.file.display()))?;
    let mut input = std::io::BufReader::new(f);
    if let Some(file) = sqlite_file(&args.store, &args.data_dir) {
        if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
    }
    // Check the audit trail before anything is written, so a damaged one stops the restore.
    let audit = match &args.audit_dir {
        Some(dir) => {
            if sqlite_file(&args.store, &args.data_dir).is_some() {
                return Err("--audit-dir imports into a PostgreSQL store; with SQLite, copy the audit directory into the data dir".into());
            }
            let key = match args.audit_public_key.as_deref() {
                Some(k) => crate::audit::read_public_key(k)?,
                None => key_from_root(dir).map_err(|e| {
                    format!(
                        "--audit-dir needs the deployment's audit public key: pass --audit-public-key, or keep the \
                         trail in its data dir with that dir's root key ({e})"
                    )
                })?,
            };
            Some(read_trail(dir, key)?)
        }
        None => None,
    };
    let store = trent_store::open(&args.store, &args.data_dir).map_err(|e| e.to_string())?;
    let summary = trent_store::backup::restore(&*store, &mut input).map_err(|e| match e {
        BackupError::Corrupt(_) => format!("{}: {e}", args.file.display()),
        e => e.to_string(),
    })?;
    if let Some((node, lines, head)) = audit {
        let fail = |e: trent_store::StoreError| format!("importing the audit trail: {e}");
        let mut tx = store.write().map_err(fail)?;
        if tx.get("audit_head", &node).map_err(fail)?.is_some() {
            return Err(format!("the store already holds an audit chain for node {node}"));
        }
        for (seq, line) in &lines {
            tx.put("audit", &format!("{node}/{seq:020}"), line.as_bytes()).map_err(fail)?;
        }
        let last = lines.last().map_or(0, |(s, _)| *s);
        let head = serde_json::json!({"seq": last, "hash": head}).to_string();
        tx.put("audit_head", &node, head.as_bytes()).map_err(fail)?;
        tx.commit().map_err(fail)?;
        eprintln!("trent: imported {} audit records as the chain of node {node}.", lines.len());
    }
    Ok(summary)
}

/// The audit public key of the data dir an audit directory sits in: its store's signing key,
/// unwrapped with its root key (TRENT_ROOT_KEY, else `root.key` there). Only the holder of the
/// root key could have wrapped it, so a trail re-signed by someone else does not match it.
fn key_from_root(audit_dir: &Path) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let data_dir = audit_dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !data_dir.join("trent.db").is_file() {
        return Err(format!("no {}", data_dir.join("trent.db").display()));
    }
    let b64 = match std::env::var("TRENT_ROOT_KEY") {
        Ok(k) => zeroize::Zeroizing::new(k),
        Err(_) => zeroize::Zeroizing::new(
            std::fs::read_to_string(data_dir.join("root.key"))
                .map_err(|e| format!("{}: {e}", data_dir.join("root.key").display()))?,
        ),
    };
    let bytes = trent_crypto::SecretBytes::new(
        base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|_| "the root key is not base64")?,
    );
    let root = trent_crypto::RootKey::from_bytes(&bytes).map_err(|e| e.to_string())?;
    let store = trent_store::open("sqlite", data_dir).map_err(|e| e.to_string())?;
    let wrapped = store
        .read()
        .and_then(|mut t| t.get("meta", "audit_signing_key"))
        .map_err(|e| e.to_string())?
        .ok_or("its store holds no audit signing key")?;
    let pkcs8 = root
        .unwrap("audit-signing-key", "v1", b"", &wrapped)
        .map_err(|_| "the audit signing key does not unwrap under that root key")?;
    let key = trent_crypto::audit::SigningKey::from_pkcs8(&pkcs8).map_err(|e| e.to_string())?;
    Ok(key.public_key())
}

/// A file audit trail, verified: (node id, (seq, line) in order, last hash).
type Trail = (String, Vec<(u64, String)>, String);

fn read_trail(dir: &Path, public_key: Vec<u8>) -> Result<Trail, String> {
    let mut verifier = trent_crypto::audit::ChainVerifier::new(Some(public_key));
    let mut lines = Vec::new();
    let mut head = trent_crypto::audit::GENESIS.to_string();
    for file in crate::audit::trail_files(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        for (n, line) in text.lines().enumerate() {
            let v = verifier
                .feed(line)
                .map_err(|e| format!("{}:{}: the audit trail does not verify ({e})", file.display(), n + 1))?;
            head = v.hash.clone();
            lines.push((v.seq, line.to_string()));
        }
    }
    if lines.is_empty() {
        return Err(format!("{}: no audit records (trail-*.jsonl) to import", dir.display()));
    }
    let s = verifier.finish();
    if s.digests == 0 || s.unsigned_tail > 0 {
        return Err(format!(
            "{}: the last {} audit records are not covered by a digest signed with the given key: stop trentd (it \
             signs the trail at shutdown) and copy its audit directory again",
            dir.display(),
            s.unsigned_tail
        ));
    }
    let node = dir
        .parent()
        .map(|d| d.join("node-id"))
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .unwrap_or_else(|| {
            let mut b = [0u8; 8];
            let _ = aws_lc_rs::rand::fill(&mut b);
            format!("imported-{}", hex::encode(b))
        });
    Ok((node, lines, head))
}

pub fn run_backup(args: BackupArgs) -> Result<(), String> {
    let s = backup(&args)?;
    eprintln!("trent: wrote {} ({}).", args.output.display(), describe(&s));
    eprintln!(
        "trent: the backup is wrapped under the root key: keep the root key (and the audit directory) backed up too."
    );
    Ok(())
}

pub fn run_restore(args: RestoreArgs) -> Result<(), String> {
    let s = restore(&args)?;
    eprintln!("trent: restored {} from {}.", describe(&s), args.file.display());
    eprintln!("trent: start trentd on this store with the same root key as the backed-up deployment.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use trent_store::Store;

    /// A stopped trentd's trail: two events and the closing digest, signed by `key`.
    fn signed_trail(audit: &Path, key: &trent_crypto::audit::SigningKey, second: &str) -> String {
        use trent_crypto::audit::{digest_fields, seal_line, RecordKind, GENESIS};
        let (l1, h1) = seal_line(1, GENESIS, RecordKind::Event, r#"{"eventName":"A"}"#).unwrap();
        let (l2, h2) = seal_line(2, &h1, RecordKind::Event, &format!(r#"{{"eventName":"{second}"}}"#)).unwrap();
        let (l3, h3) =
            seal_line(3, &h2, RecordKind::Digest, &digest_fields(key, 2, &h2, "2026-01-01T00:00:00Z")).unwrap();
        std::fs::write(audit.join("trail-00000000000000000001.jsonl"), format!("{l1}\n{l2}\n{l3}\n")).unwrap();
        h3
    }

    #[test]
    fn a_failed_restore_into_sqlite_leaves_no_database_or_directory_behind() {
        let d = tempfile::tempdir().unwrap();
        let bad = d.path().join("bad.backup");
        std::fs::write(&bad, b"this is not a trent backup\n").unwrap();
        let data = d.path().join("new").join("data");
        let e = restore(&restore_args("sqlite", &data, &bad)).unwrap_err();
        assert!(!e.is_empty());
        assert!(!d.path().join("new").exists(), "the restore created {} and left it", data.display());
        // An existing data dir stays; only what the restore made goes.
        std::fs::create_dir(d.path().join("kept")).unwrap();
        restore(&restore_args("sqlite", &d.path().join("kept"), &bad)).unwrap_err();
        assert!(d.path().join("kept").is_dir());
        assert_eq!(std::fs::read_dir(d.path().join("kept")).unwrap().count(), 0);
    }

    #[test]
    fn an_audit_trail_is_imported_only_if_its_chain_verifies() {
        use trent_crypto::audit::SigningKey;
        let d = tempfile::tempdir().unwrap();
        let audit = d.path().join("audit");
        std::fs::create_dir(&audit).unwrap();
        std::fs::write(d.path().join("node-id"), "node-abc\n").unwrap();
        let (key, _) = SigningKey::generate().unwrap();
        let head = signed_trail(&audit, &key, "B");
        let (node, lines, h) = read_trail(&audit, key.public_key()).unwrap();
        assert_eq!((node.as_str(), lines.len(), h), ("node-abc", 3, head));
        let file = audit.join("trail-00000000000000000001.jsonl");
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, text.replacen("\"B\"", "\"C\"", 1)).unwrap();
        let e = read_trail(&audit, key.public_key()).unwrap_err();
        assert!(e.contains(":2: the audit trail does not verify"), "{e}");
    }

    #[test]
    fn a_trail_re_signed_with_another_key_or_left_unsigned_is_not_imported() {
        use trent_crypto::audit::{seal_line, RecordKind, SigningKey, GENESIS};
        let d = tempfile::tempdir().unwrap();
        let audit = d.path().join("audit");
        std::fs::create_dir(&audit).unwrap();
        let (key, _) = SigningKey::generate().unwrap();
        let (forger, _) = SigningKey::generate().unwrap();
        // Self-consistent, but rewritten and re-signed by someone without the deployment's key.
        signed_trail(&audit, &forger, "Forged");
        let e = read_trail(&audit, key.public_key()).unwrap_err();
        assert!(e.contains("unexpected key"), "{e}");
        // A chain with no digest at all proves nothing about who wrote it.
        let (l1, _) = seal_line(1, GENESIS, RecordKind::Event, r#"{"eventName":"A"}"#).unwrap();
        std::fs::write(audit.join("trail-00000000000000000001.jsonl"), format!("{l1}\n")).unwrap();
        let e = read_trail(&audit, key.public_key()).unwrap_err();
        assert!(e.contains("not covered by a digest"), "{e}");
        // And the command refuses --audit-dir without the key.
        let mut args = restore_args("postgres://u@127.0.0.1/none", d.path(), &d.path().join("b"));
        args.audit_dir = Some(audit.clone());
        std::fs::write(d.path().join("b"), "x").unwrap();
        assert!(restore(&args).unwrap_err().contains("--audit-public-key"));
    }

    #[test]
    fn without_a_public_key_the_trail_is_checked_against_its_data_dirs_wrapped_signing_key() {
        use base64::Engine;
        use trent_crypto::audit::SigningKey;
        if std::env::var_os("TRENT_ROOT_KEY").is_some() {
            return; // the test uses the data dir's root.key
        }
        let d = tempfile::tempdir().unwrap();
        let audit = d.path().join("audit");
        std::fs::create_dir(&audit).unwrap();
        let (root, root_bytes) = trent_crypto::RootKey::generate().unwrap();
        std::fs::write(
            d.path().join("root.key"),
            base64::engine::general_purpose::STANDARD.encode(root_bytes.expose()),
        )
        .unwrap();
        let (key, pkcs8) = SigningKey::generate().unwrap();
        let wrapped = root.wrap("audit-signing-key", "v1", b"", &pkcs8).unwrap();
        put(&*trent_store::open("sqlite", d.path()).unwrap(), &[("meta", "audit_signing_key", &wrapped)]);
        assert_eq!(key_from_root(&audit).unwrap(), key.public_key());
        signed_trail(&audit, &key, "B");
        assert!(read_trail(&audit, key_from_root(&audit).unwrap()).is_ok());
        let (forger, _) = SigningKey::generate().unwrap();
        signed_trail(&audit, &forger, "Forged");
        assert!(read_trail(&audit, key_from_root(&audit).unwrap()).unwrap_err().contains("unexpected key"));
        // Another root key cannot vouch for it.
        let (other, other_bytes) = trent_crypto::RootKey::generate().unwrap();
        drop(other);
        std::fs::write(
            d.path().join("root.key"),
            base64::engine::general_purpose::STANDARD.encode(other_bytes.expose()),
        )
        .unwrap();
        assert!(key_from_root(&audit).unwrap_err().contains("does not unwrap"));
    }

    fn put(store: &dyn Store, rows: &[(&str, &str, &[u8])]) {
        let mut t = store.write().unwrap();
        for (table, k, v) in rows {
            t.put(table, k, v).unwrap();
        }
        t.commit().unwrap();
    }

    fn dump(store: &dyn Store) -> Vec<(String, String, Vec<u8>)> {
        let mut r = store.read().unwrap();
        let mut out = Vec::new();
        for t in r.tables().unwrap() {
            for (k, v) in r.scan(&t, "", None, 10_000).unwrap() {
                out.push((t.clone(), k, v));
            }
        }
        out
    }

    fn backup_args(store: &str, data_dir: &Path, output: &Path) -> BackupArgs {
        BackupArgs { store: store.into(), data_dir: data_dir.into(), output: output.into() }
    }

    fn restore_args(store: &str, data_dir: &Path, file: &Path) -> RestoreArgs {
        RestoreArgs {
            store: store.into(),
            data_dir: data_dir.into(),
            file: file.into(),
            audit_dir: None,
            audit_public_key: None,
        }
    }

    #[test]
    fn backup_then_restore_into_a_new_sqlite_file_copies_every_row() {
        let d = tempfile::tempdir().unwrap();
        let src = trent_store::open("sqlite", d.path()).unwrap();
        put(&*src, &[("kms_key", "a", b"wrapped"), ("ssm_param", "/p", b"{}"), ("meta", "root_check", b"x")]);
        let file = d.path().join("out.trentbackup");
        let s = backup(&backup_args("sqlite", d.path(), &file)).unwrap();
        assert_eq!((s.rows, s.tables), (3, 3));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o077, 0, "owner-only file");
        }
        let target = d.path().join("new/restored.db");
        let url = format!("sqlite:{}", target.display());
        let r = restore(&restore_args(&url, d.path(), &file)).unwrap();
        assert_eq!(r, s);
        assert_eq!(dump(&*trent_store::open(&url, d.path()).unwrap()), dump(&*src));
    }

    #[test]
    fn restore_refuses_a_store_that_holds_data_and_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let src = trent_store::open("sqlite", d.path()).unwrap();
        put(&*src, &[("t", "k", b"v")]);
        let file = d.path().join("b");
        backup(&backup_args("sqlite", d.path(), &file)).unwrap();
        let other = d.path().join("other.db");
        let url = format!("sqlite:{}", other.display());
        put(&*trent_store::open(&url, d.path()).unwrap(), &[("t", "existing", b"1")]);
        let e = restore(&restore_args(&url, d.path(), &file)).unwrap_err();
        assert!(e.contains("not empty"), "{e}");
        let rows = dump(&*trent_store::open(&url, d.path()).unwrap());
        assert_eq!(rows, [("t".to_string(), "existing".to_string(), b"1".to_vec())]);
    }

    #[test]
    fn a_corrupted_backup_is_refused_by_name() {
        let d = tempfile::tempdir().unwrap();
        put(&*trent_store::open("sqlite", d.path()).unwrap(), &[("t", "k", b"value")]);
        let file = d.path().join("b");
        backup(&backup_args("sqlite", d.path(), &file)).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(&file, format!("{}\n{}\n", lines[0], lines[1])).unwrap(); // trailer cut off
        let url = format!("sqlite:{}", d.path().join("fresh.db").display());
        let e = restore(&restore_args(&url, d.path(), &file)).unwrap_err();
        assert!(e.contains("truncated") && e.contains(&file.display().to_string()), "{e}");
        assert!(dump(&*trent_store::open(&url, d.path()).unwrap()).is_empty(), "nothing was written");
    }

    #[test]
    fn backing_up_a_missing_sqlite_database_is_an_error_not_an_empty_backup() {
        let d = tempfile::tempdir().unwrap();
        let e = backup(&backup_args("sqlite", d.path(), &d.path().join("b"))).unwrap_err();
        assert!(e.contains("no SQLite database"), "{e}");
        assert!(!d.path().join("trent.db").exists() && !d.path().join("b").exists());
    }

    #[test]
    #[cfg_attr(trent_skip_postgres, ignore = "TRENT_SKIP_POSTGRES=1")]
    fn sqlite_to_postgres_and_back_keeps_every_row() {
        use trent_store::postgres::testing::TestDb;
        let db = TestDb::create();
        let d = tempfile::tempdir().unwrap();
        let src = trent_store::open("sqlite", d.path()).unwrap();
        put(&*src, &[("kms_key", "k1", b"\x00\xffbytes"), ("sm_secret", "s", b"{}")]);
        let file = d.path().join("b");
        backup(&backup_args("sqlite", d.path(), &file)).unwrap();
        restore(&restore_args(&db.url, d.path(), &file)).unwrap();
        let file2 = d.path().join("b2");
        backup(&backup_args(&db.url, d.path(), &file2)).unwrap();
        let back = d.path().join("back.db");
        restore(&restore_args(&format!("sqlite:{}", back.display()), d.path(), &file2)).unwrap();
        assert_eq!(dump(&*trent_store::open(&format!("sqlite:{}", back.display()), d.path()).unwrap()), dump(&*src));
    }
}
