//! Backup and restore of a whole store, between backends of either kind.
//!
//! [`backup`] writes every row of every table from **one read transaction** (a consistent
//! snapshot, taken while the service runs). [`restore`] loads such a file into an **empty**
//! store inside **one write transaction**, committed only after the whole file has been read and
//! its checksum verified: a corrupt, truncated or non-matching file writes nothing, and a store
//! that already holds a row is refused. Moving from SQLite to PostgreSQL is backup + restore.
//!
//! The values are what the store holds: key material and secret access keys are already wrapped
//! under the root key, so a backup contains no plaintext key material — and is useless without
//! the root key, which is backed up separately.
//!
//! # Format, version 1
//!
//! UTF-8 text, one JSON object per line (`\n`):
//!
//! ```text
//! {"format":"trent-backup","version":1,"source":"sqlite"}
//! {"t":"kms_key","k":"000000000000/us-east-1/1234abcd-…","v":"<base64 of the value>"}
//! …                                   (tables in byte order, keys in byte order within each)
//! {"end":true,"tables":17,"rows":4711,"sha256":"<64 hex digits>"}
//! ```
//!
//! `sha256` is SHA-256 over every byte before the last line (header and row lines, with their
//! newlines). It detects corruption and truncation; it is not a signature: authenticity of the
//! wrapped values comes from their AES-GCM tags and AAD under the root key. Readers refuse an
//! unknown `format` or a `version` they do not know.

use crate::{Store, StoreError};
use aws_lc_rs::digest;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use std::io::{BufRead, Write};

pub const FORMAT: &str = "trent-backup";
pub const VERSION: u64 = 1;

/// Rows read per scan while writing a backup.
const PAGE: usize = 1000;

#[derive(Debug)]
pub enum BackupError {
    Store(StoreError),
    Io(std::io::Error),
    /// The target store already holds data.
    NotEmpty,
    /// The file is not a valid, complete Trent backup (the detail says why).
    Corrupt(String),
}

impl std::fmt::Display for BackupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackupError::Store(e) => write!(f, "{e}"),
            BackupError::Io(e) => write!(f, "I/O error: {e}"),
            BackupError::NotEmpty => {
                write!(f, "the target store is not empty; restore only into a new, empty store (nothing was written)")
            }
            BackupError::Corrupt(m) => write!(f, "not a valid Trent backup: {m} (nothing was written)"),
        }
    }
}

impl std::error::Error for BackupError {}

impl From<StoreError> for BackupError {
    fn from(e: StoreError) -> Self {
        BackupError::Store(e)
    }
}

impl From<std::io::Error> for BackupError {
    fn from(e: std::io::Error) -> Self {
        BackupError::Io(e)
    }
}

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub tables: u64,
    pub rows: u64,
    /// Hex SHA-256 of the content (the trailer's `sha256`).
    pub sha256: String,
}

/// Writes a consistent snapshot of `store` to `out`.
pub fn backup(store: &dyn Store, out: &mut dyn Write) -> Result<Summary, BackupError> {
    let mut hash = digest::Context::new(&digest::SHA256);
    let mut line = |out: &mut dyn Write, v: Value| -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec(&v).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        hash.update(&bytes);
        out.write_all(&bytes)
    };
    let mut r = store.read()?;
    line(out, json!({"format": FORMAT, "version": VERSION, "source": store.backend()}))?;
    let tables = r.tables()?;
    let mut rows = 0u64;
    for table in &tables {
        let mut after: Option<String> = None;
        loop {
            let page = r.scan(table, "", after.as_deref(), PAGE)?;
            for (k, v) in &page {
                line(out, json!({"t": table, "k": k, "v": STANDARD.encode(v)}))?;
                rows += 1;
            }
            match page.last() {
                Some((k, _)) if page.len() == PAGE => after = Some(k.clone()),
                _ => break,
            }
        }
    }
    drop(r);
    let sha256 = hex::encode(hash.finish().as_ref());
    let trailer = json!({"end": true, "tables": tables.len(), "rows": rows, "sha256": sha256});
    out.write_all(format!("{trailer}\n").as_bytes())?;
    out.flush()?;
    Ok(Summary { tables: tables.len() as u64, rows, sha256 })
}

/// Loads a backup into an empty `store`; commits only a complete file with a matching checksum.
pub fn restore(store: &dyn Store, input: &mut dyn BufRead) -> Result<Summary, BackupError> {
    let corrupt = |m: String| BackupError::Corrupt(m);
    let mut hash = digest::Context::new(&digest::SHA256);
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    // Reads the next line (with its newline); None at end of input.
    let mut next = |buf: &mut Vec<u8>, line_no: &mut u64| -> Result<Option<Value>, BackupError> {
        buf.clear();
        if input.read_until(b'\n', buf)? == 0 {
            return Ok(None);
        }
        *line_no += 1;
        if buf.last() != Some(&b'\n') {
            return Err(corrupt(format!("line {line_no} is cut off (the file is truncated)")));
        }
        serde_json::from_slice(buf).map(Some).map_err(|_| corrupt(format!("line {line_no} is not JSON")))
    };

    let header = next(&mut buf, &mut line_no)?.ok_or_else(|| corrupt("the file is empty".into()))?;
    if header["format"] != FORMAT {
        return Err(corrupt("it does not start with a trent-backup header".into()));
    }
    if header["version"] != VERSION {
        return Err(corrupt(format!("format version {} is not one this build reads ({VERSION})", header["version"])));
    }
    hash.update(&buf);

    let mut t = store.write()?;
    if !t.tables()?.is_empty() {
        return Err(BackupError::NotEmpty);
    }
    let mut rows = 0u64;
    let mut tables = 0u64;
    let mut last: Option<(String, String)> = None;
    loop {
        let v = next(&mut buf, &mut line_no)?
            .ok_or_else(|| corrupt("it ends without its trailer line (the file is truncated)".into()))?;
        if v.get("end").is_some() {
            let sha256 = hex::encode(hash.finish().as_ref());
            if v["end"] != true || v["rows"] != rows || v["tables"] != tables {
                return Err(corrupt(format!("its trailer does not match its {rows} rows in {tables} tables")));
            }
            if v["sha256"] != sha256.as_str() {
                return Err(corrupt("its SHA-256 does not match its content".into()));
            }
            if next(&mut buf, &mut line_no)?.is_some() || !buf.is_empty() {
                return Err(corrupt("there is data after its trailer".into()));
            }
            t.commit()?;
            return Ok(Summary { tables, rows, sha256 });
        }
        hash.update(&buf);
        let (Some(table), Some(key), Some(value)) = (v["t"].as_str(), v["k"].as_str(), v["v"].as_str()) else {
            return Err(corrupt(format!("line {line_no} is not a row")));
        };
        let value = STANDARD.decode(value).map_err(|_| corrupt(format!("line {line_no} has a bad value")))?;
        // Rows come in (table, key) order, each once; a file out of order was not written by us.
        let here = (table.to_string(), key.to_string());
        match &last {
            Some(prev) if *prev >= here => return Err(corrupt(format!("line {line_no} is out of order"))),
            Some((prev_table, _)) if *prev_table != here.0 => tables += 1,
            None => tables += 1,
            _ => {}
        }
        if !t.insert_new(table, key, &value)? {
            return Err(corrupt(format!("line {line_no} repeats a key")));
        }
        rows += 1;
        last = Some(here);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::SqliteStore;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let d = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&d.path().join("t.db")).unwrap();
        (d, s)
    }

    fn sample() -> Vec<u8> {
        let (_d, s) = store();
        let mut t = s.write().unwrap();
        t.put("kms_key", "a", b"{\"x\":1}").unwrap();
        t.put("kms_key", "b", b"{\"x\":2}").unwrap();
        t.put("meta", "root_check", &[1, 2, 3]).unwrap();
        t.commit().unwrap();
        let mut out = Vec::new();
        backup(&s, &mut out).unwrap();
        out
    }

    fn restore_into_fresh(file: &[u8]) -> (Result<Summary, BackupError>, usize) {
        let (_d, s) = store();
        let r = restore(&s, &mut &file[..]);
        let n = s.read().unwrap().tables().unwrap().len();
        (r, n)
    }

    #[test]
    fn backup_file_is_the_documented_line_format() {
        let file = String::from_utf8(sample()).unwrap();
        let lines: Vec<Value> = file.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0], json!({"format": "trent-backup", "version": 1, "source": "sqlite"}));
        assert_eq!(lines[1], json!({"t": "kms_key", "k": "a", "v": STANDARD.encode(b"{\"x\":1}")}));
        assert_eq!(lines[3]["t"], "meta");
        let content = &file[..file.trim_end().rfind('\n').unwrap() + 1];
        let want = hex::encode(digest::digest(&digest::SHA256, content.as_bytes()).as_ref());
        assert_eq!(lines[4], json!({"end": true, "tables": 2, "rows": 3, "sha256": want}));
    }

    #[test]
    fn restore_refuses_a_changed_byte_and_writes_nothing() {
        let mut file = sample();
        // Change one base64 character of a value, keeping the line valid JSON.
        let text = String::from_utf8(file.clone()).unwrap();
        let v_pos = text.find("\"v\":\"").unwrap() + 5;
        file[v_pos] = if file[v_pos] == b'A' { b'B' } else { b'A' };
        let (r, n) = restore_into_fresh(&file);
        assert!(matches!(&r, Err(BackupError::Corrupt(m)) if m.contains("SHA-256")), "{r:?}");
        assert_eq!(n, 0, "nothing committed");
    }

    #[test]
    fn restore_refuses_a_truncated_file() {
        let file = sample();
        let without_trailer = &file[..file[..file.len() - 1].iter().rposition(|&b| b == b'\n').unwrap() + 1];
        let (r, n) = restore_into_fresh(without_trailer);
        assert!(matches!(&r, Err(BackupError::Corrupt(m)) if m.contains("truncated")), "{r:?}");
        assert_eq!(n, 0);
        let (r, _) = restore_into_fresh(&file[..file.len() - 5]);
        assert!(matches!(&r, Err(BackupError::Corrupt(m)) if m.contains("truncated")), "{r:?}");
    }

    #[test]
    fn restore_refuses_a_dropped_row_even_with_a_fixed_up_count() {
        let text = String::from_utf8(sample()).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.remove(2);
        let trailer = lines.pop().unwrap().replace("\"rows\":3", "\"rows\":2");
        let file = format!("{}\n{trailer}\n", lines.join("\n"));
        let (r, _) = restore_into_fresh(file.as_bytes());
        assert!(matches!(&r, Err(BackupError::Corrupt(m)) if m.contains("SHA-256")), "{r:?}");
    }

    #[test]
    fn restore_refuses_other_files_and_unknown_versions() {
        for (file, want) in [
            (&b""[..], "empty"),
            (b"hello\n", "not JSON"),
            (b"{\"format\":\"tar\"}\n", "header"),
            (b"{\"format\":\"trent-backup\",\"version\":2}\n", "version 2"),
        ] {
            let (r, _) = restore_into_fresh(file);
            assert!(matches!(&r, Err(BackupError::Corrupt(m)) if m.contains(want)), "{want}: {r:?}");
        }
    }

    #[test]
    fn restore_refuses_data_after_the_trailer() {
        let mut file = sample();
        file.extend_from_slice(b"{\"t\":\"x\",\"k\":\"y\",\"v\":\"\"}\n");
        let (r, n) = restore_into_fresh(&file);
        assert!(matches!(&r, Err(BackupError::Corrupt(m)) if m.contains("after its trailer")), "{r:?}");
        assert_eq!(n, 0);
    }

    #[test]
    fn an_empty_store_backs_up_and_restores() {
        let (_d, s) = store();
        let mut file = Vec::new();
        let sum = backup(&s, &mut file).unwrap();
        assert_eq!((sum.tables, sum.rows), (0, 0));
        let (r, n) = restore_into_fresh(&file);
        assert_eq!(r.unwrap(), sum);
        assert_eq!(n, 0);
    }
}
