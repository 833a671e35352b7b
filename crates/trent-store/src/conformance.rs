//! The behaviour every backend must show. Each backend's tests call [`run_all`] (or the
//! functions one by one) on a fresh, empty store of its own.

use crate::Store;

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
}

pub fn insert_new_refuses_existing(s: &dyn Store) {
    let mut t = s.write().unwrap();
    assert!(t.insert_new("u", "k", b"first").unwrap());
    assert!(!t.insert_new("u", "k", b"second").unwrap());
    t.commit().unwrap();
    assert_eq!(s.read().unwrap().get("u", "k").unwrap().as_deref(), Some(&b"first"[..]));
}

pub fn dropped_txn_rolls_back(s: &dyn Store) {
    {
        let mut t = s.write().unwrap();
        t.put("r", "gone", b"x").unwrap();
    }
    assert_eq!(s.read().unwrap().get("r", "gone").unwrap(), None);
}

pub fn scan_by_prefix_in_order_with_resume(s: &dyn Store) {
    let mut t = s.write().unwrap();
    for k in ["p/c", "p/a", "p/b", "q/a", "o/z", "p0"] {
        t.put("s", k, k.as_bytes()).unwrap();
    }
    t.commit().unwrap();
    let mut r = s.read().unwrap();
    let keys = |v: Vec<(String, Vec<u8>)>| v.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    assert_eq!(keys(r.scan("s", "p/", None, 10).unwrap()), ["p/a", "p/b", "p/c"]);
    assert_eq!(keys(r.scan("s", "p/", None, 2).unwrap()), ["p/a", "p/b"]);
    assert_eq!(keys(r.scan("s", "p/", Some("p/b"), 10).unwrap()), ["p/c"]);
    assert_eq!(keys(r.scan("s", "p/", Some("p/c"), 10).unwrap()), Vec::<String>::new());
    assert_eq!(keys(r.scan("s", "", None, 10).unwrap()), ["o/z", "p/a", "p/b", "p/c", "p0", "q/a"]);
}

pub fn concurrent_writers_do_not_lose_updates(s: &(dyn Store + 'static)) {
    let mut t = s.write().unwrap();
    t.put("c", "n", b"0").unwrap();
    t.commit().unwrap();
    std::thread::scope(|sc| {
        for _ in 0..4 {
            sc.spawn(|| {
                for _ in 0..25 {
                    let mut t = s.write().unwrap();
                    let n: u32 = String::from_utf8(t.get("c", "n").unwrap().unwrap()).unwrap().parse().unwrap();
                    t.put("c", "n", (n + 1).to_string().as_bytes()).unwrap();
                    t.commit().unwrap();
                }
            });
        }
    });
    assert_eq!(s.read().unwrap().get("c", "n").unwrap().as_deref(), Some(&b"100"[..]));
}

pub fn run_all(s: &(dyn Store + 'static)) {
    put_get_delete(s);
    insert_new_refuses_existing(s);
    dropped_txn_rolls_back(s);
    scan_by_prefix_in_order_with_resume(s);
    concurrent_writers_do_not_lose_updates(s);
}
