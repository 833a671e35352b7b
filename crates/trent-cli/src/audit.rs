//! `trent audit verify DIR`: checks an audit trail offline and names the first broken record.
//!
//! DIR may be trentd's data dir (holding `audit/` and `trent.db`): the trail is then also
//! compared with the signed head trentd keeps in the store (`meta`/`audit_head`), so a trail
//! cut back to an earlier record (or deleted) is reported as TRUNCATED. With only the trail
//! directory, records after the last signed digest are reported as an UNSEALED TAIL (they
//! could have been cut without a trace): exit code 2.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use trent_crypto::audit::{ChainVerifier, Summary};

/// Where a trail stopped verifying.
#[derive(Debug)]
pub struct Broken {
    pub file: PathBuf,
    /// 1-based line number in that file.
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.reason)
    }
}

/// The trail's files (`trail-<first seq>.jsonl`) in chain order.
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

/// Reads the public key given on the command line: hex, or a file holding hex.
pub fn read_public_key(arg: &str) -> Result<Vec<u8>, String> {
    let text = if Path::new(arg).exists() {
        std::fs::read_to_string(arg).map_err(|e| format!("{arg}: {e}"))?
    } else {
        arg.to_string()
    };
    let key = hex::decode(text.trim()).map_err(|_| format!("{arg}: not a hex Ed25519 public key"))?;
    if key.len() != 32 {
        return Err(format!("{arg}: an Ed25519 public key is 32 bytes"));
    }
    Ok(key)
}

/// Verifies every file of the trail in `dir`, in order.
pub fn verify_dir(dir: &Path, pinned: Option<Vec<u8>>) -> Result<Result<Summary, Broken>, String> {
    let files = trail_files(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if files.is_empty() {
        return Err(format!("{}: no audit trail files (trail-*.jsonl) here", dir.display()));
    }
    Ok(verify_dir_at(dir, pinned, None)?.map(|(s, _)| s))
}

/// Verifies the trail in `dir` (which may hold no files) and returns the hash of record `at`.
pub fn verify_dir_at(
    dir: &Path,
    pinned: Option<Vec<u8>>,
    at: Option<u64>,
) -> Result<Result<(Summary, Option<String>), Broken>, String> {
    let files = trail_files(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut hash_at = None;
    let mut v = ChainVerifier::new(pinned);
    for file in files {
        let f = std::fs::File::open(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let mut reader = std::io::BufReader::new(f);
        let mut line = String::new();
        let mut n = 0;
        loop {
            line.clear();
            let read = match reader.read_line(&mut line) {
                Ok(r) => r,
                Err(e) => return Ok(Err(Broken { file, line: n + 1, reason: format!("unreadable: {e}") })),
            };
            if read == 0 {
                break;
            }
            n += 1;
            if !line.ends_with('\n') {
                return Ok(Err(Broken { file, line: n, reason: "the last record is incomplete (torn write)".into() }));
            }
            match v.feed(&line) {
                Ok(r) if Some(r.seq) == at => hash_at = Some(r.hash),
                Ok(_) => {}
                Err(e) => return Ok(Err(Broken { file, line: n, reason: e.to_string() })),
            }
        }
    }
    Ok(Ok((v.finish(), hash_at)))
}

/// The signed head trentd keeps in the store of a file trail's data dir.
#[derive(Debug)]
pub struct StoredHead {
    pub seq: u64,
    pub hash: String,
    pub sig: String,
}

/// Reads `meta`/`audit_head` from the data dir's SQLite store (`None` if there is none).
pub fn stored_head(data_dir: &Path) -> Result<Option<StoredHead>, String> {
    let db = data_dir.join("trent.db");
    if !db.is_file() {
        return Ok(None);
    }
    let store = trent_store::open("sqlite", data_dir).map_err(|e| e.to_string())?;
    let raw = store.read().and_then(|mut t| t.get("meta", "audit_head")).map_err(|e| e.to_string())?;
    let Some(raw) = raw else { return Ok(None) };
    let v: serde_json::Value =
        serde_json::from_slice(&raw).map_err(|_| format!("{}: the stored audit head is damaged", db.display()))?;
    match (v["seq"].as_u64(), v["hash"].as_str(), v["sig"].as_str()) {
        (Some(seq), Some(hash), Some(sig)) => {
            Ok(Some(StoredHead { seq, hash: hash.to_string(), sig: sig.to_string() }))
        }
        _ => Err(format!("{}: the stored audit head is damaged", db.display())),
    }
}

/// What `trent audit verify` found about the trail's end.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// Every record is covered by a signed digest or the signed head.
    Sealed,
    /// The last `n` records are covered by neither (they could have been cut unnoticed).
    UnsealedTail(u64),
    /// The trail ends before the signed head, or does not hold its record.
    Truncated(String),
}

/// Verifies a data dir's trail (`<data dir>/audit`) against the signed head in its store.
pub fn verify_data_dir(data_dir: &Path, pinned: Option<Vec<u8>>) -> Result<Result<(Summary, Ending), Broken>, String> {
    let audit = data_dir.join("audit");
    let head = stored_head(data_dir)?;
    let (s, hash_at) = if audit.is_dir() {
        match verify_dir_at(&audit, pinned.clone(), head.as_ref().map(|h| h.seq))? {
            Ok(r) => r,
            Err(b) => return Ok(Err(b)),
        }
    } else {
        (ChainVerifier::new(None).finish(), None)
    };
    let signed_through = s.records - s.unsigned_tail;
    let Some(head) = head else {
        let ending = if s.unsigned_tail > 0 { Ending::UnsealedTail(s.unsigned_tail) } else { Ending::Sealed };
        return Ok(Ok((s, ending)));
    };
    // The head is signed by the audit key: the pinned one, else the digests', else signing-key.pub.
    let key = match pinned.or_else(|| s.signing_key.as_ref().and_then(|k| hex::decode(k).ok())) {
        Some(k) => k,
        None => read_public_key(&audit.join("signing-key.pub").display().to_string())
            .map_err(|e| format!("no audit public key to check the stored head with ({e}): pass --public-key"))?,
    };
    let ending = if !trent_crypto::audit::verify_head(&key, "", head.seq, &head.hash, &head.sig) {
        Ending::Truncated(format!(
            "the signed head in the store (sequence number {}) is not signed by the audit key {}",
            head.seq,
            hex::encode(&key)
        ))
    } else if s.records < head.seq {
        Ending::Truncated(format!(
            "the trail ends at sequence number {}, but the store's signed head is at sequence number {} (expected \
             at least {}): {} records were cut off the end",
            s.records,
            head.seq,
            head.seq,
            head.seq - s.records
        ))
    } else if hash_at.as_deref() != Some(head.hash.as_str()) {
        Ending::Truncated(format!(
            "record {} of the trail is not the one the store's signed head names: the trail was replaced",
            head.seq
        ))
    } else if s.records > signed_through.max(head.seq) {
        Ending::UnsealedTail(s.records - signed_through.max(head.seq))
    } else {
        Ending::Sealed
    };
    Ok(Ok((s, ending)))
}

/// `trent audit ...`
#[derive(clap::Subcommand, Debug)]
pub enum AuditCommand {
    /// Check an audit trail offline: every record's hash, the chain linking them in order, and
    /// every signed digest. Names the first broken record (file:line) and exits non-zero.
    #[command(
        override_usage = "trent audit verify [OPTIONS] <DIR>\n       trent audit verify [OPTIONS] --store <STORE>"
    )]
    Verify {
        /// The audit directory (trentd's --audit-dir, by default <data-dir>/audit), or trentd's
        /// data dir: then the trail in its audit/ is also checked against the signed head kept
        /// in its store, which shows a trail cut back (or deleted) after its last digest.
        /// Required, unless --store names a shared store instead.
        #[arg(required = true, conflicts_with = "store", value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Check the trail kept in a shared PostgreSQL store instead (several nodes: one chain
        /// per node), e.g. postgres://user@host/db. A password is best given in TRENT_STORE.
        #[arg(long, env = "TRENT_STORE", hide_env_values = true)]
        store: Option<String>,
        /// The server's audit public key (hex, or a file holding it, such as a copy of
        /// signing-key.pub kept elsewhere). Without it the digests are checked against the key
        /// they name, which detects edits but not a trail re-signed by someone with write access.
        #[arg(long)]
        public_key: Option<String>,
    },
}

/// Exit codes beyond 0 (verified) and 1 (broken, truncated or an error).
pub const EXIT_UNSEALED: u8 = 2;

/// Runs the command; returns the exit code (0, or [`EXIT_UNSEALED`]) unless the trail is broken.
pub fn run(cmd: AuditCommand) -> Result<u8, String> {
    match cmd {
        AuditCommand::Verify { dir, store, public_key } => {
            let pinned = match &public_key {
                Some(k) => Some(read_public_key(k)?),
                None => None,
            };
            if let Some(dir) = dir.as_deref().filter(|d| d.join("audit").is_dir() || d.join("trent.db").is_file()) {
                return verify_data_dir_command(dir, pinned, public_key.is_some());
            }
            let trail_only = dir.is_some();
            let results = match (dir, store) {
                (Some(dir), _) => vec![(None, verify_dir(&dir, pinned)?)],
                (None, Some(url)) => verify_store(&url, pinned)?,
                (None, None) => return Err("name an audit directory or --store".into()),
            };
            let mut broken = None;
            let mut code = 0;
            for (node, result) in results {
                if let Some(n) = &node {
                    println!("node {n}:");
                }
                match result {
                    Ok(s) => {
                        report(&s, public_key.is_some());
                        if trail_only && s.unsigned_tail > 0 {
                            unsealed(s.unsigned_tail, false);
                            code = EXIT_UNSEALED;
                        }
                    }
                    Err(b) => {
                        println!("audit trail BROKEN at {b}");
                        broken.get_or_insert(b);
                    }
                }
            }
            match broken {
                Some(b) => Err(format!("audit trail BROKEN at {b}")),
                None => Ok(code),
            }
        }
    }
}

fn unsealed(n: u64, with_head: bool) {
    let hint = if with_head {
        "they are after both the last signed digest and the signed head in the store"
    } else {
        "pass trentd's data dir instead to compare the trail with the signed head kept in its store"
    };
    println!(
        "UNSEALED TAIL: the last {n} records are not covered by a signed digest, so they could have been cut off \
         without a trace (a running trentd signs them within --audit-digest-interval-secs, and at shutdown); {hint}"
    );
}

fn verify_data_dir_command(dir: &Path, pinned: Option<Vec<u8>>, is_pinned: bool) -> Result<u8, String> {
    let has_head = stored_head(dir)?.is_some();
    match verify_data_dir(dir, pinned)? {
        Err(b) => {
            println!("audit trail BROKEN at {b}");
            Err(format!("audit trail BROKEN at {b}"))
        }
        Ok((s, ending)) => {
            report(&s, is_pinned);
            match ending {
                Ending::Sealed | Ending::UnsealedTail(_) if !has_head => {
                    println!(
                        "no signed head in the store (trentd keeps one since this version): the trail's end cannot be \
                         checked against it"
                    );
                    if let Ending::UnsealedTail(n) = ending {
                        unsealed(n, false);
                        return Ok(EXIT_UNSEALED);
                    }
                    Ok(0)
                }
                Ending::Sealed => {
                    println!("the trail reaches the signed head kept in the store");
                    Ok(0)
                }
                Ending::UnsealedTail(n) => {
                    println!("the trail reaches the signed head kept in the store");
                    unsealed(n, true);
                    Ok(EXIT_UNSEALED)
                }
                Ending::Truncated(why) => {
                    println!("audit trail TRUNCATED: {why}");
                    Err(format!("audit trail TRUNCATED: {why}"))
                }
            }
        }
    }
}

fn report(s: &Summary, pinned: bool) {
    println!(
        "audit trail verified: {} records ({} events, {} signed digests), {} unsigned at the end",
        s.records, s.events, s.digests, s.unsigned_tail
    );
    match (&s.signing_key, pinned) {
        (Some(k), true) => println!("digests signed by the given key {k}"),
        (Some(k), false) => println!(
            "digests signed by {k} (not pinned: pass --public-key with a copy kept elsewhere to detect a re-signed trail)"
        ),
        (None, _) => println!("no signed digest yet: the records are chained but not signed"),
    }
}

/// The outcome for each chain checked: the node (for a shared store) and its summary or break.
pub type ChainResults = Vec<(Option<String>, Result<Summary, Broken>)>;

/// Verifies every node's chain in a shared store's `audit` table (key `<node>/<seq>`).
/// Each node's chain is also compared with its head (`audit_head`, signed by the audit key): a
/// chain whose last records were deleted is reported as TRUNCATED at the first missing record.
pub fn verify_store(url: &str, pinned: Option<Vec<u8>>) -> Result<ChainResults, String> {
    let store = trent_store::open(url, Path::new(".")).map_err(|e| e.to_string())?;
    let mut tx = store.read().map_err(|e| e.to_string())?;
    // node -> (seq, hash, signature)
    let mut heads: std::collections::BTreeMap<String, (u64, String, Option<String>)> = Default::default();
    for (node, raw) in tx.scan("audit_head", "", None, 100_000).map_err(|e| e.to_string())? {
        let v: serde_json::Value = serde_json::from_slice(&raw).unwrap_or_default();
        if let (Some(seq), Some(hash)) = (v["seq"].as_u64(), v["hash"].as_str()) {
            heads.insert(node, (seq, hash.to_string(), v["sig"].as_str().map(str::to_string)));
        }
    }
    type Chain = (ChainVerifier, Option<Broken>, Option<String>);
    let mut chains: std::collections::BTreeMap<String, Chain> = Default::default();
    let mut after: Option<String> = None;
    loop {
        let rows = tx.scan("audit", "", after.as_deref(), 1000).map_err(|e| e.to_string())?;
        let Some((last, _)) = rows.last() else { break };
        after = Some(last.clone());
        for (k, v) in rows {
            let (node, seq) = k.rsplit_once('/').unwrap_or(("", &k));
            let entry =
                chains.entry(node.to_string()).or_insert_with(|| (ChainVerifier::new(pinned.clone()), None, None));
            if entry.1.is_some() {
                continue;
            }
            let line = String::from_utf8_lossy(&v);
            match entry.0.feed(&line) {
                Ok(r) if heads.get(node).is_some_and(|h| h.0 == r.seq) => entry.2 = Some(r.hash),
                Ok(_) => {}
                Err(e) => {
                    entry.1 = Some(Broken {
                        file: PathBuf::from(format!("store:audit/{node}")),
                        line: seq.parse().unwrap_or(0),
                        reason: e.to_string(),
                    })
                }
            }
        }
    }
    for node in heads.keys() {
        chains.entry(node.clone()).or_insert_with(|| (ChainVerifier::new(pinned.clone()), None, None));
    }
    if chains.is_empty() {
        return Err("the store holds no audit records".into());
    }
    let mut out = Vec::new();
    for (node, (v, broken, hash_at)) in chains {
        let s = v.finish();
        let broken = broken.or_else(|| {
            let (seq, hash, sig) = heads.get(&node)?;
            let key = pinned.clone().or_else(|| s.signing_key.as_ref().and_then(|k| hex::decode(k).ok()));
            let why = if let (Some(sig), Some(key)) = (sig, &key) {
                (!trent_crypto::audit::verify_head(key, &node, *seq, hash, sig))
                    .then(|| format!("TRUNCATED: the head (sequence number {seq}) is not signed by the audit key"))
            } else {
                None
            };
            let why = why.or_else(|| {
                (s.records < *seq).then(|| {
                    format!(
                        "TRUNCATED: the chain ends at sequence number {}, but its signed head is at sequence number \
                         {seq} (expected at least {seq})",
                        s.records
                    )
                })
            });
            let why = why.or_else(|| {
                (hash_at.as_deref() != Some(hash.as_str()))
                    .then(|| format!("TRUNCATED: record {seq} is not the one the chain's signed head names"))
            });
            why.map(|reason| Broken {
                file: PathBuf::from(format!("store:audit/{node}")),
                line: (s.records + 1) as usize,
                reason,
            })
        });
        out.push((Some(node), broken.map_or(Ok(s), Err)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use trent_crypto::audit::{digest_fields, seal_line, RecordKind, SigningKey, GENESIS};

    fn write_trail(dir: &Path, key: &SigningKey, n: u64) -> Vec<String> {
        let mut prev = GENESIS.to_string();
        let mut lines = Vec::new();
        for seq in 1..=n {
            let (line, hash) = if seq == n {
                seal_line(seq, &prev, RecordKind::Digest, &digest_fields(key, seq - 1, &prev, "2026-01-01T00:00:00Z"))
            } else {
                seal_line(seq, &prev, RecordKind::Event, &format!("{{\"eventName\":\"E{seq}\"}}"))
            }
            .unwrap();
            lines.push(format!("{line}\n"));
            prev = hash;
        }
        // Two files, the chain running across them.
        std::fs::write(dir.join("trail-00000000000000000001.jsonl"), lines[..3].concat()).unwrap();
        std::fs::write(dir.join(format!("trail-{:020}.jsonl", 4)), lines[3..].concat()).unwrap();
        lines
    }

    #[test]
    fn a_trail_across_files_verifies_and_a_torn_or_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = SigningKey::generate().unwrap();
        let lines = write_trail(dir.path(), &key, 6);
        let s = verify_dir(dir.path(), Some(key.public_key())).unwrap().unwrap();
        assert_eq!((s.records, s.events, s.digests, s.unsigned_tail), (6, 5, 1, 0));

        // A torn last line.
        let second = dir.path().join(format!("trail-{:020}.jsonl", 4));
        std::fs::write(&second, format!("{}{}", lines[3], &lines[4][..20])).unwrap();
        let b = verify_dir(dir.path(), None).unwrap().unwrap_err();
        assert_eq!((b.file, b.line), (second.clone(), 2));

        // A whole file removed from the middle of the chain.
        std::fs::write(&second, lines[3..].concat()).unwrap();
        std::fs::remove_file(dir.path().join("trail-00000000000000000001.jsonl")).unwrap();
        let b = verify_dir(dir.path(), None).unwrap().unwrap_err();
        assert_eq!((b.file, b.line), (second, 1));
        assert!(b.reason.contains("expected sequence number 1"), "{}", b.reason);
    }

    #[test]
    fn a_shared_store_trail_is_checked_per_node_and_an_edit_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("t.db").display());
        let (key, _) = SigningKey::generate().unwrap();
        {
            let store = trent_store::open(&url, dir.path()).unwrap();
            let mut tx = store.write().unwrap();
            for node in ["node-a", "node-b"] {
                let mut prev = GENESIS.to_string();
                for seq in 1..=3u64 {
                    let (line, hash) = if seq == 3 {
                        seal_line(seq, &prev, RecordKind::Digest, &digest_fields(&key, 2, &prev, "t"))
                    } else {
                        seal_line(seq, &prev, RecordKind::Event, &format!("{{\"eventName\":\"{node}\"}}"))
                    }
                    .unwrap();
                    let line = if node == "node-b" && seq == 2 { line.replace("node-b", "node-x") } else { line };
                    tx.put("audit", &format!("{node}/{seq:020}"), line.as_bytes()).unwrap();
                    prev = hash;
                }
            }
            tx.commit().unwrap();
        }
        let results = verify_store(&url, Some(key.public_key())).unwrap();
        assert_eq!(results.len(), 2);
        let (a, b) = (&results[0], &results[1]);
        assert_eq!(a.0.as_deref(), Some("node-a"));
        assert_eq!(a.1.as_ref().unwrap().events, 2);
        let broken = b.1.as_ref().unwrap_err();
        assert_eq!(broken.line, 2);
        assert!(broken.reason.contains("edited"), "{}", broken.reason);

        // node-a's head names record 3; its last record deleted, the chain still verifies alone.
        let store = trent_store::open(&url, dir.path()).unwrap();
        let mut tx = store.write().unwrap();
        let last = String::from_utf8(tx.get("audit", &format!("node-a/{:020}", 3)).unwrap().unwrap()).unwrap();
        let hash = trent_crypto::audit::line_head(&last).unwrap().hash;
        let sig = trent_crypto::audit::sign_head(&key, "node-a", 3, &hash);
        let head = serde_json::json!({"seq": 3, "hash": hash, "sig": sig});
        tx.put("audit_head", "node-a", head.to_string().as_bytes()).unwrap();
        tx.commit().unwrap();
        assert!(verify_store(&url, Some(key.public_key())).unwrap()[0].1.is_ok());
        let mut tx = store.write().unwrap();
        tx.delete("audit", &format!("node-a/{:020}", 3)).unwrap();
        tx.commit().unwrap();
        let results = verify_store(&url, Some(key.public_key())).unwrap();
        let broken = results[0].1.as_ref().unwrap_err();
        assert!(
            broken.reason.contains("ends at sequence number 2") && broken.reason.contains("at least 3"),
            "{}",
            broken.reason
        );
    }

    #[test]
    fn public_keys_are_read_as_hex_or_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.pub");
        std::fs::write(&p, format!("{}\n", "ab".repeat(32))).unwrap();
        assert_eq!(read_public_key(p.to_str().unwrap()).unwrap(), vec![0xab; 32]);
        assert_eq!(read_public_key(&"01".repeat(32)).unwrap(), vec![1; 32]);
        assert!(read_public_key("zz").is_err());
        assert!(read_public_key("abcd").is_err());
    }

    /// A data dir as trentd leaves it: the trail in audit/ and the signed head in trent.db.
    fn data_dir_with_head(key: &SigningKey, n: u64, head_seq: u64) -> (tempfile::TempDir, Vec<String>) {
        let d = tempfile::tempdir().unwrap();
        let audit = d.path().join("audit");
        std::fs::create_dir(&audit).unwrap();
        let lines = write_trail(&audit, key, n);
        std::fs::write(audit.join("signing-key.pub"), hex::encode(key.public_key())).unwrap();
        let hash = trent_crypto::audit::line_head(&lines[head_seq as usize - 1]).unwrap().hash;
        let sig = trent_crypto::audit::sign_head(key, "", head_seq, &hash);
        let store = trent_store::open("sqlite", d.path()).unwrap();
        let mut tx = store.write().unwrap();
        let head = serde_json::json!({"seq": head_seq, "hash": hash, "file": 1, "offset": 0, "sig": sig});
        tx.put("meta", "audit_head", head.to_string().as_bytes()).unwrap();
        tx.commit().unwrap();
        (d, lines)
    }

    #[test]
    fn a_trail_cut_back_before_the_signed_head_is_reported_truncated() {
        let (key, _) = SigningKey::generate().unwrap();
        let (d, lines) = data_dir_with_head(&key, 6, 6);
        let (_, ending) = verify_data_dir(d.path(), Some(key.public_key())).unwrap().unwrap();
        assert_eq!(ending, Ending::Sealed);
        // The last two records (an event and the closing digest) cut off: the rest still chains.
        let second = d.path().join("audit").join(format!("trail-{:020}.jsonl", 4));
        std::fs::write(&second, lines[3..4].concat()).unwrap();
        assert_eq!(verify_dir(&d.path().join("audit"), None).unwrap().unwrap().records, 4, "the cut trail chains");
        let (_, ending) = verify_data_dir(d.path(), None).unwrap().unwrap();
        match ending {
            Ending::Truncated(why) => {
                assert!(why.contains("ends at sequence number 4") && why.contains("at sequence number 6"), "{why}")
            }
            other => panic!("{other:?}"),
        }
        // Every file deleted.
        for f in trail_files(&d.path().join("audit")).unwrap() {
            std::fs::remove_file(f).unwrap();
        }
        let (_, ending) = verify_data_dir(d.path(), Some(key.public_key())).unwrap().unwrap();
        assert!(matches!(&ending, Ending::Truncated(w) if w.contains("ends at sequence number 0")), "{ending:?}");
        // A head lowered by someone without the audit key (signed with another) is not trusted.
        let (forger, _) = SigningKey::generate().unwrap();
        let (d, _) = data_dir_with_head(&key, 6, 6);
        let hash = trent_crypto::audit::line_head(&lines[3]).unwrap().hash;
        let sig = trent_crypto::audit::sign_head(&forger, "", 4, &hash);
        let store = trent_store::open("sqlite", d.path()).unwrap();
        let mut tx = store.write().unwrap();
        let head = serde_json::json!({"seq": 4, "hash": hash, "file": 4, "offset": 0, "sig": sig});
        tx.put("meta", "audit_head", head.to_string().as_bytes()).unwrap();
        tx.commit().unwrap();
        let (_, ending) = verify_data_dir(d.path(), None).unwrap().unwrap();
        assert!(matches!(&ending, Ending::Truncated(w) if w.contains("not signed by the audit key")), "{ending:?}");
    }

    #[test]
    fn records_after_the_last_digest_are_an_unsealed_tail() {
        let (key, _) = SigningKey::generate().unwrap();
        // Records 1..=5 are events, 6 the digest; a seventh event after it is unsealed.
        let (d, lines) = data_dir_with_head(&key, 6, 6);
        let prev = trent_crypto::audit::line_head(&lines[5]).unwrap().hash;
        let (l7, _) = seal_line(7, &prev, RecordKind::Event, r#"{"eventName":"Late"}"#).unwrap();
        let second = d.path().join("audit").join(format!("trail-{:020}.jsonl", 4));
        std::fs::write(&second, format!("{}{l7}\n", lines[3..].concat())).unwrap();
        let (s, ending) = verify_data_dir(d.path(), Some(key.public_key())).unwrap().unwrap();
        assert_eq!((s.records, ending), (7, Ending::UnsealedTail(1)));
        let code = run(AuditCommand::Verify { dir: Some(d.path().join("audit")), store: None, public_key: None });
        assert_eq!(code, Ok(EXIT_UNSEALED));
        let code = run(AuditCommand::Verify { dir: Some(d.path().to_path_buf()), store: None, public_key: None });
        assert_eq!(code, Ok(EXIT_UNSEALED));
    }
}
