//! The embedded SQLite backend: one file, WAL, `synchronous=FULL`, `secure_delete`, one writer
//! connection (`BEGIN IMMEDIATE`, so read-modify-write is serialized) and a few reader
//! connections that see the last committed state.

use crate::{JobGuard, LocalJobs, Result, Store, StoreError, Txn};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Versioned migrations, applied in order on open. Never edit one that has shipped: add another.
const MIGRATIONS: &[&str] =
    &["CREATE TABLE kv (tbl TEXT NOT NULL, k TEXT NOT NULL, v BLOB NOT NULL, PRIMARY KEY (tbl, k)) WITHOUT ROWID;"];

const READERS: usize = 4;

pub struct SqliteStore {
    /// Scopes this file's job claims in the process-wide set.
    jobs_scope: String,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn lock<'a>(m: &'a Mutex<Connection>) -> Result<MutexGuard<'a, Connection>> {
    m.lock().map_err(|_| StoreError::Backend("connection lock poisoned".into()))
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and runs pending migrations.
    pub fn open(path: &Path) -> Result<Self> {
        let writer = Connection::open(path).map_err(err)?;
        writer
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON; \
                 PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;",
            )
            .map_err(err)?;
        migrate(&writer)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r =
                Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                    .map_err(err)?;
            r.execute_batch("PRAGMA busy_timeout=10000;").map_err(err)?;
            readers.push(Mutex::new(r));
        }
        let file = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let jobs_scope = format!("sqlite:{}", file.display());
        Ok(SqliteStore { jobs_scope, writer: Mutex::new(writer), readers, next_reader: AtomicUsize::new(0) })
    }
}

fn migrate(c: &Connection) -> Result<()> {
    c.execute_batch("BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);")
        .map_err(err)?;
    let run = || -> Result<()> {
        let current: i64 =
            c.query_row("SELECT version FROM schema_version", [], |r| r.get(0)).optional().map_err(err)?.unwrap_or(0);
        if current as usize > MIGRATIONS.len() {
            return Err(StoreError::Backend(format!(
                "database schema version {current} is newer than this trentd understands ({})",
                MIGRATIONS.len()
            )));
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            c.execute_batch(m).map_err(err)?;
            c.execute("DELETE FROM schema_version", []).map_err(err)?;
            c.execute("INSERT INTO schema_version (version) VALUES (?1)", params![(i + 1) as i64]).map_err(err)?;
        }
        Ok(())
    };
    match run() {
        Ok(()) => c.execute_batch("COMMIT").map_err(err),
        Err(e) => {
            let _ = c.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

struct SqliteTxn<'a> {
    conn: MutexGuard<'a, Connection>,
    done: bool,
}

impl Drop for SqliteTxn<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl Txn for SqliteTxn<'_> {
    fn get(&mut self, table: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let mut st = self.conn.prepare_cached("SELECT v FROM kv WHERE tbl = ?1 AND k = ?2").map_err(err)?;
        st.query_row(params![table, key], |r| r.get(0)).optional().map_err(err)
    }

    fn put(&mut self, table: &str, key: &str, value: &[u8]) -> Result<()> {
        let mut st =
            self.conn.prepare_cached("INSERT OR REPLACE INTO kv (tbl, k, v) VALUES (?1, ?2, ?3)").map_err(err)?;
        st.execute(params![table, key, value]).map_err(err)?;
        Ok(())
    }

    fn insert_new(&mut self, table: &str, key: &str, value: &[u8]) -> Result<bool> {
        let mut st =
            self.conn.prepare_cached("INSERT OR IGNORE INTO kv (tbl, k, v) VALUES (?1, ?2, ?3)").map_err(err)?;
        Ok(st.execute(params![table, key, value]).map_err(err)? == 1)
    }

    fn delete(&mut self, table: &str, key: &str) -> Result<bool> {
        let mut st = self.conn.prepare_cached("DELETE FROM kv WHERE tbl = ?1 AND k = ?2").map_err(err)?;
        Ok(st.execute(params![table, key]).map_err(err)? > 0)
    }

    fn scan(&mut self, table: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<(String, Vec<u8>)>> {
        // Keys with a common prefix are contiguous in byte order: start at the prefix (or just
        // after the resume point) and stop at the first key that no longer has the prefix.
        let (op, start) = match after {
            Some(a) if a >= prefix => (">", a),
            _ => (">=", prefix),
        };
        let sql = format!("SELECT k, v FROM kv WHERE tbl = ?1 AND k {op} ?2 ORDER BY k LIMIT ?3");
        let mut st = self.conn.prepare_cached(&sql).map_err(err)?;
        let rows = st
            .query_map(params![table, start, limit as i64], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)))
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (k, v) = row.map_err(err)?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k, v));
        }
        Ok(out)
    }

    fn tables(&mut self) -> Result<Vec<String>> {
        let mut st = self.conn.prepare_cached("SELECT DISTINCT tbl FROM kv ORDER BY tbl").map_err(err)?;
        let rows = st.query_map([], |r| r.get::<_, String>(0)).map_err(err)?;
        rows.collect::<std::result::Result<_, _>>().map_err(err)
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(err)?;
        self.done = true;
        Ok(())
    }
}

impl Store for SqliteStore {
    fn read(&self) -> Result<Box<dyn Txn + '_>> {
        // Try each reader once without blocking, then wait for the round-robin choice.
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let mut conn = None;
        for i in 0..self.readers.len() {
            if let Ok(g) = self.readers[(start + i) % self.readers.len()].try_lock() {
                conn = Some(g);
                break;
            }
        }
        let conn = match conn {
            Some(c) => c,
            None => lock(&self.readers[start % self.readers.len()])?,
        };
        conn.execute_batch("BEGIN DEFERRED").map_err(err)?;
        Ok(Box::new(SqliteTxn { conn, done: false }))
    }

    fn write(&self) -> Result<Box<dyn Txn + '_>> {
        let conn = lock(&self.writer)?;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
        Ok(Box::new(SqliteTxn { conn, done: false }))
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn try_exclusive(&self, job: &str) -> Result<Option<JobGuard>> {
        Ok(LocalJobs::global().claim(format!("{}\0{job}", self.jobs_scope)).map(|release| JobGuard::new(job, release)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(f: &dyn Fn(&(dyn Store + 'static))) {
        let d = tempfile::tempdir().unwrap();
        f(&SqliteStore::open(&d.path().join("t.db")).unwrap());
    }

    /// Two connections sets on one file, as two processes would have.
    fn two_handles(f: &dyn Fn(&(dyn Store + 'static), &(dyn Store + 'static))) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.db");
        f(&SqliteStore::open(&p).unwrap(), &SqliteStore::open(&p).unwrap());
    }

    crate::conformance_tests!(fresh, two_handles);

    #[test]
    fn committed_data_survives_reopen_and_migrations_are_idempotent() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.db");
        {
            let s = SqliteStore::open(&p).unwrap();
            let mut t = s.write().unwrap();
            t.put("k", "x", b"v").unwrap();
            t.commit().unwrap();
        }
        let s = SqliteStore::open(&p).unwrap();
        assert_eq!(s.read().unwrap().get("k", "x").unwrap().as_deref(), Some(&b"v"[..]));
    }

    #[test]
    fn refuses_a_schema_newer_than_it_knows() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.db");
        drop(SqliteStore::open(&p).unwrap());
        let c = Connection::open(&p).unwrap();
        c.execute("UPDATE schema_version SET version = 999", []).unwrap();
        drop(c);
        assert!(SqliteStore::open(&p).is_err());
    }
}
