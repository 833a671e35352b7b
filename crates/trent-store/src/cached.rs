//! A read cache in front of a store that only this process writes (SQLite: the data dir is
//! locked to one `trentd`).
//!
//! Read transactions answer `get` and `scan` from memory when they can and open the backend's
//! snapshot only on a miss, so a hot read (a key's record, its aliases and grants, a caller's
//! policies, a secret's metadata) costs a hash lookup instead of a SQLite transaction.
//! Write transactions go straight to the backend (their reads too: a read-modify-write must see
//! the database, never the cache); when one commits, every cached row of each table it wrote
//! is dropped, so the next read sees the change. That is what makes a DisableKey, a new key
//! policy or a revoked grant take effect on the very next request.
//!
//! A reader that missed fills the cache only if no write to that table committed since the
//! reader looked (a per-table generation, compared under the lock): a value read just before a
//! commit can never be cached after that commit's invalidation.
//!
//! A read transaction therefore sees the latest committed value of each row it reads (read
//! committed), not one snapshot for its whole life; nothing on the request path needs more (a
//! backup, which does, opens the backend itself).
//!
//! Not for stores other processes write (PostgreSQL shared by several nodes): [`crate::open`]
//! wraps only SQLite. Tables written on every request (the audit trail and its index) are not
//! cached, and the cache is bounded (it is emptied when full).

use crate::{JobGuard, Result, Store, Txn};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Rows (gets and scans together) kept before the cache is emptied.
const MAX_ENTRIES: usize = 20_000;
/// A value larger than this is not cached.
const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Tables written with every request or read once: caching them would only churn.
const UNCACHED: &[&str] = &["audit", "audit_head", "audit_index"];

type ScanKey = (String, String, Option<String>, usize);
type Rows = Arc<Vec<(String, Vec<u8>)>>;

#[derive(Default)]
struct State {
    /// Per table, bumped by every committed write to it.
    generation: HashMap<String, u64>,
    gets: HashMap<(String, String), Option<Arc<Vec<u8>>>>,
    scans: HashMap<ScanKey, Rows>,
    hits: u64,
    misses: u64,
}

impl State {
    fn generation(&self, table: &str) -> u64 {
        self.generation.get(table).copied().unwrap_or(0)
    }

    fn room(&mut self) {
        if self.gets.len() + self.scans.len() >= MAX_ENTRIES {
            self.gets.clear();
            self.scans.clear();
        }
    }
}

/// The store with a read cache; see the module docs.
pub struct CachedStore {
    inner: Arc<dyn Store>,
    state: Arc<Mutex<State>>,
}

impl CachedStore {
    pub fn new(inner: Arc<dyn Store>) -> CachedStore {
        CachedStore { inner, state: Arc::new(Mutex::new(State::default())) }
    }

    /// (hits, misses) of reads so far.
    pub fn stats(&self) -> (u64, u64) {
        self.state.lock().map(|s| (s.hits, s.misses)).unwrap_or((0, 0))
    }

    fn cacheable(table: &str) -> bool {
        !UNCACHED.contains(&table)
    }
}

impl Store for CachedStore {
    fn read(&self) -> Result<Box<dyn Txn + '_>> {
        Ok(Box::new(CachedRead { store: self, inner: None }))
    }

    fn write(&self) -> Result<Box<dyn Txn + '_>> {
        Ok(Box::new(CachedWrite { state: self.state.clone(), inner: self.inner.write()?, touched: Vec::new() }))
    }

    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn try_exclusive(&self, job: &str) -> Result<Option<JobGuard>> {
        self.inner.try_exclusive(job)
    }
}

/// A read transaction that opens the backend's snapshot only when the cache cannot answer.
struct CachedRead<'a> {
    store: &'a CachedStore,
    inner: Option<Box<dyn Txn + 'a>>,
}

impl<'a> CachedRead<'a> {
    fn inner(&mut self) -> Result<&mut Box<dyn Txn + 'a>> {
        if self.inner.is_none() {
            self.inner = Some(self.store.inner.read()?);
        }
        // Just set if it was empty.
        self.inner.as_mut().ok_or_else(|| crate::StoreError::Backend("read transaction unavailable".into()))
    }

    /// The table's generation now (before reading the backend), counting a miss.
    fn miss(&self, table: &str) -> u64 {
        let mut s = self.store.state.lock().unwrap_or_else(|p| p.into_inner());
        s.misses += 1;
        s.generation(table)
    }
}

impl Txn for CachedRead<'_> {
    fn get(&mut self, table: &str, key: &str) -> Result<Option<Vec<u8>>> {
        if !CachedStore::cacheable(table) {
            return self.inner()?.get(table, key);
        }
        let k = (table.to_string(), key.to_string());
        {
            let mut s = self.store.state.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(v) = s.gets.get(&k).cloned() {
                s.hits += 1;
                return Ok(v.map(|v| v.to_vec()));
            }
        }
        let seen = self.miss(table);
        let v = self.inner()?.get(table, key)?;
        if v.as_ref().is_none_or(|v| v.len() <= MAX_VALUE_BYTES) {
            let mut s = self.store.state.lock().unwrap_or_else(|p| p.into_inner());
            if s.generation(table) == seen {
                s.room();
                s.gets.insert(k, v.clone().map(Arc::new));
            }
        }
        Ok(v)
    }

    fn scan(&mut self, table: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<(String, Vec<u8>)>> {
        if !CachedStore::cacheable(table) {
            return self.inner()?.scan(table, prefix, after, limit);
        }
        let k = (table.to_string(), prefix.to_string(), after.map(str::to_string), limit);
        {
            let mut s = self.store.state.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(rows) = s.scans.get(&k).cloned() {
                s.hits += 1;
                return Ok(rows.to_vec());
            }
        }
        let seen = self.miss(table);
        let rows = self.inner()?.scan(table, prefix, after, limit)?;
        if rows.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() <= MAX_VALUE_BYTES {
            let mut s = self.store.state.lock().unwrap_or_else(|p| p.into_inner());
            if s.generation(table) == seen {
                s.room();
                s.scans.insert(k, Arc::new(rows.clone()));
            }
        }
        Ok(rows)
    }

    fn put(&mut self, table: &str, key: &str, value: &[u8]) -> Result<()> {
        self.inner()?.put(table, key, value)
    }

    fn insert_new(&mut self, table: &str, key: &str, value: &[u8]) -> Result<bool> {
        self.inner()?.insert_new(table, key, value)
    }

    fn delete(&mut self, table: &str, key: &str) -> Result<bool> {
        self.inner()?.delete(table, key)
    }

    fn tables(&mut self) -> Result<Vec<String>> {
        self.inner()?.tables()
    }

    fn commit(self: Box<Self>) -> Result<()> {
        match self.inner {
            Some(t) => t.commit(),
            None => Ok(()),
        }
    }
}

/// A write transaction: the backend's, noting which tables it writes.
struct CachedWrite<'a> {
    state: Arc<Mutex<State>>,
    inner: Box<dyn Txn + 'a>,
    touched: Vec<String>,
}

impl CachedWrite<'_> {
    fn touch(&mut self, table: &str) {
        if !self.touched.iter().any(|t| t == table) {
            self.touched.push(table.to_string());
        }
    }
}

impl Txn for CachedWrite<'_> {
    fn get(&mut self, table: &str, key: &str) -> Result<Option<Vec<u8>>> {
        self.inner.get(table, key)
    }

    fn put(&mut self, table: &str, key: &str, value: &[u8]) -> Result<()> {
        self.touch(table);
        self.inner.put(table, key, value)
    }

    fn insert_new(&mut self, table: &str, key: &str, value: &[u8]) -> Result<bool> {
        self.touch(table);
        self.inner.insert_new(table, key, value)
    }

    fn delete(&mut self, table: &str, key: &str) -> Result<bool> {
        self.touch(table);
        self.inner.delete(table, key)
    }

    fn scan(&mut self, table: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<(String, Vec<u8>)>> {
        self.inner.scan(table, prefix, after, limit)
    }

    fn tables(&mut self) -> Result<Vec<String>> {
        self.inner.tables()
    }

    fn commit(self: Box<Self>) -> Result<()> {
        let CachedWrite { state, inner, touched } = *self;
        let result = inner.commit();
        // Invalidate even if the commit reported an error: whether it took effect is unknown.
        if !touched.is_empty() {
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            for t in &touched {
                *s.generation.entry(t.clone()).or_insert(0) += 1;
            }
            s.gets.retain(|(t, _), _| !touched.contains(t));
            s.scans.retain(|(t, ..), _| !touched.contains(t));
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::SqliteStore;

    fn cached(d: &tempfile::TempDir) -> CachedStore {
        CachedStore::new(Arc::new(SqliteStore::open(&d.path().join("t.db")).unwrap()))
    }

    fn put(s: &dyn Store, t: &str, k: &str, v: &[u8]) {
        let mut tx = s.write().unwrap();
        tx.put(t, k, v).unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn a_committed_write_is_seen_by_the_next_read_and_repeated_reads_hit() {
        let d = tempfile::tempdir().unwrap();
        let s = cached(&d);
        put(&s, "key", "a", b"1");
        assert_eq!(s.read().unwrap().get("key", "a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.read().unwrap().get("key", "a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.read().unwrap().scan("key", "", None, 10).unwrap().len(), 1);
        assert_eq!(s.read().unwrap().scan("key", "", None, 10).unwrap().len(), 1);
        assert_eq!(s.stats(), (2, 2));
        put(&s, "key", "a", b"2");
        put(&s, "key", "b", b"3");
        assert_eq!(s.read().unwrap().get("key", "a").unwrap(), Some(b"2".to_vec()));
        assert_eq!(s.read().unwrap().scan("key", "", None, 10).unwrap().len(), 2);
        // Absence is cached too, and a later insert is seen.
        assert_eq!(s.read().unwrap().get("key", "c").unwrap(), None);
        put(&s, "key", "c", b"4");
        assert_eq!(s.read().unwrap().get("key", "c").unwrap(), Some(b"4".to_vec()));
        // A delete is seen.
        let mut tx = s.write().unwrap();
        assert!(tx.delete("key", "a").unwrap());
        tx.commit().unwrap();
        assert_eq!(s.read().unwrap().get("key", "a").unwrap(), None);
    }

    #[test]
    fn a_write_that_is_rolled_back_changes_nothing_and_writes_read_the_database() {
        let d = tempfile::tempdir().unwrap();
        let s = cached(&d);
        put(&s, "key", "a", b"1");
        assert_eq!(s.read().unwrap().get("key", "a").unwrap(), Some(b"1".to_vec()));
        {
            let mut tx = s.write().unwrap();
            tx.put("key", "a", b"2").unwrap();
            assert_eq!(tx.get("key", "a").unwrap(), Some(b"2".to_vec()), "a write reads its own write");
        }
        assert_eq!(s.read().unwrap().get("key", "a").unwrap(), Some(b"1".to_vec()));
    }

    #[test]
    fn a_read_that_raced_a_commit_is_not_cached() {
        let d = tempfile::tempdir().unwrap();
        let s = cached(&d);
        put(&s, "key", "a", b"old");
        // A reader notes the generation and reads the old value …
        let mut r = CachedRead { store: &s, inner: None };
        let seen = r.miss("key");
        let old = r.inner().unwrap().get("key", "a").unwrap();
        assert_eq!(old, Some(b"old".to_vec()));
        drop(r);
        // … a write commits meanwhile …
        put(&s, "key", "a", b"new");
        // … so the old value must not go in (what `get` checks before inserting).
        assert_ne!(s.state.lock().unwrap().generation("key"), seen);
        assert_eq!(s.read().unwrap().get("key", "a").unwrap(), Some(b"new".to_vec()));
    }

    #[test]
    fn audit_tables_are_never_cached() {
        let d = tempfile::tempdir().unwrap();
        let s = cached(&d);
        put(&s, "audit_index", "a", b"1");
        for _ in 0..3 {
            assert_eq!(s.read().unwrap().get("audit_index", "a").unwrap(), Some(b"1".to_vec()));
        }
        assert_eq!(s.stats(), (0, 0));
    }

    /// The conformance suite, except `a_read_is_a_consistent_snapshot`: a cached read sees the
    /// latest committed value of each row it reads (read committed), not one snapshot (see the
    /// module docs).
    #[test]
    fn conformance_except_snapshots() {
        use crate::conformance as c;
        type One = fn(&(dyn Store + 'static));
        type Two = fn(&(dyn Store + 'static), &(dyn Store + 'static));
        let fresh = |f: &dyn Fn(&(dyn Store + 'static))| {
            let d = tempfile::tempdir().unwrap();
            f(&cached(&d));
        };
        let tests: &[One] = &[
            |s| c::put_get_delete(s),
            |s| c::insert_new_refuses_existing(s),
            |s| c::dropped_txn_rolls_back(s),
            |s| c::scan_by_prefix_in_order_with_resume(s),
            |s| c::keys_are_ordered_byte_wise(s),
            |s| c::tables_lists_the_tables_that_hold_rows(s),
            c::concurrent_writers_do_not_lose_updates,
            c::try_exclusive_has_one_holder_until_the_guard_drops,
            c::try_exclusive_under_contention_never_has_two_holders,
        ];
        for t in tests {
            fresh(&|s| t(s));
        }
        let pairs: &[Two] = &[
            c::two_handles_see_each_others_commits,
            c::writers_on_two_handles_do_not_lose_updates,
            c::insert_new_on_two_handles_has_one_winner,
            c::try_exclusive_on_two_handles_has_one_holder,
        ];
        for t in pairs {
            // Two handles of one process share one cache (the server's store is one handle).
            fresh(&|s| t(s, s));
        }
    }
}
