//! The audit trail's index for LookupEvents, and the signed head of a file trail.
//!
//! Index: table `audit_index` of the store, one row per (event, lookup attribute value), plus
//! one row per event for "no attribute". Key:
//!
//! ```text
//! <16 hex: SHA-256(account, region, attribute, value)>/<16 hex: i64::MAX - eventTime ms>/<node>/<16 hex: u64::MAX - seq>
//! ```
//!
//! so one prefix scan, in key order, walks the caller's events for that attribute value newest
//! first, starting at a time or a NextToken position, and stops after one page. The value says
//! where the line is: `f:<file's first seq>:<offset>:<length>:<16 hex of the line's hash>` for
//! file trails, `s:<16 hex of the line's hash>` for a shared store's chain (`audit`, key
//! `<node>/<seq>`). A lookup reads only the lines it returns (and checks each line's hash
//! prefix, so an entry left behind by an accepted truncation is skipped).
//!
//! With files, the index is written by [`FileIndexer`], which tails the trail up to the last
//! durable record, in batches off the request path (every 250 ms, before each LookupEvents, and
//! at shutdown). Its position (`meta`/`audit_index_pos`) and the trail's signed head
//! (`meta`/`audit_head`: the last record it indexed, signed with the audit key) are written in
//! the same transaction. The index is rebuilt from the trail when it is missing or behind.
//! With a shared PostgreSQL store, the rows are written in the audit transaction itself.

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use trent_crypto::audit::{self as chain, SigningKey};
use trent_store::{Store, Txn};

pub const T_INDEX: &str = "audit_index";
pub const META: &str = "meta";
/// `meta` key of a file trail's signed head.
pub const HEAD: &str = "audit_head";
/// `meta` key of the file indexer's position.
pub const INDEX_POS: &str = "audit_index_pos";
/// Index rows written per transaction while catching up.
const FLUSH_ROWS: usize = 20_000;

/// What an event is found by: its account, region, time and (attribute, value) pairs.
pub struct Entry {
    pub account: String,
    pub region: String,
    pub ms: i64,
    pub attrs: Vec<(&'static str, String)>,
}

fn prefix(account: &str, region: &str, attr: &str, value: &str) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in [account, region, attr, value] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    format!("{}/", hex::encode(&ctx.finish().as_ref()[..8]))
}

fn inv_ms(ms: i64) -> u64 {
    (i64::MAX - ms.max(0)) as u64
}

fn key(prefix: &str, ms: i64, node: &str, seq: u64) -> String {
    format!("{prefix}{:016x}/{node}/{:016x}", inv_ms(ms), u64::MAX - seq)
}

/// `(ms, node, seq)` from a key's part after the prefix.
fn parse_suffix(s: &str) -> Option<(i64, String, u64)> {
    let (t, rest) = s.split_once('/')?;
    let (node, seq) = rest.rsplit_once('/')?;
    let t = i64::try_from(u64::from_str_radix(t, 16).ok()?).ok()?;
    let seq = u64::from_str_radix(seq, 16).ok()?;
    Some((i64::MAX - t, node.to_string(), u64::MAX - seq))
}

/// Puts the index rows of one line (`value` says where it is).
pub fn put_rows(tx: &mut dyn Txn, e: &Entry, node: &str, seq: u64, value: &str) -> trent_store::Result<()> {
    let all = std::iter::once(("", String::new()));
    for (attr, v) in all.chain(e.attrs.iter().map(|(a, v)| (*a, v.clone()))) {
        tx.put(T_INDEX, &key(&prefix(&e.account, &e.region, attr, &v), e.ms, node, seq), value.as_bytes())?;
    }
    Ok(())
}

/// A lookup: the caller's account and region, an optional attribute, a time range, a page.
pub struct Query<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub filter: Option<(&'a str, &'a str)>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// Events strictly older than this position (a NextToken).
    pub before: Option<(i64, String, u64)>,
    pub max: usize,
}

/// A page of events with their positions `(ms, node, seq)`, and whether more follow.
pub type Page<T> = (Vec<((i64, String, u64), T)>, bool);

/// Where the lines are.
pub enum Source<'a> {
    Files(&'a Path),
    Shared,
}

/// Walks the index for `q`, reads each candidate line, and keeps those `accept` returns
/// (it re-checks the event: the prefix is a hash). Returns the page, with each event's position,
/// and whether more follow.
pub fn lookup<T>(
    store: &dyn Store,
    source: Source<'_>,
    q: &Query<'_>,
    mut accept: impl FnMut(&str) -> Option<T>,
) -> Result<Page<T>, String> {
    let (attr, value) = q.filter.unwrap_or(("", ""));
    let p = prefix(q.account, q.region, attr, value);
    let mut after: Option<String> = None;
    if let Some(end) = q.end_ms {
        // Keys of events at or before `end` sort from `inv_ms(end)` on.
        if let Some(b) = inv_ms(end).checked_sub(1) {
            after = Some(format!("{p}{b:016x}~"));
        }
    }
    if let Some((ms, node, seq)) = &q.before {
        let k = key(&p, *ms, node, *seq);
        if after.as_ref().is_none_or(|a| k > *a) {
            after = Some(k);
        }
    }
    let mut tx = store.read().map_err(|e| e.to_string())?;
    let mut files: std::collections::HashMap<u64, File> = Default::default();
    let mut out = Vec::new();
    loop {
        let rows = tx.scan(T_INDEX, &p, after.as_deref(), 64).map_err(|e| e.to_string())?;
        let done = rows.len() < 64;
        for (k, v) in rows {
            let Some(pos) = parse_suffix(&k[p.len()..]) else { continue };
            if q.start_ms.is_some_and(|s| pos.0 < s) {
                return Ok((out, false));
            }
            after = Some(k);
            let v = String::from_utf8_lossy(&v);
            let line = match &source {
                Source::Files(dir) => read_at(dir, &mut files, &v),
                Source::Shared => match v.strip_prefix("s:") {
                    Some(h) => tx
                        .get(crate::audit::T_AUDIT, &format!("{}/{:020}", pos.1, pos.2))
                        .map_err(|e| e.to_string())?
                        .and_then(|l| String::from_utf8(l).ok())
                        .filter(|l| hash_prefix_is(l, h)),
                    None => None,
                },
            };
            let Some(line) = line else { continue };
            if let Some(t) = accept(&line) {
                if out.len() == q.max {
                    return Ok((out, true));
                }
                out.push((pos, t));
            }
        }
        if done {
            return Ok((out, false));
        }
    }
}

fn hash_prefix_is(line: &str, h16: &str) -> bool {
    line.get(14..30) == Some(h16) && line.starts_with("{\"trentHash\":\"")
}

/// The line an `f:` value points at, if it is still there with the same hash.
fn read_at(dir: &Path, files: &mut std::collections::HashMap<u64, File>, v: &str) -> Option<String> {
    let mut p = v.strip_prefix("f:")?.split(':');
    let first: u64 = p.next()?.parse().ok()?;
    let offset: u64 = p.next()?.parse().ok()?;
    let len: u64 = p.next()?.parse().ok()?;
    let h = p.next()?;
    if len > 64 * 1024 * 1024 {
        return None;
    }
    let f = match files.entry(first) {
        std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => e.insert(File::open(dir.join(file_name(first))).ok()?),
    };
    f.seek(SeekFrom::Start(offset)).ok()?;
    let mut buf = vec![0u8; len as usize];
    f.read_exact(&mut buf).ok()?;
    let line = String::from_utf8(buf).ok()?;
    hash_prefix_is(&line, h).then_some(line)
}

pub fn file_name(first_seq: u64) -> String {
    format!("trail-{first_seq:020}.jsonl")
}

/// The first sequence number a trail file's name gives.
pub fn file_first_seq(path: &Path) -> Option<u64> {
    path.file_name()?.to_str()?.strip_prefix("trail-")?.strip_suffix(".jsonl")?.parse().ok()
}

/// A file trail's head as kept in the store: the last record the indexer saw, where it is,
/// and the audit key's signature over (seq, hash).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
    /// The first sequence number of the file holding the record, and the record's offset there.
    pub file: u64,
    pub offset: u64,
    pub sig: String,
}

impl Head {
    pub fn verifies(&self, public_key: &[u8]) -> bool {
        chain::verify_head(public_key, "", self.seq, &self.hash, &self.sig)
    }
}

/// The stored head of a file trail, if any.
pub fn read_head(store: &dyn Store) -> Result<Option<Head>, String> {
    let raw = store.read().and_then(|mut t| t.get(META, HEAD)).map_err(|e| e.to_string())?;
    match raw {
        None => Ok(None),
        Some(r) => serde_json::from_slice(&r).map(Some).map_err(|_| "the stored audit head is damaged".to_string()),
    }
}

/// The record at `file`/`offset` of the trail in `dir`, if it is a whole sealed line.
pub fn line_at(dir: &Path, file: u64, offset: u64) -> Option<chain::LineHead> {
    let f = File::open(dir.join(file_name(file))).ok()?;
    let mut r = BufReader::new(f);
    r.seek(SeekFrom::Start(offset)).ok()?;
    let mut buf = Vec::new();
    r.read_until(b'\n', &mut buf).ok()?;
    if buf.last() != Some(&b'\n') {
        return None;
    }
    chain::line_head(std::str::from_utf8(&buf).ok()?).ok()
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
struct Pos {
    /// The last record indexed (0: none) and its hash.
    seq: u64,
    hash: String,
    /// The file being read (its first seq) and the offset of the next record.
    file: u64,
    offset: u64,
}

/// Indexes a file trail up to its last durable record and keeps the signed head.
pub struct FileIndexer {
    dir: PathBuf,
    store: Arc<dyn Store>,
    key: Arc<SigningKey>,
    /// The last record the writer has made durable.
    durable: Arc<AtomicU64>,
    pos: Pos,
    /// Key prefixes of recent attribute values (an event's name, user, key … recur, and each
    /// prefix is a SHA-256); event ids, unique, are not kept.
    prefixes: std::collections::HashMap<(String, String, &'static str, String), String>,
}

/// Prefixes the indexer remembers before it starts over.
const PREFIX_MEMO: usize = 4096;

impl FileIndexer {
    /// `trail_seq`: where the trail ends now. An index position past it (a trail cut back and
    /// accepted) or unreadable starts the index over.
    pub fn new(dir: PathBuf, store: Arc<dyn Store>, key: Arc<SigningKey>, durable: Arc<AtomicU64>) -> FileIndexer {
        let raw = store.read().and_then(|mut t| t.get(META, INDEX_POS)).ok().flatten();
        let mut pos: Pos = raw.and_then(|r| serde_json::from_slice(&r).ok()).unwrap_or_default();
        if pos.seq > durable.load(Ordering::SeqCst) {
            tracing::warn!(indexed = pos.seq, "the audit index is past the trail's end: rebuilding it");
            pos = Pos::default();
        }
        FileIndexer { dir, store, key, durable, pos, prefixes: Default::default() }
    }

    /// Indexes every durable record not indexed yet; writes the signed head with the rows.
    pub fn catch_up(&mut self) -> Result<(), String> {
        match self.try_catch_up() {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "the audit index does not match the trail: rebuilding it");
                self.pos = Pos::default();
                self.try_catch_up()
            }
        }
    }

    fn try_catch_up(&mut self) -> Result<(), String> {
        let target = self.durable.load(Ordering::SeqCst);
        if self.pos.seq >= target {
            return Ok(());
        }
        let files: Vec<(u64, PathBuf)> = crate::audit::trail_files(&self.dir)
            .map_err(|e| format!("{}: {e}", self.dir.display()))?
            .into_iter()
            .filter_map(|p| Some((file_first_seq(&p)?, p)))
            .collect();
        if self.pos.seq == 0 && self.pos.offset == 0 {
            self.pos.file = files.first().map_or(1, |f| f.0);
            self.pos.hash = chain::GENESIS.to_string();
        }
        let mut i = files.iter().position(|f| f.0 == self.pos.file).ok_or("the indexed file is gone")?;
        let mut pending: Vec<(String, String)> = Vec::new();
        let mut head: Option<Head> = None;
        'files: loop {
            let (first, path) = &files[i];
            let mut r = BufReader::new(File::open(path).map_err(|e| format!("{}: {e}", path.display()))?);
            r.seek(SeekFrom::Start(self.pos.offset)).map_err(|e| e.to_string())?;
            let mut buf = Vec::new();
            loop {
                buf.clear();
                let n = r.read_until(b'\n', &mut buf).map_err(|e| e.to_string())?;
                if n == 0 || buf.last() != Some(&b'\n') {
                    break;
                }
                let line = std::str::from_utf8(&buf).map_err(|_| "a record is not UTF-8")?;
                let h = chain::line_head(line).map_err(|e| format!("record after {}: {e}", self.pos.seq))?;
                if h.seq > target {
                    break 'files;
                }
                if h.seq != self.pos.seq + 1 || h.prev != self.pos.hash {
                    return Err(format!("expected record {}, found {}", self.pos.seq + 1, h.seq));
                }
                if let Some(e) = crate::cloudtrail::index_entry(line) {
                    let value = format!("f:{first}:{}:{}:{}", self.pos.offset, line.len(), &h.hash[..16]);
                    let all = std::iter::once(("", String::new()));
                    for (attr, v) in all.chain(e.attrs.iter().map(|(a, v)| (*a, v.clone()))) {
                        let p = if attr == "EventId" {
                            prefix(&e.account, &e.region, attr, &v)
                        } else {
                            let memo = &mut self.prefixes;
                            if memo.len() >= PREFIX_MEMO {
                                memo.clear();
                            }
                            memo.entry((e.account.clone(), e.region.clone(), attr, v))
                                .or_insert_with_key(|(a, r, at, v)| prefix(a, r, at, v))
                                .clone()
                        };
                        pending.push((key(&p, e.ms, "", h.seq), value.clone()));
                    }
                }
                // Signed once, when the batch is flushed (an Ed25519 signature per line cost more
                // than the rest of the indexing).
                head = Some(Head {
                    seq: h.seq,
                    hash: h.hash.clone(),
                    file: *first,
                    offset: self.pos.offset,
                    sig: String::new(),
                });
                self.pos.offset += n as u64;
                self.pos.seq = h.seq;
                self.pos.hash = h.hash;
                if pending.len() >= FLUSH_ROWS {
                    self.flush(&mut pending, head.take())?;
                }
            }
            if self.pos.seq >= target || i + 1 >= files.len() {
                break;
            }
            i += 1;
            self.pos.file = files[i].0;
            self.pos.offset = 0;
        }
        self.flush(&mut pending, head)?;
        if self.pos.seq < target {
            return Err(format!("the trail ends at record {}, before its durable record {target}", self.pos.seq));
        }
        Ok(())
    }

    fn flush(&mut self, rows: &mut Vec<(String, String)>, head: Option<Head>) -> Result<(), String> {
        let fail = |e: trent_store::StoreError| format!("audit index: {e}");
        let mut tx = self.store.write().map_err(fail)?;
        for (k, v) in rows.drain(..) {
            tx.put(T_INDEX, &k, v.as_bytes()).map_err(fail)?;
        }
        tx.put(META, INDEX_POS, &serde_json::to_vec(&self.pos).map_err(|e| e.to_string())?).map_err(fail)?;
        if let Some(mut h) = head {
            h.sig = chain::sign_head(&self.key, "", h.seq, &h.hash);
            tx.put(META, HEAD, &serde_json::to_vec(&h).map_err(|e| e.to_string())?).map_err(fail)?;
        }
        tx.commit().map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_newest_first_and_parse_back() {
        let p = prefix("111122223333", "us-east-1", "EventName", "Decrypt");
        let older = key(&p, 1_000, "", 5);
        let newer = key(&p, 2_000, "", 6);
        let same_ms_later_seq = key(&p, 2_000, "", 7);
        assert!(newer < older && same_ms_later_seq < newer);
        assert_eq!(parse_suffix(&newer[p.len()..]), Some((2_000, String::new(), 6)));
        assert_eq!(parse_suffix(&key(&p, 3, "node-a", 9)[p.len()..]), Some((3, "node-a".into(), 9)));
        // A damaged key is skipped, not a panic.
        assert_eq!(parse_suffix("ffffffffffffffff//0000000000000001"), None);
        assert_eq!(parse_suffix("zz//01"), None);
        assert_ne!(p, prefix("111122223333", "us-east-1", "EventName", "Encrypt"));
        assert_ne!(p, prefix("111122223333", "us-east-1", "EventNam", "eDecrypt"));
    }

    fn rss_kb() -> u64 {
        let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// A large trail (TRENT_AUDIT_BENCH_EVENTS events, 20 000 by default; the figures in
    /// docs/STORAGE.md are for 200 000): a LookupEvents page reads only the lines it returns
    /// (plus the one that shows more follow), whatever the trail's size.
    #[test]
    fn a_lookup_page_reads_only_what_it_returns_from_a_large_trail() {
        let n: u64 = std::env::var("TRENT_AUDIT_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("audit");
        std::fs::create_dir(&dir).unwrap();
        let mut text = String::new();
        let mut prev = chain::GENESIS.to_string();
        let t0 = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        for seq in 1..=n {
            let t = crate::audit::rfc3339(t0 + time::Duration::seconds(seq as i64));
            let fields = serde_json::json!({
                "eventTime": t, "eventSource": "kms.amazonaws.com", "eventName": format!("Op{}", seq % 10),
                "awsRegion": "us-east-1", "recipientAccountId": "111122223333", "readOnly": seq % 2 == 0,
                "eventID": format!("id-{seq}"), "userIdentity": {"type": "Root", "accessKeyId": "AKIA1"},
                "resources": [{"type": "AWS::KMS::Key", "ARN": format!("arn:aws:kms:us-east-1:111122223333:key/k{}", seq % 100)}],
                "requestParameters": {"keyId": "x".repeat(300)},
            });
            let (line, hash) = chain::seal_line(seq, &prev, chain::RecordKind::Event, &fields.to_string()).unwrap();
            text.push_str(&line);
            text.push('\n');
            prev = hash;
        }
        std::fs::write(dir.join(file_name(1)), &text).unwrap();
        let trail_bytes = text.len();
        drop(text);
        let store = trent_store::open("sqlite", d.path()).unwrap();
        let (key, _) = SigningKey::generate().unwrap();
        let durable = Arc::new(AtomicU64::new(n));
        let started = std::time::Instant::now();
        let mut ix = FileIndexer::new(dir.clone(), store.clone(), Arc::new(key), durable);
        ix.catch_up().unwrap();
        let indexing = started.elapsed();
        let head = read_head(&*store).unwrap().unwrap();
        assert_eq!((head.seq, head.hash.as_str()), (n, prev.as_str()));

        let rss_before = rss_kb();
        let started = std::time::Instant::now();
        let mut reads = 0;
        let q = Query {
            account: "111122223333",
            region: "us-east-1",
            filter: Some(("EventName", "Op3")),
            start_ms: None,
            end_ms: None,
            before: None,
            max: 50,
        };
        let (page, more) = lookup(&*store, Source::Files(&dir), &q, |l| {
            reads += 1;
            Some(line_head_seq(l))
        })
        .unwrap();
        let lookup_time = started.elapsed();
        assert!(more);
        assert_eq!(page.len(), 50);
        assert_eq!(reads, 51, "one page reads 50 lines and the one after");
        // Newest first, only Op3.
        let seqs: Vec<u64> = page.iter().map(|(_, s)| *s).collect();
        assert!(seqs.windows(2).all(|w| w[0] > w[1]) && seqs.iter().all(|s| s % 10 == 3), "{seqs:?}");
        assert_eq!(seqs[0], (n - 7) / 10 * 10 + 3);
        // The next page starts after the last position, in a time window in the middle.
        let mid_ms = (t0 + time::Duration::seconds(n as i64 / 2)).unix_timestamp() * 1000;
        let q2 = Query { start_ms: Some(mid_ms - 100_000), end_ms: Some(mid_ms), before: None, filter: None, ..q };
        let (p2, _) = lookup(&*store, Source::Files(&dir), &q2, |l| Some(line_head_seq(l))).unwrap();
        assert_eq!(p2.first().map(|p| p.1), Some(n / 2));
        let q3 = Query { before: Some(p2.last().unwrap().0.clone()), ..q2 };
        let (p3, _) = lookup(&*store, Source::Files(&dir), &q3, |l| Some(line_head_seq(l))).unwrap();
        assert_eq!(p3.first().map(|p| p.1), Some(n / 2 - 50));
        eprintln!(
            "audit index bench: {n} events, {} MB trail; indexing {indexing:?}; one filtered page {lookup_time:?}, \
             RSS {} KB -> {} KB; store {} MB",
            trail_bytes / 1_000_000,
            rss_before,
            rss_kb(),
            std::fs::metadata(d.path().join("trent.db")).map_or(0, |m| m.len()) / 1_000_000
        );
    }

    fn line_head_seq(l: &str) -> u64 {
        chain::line_head(l).unwrap().seq
    }

    /// A store that counts write transactions committed (each one an fsync on SQLite).
    struct Counting(Arc<dyn Store>, Arc<AtomicU64>);
    struct CountingTxn<'a>(Box<dyn Txn + 'a>, Arc<AtomicU64>);
    impl Txn for CountingTxn<'_> {
        fn get(&mut self, t: &str, k: &str) -> trent_store::Result<Option<Vec<u8>>> {
            self.0.get(t, k)
        }
        fn put(&mut self, t: &str, k: &str, v: &[u8]) -> trent_store::Result<()> {
            self.0.put(t, k, v)
        }
        fn insert_new(&mut self, t: &str, k: &str, v: &[u8]) -> trent_store::Result<bool> {
            self.0.insert_new(t, k, v)
        }
        fn delete(&mut self, t: &str, k: &str) -> trent_store::Result<bool> {
            self.0.delete(t, k)
        }
        fn scan(&mut self, t: &str, p: &str, a: Option<&str>, l: usize) -> trent_store::Result<Vec<(String, Vec<u8>)>> {
            self.0.scan(t, p, a, l)
        }
        fn tables(&mut self) -> trent_store::Result<Vec<String>> {
            self.0.tables()
        }
        fn commit(self: Box<Self>) -> trent_store::Result<()> {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.commit()
        }
    }
    impl Store for Counting {
        fn read(&self) -> trent_store::Result<Box<dyn Txn + '_>> {
            self.0.read()
        }
        fn write(&self) -> trent_store::Result<Box<dyn Txn + '_>> {
            Ok(Box::new(CountingTxn(self.0.write()?, self.1.clone())))
        }
        fn backend(&self) -> &'static str {
            "sqlite"
        }
        fn try_exclusive(&self, job: &str) -> trent_store::Result<Option<trent_store::JobGuard>> {
            self.0.try_exclusive(job)
        }
    }

    /// The signed head and the index are written in batches, not per request: many requests
    /// from several threads cost a handful of store commits, and the head reaches the last record
    /// at shutdown.
    #[test]
    fn the_head_costs_no_store_commit_per_request() {
        let d = tempfile::tempdir().unwrap();
        let commits = Arc::new(AtomicU64::new(0));
        let store: Arc<dyn Store> = Arc::new(Counting(trent_store::open("sqlite", d.path()).unwrap(), commits.clone()));
        let (key, _) = SigningKey::generate().unwrap();
        let public = key.public_key();
        let settings = crate::audit::Settings {
            dir: d.path().join("audit"),
            max_file_bytes: 1 << 30,
            digest_interval: std::time::Duration::from_secs(3600),
            shared: None,
            store: store.clone(),
            accept_truncation: false,
        };
        let log = Arc::new(crate::audit::AuditLog::open(settings, key).unwrap());
        let started = std::time::Instant::now();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for i in 0..250 {
                        let mut m = serde_json::Map::new();
                        m.insert("eventName".into(), serde_json::json!(format!("E{t}-{i}")));
                        log.append(chain::RecordKind::Event, &m).unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let elapsed = started.elapsed();
        log.close();
        let n = commits.load(Ordering::SeqCst);
        // One commit per 250 ms of traffic at most, plus the one at shutdown.
        let bound = elapsed.as_millis() as u64 / 250 + 2;
        eprintln!("2000 audit records in {elapsed:?}: {n} store commits (bound {bound})");
        assert!(n <= bound, "{n} store commits for 2000 records in {elapsed:?}");
        let head = read_head(&*store).unwrap().unwrap();
        assert_eq!(head.seq, 2001, "the head covers every record and the closing digest");
        assert!(head.verifies(&public));
    }
}
