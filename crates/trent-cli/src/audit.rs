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
        dir: PathBuf,
        /// The server's audit public key (hex, or a file holding it, such as a copy of
        /// signing-key.pub kept elsewhere). Without it the digests are checked against the key
        /// they name, which detects edits but not a trail re-signed by someone with write access.
        #[arg(long)]
        public_key: Option<String>,
    },
}

pub fn run(cmd: AuditCommand) -> Result<(), String> {
    match cmd {
        AuditCommand::Verify { dir, public_key } => {
            let pinned = match &public_key {
                Some(k) => Some(read_public_key(k)?),
                None => None,
            };
            match verify_dir(&dir, pinned)? {
                Ok(s) => {
                    println!(
                        "audit trail verified: {} records ({} events, {} signed digests), {} unsigned at the end",
                        s.records, s.events, s.digests, s.unsigned_tail
                    );
                    match (&s.signing_key, &public_key) {
                        (Some(k), Some(_)) => println!("digests signed by the given key {k}"),
                        (Some(k), None) => println!(
                            "digests signed by {k} (not pinned: pass --public-key with a copy kept elsewhere to detect a re-signed trail)"
                        ),
                        (None, _) => println!("no signed digest yet: the records are chained but not signed"),
                    }
                    Ok(())
                }
                Err(b) => Err(format!("audit trail BROKEN at {b}")),
            }
        }
    }
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
