//! Trent's storage: a narrow transactional key-value trait, and its backends.
//!
//! Everything Trent persists is a value (JSON, with key material already wrapped under the
//! root key) under a string key in a named table. Keys are ordered byte-wise, so a table can
//! be scanned by prefix with a resume point, which is all paging needs. A write transaction
//! is serialized against every other write and is durable when [`Txn::commit`] returns:
//! callers acknowledge a request only after that.
//!
//! Backends: [`sqlite`] (the default, embedded) and [`postgres`] (feature `postgres`, on by
//! default: several `trentd` nodes on one database). Both run the same [`conformance`] suite.
//! [`open`] picks one from a store URL; [`backup`] moves a deployment between them.
#![forbid(unsafe_code)]

pub mod backup;
pub mod cached;
pub mod conformance;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod sqlite;

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A storage failure. The detail is for the log, never for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    Backend(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Backend(m) => write!(f, "storage backend error: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

pub type Result<T> = std::result::Result<T, StoreError>;

/// One transaction. Dropping it without `commit` rolls it back.
pub trait Txn {
    fn get(&mut self, table: &str, key: &str) -> Result<Option<Vec<u8>>>;
    /// Inserts or replaces.
    fn put(&mut self, table: &str, key: &str, value: &[u8]) -> Result<()>;
    /// Inserts only if absent; returns false (and writes nothing) if the key exists.
    fn insert_new(&mut self, table: &str, key: &str, value: &[u8]) -> Result<bool>;
    /// Returns whether a row was removed.
    fn delete(&mut self, table: &str, key: &str) -> Result<bool>;
    /// Up to `limit` rows whose key starts with `prefix`, in key order, after `after` if given.
    fn scan(&mut self, table: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<(String, Vec<u8>)>>;
    /// The names of the tables that hold at least one row, in byte order (for backups).
    fn tables(&mut self) -> Result<Vec<String>>;
    /// Makes the writes durable. Only after this returns may a write be acknowledged.
    fn commit(self: Box<Self>) -> Result<()>;
}

pub trait Store: Send + Sync {
    /// A read-only snapshot.
    fn read(&self) -> Result<Box<dyn Txn + '_>>;
    /// A read-write transaction, serialized against other writers.
    fn write(&self) -> Result<Box<dyn Txn + '_>>;
    /// A short name for logs and `--help` ("sqlite", "postgres").
    fn backend(&self) -> &'static str;
    /// Claims the background job `job` (a sweep, a rotation run) for the caller, if nobody else
    /// holds it: `Ok(None)` means another node or thread runs it now, so skip it this time.
    /// The claim lasts while the guard lives.
    ///
    /// PostgreSQL: a session-level `pg_try_advisory_lock(`[`job_lock_id`]`)` on a dedicated
    /// session of this store, so every node sharing the database sees the claim; the server
    /// drops it when the node's session ends (a crash closes the socket; TCP keepalives detect
    /// a node that vanished without closing it). SQLite: one process serves the file, so a
    /// lock local to the process (shared by every handle on the same file) is enough.
    fn try_exclusive(&self, job: &str) -> Result<Option<JobGuard>>;
}

/// A claimed background job (see [`Store::try_exclusive`]); dropping it releases the claim.
pub struct JobGuard {
    job: String,
    release: Option<Box<dyn FnOnce() + Send>>,
}

impl JobGuard {
    /// A guard that runs `release` once, when dropped.
    pub fn new(job: &str, release: impl FnOnce() + Send + 'static) -> JobGuard {
        JobGuard { job: job.to_string(), release: Some(Box::new(release)) }
    }

    /// The job this guard holds.
    pub fn job(&self) -> &str {
        &self.job
    }
}

impl Drop for JobGuard {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

impl std::fmt::Debug for JobGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobGuard").field("job", &self.job).finish()
    }
}

/// The 64-bit advisory lock id of a job, the same on every node: the first eight bytes
/// (big-endian) of SHA-256(`"trent-job:" + job`).
pub fn job_lock_id(job: &str) -> i64 {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("trent-job:{job}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d.as_ref()[..8]);
    i64::from_be_bytes(b)
}

/// Jobs claimed inside this process, by scope (a database file, a store handle) and name.
#[derive(Clone, Default)]
pub(crate) struct LocalJobs(Arc<Mutex<HashSet<String>>>);

impl LocalJobs {
    /// The process-wide set (SQLite scopes its claims by database file).
    pub(crate) fn global() -> LocalJobs {
        static JOBS: std::sync::OnceLock<LocalJobs> = std::sync::OnceLock::new();
        JOBS.get_or_init(LocalJobs::default).clone()
    }

    /// Claims `key`; the returned closure releases it. None if it is already claimed.
    pub(crate) fn claim(&self, key: String) -> Option<impl FnOnce() + Send + 'static> {
        let mut held = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if !held.insert(key.clone()) {
            return None;
        }
        let set = self.0.clone();
        Some(move || {
            set.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
        })
    }
}

/// Opens the store a `--store` URL names, running pending migrations:
///
/// - `sqlite` — the default: `<data_dir>/trent.db`;
/// - `sqlite:PATH` — a SQLite database file at PATH;
/// - `postgres://user[:password]@host[:port]/database[?sslmode=…]` (or `postgresql://…`) — a
///   PostgreSQL database that several nodes may share; see [`postgres`] for TLS.
///
/// Errors name the URL with any password removed.
pub fn open(url: &str, data_dir: &Path) -> Result<Arc<dyn Store>> {
    let url = url.trim();
    if url == "sqlite" {
        let path = data_dir.join("trent.db");
        let s = sqlite::SqliteStore::open(&path).map_err(|e| context(&path.display().to_string(), e))?;
        return Ok(Arc::new(s));
    }
    if let Some(path) = url.strip_prefix("sqlite:") {
        if path.is_empty() {
            return Err(StoreError::Backend("`sqlite:` needs a file path, e.g. sqlite:/var/lib/trent/trent.db".into()));
        }
        let s = sqlite::SqliteStore::open(Path::new(path)).map_err(|e| context(path, e))?;
        return Ok(Arc::new(s));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        {
            let s = postgres::PgStore::connect(url).map_err(|e| context(&redact_url(url), e))?;
            return Ok(Arc::new(s));
        }
        #[cfg(not(feature = "postgres"))]
        return Err(StoreError::Backend(
            "this trentd was built without the PostgreSQL backend (feature `postgres` of trent-store)".into(),
        ));
    }
    Err(StoreError::Backend(format!(
        "unknown store `{}`: expected `sqlite`, `sqlite:PATH` or `postgres://user@host:port/database`",
        redact_url(url)
    )))
}

fn context(what: &str, e: StoreError) -> StoreError {
    match e {
        StoreError::Backend(m) => StoreError::Backend(format!("opening {what}: {m}")),
    }
}

/// The URL with the password (if any) replaced by `***`, for messages and logs. It errs on the
/// side of hiding: everything between the user name and the last `@` before the query goes.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_string() };
    let rest = &url[scheme_end..];
    let before_query = &rest[..rest.find('?').unwrap_or(rest.len())];
    let Some(at) = before_query.rfind('@') else { return url.to_string() };
    match before_query[..at].find(':') {
        Some(colon) => format!("{}{}:***{}", &url[..scheme_end], &rest[..colon], &rest[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_only_the_password() {
        assert_eq!(redact_url("postgres://u:secret@h:5432/db?x=1"), "postgres://u:***@h:5432/db?x=1");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("postgresql://h/db"), "postgresql://h/db");
        assert_eq!(redact_url("sqlite"), "sqlite");
        assert_eq!(redact_url("postgres://u:p@s/s@h/db"), "postgres://u:***@h/db", "an unencoded / or @");
        assert_eq!(redact_url("postgres://u:pw@h/db?sslrootcert=/a@b"), "postgres://u:***@h/db?sslrootcert=/a@b");
    }

    #[test]
    fn open_picks_sqlite_by_default_and_by_path() {
        let d = tempfile::tempdir().unwrap();
        let s = open("sqlite", d.path()).unwrap();
        assert_eq!(s.backend(), "sqlite");
        assert!(d.path().join("trent.db").exists());
        let p = d.path().join("other.db");
        let s = open(&format!("sqlite:{}", p.display()), d.path()).unwrap();
        assert_eq!(s.backend(), "sqlite");
        assert!(p.exists());
    }

    #[test]
    fn job_lock_ids_are_stable_and_distinct() {
        // Fixed: every node (and every version of trentd) must compute the same id.
        assert_eq!(job_lock_id("kms-deletions"), job_lock_id("kms-deletions"));
        assert_ne!(job_lock_id("kms-deletions"), job_lock_id("kms-rotations"));
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"trent-job:x");
        assert_eq!(job_lock_id("x").to_be_bytes(), d.as_ref()[..8]);
    }

    #[test]
    fn open_refuses_unknown_urls_without_echoing_a_password() {
        let d = tempfile::tempdir().unwrap();
        let e = open("mysql://u:hunter2@h/db", d.path()).err().unwrap().to_string();
        assert!(e.contains("unknown store") && !e.contains("hunter2"), "{e}");
        assert!(open("sqlite:", d.path()).is_err());
    }
}
