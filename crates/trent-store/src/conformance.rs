//! The behaviour every backend must show, run against each backend by [`conformance_tests!`]:
//! one `#[test]` per function here, each on a fresh, empty store of its own.
//!
//! A backend's test module provides two functions and invokes the macro:
//!
//! ```text
//! fn fresh(f: &dyn Fn(&(dyn Store + 'static))) { /* call f on a new, empty store */ }
//! fn two_handles(f: &dyn Fn(&(dyn Store + 'static), &(dyn Store + 'static))) {
//!     /* call f on two independently opened stores over one new, empty database */
//! }
//! crate::conformance_tests!(fresh, two_handles);
//! ```
//!
//! `two_handles` stands for two nodes sharing one database.

use crate::Store;

/// Generates the conformance tests in a module `conformance_suite`. See the module docs.
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:ident, $two_handles:ident $(, #[$attr:meta])*) => {
        $crate::conformance_tests!(@one [$(#[$attr])*] $fresh;
            put_get_delete,
            insert_new_refuses_existing,
            dropped_txn_rolls_back,
            scan_by_prefix_in_order_with_resume,
            keys_are_ordered_byte_wise,
            tables_lists_the_tables_that_hold_rows,
            a_read_is_a_consistent_snapshot,
            concurrent_writers_do_not_lose_updates,
            try_exclusive_has_one_holder_until_the_guard_drops,
            try_exclusive_under_contention_never_has_two_holders,
        );
        $crate::conformance_tests!(@two [$(#[$attr])*] $two_handles;
            two_handles_see_each_others_commits,
            writers_on_two_handles_do_not_lose_updates,
            insert_new_on_two_handles_has_one_winner,
            try_exclusive_on_two_handles_has_one_holder,
        );
        $crate::conformance_tests!(@fresh_pair [$(#[$attr])*] $fresh;
            backup_restores_into_an_empty_store,
            restore_refuses_a_store_that_is_not_empty,
        );
    };
    // `$attrs` is one bracketed token tree, so it can be repeated once per test name.
    (@one $attrs:tt $fresh:ident; $($name:ident),* $(,)?) => {
        mod conformance_suite { $(
            $crate::conformance_tests!(@test $attrs $name {
                super::$fresh(&|s| $crate::conformance::$name(s));
            });
        )* }
    };
    (@two $attrs:tt $two:ident; $($name:ident),* $(,)?) => {
        mod conformance_suite_two_handles { $(
            $crate::conformance_tests!(@test $attrs $name {
                super::$two(&|a, b| $crate::conformance::$name(a, b));
            });
        )* }
    };
    (@fresh_pair $attrs:tt $fresh:ident; $($name:ident),* $(,)?) => {
        mod conformance_suite_backup { $(
            $crate::conformance_tests!(@test $attrs $name {
                super::$fresh(&|a| super::$fresh(&|b| $crate::conformance::$name(a, b)));
            });
        )* }
    };
    (@test [$(#[$attr:meta])*] $name:ident $body:block) => {
        #[test]
        $(#[$attr])*
        fn $name() $body
    };
}

type Rows = Vec<(String, Vec<u8>)>;

fn keys(v: Rows) -> Vec<String> {
    v.into_iter().map(|(k, _)| k).collect()
}

pub fn put_get_delete(s: &dyn Store) {
    let mut t = s.write().unwrap();
    t.put("t", "a", b"1").unwrap();
    assert_eq!(t.get("t", "a").unwrap().as_deref(), Some(&b"1"[..]), "a write is visible inside its txn");
    t.commit().unwrap();
    let mut r = s.read().unwrap();
    assert_eq!(r.get("t", "a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(r.get("other", "a").unwrap(), None, "tables are separate");
    drop(r);
    let mut t = s.write().unwrap();
    t.put("t", "a", b"2").unwrap();
    assert!(t.delete("t", "a").unwrap());
    assert!(!t.delete("t", "a").unwrap());
    t.commit().unwrap();
    assert_eq!(s.read().unwrap().get("t", "a").unwrap(), None);
    // Values are bytes, not text.
    let mut t = s.write().unwrap();
    t.put("t", "bin", &[0, 255, 0, 1]).unwrap();
    t.commit().unwrap();
    assert_eq!(s.read().unwrap().get("t", "bin").unwrap().as_deref(), Some(&[0u8, 255, 0, 1][..]));
}

pub fn insert_new_refuses_existing(s: &dyn Store) {
    let mut t = s.write().unwrap();
    assert!(t.insert_new("u", "k", b"first").unwrap());
    assert!(!t.insert_new("u", "k", b"second").unwrap());
    t.commit().unwrap();
    assert_eq!(s.read().unwrap().get("u", "k").unwrap().as_deref(), Some(&b"first"[..]));
}

pub fn dropped_txn_rolls_back(s: &dyn Store) {
    let mut t = s.write().unwrap();
    t.put("r", "kept", b"x").unwrap();
    t.commit().unwrap();
    {
        let mut t = s.write().unwrap();
        t.put("r", "gone", b"x").unwrap();
        assert!(t.delete("r", "kept").unwrap());
    }
    let mut r = s.read().unwrap();
    assert_eq!(r.get("r", "gone").unwrap(), None, "an uncommitted put is undone");
    assert_eq!(r.get("r", "kept").unwrap().as_deref(), Some(&b"x"[..]), "an uncommitted delete is undone");
    drop(r);
    // The dropped transaction released the write lock.
    let mut t = s.write().unwrap();
    t.put("r", "after", b"y").unwrap();
    t.commit().unwrap();
    assert_eq!(s.read().unwrap().get("r", "after").unwrap().as_deref(), Some(&b"y"[..]));
}

pub fn scan_by_prefix_in_order_with_resume(s: &dyn Store) {
    let mut t = s.write().unwrap();
    for k in ["p/c", "p/a", "p/b", "q/a", "o/z", "p0"] {
        t.put("s", k, k.as_bytes()).unwrap();
    }
    t.commit().unwrap();
    let mut r = s.read().unwrap();
    assert_eq!(keys(r.scan("s", "p/", None, 10).unwrap()), ["p/a", "p/b", "p/c"]);
    assert_eq!(keys(r.scan("s", "p/", None, 2).unwrap()), ["p/a", "p/b"]);
    assert_eq!(keys(r.scan("s", "p/", Some("p/b"), 10).unwrap()), ["p/c"]);
    assert_eq!(keys(r.scan("s", "p/", Some("p/c"), 10).unwrap()), Vec::<String>::new());
    assert_eq!(
        keys(r.scan("s", "p/", Some("a"), 10).unwrap()),
        ["p/a", "p/b", "p/c"],
        "a resume point before the prefix"
    );
    assert_eq!(keys(r.scan("s", "", None, 10).unwrap()), ["o/z", "p/a", "p/b", "p/c", "p0", "q/a"]);
    let (k, v) = &r.scan("s", "q", None, 1).unwrap()[0];
    assert_eq!((k.as_str(), v.as_slice()), ("q/a", &b"q/a"[..]), "scan returns values too");
}

/// Byte order, not a locale's: upper case before lower case, `#` and digits before letters,
/// multi-byte UTF-8 after ASCII.
pub fn keys_are_ordered_byte_wise(s: &dyn Store) {
    let mut t = s.write().unwrap();
    for k in ["b", "a#10", "B", "é", "a#9", "a", "~", "A-z", "a b"] {
        t.put("o", k, b"").unwrap();
    }
    t.commit().unwrap();
    let mut sorted = ["b", "a#10", "B", "é", "a#9", "a", "~", "A-z", "a b"];
    sorted.sort_unstable();
    assert_eq!(keys(s.read().unwrap().scan("o", "", None, 100).unwrap()), sorted);
}

pub fn tables_lists_the_tables_that_hold_rows(s: &dyn Store) {
    assert_eq!(s.read().unwrap().tables().unwrap(), Vec::<String>::new(), "a fresh store is empty");
    let mut t = s.write().unwrap();
    for table in ["sm_value", "kms_key", "Z", "meta"] {
        t.put(table, "k", b"v").unwrap();
    }
    t.commit().unwrap();
    assert_eq!(s.read().unwrap().tables().unwrap(), ["Z", "kms_key", "meta", "sm_value"]);
    let mut t = s.write().unwrap();
    t.delete("Z", "k").unwrap();
    t.commit().unwrap();
    assert_eq!(s.read().unwrap().tables().unwrap(), ["kms_key", "meta", "sm_value"], "an emptied table is gone");
}

/// A read transaction sees one state throughout, even while a writer commits.
pub fn a_read_is_a_consistent_snapshot(s: &dyn Store) {
    let mut t = s.write().unwrap();
    t.put("v", "a", b"old").unwrap();
    t.commit().unwrap();
    let mut r = s.read().unwrap();
    assert_eq!(r.get("v", "a").unwrap().as_deref(), Some(&b"old"[..]));
    let mut t = s.write().unwrap();
    t.put("v", "a", b"new").unwrap();
    t.put("v", "b", b"new").unwrap();
    t.commit().unwrap();
    assert_eq!(r.get("v", "a").unwrap().as_deref(), Some(&b"old"[..]), "the snapshot does not change");
    assert_eq!(r.get("v", "b").unwrap(), None);
    assert_eq!(keys(r.scan("v", "", None, 10).unwrap()), ["a"]);
    drop(r);
    assert_eq!(s.read().unwrap().get("v", "b").unwrap().as_deref(), Some(&b"new"[..]), "a new read sees the commit");
}

fn increment(s: &dyn Store, key: &str) {
    let mut t = s.write().unwrap();
    let n: u32 = String::from_utf8(t.get("c", key).unwrap().unwrap()).unwrap().parse().unwrap();
    t.put("c", key, (n + 1).to_string().as_bytes()).unwrap();
    t.commit().unwrap();
}

fn counter(s: &dyn Store, key: &str) -> u32 {
    String::from_utf8(s.read().unwrap().get("c", key).unwrap().unwrap()).unwrap().parse().unwrap()
}

pub fn concurrent_writers_do_not_lose_updates(s: &(dyn Store + 'static)) {
    let mut t = s.write().unwrap();
    t.put("c", "n", b"0").unwrap();
    t.commit().unwrap();
    std::thread::scope(|sc| {
        for _ in 0..4 {
            sc.spawn(|| {
                for _ in 0..25 {
                    increment(s, "n");
                }
            });
        }
    });
    assert_eq!(counter(s, "n"), 100);
}

/// Two nodes on one database: each sees what the other committed, and nothing uncommitted.
pub fn two_handles_see_each_others_commits(a: &(dyn Store + 'static), b: &(dyn Store + 'static)) {
    let mut t = a.write().unwrap();
    t.put("n", "from-a", b"1").unwrap();
    assert_eq!(b.read().unwrap().get("n", "from-a").unwrap(), None, "not visible before commit");
    t.commit().unwrap();
    assert_eq!(b.read().unwrap().get("n", "from-a").unwrap().as_deref(), Some(&b"1"[..]));
    let mut t = b.write().unwrap();
    assert!(!t.insert_new("n", "from-a", b"2").unwrap(), "b's insert_new sees a's row");
    assert!(t.delete("n", "from-a").unwrap());
    t.put("n", "from-b", b"3").unwrap();
    t.commit().unwrap();
    let mut r = a.read().unwrap();
    assert_eq!(r.get("n", "from-a").unwrap(), None, "b's delete is visible to a");
    assert_eq!(keys(r.scan("n", "", None, 10).unwrap()), ["from-b"]);
}

/// N threads on each of two nodes doing read-modify-write on one counter: N×M increments.
pub fn writers_on_two_handles_do_not_lose_updates(a: &(dyn Store + 'static), b: &(dyn Store + 'static)) {
    let mut t = a.write().unwrap();
    t.put("c", "shared", b"0").unwrap();
    t.commit().unwrap();
    std::thread::scope(|sc| {
        for s in [a, b, a, b, a, b] {
            sc.spawn(move || {
                for _ in 0..20 {
                    increment(s, "shared");
                }
            });
        }
    });
    assert_eq!(counter(a, "shared"), 120);
    assert_eq!(counter(b, "shared"), 120);
}

/// Many threads on two nodes race to create the same names (as CreateAlias does): each name
/// is created exactly once, and holds the winner's value.
pub fn insert_new_on_two_handles_has_one_winner(a: &(dyn Store + 'static), b: &(dyn Store + 'static)) {
    let wins: Vec<(usize, String)> = std::thread::scope(|sc| {
        let hs: Vec<_> = [a, b, a, b]
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                sc.spawn(move || {
                    let mut won = Vec::new();
                    for n in 0..15 {
                        let name = format!("alias/{n:02}");
                        let mut t = s.write().unwrap();
                        if t.insert_new("a", &name, i.to_string().as_bytes()).unwrap() {
                            won.push((i, name));
                        }
                        t.commit().unwrap();
                    }
                    won
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut names: Vec<&str> = wins.iter().map(|(_, n)| n.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, (0..15).map(|n| format!("alias/{n:02}")).collect::<Vec<_>>(), "each name won once");
    let mut r = b.read().unwrap();
    for (i, name) in &wins {
        assert_eq!(r.get("a", name).unwrap(), Some(i.to_string().into_bytes()), "{name} holds its winner's value");
    }
}

/// A job claimed once cannot be claimed again until its guard is dropped; other jobs are
/// independent.
pub fn try_exclusive_has_one_holder_until_the_guard_drops(s: &(dyn Store + 'static)) {
    let g = s.try_exclusive("sweep").unwrap().expect("a free job can be claimed");
    assert_eq!(g.job(), "sweep");
    assert!(s.try_exclusive("sweep").unwrap().is_none(), "a held job is refused, even to the same handle");
    let other = s.try_exclusive("other").unwrap();
    assert!(other.is_some(), "another job is free");
    drop(g);
    assert!(s.try_exclusive("sweep").unwrap().is_some(), "free again once the guard dropped");
    drop(other);
}

/// Counts how many threads hold `job` at once while they all try to claim it.
fn max_holders(stores: &[&(dyn Store + 'static)], job: &str) -> (usize, usize) {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    let (inside, most, claims) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|sc| {
        for (i, s) in stores.iter().cycle().take(6).enumerate() {
            let (inside, most, claims) = (&inside, &most, &claims);
            sc.spawn(move || {
                for _ in 0..30 {
                    if let Some(g) = s.try_exclusive(job).unwrap() {
                        let now = inside.fetch_add(1, SeqCst) + 1;
                        most.fetch_max(now, SeqCst);
                        claims.fetch_add(1, SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(1 + i as u64 % 2));
                        inside.fetch_sub(1, SeqCst);
                        drop(g);
                    }
                    std::thread::yield_now();
                }
            });
        }
    });
    (most.load(SeqCst), claims.load(SeqCst))
}

/// Six threads racing for one job on one handle: never two holders at once.
pub fn try_exclusive_under_contention_never_has_two_holders(s: &(dyn Store + 'static)) {
    let (most, claims) = max_holders(&[s], "contended");
    assert_eq!(most, 1, "two threads held the job at once");
    assert!(claims > 0, "somebody got the job");
}

/// Two nodes: a job one holds is refused to the other until released; then the other gets it.
/// Racing threads on both never hold it twice at once.
pub fn try_exclusive_on_two_handles_has_one_holder(a: &(dyn Store + 'static), b: &(dyn Store + 'static)) {
    let g = a.try_exclusive("rotation").unwrap().expect("free");
    assert!(b.try_exclusive("rotation").unwrap().is_none(), "the other node sees the claim");
    drop(g);
    let g = b.try_exclusive("rotation").unwrap().expect("released by a, so b gets it");
    assert!(a.try_exclusive("rotation").unwrap().is_none());
    drop(g);
    let (most, claims) = max_holders(&[a, b], "raced");
    assert_eq!(most, 1, "two nodes held the job at once");
    assert!(claims > 0, "somebody got the job");
}

fn fill_for_backup(s: &dyn Store) -> Vec<(String, String, Vec<u8>)> {
    let mut rows = Vec::new();
    let mut t = s.write().unwrap();
    for table in ["meta", "kms_key", "ssm_version"] {
        // More rows than one backup page, so paging is exercised.
        for i in 0..(if table == "kms_key" { 1200 } else { 3 }) {
            let key = format!("000000000000/us-east-1/{table}-{i:05}");
            let value = format!("{{\"i\":{i},\"bin\":\"\u{1}\"}}").into_bytes();
            t.put(table, &key, &value).unwrap();
            rows.push((table.to_string(), key, value));
        }
    }
    t.put("bytes", "é/\"quoted\"\n", &[0, 1, 254, 255]).unwrap();
    rows.push(("bytes".into(), "é/\"quoted\"\n".into(), vec![0, 1, 254, 255]));
    t.commit().unwrap();
    rows.sort();
    rows
}

fn dump(s: &dyn Store) -> Vec<(String, String, Vec<u8>)> {
    let mut r = s.read().unwrap();
    let mut out = Vec::new();
    for table in r.tables().unwrap() {
        for (k, v) in r.scan(&table, "", None, usize::MAX).unwrap() {
            out.push((table.clone(), k, v));
        }
    }
    out
}

pub fn backup_restores_into_an_empty_store(src: &(dyn Store + 'static), dst: &(dyn Store + 'static)) {
    let rows = fill_for_backup(src);
    let mut file = Vec::new();
    let summary = crate::backup::backup(src, &mut file).unwrap();
    assert_eq!(summary.rows, rows.len() as u64);
    assert_eq!(summary.tables, 4);
    let restored = crate::backup::restore(dst, &mut file.as_slice()).unwrap();
    assert_eq!(restored, summary);
    assert_eq!(dump(dst), rows, "every row of every table, byte for byte");
}

pub fn restore_refuses_a_store_that_is_not_empty(src: &(dyn Store + 'static), dst: &(dyn Store + 'static)) {
    fill_for_backup(src);
    let mut file = Vec::new();
    crate::backup::backup(src, &mut file).unwrap();
    let mut t = dst.write().unwrap();
    t.put("meta", "root_check", b"someone else's").unwrap();
    t.commit().unwrap();
    let e = crate::backup::restore(dst, &mut file.as_slice()).unwrap_err();
    assert!(matches!(e, crate::backup::BackupError::NotEmpty), "{e}");
    assert_eq!(dump(dst).len(), 1, "nothing was written");
}
