//! The file audit trail against truncation and odd content: trentd keeps a signed head of the
//! chain in its store and refuses to start on a trail cut back before it (unless told to accept
//! the gap, which it records); a long, deeply nested last record does not stop a restart; and
//! LookupEvents is served from an index that survives restarts and is rebuilt when missing.

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use trent_crypto::audit::{line_head, seal_line, RecordKind};

fn trail_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("trail-"))
        .collect();
    files.sort();
    files
}

fn trail_lines(dir: &Path) -> Vec<String> {
    trail_files(dir)
        .iter()
        .flat_map(|f| std::fs::read_to_string(f).unwrap().lines().map(String::from).collect::<Vec<_>>())
        .collect()
}

/// Runs trentd expecting it to refuse to start; returns its stderr.
fn refused(cmd: std::process::Command) -> String {
    let mut cmd = cmd;
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success());
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            return err;
        }
        assert!(Instant::now() < deadline, "trentd started on a truncated trail");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn lookup(addr: &str, body: Value) -> Reply {
    let body = body.to_string();
    let mut req = Req::new("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents", body.as_bytes());
    req.service = "cloudtrail";
    req.send(addr)
}

fn some_requests(addr: &str, n: usize) -> String {
    let key = kms(addr, "CreateKey", json!({"Description": "d"}));
    assert_eq!(key.status, 200, "{}", key.body);
    let id = key.body["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    for _ in 0..n {
        assert_eq!(kms(addr, "DescribeKey", json!({"KeyId": id})).status, 200);
    }
    id
}

#[test]
fn a_trail_cut_back_or_deleted_stops_trentd_until_the_gap_is_accepted_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path());
    some_requests(&srv.addr, 3);
    stop_gracefully(srv);
    let lines = trail_lines(dir.path());
    let total = lines.len();
    assert!(lines.last().unwrap().contains("\"trentRecord\":\"digest\""));

    // Cut the last three records (the closing digest among them): the rest still chains, but
    // the head signed in the store is further on.
    let files = trail_files(dir.path());
    assert_eq!(files.len(), 1);
    std::fs::write(&files[0], lines[..total - 3].iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let err = refused(command(dir.path()));
    assert!(
        err.contains(&format!("ends at sequence number {}", total - 3))
            && err.contains(&format!("expected at least {total}"))
            && err.contains("--accept-audit-truncation"),
        "{err}"
    );

    // Every file deleted.
    std::fs::remove_file(&files[0]).unwrap();
    let err = refused(command(dir.path()));
    assert!(err.contains("ends at sequence number 0") && err.contains(&format!("expected at least {total}")), "{err}");

    // Accepted: trentd starts, and the gap is the first record of the new trail.
    let mut c = command(dir.path());
    c.arg("--accept-audit-truncation");
    let srv = start_with(c, dir.path());
    some_requests(&srv.addr, 1);
    stop_gracefully(srv);
    let lines = trail_lines(dir.path());
    let gap: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(gap["eventName"], "AcceptAuditTruncation");
    assert_eq!(gap["continuesAfterSequenceNumber"], 0);
    assert!(gap["errorMessage"].as_str().unwrap().contains(&format!("expected at least {total}")), "{gap}");

    // The head now follows the new trail: a plain restart works again.
    let srv = start(dir.path());
    assert_eq!(kms(&srv.addr, "ListKeys", json!({})).status, 200);
    stop_gracefully(srv);
}

#[test]
fn a_replaced_trail_that_is_longer_than_the_head_is_refused_too() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path());
    some_requests(&srv.addr, 2);
    stop_gracefully(srv);
    // A fresh chain, as long as the old one plus one, written by someone who can hash but not sign.
    let n = trail_lines(dir.path()).len() as u64 + 1;
    let mut prev = trent_crypto::audit::GENESIS.to_string();
    let mut text = String::new();
    for seq in 1..=n {
        let (line, hash) = seal_line(seq, &prev, RecordKind::Event, r#"{"eventName":"Innocent"}"#).unwrap();
        text.push_str(&line);
        text.push('\n');
        prev = hash;
    }
    std::fs::write(&trail_files(dir.path())[0], text).unwrap();
    let err = refused(command(dir.path()));
    assert!(err.contains("does not hold the record of its signed head"), "{err}");
}

#[test]
fn a_long_deeply_nested_last_record_does_not_stop_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path());
    some_requests(&srv.addr, 1);
    stop_gracefully(srv);
    // A correctly chained record 2 MB deep, as a build before the depth bound could have written
    // it last (a crash before the next digest). Today's `seal_line` refuses such fields, so it is
    // sealed here by the line format's rule: SHA-256 over the domain and the body.
    let files = trail_files(dir.path());
    let lines = trail_lines(dir.path());
    let last = line_head(lines.last().unwrap()).unwrap();
    let fields = format!(r#""eventName":"Deep","x":{}0{}}}"#, "[".repeat(1_000_000), "]".repeat(1_000_000));
    assert!(seal_line(last.seq + 1, &last.hash, RecordKind::Event, &format!("{{{fields}")).is_err());
    let body = format!(r#"{{"trentSeq":{},"trentPrev":"{}","trentRecord":"event",{fields}"#, last.seq + 1, last.hash);
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(b"trent-audit-v1\n");
    ctx.update(body.as_bytes());
    let line = format!(r#"{{"trentHash":"{}",{}"#, hex::encode(ctx.finish().as_ref()), &body[1..]);
    assert_eq!(line_head(&line).unwrap().seq, last.seq + 1, "the hand-sealed line is a valid line");
    let mut f = std::fs::OpenOptions::new().append(true).open(files.last().unwrap()).unwrap();
    std::io::Write::write_all(&mut f, format!("{line}\n").as_bytes()).unwrap();
    drop(f);
    let srv = start(dir.path());
    some_requests(&srv.addr, 1);
    // LookupEvents skips what is not an event it can read, and still answers.
    let r =
        lookup(&srv.addr, json!({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "CreateKey"}]}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["Events"].as_array().unwrap().len(), 2);
    stop_gracefully(srv);
    // The chain continued after the deep record.
    let lines = trail_lines(dir.path());
    let deep = lines.iter().position(|l| l.contains("\"Deep\"")).unwrap();
    let next = line_head(&lines[deep + 1]).unwrap();
    assert_eq!((next.seq, next.prev), (last.seq + 2, line_head(&lines[deep]).unwrap().hash));
}

#[test]
fn lookup_events_pages_come_from_an_index_that_survives_restarts_and_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    // Small files: the trail (and the index's positions) run across many of them.
    let small = || {
        let mut c = command(dir.path());
        c.arg("--audit-max-file-bytes").arg("3000");
        c
    };
    let srv = start_with(small(), dir.path());
    let id = some_requests(&srv.addr, 5);
    let page = |addr: &str, token: Option<&str>| {
        let mut body =
            json!({"LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": id}], "MaxResults": 2});
        if let Some(t) = token {
            body["NextToken"] = json!(t);
        }
        let r = lookup(addr, body);
        assert_eq!(r.status, 200, "{}", r.body);
        r
    };
    let all = |addr: &str| {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let r = page(addr, token.as_deref());
            names.extend(
                r.body["Events"].as_array().unwrap().iter().map(|e| e["EventName"].as_str().unwrap().to_string()),
            );
            match r.body["NextToken"].as_str() {
                Some(t) => token = Some(t.to_string()),
                None => return names,
            }
        }
    };
    let before = all(&srv.addr);
    assert_eq!(before.len(), 6, "{before:?}");
    assert_eq!(before.last().unwrap(), "CreateKey", "newest first");
    stop_gracefully(srv);
    assert!(trail_files(dir.path()).len() > 3);

    let srv = start_with(small(), dir.path());
    assert_eq!(all(&srv.addr), before);
    stop_gracefully(srv);

    // The index dropped: rebuilt from the trail.
    {
        let store = trent_store::open("sqlite", dir.path()).unwrap();
        let mut tx = store.write().unwrap();
        loop {
            let rows = tx.scan("audit_index", "", None, 1000).unwrap();
            if rows.is_empty() {
                break;
            }
            for (k, _) in rows {
                tx.delete("audit_index", &k).unwrap();
            }
        }
        tx.delete("meta", "audit_index_pos").unwrap();
        tx.commit().unwrap();
    }
    let srv = start_with(small(), dir.path());
    assert_eq!(all(&srv.addr), before);
    stop_gracefully(srv);
}

#[test]
#[cfg_attr(trent_skip_postgres, ignore = "TRENT_SKIP_POSTGRES=1")]
fn a_shared_store_chain_cut_back_before_its_signed_head_stops_the_node() {
    use trent_store::postgres::testing::TestDb;
    let db = TestDb::create();
    let root = random_root_key();
    let dir = tempfile::tempdir().unwrap();
    let node = |accept: bool| {
        let mut c = command(dir.path());
        c.arg("--store").arg(&db.url).env("TRENT_ROOT_KEY", &root);
        if accept {
            c.arg("--accept-audit-truncation");
        }
        c
    };
    let srv = start_with(node(false), dir.path());
    some_requests(&srv.addr, 3);
    stop_gracefully(srv);
    let store = trent_store::open(&db.url, dir.path()).unwrap();
    let rows = store.read().unwrap().scan("audit", "", None, 10_000).unwrap();
    let total = rows.len();
    let head: Value =
        serde_json::from_slice(&store.read().unwrap().scan("audit_head", "", None, 10).unwrap()[0].1).unwrap();
    assert_eq!(head["seq"], total as u64);
    assert!(head["sig"].as_str().is_some_and(|s| s.len() == 128), "the head is signed: {head}");
    // The last two records deleted; the head left as it was.
    {
        let mut tx = store.write().unwrap();
        for (k, _) in &rows[total - 2..] {
            tx.delete("audit", k).unwrap();
        }
        tx.commit().unwrap();
    }
    let err = refused(node(false));
    assert!(
        err.contains(&format!("ends at sequence number {}", total - 2))
            && err.contains(&format!("expected at least {total}")),
        "{err}"
    );
    let srv = start_with(node(true), dir.path());
    stop_gracefully(srv);
    let rows = store.read().unwrap().scan("audit", "", None, 10_000).unwrap();
    let gap: Value = serde_json::from_slice(&rows[total - 2].1).unwrap();
    assert_eq!(
        (gap["trentSeq"].as_u64(), gap["eventName"].as_str()),
        (Some(total as u64 - 1), Some("AcceptAuditTruncation"))
    );
    let srv = start_with(node(false), dir.path());
    stop_gracefully(srv);
}
