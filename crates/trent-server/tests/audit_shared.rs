//! The audit trail of several nodes on one PostgreSQL database: each node keeps its own hash
//! chain in the shared store, LookupEvents on any node sees every node's events, and every
//! chain verifies.
//!
//! PostgreSQL must be reachable (127.0.0.1:5432, or TRENT_TEST_POSTGRES); TRENT_SKIP_POSTGRES=1 skips.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use trent_store::postgres::testing::TestDb;

fn lookup(addr: &str, body: Value) -> Reply {
    let body = body.to_string();
    let mut req = Req::new("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents", body.as_bytes());
    req.service = "cloudtrail";
    req.send(addr)
}

#[test]
#[cfg_attr(trent_skip_postgres, ignore = "TRENT_SKIP_POSTGRES=1")]
fn lookup_events_on_any_node_sees_every_nodes_events_and_each_chain_verifies() {
    let db = TestDb::create();
    let root = random_root_key();
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let start_node = |dir: &std::path::Path| {
        let mut c = command(dir);
        c.arg("--store").arg(&db.url).env("TRENT_ROOT_KEY", &root);
        start_with(c, dir)
    };
    let a = start_node(d1.path());
    let b = start_node(d2.path());
    let key_a = kms(&a.addr, "CreateKey", json!({"Description": "made on a"}));
    assert_eq!(key_a.status, 200, "{}", key_a.body);
    let key_b = kms(&b.addr, "CreateKey", json!({"Description": "made on b"}));
    assert_eq!(key_b.status, 200, "{}", key_b.body);
    for _ in 0..3 {
        assert_eq!(kms(&b.addr, "DescribeKey", json!({"KeyId": key_a.body["KeyMetadata"]["KeyId"]})).status, 200);
    }

    // Node a sees node b's events, newest first, and pages through them.
    let r =
        lookup(&a.addr, json!({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "CreateKey"}]}));
    assert_eq!(r.status, 200, "{}", r.body);
    let names: Vec<String> = r.body["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str::<Value>(e["CloudTrailEvent"].as_str().unwrap()).unwrap())
        .map(|e| e["requestParameters"]["description"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"made on a".to_string()) && names.contains(&"made on b".to_string()));
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "DescribeKey"}], "MaxResults": 2});
        if let Some(t) = &token {
            body["NextToken"] = json!(t);
        }
        let r = lookup(&b.addr, body);
        assert_eq!(r.status, 200, "{}", r.body);
        seen.extend(r.body["Events"].as_array().unwrap().iter().map(|e| e["EventId"].as_str().unwrap().to_string()));
        match r.body["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3, "no event twice across pages");
    stop_gracefully(a);
    stop_gracefully(b);

    // Nothing went to files: the trail is in the store, one chain per node, each verifying.
    for d in [&d1, &d2] {
        let files = std::fs::read_dir(d.path().join("audit"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("trail-"));
        assert_eq!(files.count(), 0);
    }
    let store = trent_store::open(&db.url, d1.path()).unwrap();
    let mut chains: BTreeMap<String, trent_crypto::audit::ChainVerifier> = BTreeMap::new();
    let mut tx = store.read().unwrap();
    let mut after: Option<String> = None;
    loop {
        let rows = tx.scan("audit", "", after.as_deref(), 500).unwrap();
        let Some((last, _)) = rows.last() else { break };
        after = Some(last.clone());
        for (k, v) in rows {
            let node = k.rsplit_once('/').unwrap().0.to_string();
            let line = String::from_utf8(v).unwrap();
            chains.entry(node).or_insert_with(|| trent_crypto::audit::ChainVerifier::new(None)).feed(&line).unwrap();
        }
    }
    assert_eq!(chains.len(), 2, "one chain per node");
    let mut events = 0;
    for (node, v) in chains {
        let s = v.finish();
        events += s.events;
        assert!(s.events >= 2, "{node}: {s:?}");
        assert!(s.digests >= 1, "{node}: the shutdown digest is in the store: {s:?}");
        assert_eq!(s.unsigned_tail, 0, "{node}: {s:?}");
    }
    // a: CreateKey, LookupEvents; b: CreateKey, 3 DescribeKey, 2 LookupEvents.
    assert_eq!(events, 8);
}
