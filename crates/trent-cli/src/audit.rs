//! `trent audit verify DIR`: checks an audit trail offline and names the first broken record.

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
            if let Err(e) = v.feed(&line) {
                return Ok(Err(Broken { file, line: n, reason: e.to_string() }));
            }
        }
    }
    Ok(Ok(v.finish()))
}

/// `trent audit ...`
#[derive(clap::Subcommand, Debug)]
pub enum AuditCommand {
    /// Check an audit trail offline: every record's hash, the chain linking them in order, and
    /// every signed digest. Names the first broken record (file:line) and exits non-zero.
    Verify {
        /// The audit directory (trentd's --audit-dir, by default <data-dir>/audit).
        #[arg(required_unless_present = "store", conflicts_with = "store")]
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

pub fn run(cmd: AuditCommand) -> Result<(), String> {
    match cmd {
        AuditCommand::Verify { dir, store, public_key } => {
            let pinned = match &public_key {
                Some(k) => Some(read_public_key(k)?),
                None => None,
            };
            let results = match (dir, store) {
                (Some(dir), _) => vec![(None, verify_dir(&dir, pinned)?)],
                (None, Some(url)) => verify_store(&url, pinned)?,
                (None, None) => return Err("name an audit directory or --store".into()),
            };
            let mut broken = None;
            for (node, result) in results {
                if let Some(n) = &node {
                    println!("node {n}:");
                }
                match result {
                    Ok(s) => report(&s, public_key.is_some()),
                    Err(b) => {
                        println!("audit trail BROKEN at {b}");
                        broken.get_or_insert(b);
                    }
                }
            }
            match broken {
                Some(b) => Err(format!("audit trail BROKEN at {b}")),
                None => Ok(()),
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
pub fn verify_store(url: &str, pinned: Option<Vec<u8>>) -> Result<ChainResults, String> {
    let store = trent_store::open(url, Path::new(".")).map_err(|e| e.to_string())?;
    let mut tx = store.read().map_err(|e| e.to_string())?;
    let mut chains: std::collections::BTreeMap<String, (ChainVerifier, Option<Broken>)> = Default::default();
    let mut after: Option<String> = None;
    loop {
        let rows = tx.scan("audit", "", after.as_deref(), 1000).map_err(|e| e.to_string())?;
        let Some((last, _)) = rows.last() else { break };
        after = Some(last.clone());
        for (k, v) in rows {
            let (node, seq) = k.rsplit_once('/').unwrap_or(("", &k));
            let entry = chains.entry(node.to_string()).or_insert_with(|| (ChainVerifier::new(pinned.clone()), None));
            if entry.1.is_some() {
                continue;
            }
            let line = String::from_utf8_lossy(&v);
            if let Err(e) = entry.0.feed(&line) {
                entry.1 = Some(Broken {
                    file: PathBuf::from(format!("store:audit/{node}")),
                    line: seq.parse().unwrap_or(0),
                    reason: e.to_string(),
                });
            }
        }
    }
    if chains.is_empty() {
        return Err("the store holds no audit records".into());
    }
    Ok(chains.into_iter().map(|(node, (v, b))| (Some(node), b.map_or_else(|| Ok(v.finish()), Err))).collect())
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
}
