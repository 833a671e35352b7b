//! Backup files (`trentd restore`): arbitrary bytes restored into an empty store must be refused
//! with a typed error unless they are a complete backup with a matching checksum; a restore that
//! succeeds must hold exactly what a new backup of the store then reports.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::Mutex;
use trent_store::backup::{backup, restore};
use trent_store::sqlite::SqliteStore;

struct Fresh {
    _dir: std::path::PathBuf,
    store: SqliteStore,
}

fn fresh() -> Fresh {
    // tmpfs when there is one: every restore attempt is a transaction.
    let base = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm".into() } else { std::env::temp_dir() };
    let mut random = [0u8; 8];
    trent_crypto::fill_random(&mut random).unwrap();
    let dir = base.join(format!("trent-fuzz-backup-{}", random.iter().map(|b| format!("{b:02x}")).collect::<String>()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::open(&dir.join("t.db")).unwrap();
    Fresh { _dir: dir, store }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

static STORE: Mutex<Option<Fresh>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let mut slot = STORE.lock().unwrap();
    let f = slot.get_or_insert_with(fresh);
    let mut input = data;
    if let Ok(summary) = restore(&f.store, &mut input) {
        let mut out = Vec::new();
        let again = backup(&f.store, &mut out).expect("a restored store backs up");
        assert_eq!((again.tables, again.rows), (summary.tables, summary.rows));
        // The store is no longer empty: the next input gets a new one.
        *slot = Some(fresh());
    }
});
