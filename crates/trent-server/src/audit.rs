//! The audit trail: every AWS request, allowed, denied or failed, as a CloudTrail-shaped event
//! appended to hash-chained JSON-lines files (the format is `trent_crypto::audit`).
//!
//! * Files: `<audit-dir>/trail-<first sequence number, 20 digits>.jsonl`, a new one past
//!   `--audit-max-file-bytes`; the chain runs across files. `signing-key.pub` holds the hex
//!   Ed25519 public key that signs the digests (the private key is stored wrapped under the
//!   root key, in the store's `meta` table).
//! * Durability: one writer thread; requests hand it their record and wait until it is on
//!   disk. The writer takes every record waiting, writes them together and calls `fdatasync`
//!   once (group commit), so a busy server pays one sync per batch, not per request.
//! * Fail closed: a state-changing operation first writes an `intent` record and runs only if
//!   that is durable; every response waits for its `event` record. If a write fails the batch
//!   is cut off the file again and the waiting requests get an error, so no operation is
//!   performed, and no answer returned, without its record.
//! * A signed digest is written every `--audit-digest-interval-secs` while there are new
//!   records, and at shutdown.
//! * Truncation: the chain's head (last durable record's seq and hash, signed with the audit
//!   key) is also kept in the store (`meta`/`audit_head` with files, written by the indexer of
//!   [`crate::audit_index`] at most every 250 ms and at shutdown; `audit_head` in the same
//!   transaction as the records with a shared store). The head is only ever written for records
//!   already durable in the trail, so after a crash the trail may be *ahead* of the head (fine)
//!   but never behind it: a trail that ends before the stored head, or no longer holds the head's
//!   record, was cut or replaced, and trentd refuses to start (unless
//!   `--accept-audit-truncation`, which records the gap in the trail).

use serde_json::{json, Map, Value};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use trent_crypto::audit::{self as chain, RecordKind, SigningKey};
use trent_crypto::{RootKey, SecretBytes};
use trent_store::Store;

const META: &str = "meta";
const SIGNING_KEY: &str = "audit_signing_key";
/// The most records one group commit writes.
const MAX_BATCH: usize = 4096;

/// Why a record could not be made durable. The detail is for the log.
#[derive(Debug, Clone)]
pub struct AuditError(pub String);

impl std::fmt::Display for AuditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "audit trail: {}", self.0)
    }
}

struct Submission {
    kind: RecordKind,
    fields: chain::CheckedFields,
    reply: Reply,
}

/// Where the writer says that a record is durable (or not): a thread waiting for it, or an
/// async request (which waits without holding a thread).
enum Reply {
    Thread(mpsc::SyncSender<Result<u64, AuditError>>),
    Task(tokio::sync::oneshot::Sender<Result<u64, AuditError>>),
}

impl Reply {
    fn send(self, r: Result<u64, AuditError>) {
        match self {
            Reply::Thread(tx) => {
                let _ = tx.send(r);
            }
            Reply::Task(tx) => {
                let _ = tx.send(r);
            }
        }
    }
}

enum Message {
    Record(Submission),
    Close(mpsc::SyncSender<()>),
}

/// The handle requests use. Cheap to share.
pub struct AuditLog {
    dir: PathBuf,
    shared: Option<(Arc<dyn Store>, String)>,
    store: Arc<dyn Store>,
    tx: Mutex<Option<mpsc::Sender<Message>>>,
    depth: Arc<AtomicUsize>,
    /// Files: the index writer (also run by its thread until `stop` is dropped).
    indexer: Option<Arc<Mutex<crate::audit_index::FileIndexer>>>,
    stop: Mutex<Option<mpsc::Sender<()>>>,
}

/// Settings for [`AuditLog::open`].
pub struct Settings {
    pub dir: PathBuf,
    pub max_file_bytes: u64,
    pub digest_interval: Duration,
    /// Keep the trail in the shared store instead of files (several nodes on PostgreSQL):
    /// the store and this node's id. Each node keeps its own chain there.
    pub shared: Option<(Arc<dyn Store>, String)>,
    /// The store that keeps the signed head and the LookupEvents index (with files: trentd's
    /// store; with a shared store, the same one).
    pub store: Arc<dyn Store>,
    /// Start even if the trail ends before the stored head (records the gap in the trail).
    pub accept_truncation: bool,
}

/// Where records go.
enum Sink {
    /// `trail-*.jsonl` files in the audit directory.
    Files { dir: PathBuf, file: File, path: PathBuf, len: u64, max_file_bytes: u64 },
    /// Table `audit` of the shared store, key `<node id>/<seq, 20 digits>`; the head of the
    /// node's chain in table `audit_head`, key `<node id>`, written in the same transaction.
    Store { store: Arc<dyn Store>, node: String },
}

/// The shared store's audit tables.
pub const T_AUDIT: &str = "audit";
pub const T_AUDIT_HEAD: &str = "audit_head";

impl AuditLog {
    /// Opens (or starts) the trail in `settings.dir`, continuing its chain, and starts the writer.
    /// A torn last line (a crash in the middle of a write that was never acknowledged) is cut off.
    pub fn open(settings: Settings, key: SigningKey) -> Result<AuditLog, String> {
        let dir = settings.dir.clone();
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        crate::bootstrap::write_private(
            &dir.join("signing-key.pub"),
            format!("{}\n", hex::encode(key.public_key())).as_bytes(),
        )?;
        let key = Arc::new(key);
        let (sink, seq, prev, gap) = match &settings.shared {
            None => {
                let (file, path, len, seq, prev) = resume(&dir)?;
                let gap = check_file_head(&dir, &*settings.store, &key.public_key(), seq)?;
                let sink = Sink::Files { dir: dir.clone(), file, path, len, max_file_bytes: settings.max_file_bytes };
                (sink, seq, prev, gap)
            }
            Some((store, node)) => {
                let (seq, prev, gap) = resume_shared(&**store, node, &key)?;
                index_other_chains(&**store, node, &key)?;
                (Sink::Store { store: store.clone(), node: node.clone() }, seq, prev, gap)
            }
        };
        if let Some(g) = &gap {
            if !settings.accept_truncation {
                return Err(format!(
                    "{g}. The audit trail was cut or replaced since trentd last wrote it: refusing to start. \
                     Restore the missing records, or start with --accept-audit-truncation to continue after \
                     sequence number {seq} (the gap is then recorded in the trail)"
                ));
            }
            tracing::error!(gap = %g, continue_after = seq, "AUDIT TRAIL TRUNCATION ACCEPTED (--accept-audit-truncation): the trail ends before its signed head; continuing, and recording the gap in the trail");
        }
        let depth = Arc::new(AtomicUsize::new(0));
        let durable = Arc::new(AtomicU64::new(seq));
        let (tx, rx) = mpsc::channel();
        let mut writer = Writer {
            sink,
            seq,
            prev,
            since_digest: 0,
            key: key.clone(),
            broken: None,
            depth: depth.clone(),
            durable: durable.clone(),
        };
        let interval = settings.digest_interval;
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer.run(rx, interval))
            .map_err(|e| format!("cannot start the audit writer: {e}"))?;
        let (indexer, stop) = if settings.shared.is_none() {
            let ix = crate::audit_index::FileIndexer::new(dir.clone(), settings.store.clone(), key, durable);
            let ix = Arc::new(Mutex::new(ix));
            let (stop, stopped) = mpsc::channel::<()>();
            let bg = ix.clone();
            std::thread::Builder::new()
                .name("audit-index".into())
                .spawn(move || {
                    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(Duration::from_millis(250)) {
                        if let Err(e) = bg.lock().map_err(|_| "poisoned".to_string()).and_then(|mut i| i.catch_up()) {
                            tracing::warn!(error = %e, "the audit index could not be updated");
                        }
                    }
                })
                .map_err(|e| format!("cannot start the audit indexer: {e}"))?;
            (Some(ix), Some(stop))
        } else {
            (None, None)
        };
        let log = AuditLog {
            dir,
            shared: settings.shared,
            store: settings.store,
            tx: Mutex::new(Some(tx)),
            depth,
            indexer,
            stop: Mutex::new(stop),
        };
        if let Some(g) = gap {
            // An audited record of the gap: what was expected, where the chain continues.
            let mut m = Map::new();
            m.insert("eventVersion".into(), json!("1.08"));
            m.insert("eventTime".into(), json!(now_rfc3339()));
            m.insert("eventSource".into(), json!("trentd"));
            m.insert("eventName".into(), json!("AcceptAuditTruncation"));
            m.insert("eventType".into(), json!("TrentAuditGap"));
            m.insert("errorMessage".into(), json!(g));
            m.insert("continuesAfterSequenceNumber".into(), json!(seq));
            log.append(RecordKind::Event, &m).map_err(|e| e.to_string())?;
        }
        Ok(log)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs a LookupEvents query over the index (see [`crate::audit_index::lookup`]); with
    /// files, first indexes whatever is durable and not indexed yet.
    pub fn lookup<T>(
        &self,
        q: &crate::audit_index::Query<'_>,
        accept: impl FnMut(&str) -> Option<T>,
    ) -> Result<crate::audit_index::Page<T>, String> {
        use crate::audit_index::Source;
        if let Some(ix) = &self.indexer {
            ix.lock().map_err(|_| "audit index lock poisoned".to_string())?.catch_up()?;
        }
        let source = if self.shared.is_some() { Source::Shared } else { Source::Files(&self.dir) };
        crate::audit_index::lookup(&*self.store, source, q, accept)
    }

    /// Records waiting to be written.
    pub fn queue_depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    /// Appends one record and waits until it is durable. Returns its sequence number.
    pub fn append(&self, kind: RecordKind, fields: &Map<String, Value>) -> Result<u64, AuditError> {
        // Checked here, once: a record the line format would refuse fails alone, not the writer's
        // whole batch, and the writer seals it without parsing it again.
        let fields = chain::CheckedFields::from_map(fields)
            .map_err(|e| AuditError(format!("a record cannot be sealed: {e:?}")))?;
        self.append_checked(kind, fields)
    }

    /// [`AuditLog::append`] for a record already serialized and checked (the request path's
    /// events: `Draft::record`).
    pub fn append_checked(&self, kind: RecordKind, fields: chain::CheckedFields) -> Result<u64, AuditError> {
        let (reply, wait) = mpsc::sync_channel(1);
        self.submit(Submission { kind, fields, reply: Reply::Thread(reply) })?;
        wait.recv().map_err(|_| AuditError("the audit writer has stopped".into()))?
    }

    /// [`AuditLog::append_checked`] for async code: waits for durability without a thread.
    pub async fn append_async(&self, kind: RecordKind, fields: chain::CheckedFields) -> Result<u64, AuditError> {
        let (reply, wait) = tokio::sync::oneshot::channel();
        self.submit(Submission { kind, fields, reply: Reply::Task(reply) })?;
        wait.await.map_err(|_| AuditError("the audit writer has stopped".into()))?
    }

    fn submit(&self, s: Submission) -> Result<(), AuditError> {
        let guard = self.tx.lock().map_err(|_| AuditError("writer lock poisoned".into()))?;
        let tx = guard.as_ref().ok_or_else(|| AuditError("the trail is closed".into()))?;
        self.depth.fetch_add(1, Ordering::Relaxed);
        tx.send(Message::Record(s)).map_err(|_| {
            self.depth.fetch_sub(1, Ordering::Relaxed);
            AuditError("the audit writer has stopped".into())
        })
    }

    /// Writes a final digest and stops the writer. Later appends fail.
    pub fn close(&self) {
        let tx = self.tx.lock().ok().and_then(|mut g| g.take());
        if let Some(tx) = tx {
            let (done, wait) = mpsc::sync_channel(1);
            if tx.send(Message::Close(done)).is_ok() {
                let _ = wait.recv_timeout(Duration::from_secs(10));
            }
        }
        // The head (and index) cover the final digest.
        drop(self.stop.lock().ok().and_then(|mut s| s.take()));
        if let Some(ix) = &self.indexer {
            if let Err(e) = ix.lock().map_err(|_| "poisoned".to_string()).and_then(|mut i| i.catch_up()) {
                tracing::error!(error = %e, "the audit trail's head could not be stored at shutdown");
            }
        }
    }
}

/// The trail's files in chain order.
pub fn trail_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("trail-") && n.ends_with(".jsonl"))
        })
        .collect();
    files.sort();
    Ok(files)
}

use crate::audit_index::file_name;

/// Compares a file trail that ends at `trail_seq` with the signed head kept in the store. Returns
/// what is wrong (the trail ends before the head, no longer holds the head's record, or the
/// head's signature does not verify), or `None` if the trail reaches the head.
fn check_file_head(dir: &Path, store: &dyn Store, public_key: &[u8], trail_seq: u64) -> Result<Option<String>, String> {
    let Some(head) = crate::audit_index::read_head(store)? else {
        if trail_seq > 0 {
            tracing::warn!(
                records = trail_seq,
                "the store holds no signed head of the audit trail (first start of a version that keeps one, or the \
                 head was removed): the trail's end cannot be checked this time"
            );
        }
        return Ok(None);
    };
    if !head.verifies(public_key) {
        return Ok(Some(format!(
            "the audit head stored for sequence number {} is not signed by this server's audit key",
            head.seq
        )));
    }
    if trail_seq < head.seq {
        return Ok(Some(format!(
            "the audit trail in {} ends at sequence number {trail_seq}, but its signed head in the store is at \
             sequence number {} (expected at least {})",
            dir.display(),
            head.seq,
            head.seq
        )));
    }
    match crate::audit_index::line_at(dir, head.file, head.offset) {
        Some(l) if l.seq == head.seq && l.hash == head.hash => Ok(None),
        _ => Ok(Some(format!(
            "the audit trail in {} does not hold the record of its signed head (sequence number {}) where it was \
             written ({} at byte {}): the trail was replaced",
            dir.display(),
            head.seq,
            file_name(head.file),
            head.offset
        ))),
    }
}

type Resumed = (File, PathBuf, u64, u64, String);

/// Finds where the chain stops: the last complete line of the newest non-empty file.
fn resume(dir: &Path) -> Result<Resumed, String> {
    let files = trail_files(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut last: Option<(u64, String)> = None;
    for path in files.iter().rev() {
        let mut text = Vec::new();
        File::open(path).and_then(|mut f| f.read_to_end(&mut text)).map_err(|e| format!("{}: {e}", path.display()))?;
        let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if complete < text.len() {
            tracing::warn!(file = %path.display(), bytes = text.len() - complete, "cutting a torn, unacknowledged audit record off the end of the trail");
            let f = OpenOptions::new().write(true).open(path).map_err(|e| format!("{}: {e}", path.display()))?;
            f.set_len(complete as u64).and_then(|_| f.sync_all()).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let body = &text[..complete];
        if body.is_empty() {
            continue;
        }
        let start = body[..body.len() - 1].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let line = std::str::from_utf8(&body[start..])
            .map_err(|_| format!("{}: the last audit record is not UTF-8", path.display()))?;
        // The chain members are read from the line's prefix (and its hash checked), so a long or
        // deeply nested record never stops a restart.
        let v = chain::line_head(line).map_err(|e| {
            format!(
                "{}: the last audit record is damaged ({e}); check the trail with `trent audit verify`",
                path.display()
            )
        })?;
        last = Some((v.seq, v.hash));
        break;
    }
    let (seq, prev) = last.unwrap_or((0, chain::GENESIS.to_string()));
    let path = match files.last() {
        Some(p) => p.clone(),
        None => dir.join(file_name(seq + 1)),
    };
    let file =
        OpenOptions::new().create(true).append(true).open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    sync_dir(dir);
    let len = file.metadata().map_err(|e| format!("{}: {e}", path.display()))?.len();
    Ok((file, path, len, seq, prev))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

struct Writer {
    sink: Sink,
    seq: u64,
    prev: String,
    since_digest: u64,
    key: Arc<SigningKey>,
    /// Set when a failed batch could not be cut off the file: nothing more is written.
    broken: Option<String>,
    depth: Arc<AtomicUsize>,
    /// The last durable record (what the indexer and the stored head may reach).
    durable: Arc<AtomicU64>,
}

impl Writer {
    fn run(&mut self, rx: mpsc::Receiver<Message>, interval: Duration) {
        let mut last_digest = Instant::now();
        loop {
            let wait = interval.saturating_sub(last_digest.elapsed()).max(Duration::from_millis(10));
            let first = match rx.recv_timeout(wait) {
                Ok(m) => Some(m),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
            let mut batch = Vec::new();
            let mut close = None;
            let mut next = first;
            while let Some(m) = next {
                match m {
                    Message::Record(s) => batch.push(s),
                    Message::Close(done) => {
                        close = Some(done);
                        break;
                    }
                }
                next = if batch.len() < MAX_BATCH { rx.try_recv().ok() } else { None };
            }
            if !batch.is_empty() {
                self.commit(batch);
            }
            if close.is_some() || last_digest.elapsed() >= interval {
                if self.since_digest > 0 {
                    self.digest();
                }
                last_digest = Instant::now();
            }
            if let Some(done) = close {
                let _ = done.send(());
                return;
            }
        }
    }

    fn commit(&mut self, batch: Vec<Submission>) {
        let n = batch.len();
        let result = self.write_records(batch.iter().map(|s| (s.kind, &s.fields)));
        self.depth.fetch_sub(n, Ordering::Relaxed);
        match result {
            Ok(first) => {
                for (i, s) in batch.into_iter().enumerate() {
                    s.reply.send(Ok(first + i as u64));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, records = n, "audit records could not be written; their requests are refused");
                for s in batch {
                    s.reply.send(Err(e.clone()));
                }
            }
        }
    }

    fn digest(&mut self) {
        let at = now_rfc3339();
        let fields = chain::CheckedFields::new(chain::digest_fields(&self.key, self.seq, &self.prev, &at))
            .map_err(|e| AuditError(format!("the digest record cannot be sealed: {e:?}")));
        if let Err(e) = fields.and_then(|f| self.write_records(std::iter::once((RecordKind::Digest, &f)))) {
            tracing::error!(error = %e, "the audit digest could not be written");
        }
    }

    /// Writes records durably; returns the first one's sequence number. On failure nothing
    /// of the batch stays in the file and the chain state is unchanged.
    fn write_records<'a>(
        &mut self,
        records: impl Iterator<Item = (RecordKind, &'a chain::CheckedFields)>,
    ) -> Result<u64, AuditError> {
        if let Some(why) = &self.broken {
            return Err(AuditError(why.clone()));
        }
        let first = self.seq + 1;
        let (mut seq, mut prev) = (self.seq, self.prev.clone());
        let mut lines = Vec::new();
        let mut digests = 0;
        for (kind, fields) in records {
            seq += 1;
            let (line, hash) = chain::seal_checked(seq, &prev, kind, fields)
                .map_err(|_| AuditError("a record's fields are not a JSON object".into()))?;
            lines.push((seq, line));
            prev = hash;
            if kind == RecordKind::Digest {
                digests += 1;
            }
        }
        self.sink.append(&lines, &prev, &self.key, &mut self.broken)?;
        self.durable.store(seq, Ordering::SeqCst);
        self.seq = seq;
        self.prev = prev;
        self.since_digest = if digests > 0 { 0 } else { self.since_digest + (seq + 1 - first) };
        Ok(first)
    }
}

impl Sink {
    /// Appends the lines durably, all or none. `head` is the last line's hash.
    fn append(
        &mut self,
        lines: &[(u64, String)],
        head: &str,
        key: &SigningKey,
        broken: &mut Option<String>,
    ) -> Result<(), AuditError> {
        match self {
            Sink::Files { dir, file, path, len, max_file_bytes } => {
                if *len >= *max_file_bytes {
                    let first = lines.first().map_or(1, |(s, _)| *s);
                    let next = dir.join(file_name(first));
                    *file = OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&next)
                        .map_err(|e| AuditError(format!("{}: {e}", next.display())))?;
                    sync_dir(dir);
                    *path = next;
                    *len = 0;
                }
                let mut buf = String::new();
                for (_, line) in lines {
                    buf.push_str(line);
                    buf.push('\n');
                }
                if let Err(e) = file.write_all(buf.as_bytes()).and_then(|_| file.sync_data()) {
                    let err = AuditError(format!("{}: {e}", path.display()));
                    // Cut any partial batch off so the chain on disk stays intact (the file is
                    // opened for appending, so the next write goes to its end either way).
                    let intact = file.metadata().is_ok_and(|m| m.len() == *len);
                    let cut = if intact { Ok(()) } else { file.set_len(*len).and_then(|_| file.sync_data()) };
                    if let Err(e2) = cut {
                        *broken = Some(format!(
                            "{}: a failed write could not be undone ({e2}); restart trentd",
                            path.display()
                        ));
                    }
                    return Err(err);
                }
                *len += buf.len() as u64;
                Ok(())
            }
            Sink::Store { store, node } => {
                let fail = |e: trent_store::StoreError| AuditError(format!("audit store: {e}"));
                let mut tx = store.write().map_err(fail)?;
                for (seq, line) in lines {
                    tx.put(T_AUDIT, &format!("{node}/{seq:020}"), line.as_bytes()).map_err(fail)?;
                    index_shared(&mut *tx, node, *seq, line).map_err(fail)?;
                }
                let last = lines.last().map_or(0, |(s, _)| *s);
                let sig = chain::sign_head(key, node, last, head);
                let head = json!({"seq": last, "hash": head, "sig": sig, "indexed": last}).to_string();
                tx.put(T_AUDIT_HEAD, node, head.as_bytes()).map_err(fail)?;
                tx.commit().map_err(fail)
            }
        }
    }
}

/// The index rows of one line of a shared store's chain.
fn index_shared(tx: &mut dyn trent_store::Txn, node: &str, seq: u64, line: &str) -> trent_store::Result<()> {
    match crate::cloudtrail::index_entry(line) {
        Some(e) => {
            let value = format!("s:{}", line.get(14..30).unwrap_or(""));
            crate::audit_index::put_rows(tx, &e, node, seq, &value)
        }
        None => Ok(()),
    }
}

/// Where this node's chain stops in the shared store: `(seq, hash, gap)`. `gap` says what is
/// wrong when the records no longer reach the signed head; the chain then continues from the
/// last record there is. Chains written before the index existed (or imported by
/// `trent restore`) are indexed here, and an unsigned head (from an import) is signed.
fn resume_shared(store: &dyn Store, node: &str, key: &SigningKey) -> Result<(u64, String, Option<String>), String> {
    let err = |e: trent_store::StoreError| e.to_string();
    let head = store.read().and_then(|mut t| t.get(T_AUDIT_HEAD, node)).map_err(err)?;
    let row = |seq: u64| -> Result<Option<chain::LineHead>, String> {
        let raw = store.read().and_then(|mut t| t.get(T_AUDIT, &format!("{node}/{seq:020}"))).map_err(err)?;
        Ok(raw.and_then(|r| String::from_utf8(r).ok()).and_then(|l| chain::line_head(&l).ok()))
    };
    let damaged = || "the audit head record is damaged".to_string();
    let (seq, hash, sig, indexed) = match head {
        None => {
            if row(1)?.is_none() {
                return Ok((0, chain::GENESIS.to_string(), None));
            }
            let (seq, hash) = last_shared(store, node)?;
            let gap = format!("node {node}'s audit chain has records (to sequence number {seq}) but no head");
            return Ok((seq, hash, Some(gap)));
        }
        Some(h) => {
            let v: Value = serde_json::from_slice(&h).map_err(|_| damaged())?;
            let (Some(seq), Some(hash)) = (v["seq"].as_u64(), v["hash"].as_str()) else { return Err(damaged()) };
            (seq, hash.to_string(), v["sig"].as_str().map(str::to_string), v["indexed"].as_u64().unwrap_or(0))
        }
    };
    let gap = match &sig {
        Some(sig) if !chain::verify_head(&key.public_key(), node, seq, &hash, sig) => {
            Some(format!("node {node}'s audit head (sequence number {seq}) is not signed by this server's audit key"))
        }
        _ if seq == 0 => None,
        _ => match row(seq)? {
            Some(l) if l.seq == seq && l.hash == hash => None,
            _ => {
                let (found, _) = last_shared(store, node)?;
                Some(format!(
                    "node {node}'s audit chain ends at sequence number {found}, but its signed head is at sequence \
                     number {seq} (expected at least {seq})"
                ))
            }
        },
    };
    if gap.is_some() {
        let (found, found_hash) = last_shared(store, node)?;
        return Ok((found, found_hash, gap));
    }
    if sig.is_none() {
        tracing::warn!(node, seq, "the audit head is not signed (written by an import or an older trentd): signing it");
    }
    if indexed < seq || sig.is_none() {
        index_shared_chain(store, node, indexed, seq)?;
        let sig = chain::sign_head(key, node, seq, &hash);
        let head = json!({"seq": seq, "hash": hash, "sig": sig, "indexed": seq}).to_string();
        let mut tx = store.write().map_err(err)?;
        tx.put(T_AUDIT_HEAD, node, head.as_bytes()).map_err(err)?;
        tx.commit().map_err(err)?;
    }
    Ok((seq, hash, None))
}

/// Indexes the chains of other nodes that are not indexed yet (imported by `trent restore
/// --audit-dir`, or written before the index existed), so LookupEvents sees them.
fn index_other_chains(store: &dyn Store, me: &str, key: &SigningKey) -> Result<(), String> {
    let err = |e: trent_store::StoreError| e.to_string();
    let heads = store.read().and_then(|mut t| t.scan(T_AUDIT_HEAD, "", None, 10_000)).map_err(err)?;
    for (node, before) in heads {
        if node == me {
            continue;
        }
        let Ok(v) = serde_json::from_slice::<Value>(&before) else { continue };
        let (Some(seq), Some(hash)) = (v["seq"].as_u64(), v["hash"].as_str()) else { continue };
        let indexed = v["indexed"].as_u64().unwrap_or(0);
        if indexed >= seq {
            continue;
        }
        let raw = store.read().and_then(|mut t| t.get(T_AUDIT, &format!("{node}/{seq:020}"))).map_err(err)?;
        let at_head = raw.and_then(|r| String::from_utf8(r).ok()).and_then(|l| chain::line_head(&l).ok());
        if at_head.is_none_or(|h| h.seq != seq || h.hash != hash) {
            tracing::warn!(node, seq, "another node's audit chain does not reach its head: not indexing it");
            continue;
        }
        tracing::info!(node, seq, "indexing an audit chain for LookupEvents");
        index_shared_chain(store, &node, indexed, seq)?;
        let sig = match v["sig"].as_str() {
            Some(s) => s.to_string(),
            None => chain::sign_head(key, &node, seq, hash),
        };
        let head = json!({"seq": seq, "hash": hash, "sig": sig, "indexed": seq}).to_string();
        let mut tx = store.write().map_err(err)?;
        // Only if the head did not move meanwhile (a running node indexes its own records).
        if tx.get(T_AUDIT_HEAD, &node).map_err(err)?.as_deref() == Some(&before[..]) {
            tx.put(T_AUDIT_HEAD, &node, head.as_bytes()).map_err(err)?;
        }
        tx.commit().map_err(err)?;
    }
    Ok(())
}

/// The last record of a node's chain in the shared store (read in pages).
fn last_shared(store: &dyn Store, node: &str) -> Result<(u64, String), String> {
    let prefix = format!("{node}/");
    let mut tx = store.read().map_err(|e| e.to_string())?;
    let mut after: Option<String> = None;
    let mut last = (0, chain::GENESIS.to_string());
    loop {
        let rows = tx.scan(T_AUDIT, &prefix, after.as_deref(), 1000).map_err(|e| e.to_string())?;
        let Some((k, v)) = rows.last() else { break };
        after = Some(k.clone());
        if let Some(h) = std::str::from_utf8(v).ok().and_then(|l| chain::line_head(l).ok()) {
            last = (h.seq, h.hash);
        }
    }
    Ok(last)
}

/// Indexes records `from + 1 ..= through` of a node's chain, a page per transaction.
fn index_shared_chain(store: &dyn Store, node: &str, from: u64, through: u64) -> Result<(), String> {
    let err = |e: trent_store::StoreError| e.to_string();
    let prefix = format!("{node}/");
    let mut after = Some(format!("{node}/{from:020}"));
    loop {
        let rows = store.read().and_then(|mut t| t.scan(T_AUDIT, &prefix, after.as_deref(), 1000)).map_err(err)?;
        let Some((k, _)) = rows.last() else { return Ok(()) };
        after = Some(k.clone());
        let mut tx = store.write().map_err(err)?;
        for (k, v) in &rows {
            let seq: u64 = k[prefix.len()..].parse().unwrap_or(0);
            if seq > through {
                break;
            }
            if let Ok(line) = std::str::from_utf8(v) {
                index_shared(&mut *tx, node, seq, line).map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        if rows.len() < 1000 {
            return Ok(());
        }
    }
}

/// The records in the shared store of one node (`node`), or of every node (`""`), in key order.
pub fn shared_records(store: &dyn Store, node: &str) -> Result<Vec<(String, u64, String)>, String> {
    let prefix = if node.is_empty() { String::new() } else { format!("{node}/") };
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    let mut tx = store.read().map_err(|e| e.to_string())?;
    loop {
        let rows = tx.scan(T_AUDIT, &prefix, after.as_deref(), 1000).map_err(|e| e.to_string())?;
        let Some((last, _)) = rows.last() else { break };
        after = Some(last.clone());
        for (k, v) in rows {
            let (n, seq) = k.rsplit_once('/').unwrap_or(("", ""));
            let line = String::from_utf8(v).map_err(|_| format!("audit record {k} is not UTF-8"))?;
            out.push((n.to_string(), seq.parse().unwrap_or(0), line));
        }
    }
    Ok(out)
}

fn now_rfc3339() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

/// CloudTrail's time format: `2026-01-02T03:04:05Z`.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The audit signing key: stored wrapped under the root key, made on first start.
pub fn signing_key(store: &dyn Store, root: &RootKey) -> Result<SigningKey, String> {
    let wrapped = store.read().and_then(|mut t| t.get(META, SIGNING_KEY)).map_err(|e| e.to_string())?;
    if let Some(w) = wrapped {
        let pkcs8 = root
            .unwrap("audit-signing-key", "v1", b"", &w)
            .map_err(|_| "the audit signing key does not unwrap under this root key".to_string())?;
        return SigningKey::from_pkcs8(&pkcs8).map_err(|_| "the stored audit signing key is damaged".to_string());
    }
    let (key, pkcs8): (SigningKey, SecretBytes) = SigningKey::generate().map_err(|e| e.to_string())?;
    let w = root.wrap("audit-signing-key", "v1", b"", &pkcs8).map_err(|e| e.to_string())?;
    let mut t = store.write().map_err(|e| e.to_string())?;
    // Another node may have made one meanwhile: keep the first.
    if !t.insert_new(META, SIGNING_KEY, &w).map_err(|e| e.to_string())? {
        drop(t);
        return signing_key(store, root);
    }
    t.commit().map_err(|e| e.to_string())?;
    Ok(key)
}

// Building events lives in `audit_event.rs`; re-exported so callers keep using `audit::`.
pub use crate::audit_event::Draft;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_cloudtrail_shaped() {
        assert_eq!(rfc3339(time::OffsetDateTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
