//! trentd on PostgreSQL (`--store postgres://…`): restart, several nodes on one database, a
//! node with the wrong root key, and moving a deployment from SQLite by backup + restore.
//!
//! Each test makes its own database (`trent_test_<random>`) and drops it afterwards. PostgreSQL
//! must be reachable (127.0.0.1:5432, or TRENT_TEST_POSTGRES); TRENT_SKIP_POSTGRES=1 skips these.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use trent_store::postgres::testing::TestDb;

fn b64(b: &[u8]) -> String {
    trent_wire::json::base64_encode(b)
}

/// A fresh database. (`TRENT_SKIP_POSTGRES=1` at build time marks these tests ignored.)
fn db() -> TestDb {
    TestDb::create()
}

/// A trentd command on `store`, with its own data dir and the given root key.
fn node_command(data_dir: &Path, store: &str, root_key: &str) -> Command {
    let mut c = command(data_dir);
    c.arg("--store").arg(store).env("TRENT_ROOT_KEY", root_key);
    c
}

fn node(data_dir: &Path, store: &str, root_key: &str) -> Server {
    start_with(node_command(data_dir, store, root_key), data_dir)
}

fn create_key(addr: &str) -> String {
    let r = kms(addr, "CreateKey", json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["KeyMetadata"]["KeyId"].as_str().unwrap().to_string()
}

fn encrypt(addr: &str, key: &str, pt: &[u8]) -> Value {
    let r = kms(addr, "Encrypt", json!({"KeyId": key, "Plaintext": b64(pt)}));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["CiphertextBlob"].clone()
}

fn ssm(addr: &str, op: &str, body: Value) -> Reply {
    let target = format!("AmazonSSM.{op}");
    let body = body.to_string();
    let mut req = Req::new(&target, body.as_bytes());
    req.service = "ssm";
    req.send(addr)
}

#[test]
#[cfg_attr(trent_skip_postgres, ignore = "TRENT_SKIP_POSTGRES=1")]
fn keys_and_ciphertexts_survive_a_restart_on_postgres() {
    let db = db();
    let root = random_root_key();
    let dir = tempfile::tempdir().unwrap();
    let s = node(dir.path(), &db.url, &root);
    let key = create_key(&s.addr);
    assert_eq!(kms(&s.addr, "CreateAlias", json!({"AliasName": "alias/pg", "TargetKeyId": key})).status, 200);
    let ct = encrypt(&s.addr, "alias/pg", b"kept in postgres");
    stop_gracefully(s);
    assert!(!dir.path().join("trent.db").exists(), "nothing went to SQLite");
    // A new data dir: everything but the root key lives in the database.
    let dir2 = tempfile::tempdir().unwrap();
    let s = node(dir2.path(), &db.url, &root);
    let r = kms(&s.addr, "Decrypt", json!({"CiphertextBlob": ct}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["Plaintext"], b64(b"kept in postgres"));
    assert_eq!(kms(&s.addr, "DescribeKey", json!({"KeyId": "alias/pg"})).body["KeyMetadata"]["KeyId"], key);
}

#[test]
#[cfg_attr(trent_skip_postgres, ignore = "TRENT_SKIP_POSTGRES=1")]
fn two_nodes_on_one_database_serve_one_deployment() {
    let db = db();
    let root = random_root_key();
    let (da, dbdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node(da.path(), &db.url, &root);
    let b = node(dbdir.path(), &db.url, &root);

    let key = create_key(&a.addr);
    let ct = encrypt(&b.addr, &key, b"made on b");
    let r = kms(&a.addr, "Decrypt", json!({"CiphertextBlob": ct}));
    assert_eq!(r.body["Plaintext"], b64(b"made on b"), "a decrypts what b encrypted: {}", r.body);
    assert_eq!(kms(&b.addr, "CreateAlias", json!({"AliasName": "alias/shared", "TargetKeyId": key})).status, 200);
    let r = kms(&a.addr, "DescribeKey", json!({"KeyId": "alias/shared"}));
    assert_eq!(r.body["KeyMetadata"]["KeyId"], key, "an alias made on b resolves on a");

    // DisableKey on one node stops Encrypt on the other at once.
    assert_eq!(kms(&a.addr, "DisableKey", json!({"KeyId": key})).status, 200);
    let r = kms(&b.addr, "Encrypt", json!({"KeyId": key, "Plaintext": b64(b"x")}));
    assert_eq!((r.status, r.code()), (400, "DisabledException"), "{}", r.body);
    assert_eq!(kms(&b.addr, "EnableKey", json!({"KeyId": key})).status, 200);
    encrypt(&a.addr, &key, b"enabled again on b, used on a");
}

#[test]
#[cfg_attr(trent_skip_postgres, ignore = "TRENT_SKIP_POSTGRES=1")]
fn concurrent_put_parameter_on_two_nodes_loses_and_repeats_no_version() {
    let db = db();
    let root = random_root_key();
    let (da, dbdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = node(da.path(), &db.url, &root);
    let b = node(dbdir.path(), &db.url, &root);
    let addrs = [a.addr.clone(), b.addr.clone()];
    let versions: Vec<u64> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..6)
            .map(|t| {
                let addr = addrs[t % 2].clone();
                sc.spawn(move || {
                    (0..8)
                        .map(|i| {
                            let body = json!({"Name": "/race/p", "Value": format!("{t}-{i}"), "Type": "String", "Overwrite": true});
                            let r = ssm(&addr, "PutParameter", body);
                            assert_eq!(r.status, 200, "{}", r.body);
                            r.body["Version"].as_u64().unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = versions.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=48).collect::<Vec<u64>>(), "48 writes got versions 1..=48, each once");
    let r = ssm(&b.addr, "GetParameter", json!({"Name": "/race/p"}));
    assert_eq!(r.body["Parameter"]["Version"], 48, "{}", r.body);
}

#[test]
#[cfg_attr(trent_skip_postgres, ignore = "TRENT_SKIP_POSTGRES=1")]
fn a_node_with_a_different_root_key_refuses_the_database() {
    let db = db();
    let (da, dbdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let _a = node(da.path(), &db.url, &random_root_key());
    let out = node_command(dbdir.path(), &db.url, &random_root_key()).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("root key does not match"), "{err}");
}

#[test]
fn an_unreachable_database_stops_trentd_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        node_command(dir.path(), "postgres://trent:hunter2@127.0.0.1:1/trent", &random_root_key()).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("postgres://trent:***@127.0.0.1:1/trent"), "{err}");
    assert!(!err.contains("hunter2"), "the password must not be printed: {err}");
    let out = node_command(dir.path(), "mysql://x", &random_root_key()).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown store"));
}

#[test]
#[cfg_attr(trent_skip_postgres, ignore = "TRENT_SKIP_POSTGRES=1")]
fn a_sqlite_deployment_moves_to_postgres_by_backup_and_restore() {
    let db = db();
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path());
    let key = create_key(&s.addr);
    let ct = encrypt(&s.addr, &key, b"from sqlite");
    assert_eq!(ssm(&s.addr, "PutParameter", json!({"Name": "p", "Value": "v1", "Type": "String"})).status, 200);
    stop_gracefully(s);

    let mut file = Vec::new();
    {
        let lite = trent_store::open("sqlite", dir.path()).unwrap();
        trent_store::backup::backup(&*lite, &mut file).unwrap();
    }
    {
        let pg = trent_store::open(&db.url, dir.path()).unwrap();
        trent_store::backup::restore(&*pg, &mut file.as_slice()).unwrap();
    }
    std::fs::remove_file(dir.path().join("trent.db")).unwrap();
    // Same data dir (its root.key), now on PostgreSQL.
    let mut cmd = command(dir.path());
    cmd.arg("--store").arg(&db.url);
    let s = start_with(cmd, dir.path());
    let r = kms(&s.addr, "Decrypt", json!({"CiphertextBlob": ct}));
    assert_eq!(r.body["Plaintext"], b64(b"from sqlite"), "{}", r.body);
    assert_eq!(ssm(&s.addr, "GetParameter", json!({"Name": "p"})).body["Parameter"]["Value"], "v1");
    assert!(!dir.path().join("trent.db").exists(), "served from PostgreSQL, not a new SQLite file");
}

#[test]
#[cfg_attr(trent_skip_postgres, ignore = "TRENT_SKIP_POSTGRES=1")]
fn two_first_starts_with_different_root_keys_never_both_serve() {
    let db = db();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut children: Vec<_> =
        dirs.iter().map(|d| node_command(d.path(), &db.url, &random_root_key()).spawn().unwrap()).collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let (mut ready, mut exited) = (0, 0);
    while ready + exited < 2 {
        assert!(std::time::Instant::now() < deadline, "the nodes neither served nor stopped within 20 s");
        (ready, exited) = (0, 0);
        for (c, d) in children.iter_mut().zip(&dirs) {
            if c.try_wait().unwrap().is_some() {
                exited += 1;
            } else if std::fs::read_to_string(d.path().join("ready")).is_ok_and(|u| u.ends_with('\n')) {
                ready += 1;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
    assert_eq!((ready, exited), (1, 1), "exactly one of two nodes with different root keys may serve");
}

#[test]
#[cfg_attr(trent_skip_postgres, ignore = "TRENT_SKIP_POSTGRES=1")]
fn requests_succeed_after_the_database_ends_every_session_of_the_node() {
    let db = db();
    let dir = tempfile::tempdir().unwrap();
    let s = node(dir.path(), &db.url, &random_root_key());
    let key = create_key(&s.addr);
    let ct = encrypt(&s.addr, &key, b"before");
    // What a database restart or failover does to a node's open connections.
    let ended = db.end_sessions();
    assert!(ended >= 2, "the node had its reader and writer sessions open: {ended}");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let r = kms(&s.addr, "Decrypt", json!({"CiphertextBlob": ct}));
    assert_eq!((r.status, &r.body["Plaintext"]), (200, &json!(b64(b"before"))), "{}", r.body);
    encrypt(&s.addr, &key, b"after");
    assert_eq!(kms(&s.addr, "DisableKey", json!({"KeyId": key})).status, 200, "a write after reconnecting");
}
