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
//! `postgres://user[:password]@host[:port]/database[?sslmode=…]`. Connections are made lazily:
//! one writer and up to [`READERS`] readers per store; a broken connection is replaced on next
//! use.
//!
//! - `sslmode=disable`, or `prefer` (the default): no TLS. (libpq's `prefer` would encrypt
//!   without checking the certificate, which protects against nothing active; we do not pretend.)
//! - `sslmode=require` or `verify-full`: TLS 1.2/1.3 with rustls over aws-lc-rs, **always**
//!   verifying the server's certificate chain and host name — against the PEM file in
//!   `sslrootcert=PATH` if given, else the system's CA bundle. (So `require` is stricter here
//!   than in libpq.) `verify-ca`, which skips the host name, is refused.

use crate::{JobGuard, LocalJobs, Result, Store, StoreError, Txn};
use postgres::{Client, Config, NoTls, Statement};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
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

/// TCP keepalives of the job session (see [`PgStore::try_exclusive`]), on both ends: the server
/// ends the session of a node that vanished (power loss, partition) after about
/// idle + interval × count seconds, releasing its job locks; the node notices a dead server as fast.
const KEEPALIVE_IDLE_SECS: u64 = 10;
const KEEPALIVE_INTERVAL_SECS: u64 = 5;
const KEEPALIVE_COUNT: u32 = 3;

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
    fn open(config: &Config, tls: &Tls) -> Result<Conn> {
        let mut client = tls.connect(config)?;
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

/// How connections are made: in the clear, or over verified TLS.
#[derive(Clone)]
enum Tls {
    Off,
    Verified(tls::MakeRustls),
}

impl Tls {
    fn connect(&self, config: &Config) -> Result<Client> {
        match self {
            Tls::Off => config.connect(NoTls),
            Tls::Verified(t) => config.connect(t.clone()),
        }
        .map_err(err)
    }
}

/// Takes the TLS options trentd handles itself out of the URL: `sslrootcert=PATH` (which the
/// client library does not know) and `sslmode=verify-full` (passed on as `require`, which we
/// always verify). Returns the URL to parse, and the root file if one was named.
fn tls_options(url: &str) -> Result<(String, Option<PathBuf>)> {
    let Some((base, query)) = url.split_once('?') else { return Ok((url.to_string(), None)) };
    let mut kept = Vec::new();
    let mut root = None;
    let mut verify = false;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslrootcert", v)) => root = Some(PathBuf::from(percent_decode(v)?)),
            Some(("sslmode", "verify-full")) | Some(("sslmode", "require")) => {
                verify = true;
                kept.push("sslmode=require".to_string());
            }
            Some(("sslmode", "verify-ca")) => {
                return Err(StoreError::Backend(
                    "sslmode=verify-ca is not supported: use sslmode=verify-full (the host name is always checked)"
                        .into(),
                ))
            }
            _ => kept.push(pair.to_string()),
        }
    }
    if root.is_some() && !verify {
        return Err(StoreError::Backend("sslrootcert needs sslmode=verify-full (or require)".into()));
    }
    let url = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
    Ok((url, root))
}

fn percent_decode(s: &str) -> Result<String> {
    let bad = || StoreError::Backend(format!("bad percent-encoding in `{s}`"));
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(bad)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

pub struct PgStore {
    config: Config,
    tls: Tls,
    writer: Mutex<Option<Conn>>,
    readers: Vec<Mutex<Option<Conn>>>,
    next_reader: AtomicUsize,
    /// The session that holds this node's job locks (made on first use, replaced if it broke).
    jobs: Arc<Mutex<Option<Client>>>,
    /// Jobs claimed through this handle: advisory locks are re-entrant within a session, so
    /// two claims of one job by this node must be refused here.
    local_jobs: LocalJobs,
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
        let (url, root) = tls_options(url)?;
        let mut config = Config::from_str(&url).map_err(|e| match err(e) {
            StoreError::Backend(m) => StoreError::Backend(format!("invalid PostgreSQL URL: {m}")),
        })?;
        let tls = match config.get_ssl_mode() {
            postgres::config::SslMode::Require => Tls::Verified(tls::MakeRustls::new(root.as_deref())?),
            _ => Tls::Off,
        };
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("trentd");
        }
        migrate(&config, &tls)?;
        let readers = (0..READERS).map(|_| Mutex::new(None)).collect();
        Ok(PgStore {
            config,
            tls,
            writer: Mutex::new(None),
            readers,
            next_reader: AtomicUsize::new(0),
            jobs: Arc::new(Mutex::new(None)),
            local_jobs: LocalJobs::default(),
        })
    }

    /// Connects the job session, with TCP keepalives on both ends.
    fn job_session(&self) -> Result<Client> {
        let mut config = self.config.clone();
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(KEEPALIVE_IDLE_SECS))
            .keepalives_interval(Duration::from_secs(KEEPALIVE_INTERVAL_SECS))
            .keepalives_retries(KEEPALIVE_COUNT);
        let mut c = self.tls.connect(&config)?;
        c.batch_execute(&format!(
            "SET tcp_keepalives_idle = {KEEPALIVE_IDLE_SECS}; SET tcp_keepalives_interval = {KEEPALIVE_INTERVAL_SECS}; \
             SET tcp_keepalives_count = {KEEPALIVE_COUNT}; SET lock_timeout = '{LOCK_TIMEOUT}'"
        ))
        .map_err(err)?;
        Ok(c)
    }

    /// `pg_try_advisory_lock(id)` on the job session, (re)connecting it if needed; a reused
    /// session that fails is replaced once.
    fn try_job_lock(&self, id: i64) -> Result<bool> {
        let mut slot = self.jobs.lock().map_err(|_| StoreError::Backend("job session lock poisoned".into()))?;
        loop {
            let fresh = slot.as_ref().is_none_or(|c| c.is_closed());
            if fresh {
                *slot = Some(self.job_session()?);
            }
            let c = slot.as_mut().expect("session just made");
            match c.query_one("SELECT pg_try_advisory_lock($1)", &[&id]) {
                Ok(row) => return Ok(row.get(0)),
                Err(e) => {
                    // The locks this session held are gone with it (the server released them).
                    *slot = None;
                    if fresh {
                        return Err(err(e));
                    }
                }
            }
        }
    }

    /// Starts a transaction on the connection in `slot`, (re)connecting if it is missing or
    /// broken; a connection that fails `BEGIN` is replaced once.
    fn begin<'a>(&self, mut slot: MutexGuard<'a, Option<Conn>>, sql: &str) -> Result<PgTxn<'a>> {
        loop {
            let fresh = slot.as_ref().is_none_or(|c| c.client.is_closed());
            if fresh {
                *slot = Some(Conn::open(&self.config, &self.tls)?);
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
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take();
        if !conns.is_empty() || jobs.is_some() {
            let _ = std::thread::spawn(move || drop((conns, jobs))).join();
        }
    }
}

fn migrate(config: &Config, tls: &Tls) -> Result<()> {
    let mut c = tls.connect(config)?;
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

    fn try_exclusive(&self, job: &str) -> Result<Option<JobGuard>> {
        let Some(release_local) = self.local_jobs.claim(job.to_string()) else { return Ok(None) };
        let id = crate::job_lock_id(job);
        match self.try_job_lock(id) {
            Ok(true) => {
                let session = self.jobs.clone();
                Ok(Some(JobGuard::new(job, move || {
                    let mut slot = session.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(c) = slot.as_mut() {
                        // If the session broke meanwhile, the server already released the lock.
                        if c.query_one("SELECT pg_advisory_unlock($1)", &[&id]).is_err() {
                            *slot = None;
                        }
                    }
                    drop(slot);
                    release_local();
                })))
            }
            Ok(false) => {
                release_local();
                Ok(None)
            }
            Err(e) => {
                release_local();
                Err(e)
            }
        }
    }
}

/// A `postgres` TLS connector over rustls (aws-lc-rs), verifying chain and host name.
mod tls {
    use crate::{Result, StoreError};
    use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use std::future::Future;
    use std::io;
    use std::path::Path;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

    /// Where the system's CA bundle is on common distributions (after `SSL_CERT_FILE`).
    const SYSTEM_BUNDLES: &[&str] =
        &["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];

    #[derive(Clone)]
    pub struct MakeRustls(Arc<rustls::ClientConfig>);

    impl MakeRustls {
        /// Trusts the certificates in `root_file` (PEM), or the system's CA bundle.
        pub fn new(root_file: Option<&Path>) -> Result<Self> {
            let path = match root_file {
                Some(p) => p.to_path_buf(),
                None => std::env::var_os("SSL_CERT_FILE")
                    .map(Into::into)
                    .or_else(|| SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.exists()).map(Into::into))
                    .ok_or_else(|| {
                        StoreError::Backend("no system CA bundle found: name one with sslrootcert=PATH".into())
                    })?,
            };
            let fail = |m: String| StoreError::Backend(format!("sslrootcert {}: {m}", path.display()));
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(&path).map_err(|e| fail(e.to_string()))? {
                roots.add(cert.map_err(|e| fail(e.to_string()))?).map_err(|e| fail(e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(fail("no certificate in the file".into()));
            }
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| StoreError::Backend(e.to_string()))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(MakeRustls(Arc::new(config)))
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> MakeTlsConnect<S> for MakeRustls {
        type Stream = Stream<S>;
        type TlsConnect = Connect;
        type Error = io::Error;

        fn make_tls_connect(&mut self, domain: &str) -> io::Result<Connect> {
            let name = ServerName::try_from(domain.to_string())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("host {domain}: {e}")))?;
            Ok(Connect { config: self.0.clone(), name })
        }
    }

    pub struct Connect {
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
    }

    impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> TlsConnect<S> for Connect {
        type Stream = Stream<S>;
        type Error = io::Error;
        type Future = Pin<Box<dyn Future<Output = io::Result<Stream<S>>> + Send>>;

        fn connect(self, stream: S) -> Self::Future {
            Box::pin(async move {
                let s = tokio_rustls::TlsConnector::from(self.config).connect(self.name, stream).await?;
                Ok(Stream(s))
            })
        }
    }

    pub struct Stream<S>(tokio_rustls::client::TlsStream<S>);

    impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
        fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_read(cx, buf)
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
        fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.0).poll_write(cx, buf)
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_flush(cx)
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_shutdown(cx)
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for Stream<S> {
        fn channel_binding(&self) -> ChannelBinding {
            // SCRAM without channel binding; the certificate check is what authenticates the server.
            ChannelBinding::none()
        }
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
                    "PostgreSQL is not reachable at {} ({}). Start it (pg_ctlcluster --skip-systemctl-redirect \
                     <version> main start), point TRENT_TEST_POSTGRES at a server, or set TRENT_SKIP_POSTGRES=1",
                    crate::redact_url(&server),
                    err(e)
                )
            });
            let mut random = [0u8; 8];
            aws_lc_rs::rand::fill(&mut random).expect("system random source");
            let name = format!("trent_test_{}", hex::encode(random));
            c.batch_execute(&format!("CREATE DATABASE {name}")).expect("CREATE DATABASE");
            let url = format!("{server}/{name}?sslmode=disable");
            TestDb { name, url, admin }
        }

        /// Ends every session on this database, as a server restart or failover would;
        /// returns how many there were.
        pub fn end_sessions(&self) -> i64 {
            let mut c = Client::connect(&self.admin, NoTls).expect("PostgreSQL reachable");
            let sql = "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                       WHERE datname = $1 AND pid <> pg_backend_pid()) t";
            c.query_one(sql, &[&self.name]).expect("pg_terminate_backend").get(0)
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

    /// Runs `f` on a store over a fresh database. (`TRENT_SKIP_POSTGRES=1` at build time marks
    /// these tests ignored, through the `trent_skip_postgres` cfg of build.rs.)
    fn with_db(f: impl FnOnce(&TestDb)) {
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

    crate::conformance_tests!(fresh, two_handles, #[cfg_attr(trent_skip_postgres, ignore = "TRENT_SKIP_POSTGRES=1")]);

    #[test]
    #[cfg_attr(trent_skip_postgres, ignore = "TRENT_SKIP_POSTGRES=1")]
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
    #[cfg_attr(trent_skip_postgres, ignore = "TRENT_SKIP_POSTGRES=1")]
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
    #[cfg_attr(trent_skip_postgres, ignore = "TRENT_SKIP_POSTGRES=1")]
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
    #[cfg_attr(trent_skip_postgres, ignore = "TRENT_SKIP_POSTGRES=1")]
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
    #[cfg_attr(trent_skip_postgres, ignore = "TRENT_SKIP_POSTGRES=1")]
    fn a_broken_connection_is_replaced_on_next_use() {
        with_db(|db| {
            let s = PgStore::connect(&db.url).unwrap();
            let mut t = s.write().unwrap();
            t.put("k", "a", b"1").unwrap();
            t.commit().unwrap();
            drop(s.read().unwrap());
            // Kill every session of this store from outside, as a server restart would.
            assert!(db.end_sessions() >= 2, "the reader and the writer were connected");
            std::thread::sleep(Duration::from_millis(200));
            assert_eq!(s.read().unwrap().get("k", "a").unwrap().as_deref(), Some(&b"1"[..]));
            let mut t = s.write().unwrap();
            t.put("k", "b", b"2").unwrap();
            t.commit().unwrap();
            assert_eq!(s.read().unwrap().get("k", "b").unwrap().as_deref(), Some(&b"2"[..]));
        });
    }

    #[test]
    #[cfg_attr(trent_skip_postgres, ignore = "TRENT_SKIP_POSTGRES=1")]
    fn a_job_held_by_a_node_whose_session_died_is_free_for_another_node() {
        with_db(|db| {
            let a = PgStore::connect(&db.url).unwrap();
            let b = PgStore::connect(&db.url).unwrap();
            let held = a.try_exclusive("sm-rotations").unwrap().expect("free");
            assert!(b.try_exclusive("sm-rotations").unwrap().is_none());
            // As when node a crashes: the server ends its sessions and releases its locks.
            assert!(db.end_sessions() >= 1);
            std::thread::sleep(Duration::from_millis(200));
            let taken = b.try_exclusive("sm-rotations").unwrap();
            assert!(taken.is_some(), "the job is free once its holder's session is gone");
            // a's stale guard releasing must not free b's claim.
            drop(held);
            let a2 = PgStore::connect(&db.url).unwrap();
            assert!(a2.try_exclusive("sm-rotations").unwrap().is_none(), "b still holds it");
            drop(taken);
            assert!(a2.try_exclusive("sm-rotations").unwrap().is_some());
        });
    }

    #[test]
    fn tls_options_are_taken_out_of_the_url() {
        let (u, r) = tls_options("postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&x=1").unwrap();
        assert_eq!((u.as_str(), r), ("postgres://u@h/db?sslmode=require&x=1", Some(PathBuf::from("/etc/ca.pem"))));
        assert_eq!(tls_options("postgres://u@h/db").unwrap(), ("postgres://u@h/db".into(), None));
        let e = tls_options("postgres://u@h/db?sslmode=verify-ca").unwrap_err().to_string();
        assert!(e.contains("verify-ca is not supported"), "{e}");
        let e = tls_options("postgres://u@h/db?sslrootcert=/x").unwrap_err().to_string();
        assert!(e.contains("needs sslmode=verify-full"), "{e}");
    }

    /// The local server's certificate (Debian's snake-oil pair, CN and SAN `localhost`), when it
    /// serves TLS with it.
    const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

    fn server_speaks_tls() -> bool {
        let url = format!("{}/postgres?sslmode=disable", server_url());
        let mut c = Client::connect(&url, NoTls).expect("PostgreSQL reachable");
        c.query_one("SHOW ssl", &[]).unwrap().get::<_, String>(0) == "on"
    }

    #[test]
    #[cfg_attr(trent_skip_postgres, ignore = "TRENT_SKIP_POSTGRES=1")]
    fn verify_full_connects_over_tls_and_checks_the_certificate() {
        if !std::path::Path::new(SNAKEOIL).exists() || !server_speaks_tls() {
            eprintln!("no TLS-enabled local PostgreSQL with {SNAKEOIL}: skipping the TLS test");
            return;
        }
        with_db(|db| {
            let port = db.url.rsplit_once(':').unwrap().1.split('/').next().unwrap().to_string();
            let url =
                format!("postgres://postgres@localhost:{port}/{}?sslmode=verify-full&sslrootcert={SNAKEOIL}", db.name);
            let s = PgStore::connect(&url).unwrap();
            let mut t = s.write().unwrap();
            t.put("k", "over", b"tls").unwrap();
            t.commit().unwrap();
            // The session really is encrypted.
            let mut c = Tls::Verified(tls::MakeRustls::new(Some(SNAKEOIL.as_ref())).unwrap())
                .connect(&Config::from_str(&tls_options(&url).unwrap().0).unwrap())
                .unwrap();
            let ssl: bool =
                c.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).unwrap().get(0);
            assert!(ssl, "pg_stat_ssl says the session is not encrypted");
            drop(c);
            // The same server under a name its certificate does not carry is refused.
            let wrong_name = url.replace("@localhost:", "@127.0.0.1:");
            let e = PgStore::connect(&wrong_name).unwrap_err().to_string();
            assert!(e.contains("certificate") || e.contains("Certificate"), "{e}");
            // And with roots that do not include it (the system bundle).
            let untrusted = url.replace(&format!("&sslrootcert={SNAKEOIL}"), "");
            assert!(PgStore::connect(&untrusted).is_err(), "a self-signed certificate is not trusted by default");
        });
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
