//! The PostgreSQL backend: several `trentd` nodes on one database.
//!
//! # Semantics (the same as [`crate::sqlite`])
//!
//! - **Writes are serialized across every node.** Each write transaction starts with
//!   `BEGIN ISOLATION LEVEL READ COMMITTED` followed by `pg_advisory_xact_lock(WRITE_LOCK)`: one
//!   lock for the whole deployment, held until commit or rollback. The trait's callers cannot
//!   retry a transaction (a handler may already have generated key material or a version id),
//!   so SERIALIZABLE alone, which aborts one of two conflicting transactions, would surface as
//!   errors under concurrent writes; the lock instead makes the second writer wait. READ
//!   COMMITTED (not REPEATABLE READ) is deliberate: every statement then reads the latest
//!   committed state, which is taken *after* the lock is held, so a read-modify-write sees the
//!   previous writer's commit. (A REPEATABLE READ snapshot would be taken by the lock statement
//!   itself, before waiting, and lose updates.) Within a node, writers also queue on one local
//!   connection, so at most one connection per node waits on the lock.
//! - **Durable on commit.** `COMMIT` returns after the WAL is flushed (`synchronous_commit` is
//!   raised to `on` for our sessions if the server has it `off`).
//! - **Reads are consistent snapshots**: `REPEATABLE READ READ ONLY`, which never blocks a writer
//!   and never fails with a serialization error.
//! - **Keys are ordered byte-wise**: keys are `bytea`, table names `text COLLATE "C"`.
//! - **Migrations** are versioned ([`MIGRATIONS`], never edited once shipped) and run at open
//!   under the session-level `pg_advisory_lock(MIGRATION_LOCK)`, so nodes starting at once apply
//!   each migration exactly once.
//!
//! The `postgres` client is synchronous (it drives its own small tokio runtime per
//! connection), like the trait: call it from blocking threads, as `trentd` does
//! (`spawn_blocking`), never from inside an async task.
//!
//! # Connections and TLS
//!
//! `postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer]`. Connections are
//! made lazily: one writer and up to [`READERS`] readers per store; a broken connection is
//! replaced on next use. TLS is not built in yet: `sslmode=prefer` (the default) connects
//! without TLS, and `sslmode=require` is refused with a clear error. Reach a remote server over
//! a trusted network, a Unix socket (`host=/var/run/postgresql`), or a local TLS tunnel.

use crate::{Result, Store, StoreError, Txn};
use postgres::{Client, Config, NoTls, Statement};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Versioned migrations, applied in order on open. Never edit one that has shipped: add another.
pub const MIGRATIONS: &[&str] = &["CREATE TABLE trent_kv (\
        tbl text COLLATE \"C\" NOT NULL, \
        k bytea NOT NULL, \
        v bytea NOT NULL, \
        PRIMARY KEY (tbl, k))"];

/// Most reader connections a store opens.
pub const READERS: usize = 8;

/// The advisory lock every write transaction holds: ASCII "trent" + "W".
pub const WRITE_LOCK: i64 = 0x7472_656e_7400_0057;
/// The advisory lock held while migrating: ASCII "trent" + "M".
pub const MIGRATION_LOCK: i64 = 0x7472_656e_7400_004d;

/// How long a writer waits for another node's write transaction before failing.
const LOCK_TIMEOUT: &str = "30s";
/// A session that stays idle inside a transaction this long (a hung node) is ended by the server,
/// releasing the write lock.
const IDLE_IN_TXN_TIMEOUT: &str = "60s";

/// The error with its causes ("error connecting to server: Connection refused …").
fn err(e: postgres::Error) -> StoreError {
    let mut msg = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        msg.push_str(": ");
        msg.push_str(&c.to_string());
        cause = c.source();
    }
    StoreError::Backend(msg)
}

fn lock<'a>(m: &'a Mutex<Option<Conn>>) -> Result<MutexGuard<'a, Option<Conn>>> {
    m.lock().map_err(|_| StoreError::Backend("connection lock poisoned".into()))
}

/// One connection and its prepared statements.
struct Conn {
    client: Client,
    get: Statement,
    put: Statement,
    insert_new: Statement,
    delete: Statement,
    scan_from: Statement,
    scan_after: Statement,
    tables: Statement,
}

impl Conn {
    fn open(config: &Config) -> Result<Conn> {
        let mut client = config.connect(NoTls).map_err(err)?;
        let sync: String = client.query_one("SHOW synchronous_commit", &[]).map_err(err)?.get(0);
        let mut setup = format!(
            "SET lock_timeout = '{LOCK_TIMEOUT}'; SET idle_in_transaction_session_timeout = '{IDLE_IN_TXN_TIMEOUT}';"
        );
        if sync == "off" {
            setup.push_str(" SET synchronous_commit = on;");
        }
        client.batch_execute(&setup).map_err(err)?;
        let mut prep = |sql: &str| client.prepare(sql).map_err(err);
        let get = prep("SELECT v FROM trent_kv WHERE tbl = $1 AND k = $2")?;
        let put = prep(
            "INSERT INTO trent_kv (tbl, k, v) VALUES ($1, $2, $3) ON CONFLICT (tbl, k) DO UPDATE SET v = EXCLUDED.v",
        )?;
        let insert_new = prep("INSERT INTO trent_kv (tbl, k, v) VALUES ($1, $2, $3) ON CONFLICT (tbl, k) DO NOTHING")?;
        let delete = prep("DELETE FROM trent_kv WHERE tbl = $1 AND k = $2")?;
        let scan_from = prep("SELECT k, v FROM trent_kv WHERE tbl = $1 AND k >= $2 ORDER BY k LIMIT $3")?;
        let scan_after = prep("SELECT k, v FROM trent_kv WHERE tbl = $1 AND k > $2 ORDER BY k LIMIT $3")?;
        let tables = prep("SELECT DISTINCT tbl FROM trent_kv ORDER BY tbl")?;
        Ok(Conn { client, get, put, insert_new, delete, scan_from, scan_after, tables })
    }
}

pub struct PgStore {
    config: Config,
    writer: Mutex<Option<Conn>>,
    readers: Vec<Mutex<Option<Conn>>>,
    next_reader: AtomicUsize,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config may hold a password: name only where it points.
        f.debug_struct("PgStore")
            .field("hosts", &self.config.get_hosts())
            .field("db", &self.config.get_dbname())
            .finish()
    }
}

impl PgStore {
    /// Connects to the database a `postgres://` URL names and runs pending migrations.
    pub fn connect(url: &str) -> Result<Self> {
        let mut config = Config::from_str(url).map_err(|e| match err(e) {
            StoreError::Backend(m) => StoreError::Backend(format!("invalid PostgreSQL URL: {m}")),
        })?;
        if config.get_ssl_mode() == postgres::config::SslMode::Require {
            return Err(StoreError::Backend(
                "sslmode=require is not supported: this trentd connects to PostgreSQL without TLS \
                 (use sslmode=disable or prefer over a trusted network, a Unix socket, or a TLS tunnel)"
                    .into(),
            ));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("trentd");
        }
        migrate(&config)?;
        let readers = (0..READERS).map(|_| Mutex::new(None)).collect();
        Ok(PgStore { config, writer: Mutex::new(None), readers, next_reader: AtomicUsize::new(0) })
    }

    /// Starts a transaction on the connection in `slot`, (re)connecting if it is missing or
    /// broken; a connection that fails `BEGIN` is replaced once.
    fn begin<'a>(&self, mut slot: MutexGuard<'a, Option<Conn>>, sql: &str) -> Result<PgTxn<'a>> {
        loop {
            let fresh = slot.as_ref().is_none_or(|c| c.client.is_closed());
            if fresh {
                *slot = Some(Conn::open(&self.config)?);
            }
            let conn = slot.as_mut().expect("connection just made");
            match conn.client.batch_execute(sql) {
                Ok(()) => return Ok(PgTxn { slot, done: false }),
                Err(e) => {
                    // Never reuse a connection whose BEGIN failed: a transaction may be open on it.
                    *slot = None;
                    // A reused connection may have died since its last use (server restart, a
                    // terminated session): try once more on a new one. Waiting again for a write
                    // lock that timed out would only double the wait.
                    if fresh || e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) {
                        return Err(err(e));
                    }
                }
            }
        }
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Each connection owns a tokio runtime, which must not be dropped inside an async
        // context (trentd drops its store at the end of its async main): drop them on a thread
        // of their own.
        let mut conns: Vec<Conn> = Vec::new();
        let mut take = |m: &mut Mutex<Option<Conn>>| {
            if let Some(c) = m.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
                conns.push(c);
            }
        };
        take(&mut self.writer);
        for r in &mut self.readers {
            take(r);
        }
        if !conns.is_empty() {
            let _ = std::thread::spawn(move || drop(conns)).join();
        }
    }
}

fn migrate(config: &Config) -> Result<()> {
    let mut c = config.connect(NoTls).map_err(err)?;
    c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).map_err(err)?;
    let run = |c: &mut Client| -> Result<()> {
        c.batch_execute("BEGIN; CREATE TABLE IF NOT EXISTS trent_schema_version (version integer NOT NULL)")
            .map_err(err)?;
        let current: i32 =
            c.query_opt("SELECT version FROM trent_schema_version", &[]).map_err(err)?.map(|r| r.get(0)).unwrap_or(0);
        if current as usize > MIGRATIONS.len() {
            return Err(StoreError::Backend(format!(
                "database schema version {current} is newer than this trentd understands ({})",
                MIGRATIONS.len()
            )));
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            c.batch_execute(m).map_err(err)?;
            c.execute("DELETE FROM trent_schema_version", &[]).map_err(err)?;
            c.execute("INSERT INTO trent_schema_version (version) VALUES ($1)", &[&((i + 1) as i32)]).map_err(err)?;
        }
        c.batch_execute("COMMIT").map_err(err)
    };
    let result = run(&mut c);
    if result.is_err() {
        let _ = c.batch_execute("ROLLBACK");
    }
    // Closing the session releases the lock in any case; unlock explicitly to be prompt.
    let _ = c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
    result
}

struct PgTxn<'a> {
    slot: MutexGuard<'a, Option<Conn>>,
    done: bool,
}

impl PgTxn<'_> {
    fn conn(&mut self) -> Result<&mut Conn> {
        self.slot.as_mut().ok_or_else(|| StoreError::Backend("the connection of this transaction was lost".into()))
    }
}

impl Drop for PgTxn<'_> {
    fn drop(&mut self) {
        if !self.done {
            let rolled_back = match self.slot.as_mut() {
                Some(c) => c.client.batch_execute("ROLLBACK").is_ok(),
                None => true,
            };
            if !rolled_back {
                *self.slot = None;
            }
        }
    }
}

impl Txn for PgTxn<'_> {
    fn get(&mut self, table: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let c = self.conn()?;
        let row = c.client.query_opt(&c.get, &[&table, &key.as_bytes()]).map_err(err)?;
        Ok(row.map(|r| r.get(0)))
    }

    fn put(&mut self, table: &str, key: &str, value: &[u8]) -> Result<()> {
        let c = self.conn()?;
        c.client.execute(&c.put, &[&table, &key.as_bytes(), &value]).map_err(err)?;
        Ok(())
    }

    fn insert_new(&mut self, table: &str, key: &str, value: &[u8]) -> Result<bool> {
        let c = self.conn()?;
        Ok(c.client.execute(&c.insert_new, &[&table, &key.as_bytes(), &value]).map_err(err)? == 1)
    }

    fn delete(&mut self, table: &str, key: &str) -> Result<bool> {
        let c = self.conn()?;
        Ok(c.client.execute(&c.delete, &[&table, &key.as_bytes()]).map_err(err)? > 0)
    }

    fn scan(&mut self, table: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<(String, Vec<u8>)>> {
        // As in SQLite: keys with a common prefix are contiguous in byte order, so start at the
        // prefix (or just after the resume point) and stop at the first key without it.
        let c = self.conn()?;
        let (st, start) = match after {
            Some(a) if a >= prefix => (&c.scan_after, a),
            _ => (&c.scan_from, prefix),
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = c.client.query(st, &[&table, &start.as_bytes(), &limit]).map_err(err)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let k: Vec<u8> = row.get(0);
            let k = String::from_utf8(k).map_err(|_| StoreError::Backend(format!("a key in {table} is not UTF-8")))?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k, row.get(1)));
        }
        Ok(out)
    }

    fn tables(&mut self) -> Result<Vec<String>> {
        let c = self.conn()?;
        let rows = c.client.query(&c.tables, &[]).map_err(err)?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        let result = self.conn()?.client.batch_execute("COMMIT");
        // After a failed COMMIT the transaction is over either way; the connection may be broken.
        self.done = true;
        if result.is_err() {
            *self.slot = None;
        }
        result.map_err(err)
    }
}

impl Store for PgStore {
    fn read(&self) -> Result<Box<dyn Txn + '_>> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let mut slot = None;
        for i in 0..self.readers.len() {
            if let Ok(g) = self.readers[(start + i) % self.readers.len()].try_lock() {
                slot = Some(g);
                break;
            }
        }
        let slot = match slot {
            Some(s) => s,
            None => lock(&self.readers[start % self.readers.len()])?,
        };
        Ok(Box::new(self.begin(slot, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?))
    }

    fn write(&self) -> Result<Box<dyn Txn + '_>> {
        let slot = lock(&self.writer)?;
        let sql =
            format!("BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE; SELECT pg_advisory_xact_lock({WRITE_LOCK})");
        Ok(Box::new(self.begin(slot, &sql)?))
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}

/// Fresh databases for tests: `trent_test_<random>` made through the `postgres` database of the
/// server in `TRENT_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432`), dropped when
/// the value is dropped.
pub mod testing {
    use super::*;

    /// The server tests use, without a database name.
    pub fn server_url() -> String {
        std::env::var("TRENT_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
    }

    /// True when `TRENT_SKIP_POSTGRES=1`: PostgreSQL tests then pass without running.
    pub fn skip() -> bool {
        std::env::var("TRENT_SKIP_POSTGRES").is_ok_and(|v| v == "1")
    }

    pub struct TestDb {
        pub name: String,
        pub url: String,
        admin: String,
    }

    impl TestDb {
        /// Creates an empty database. Panics with a clear message if the server is unreachable.
        pub fn create() -> TestDb {
            let server = server_url();
            let admin = format!("{server}/postgres?sslmode=disable");
            let mut c = Client::connect(&admin, NoTls).unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL is not reachable at {} ({e}). Start it (pg_ctlcluster --skip-systemctl-redirect \
                     <version> main start), point TRENT_TEST_POSTGRES at a server, or set TRENT_SKIP_POSTGRES=1",
                    crate::redact_url(&server)
                )
            });
            let mut random = [0u8; 8];
            aws_lc_rs::rand::fill(&mut random).expect("system random source");
            let name = format!("trent_test_{}", hex::encode(random));
            c.batch_execute(&format!("CREATE DATABASE {name}")).expect("CREATE DATABASE");
            let url = format!("{server}/{name}?sslmode=disable");
            TestDb { name, url, admin }
        }
    }

    impl Drop for TestDb {
        fn drop(&mut self) {
            let name = self.name.clone();
            let admin = self.admin.clone();
            // A thread of its own: a test may drop this inside an async context.
            let _ = std::thread::spawn(move || {
                if let Ok(mut c) = Client::connect(&admin, NoTls) {
                    let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            })
            .join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::conformance;

    /// Runs `f` on a store over a fresh database, unless PostgreSQL tests are skipped.
    fn with_db(f: impl FnOnce(&TestDb)) {
        if skip() {
            eprintln!("TRENT_SKIP_POSTGRES=1: skipping a PostgreSQL test");
            return;
        }
        let db = TestDb::create();
        f(&db);
    }

    fn fresh(f: &dyn Fn(&(dyn Store + 'static))) {
        with_db(|db| f(&PgStore::connect(&db.url).unwrap()));
    }

    /// Two stores on one database, as two nodes would have.
    fn two_handles(f: &dyn Fn(&(dyn Store + 'static), &(dyn Store + 'static))) {
        with_db(|db| f(&PgStore::connect(&db.url).unwrap(), &PgStore::connect(&db.url).unwrap()));
    }

    crate::conformance_tests!(fresh, two_handles);

    #[test]
    fn backup_moves_sqlite_to_postgres_and_back() {
        with_db(|db| {
            let dir = tempfile::tempdir().unwrap();
            let lite = crate::sqlite::SqliteStore::open(&dir.path().join("a.db")).unwrap();
            let pg = PgStore::connect(&db.url).unwrap();
            conformance::backup_restores_into_an_empty_store(&lite, &pg);
            let back = crate::sqlite::SqliteStore::open(&dir.path().join("b.db")).unwrap();
            conformance::backup_restores_into_an_empty_store(&pg, &back);
        });
    }

    #[test]
    fn committed_data_survives_reconnect_and_migrations_are_idempotent() {
        with_db(|db| {
            {
                let s = PgStore::connect(&db.url).unwrap();
                let mut t = s.write().unwrap();
                t.put("k", "x", b"v").unwrap();
                t.commit().unwrap();
            }
            let s = PgStore::connect(&db.url).unwrap();
            assert_eq!(s.read().unwrap().get("k", "x").unwrap().as_deref(), Some(&b"v"[..]));
            let mut c = Client::connect(&db.url, NoTls).unwrap();
            let v: i32 = c.query_one("SELECT version FROM trent_schema_version", &[]).unwrap().get(0);
            assert_eq!(v as usize, MIGRATIONS.len());
            let n: i64 = c.query_one("SELECT count(*) FROM trent_schema_version", &[]).unwrap().get(0);
            assert_eq!(n, 1, "one version row after two opens");
        });
    }

    #[test]
    fn nodes_opening_at_once_migrate_once() {
        with_db(|db| {
            std::thread::scope(|sc| {
                let hs: Vec<_> = (0..4).map(|_| sc.spawn(|| PgStore::connect(&db.url).map(drop))).collect();
                for h in hs {
                    h.join().unwrap().expect("every concurrent open succeeds");
                }
            });
        });
    }

    #[test]
    fn refuses_a_schema_newer_than_it_knows() {
        with_db(|db| {
            drop(PgStore::connect(&db.url).unwrap());
            let mut c = Client::connect(&db.url, NoTls).unwrap();
            c.execute("UPDATE trent_schema_version SET version = 999", &[]).unwrap();
            let e = PgStore::connect(&db.url).unwrap_err().to_string();
            assert!(e.contains("newer than this trentd understands"), "{e}");
        });
    }

    #[test]
    fn a_broken_connection_is_replaced_on_next_use() {
        with_db(|db| {
            let s = PgStore::connect(&db.url).unwrap();
            let mut t = s.write().unwrap();
            t.put("k", "a", b"1").unwrap();
            t.commit().unwrap();
            drop(s.read().unwrap());
            // Kill every session of this store from outside, as a server restart would.
            let mut admin = Client::connect(&db.url, NoTls).unwrap();
            admin
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = current_database() AND pid <> pg_backend_pid()",
                    &[],
                )
                .unwrap();
            std::thread::sleep(Duration::from_millis(200));
            assert_eq!(s.read().unwrap().get("k", "a").unwrap().as_deref(), Some(&b"1"[..]));
            let mut t = s.write().unwrap();
            t.put("k", "b", b"2").unwrap();
            t.commit().unwrap();
            assert_eq!(s.read().unwrap().get("k", "b").unwrap().as_deref(), Some(&b"2"[..]));
        });
    }

    #[test]
    fn sslmode_require_is_refused_clearly() {
        let e = PgStore::connect("postgres://u@127.0.0.1:1/db?sslmode=require").unwrap_err().to_string();
        assert!(e.contains("sslmode=require is not supported"), "{e}");
    }

    #[test]
    fn an_unreachable_server_is_a_clear_error() {
        let e = crate::open("postgres://u:pw@127.0.0.1:1/db?sslmode=disable", std::path::Path::new("."))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("127.0.0.1:1") && !e.contains(":pw@"), "{e}");
    }
}
