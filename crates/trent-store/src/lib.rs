//! Trent's storage: a narrow transactional key-value trait, and its backends.
//!
//! Everything Trent persists is a value (JSON, with key material already wrapped under the
//! root key) under a string key in a named table. Keys are ordered byte-wise, so a table can
//! be scanned by prefix with a resume point, which is all paging needs. A write transaction
//! is serialized against every other write and is durable when [`Txn::commit`] returns:
//! callers acknowledge a request only after that.
//!
//! Backends: [`sqlite`] (the default, embedded). PostgreSQL implements the same trait and
//! runs the same [`conformance`] suite.

pub mod conformance;
pub mod sqlite;

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
}
