//! Which nodes serve the deployment: every node on a shared store (PostgreSQL) writes a
//! heartbeat, `node/<node id>` → `{"last_seen_ms": …}`, every [`HEARTBEAT`], counts the nodes
//! seen in the last [`LIVE_MS`], and enforces that share of every request quota
//! ([`crate::quota::Quotas::set_share`]; why shares and not a shared counter is said there).
//! Rows of nodes gone for longer than [`FORGET_MS`] are removed by whichever node sees them.
//!
//! A SQLite store has one node by construction, which keeps the whole quota: no heartbeat.
//!
//! The times are the nodes' wall clocks (not the test clock, which each node moves on its own):
//! nodes must agree on the time within a second or so, as SigV4's five-minute window already
//! requires them to be roughly synchronized.

use crate::App;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use trent_store::{Result, Store};

/// The store table of heartbeats, keyed by node id.
pub const TABLE: &str = "node";
/// How often a node heartbeats.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// A node seen this recently counts as live.
pub const LIVE_MS: i64 = 3_000;
/// A node not seen for this long is forgotten (its row deleted).
pub const FORGET_MS: i64 = 3_600_000;

#[derive(Serialize, Deserialize)]
struct Beat {
    last_seen_ms: i64,
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

/// Records that `node_id` is alive at `now_ms`, forgets long-gone nodes, and returns how many
/// nodes are live (this one included).
pub fn heartbeat(store: &dyn Store, node_id: &str, now_ms: i64) -> Result<u32> {
    let mut tx = store.write()?;
    let beat = serde_json::to_vec(&Beat { last_seen_ms: now_ms })
        .map_err(|e| trent_store::StoreError::Backend(format!("heartbeat: {e}")))?;
    tx.put(TABLE, node_id, &beat)?;
    let mut live = 0u32;
    let mut after: Option<String> = None;
    loop {
        let page = tx.scan(TABLE, "", after.as_deref(), 500)?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (id, v) in &page {
            let seen = serde_json::from_slice::<Beat>(v).map(|b| b.last_seen_ms).unwrap_or(i64::MIN);
            if id == node_id || seen >= now_ms - LIVE_MS {
                live += 1;
            } else if seen < now_ms - FORGET_MS {
                tx.delete(TABLE, id)?;
            }
        }
    }
    tx.commit()?;
    Ok(live.max(1))
}

/// Removes this node's heartbeat (on shutdown), so the others take over its share at once.
pub fn leave(store: &dyn Store, node_id: &str) -> Result<()> {
    let mut tx = store.write()?;
    tx.delete(TABLE, node_id)?;
    tx.commit()
}

/// Starts the heartbeat of a node on a shared store; does nothing on SQLite.
pub fn spawn_heartbeat(app: Arc<App>) {
    if app.store.backend() == "sqlite" {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HEARTBEAT);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut logged_failure = false;
        loop {
            tick.tick().await;
            if app.sealed.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            let a = app.clone();
            let beat = tokio::task::spawn_blocking(move || heartbeat(&*a.store, &a.node_id, wall_ms())).await;
            match beat {
                Ok(Ok(live)) => {
                    if live != app.quotas.share() {
                        tracing::info!(
                            live_nodes = live,
                            "nodes serving this deployment changed; quota shares rebalanced"
                        );
                    }
                    app.quotas.set_share(live);
                    logged_failure = false;
                }
                // Keep the last share: the database being away is no reason to admit more.
                Ok(Err(e)) if !logged_failure => {
                    tracing::warn!(error = %e, "node heartbeat failed; keeping the current quota share");
                    logged_failure = true;
                }
                Ok(Err(_)) => {}
                Err(e) => tracing::error!(error = %e, "the node heartbeat panicked"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_nodes_are_those_seen_in_the_last_three_seconds() {
        let d = tempfile::tempdir().unwrap();
        let s = trent_store::sqlite::SqliteStore::open(&d.path().join("t.db")).unwrap();
        let t = 1_000_000_000;
        assert_eq!(heartbeat(&s, "a", t).unwrap(), 1);
        assert_eq!(heartbeat(&s, "b", t + 500).unwrap(), 2);
        assert_eq!(heartbeat(&s, "c", t + 1000).unwrap(), 3);
        // a stops beating: gone from the count 3 s after its last beat.
        assert_eq!(heartbeat(&s, "b", t + LIVE_MS).unwrap(), 3);
        assert_eq!(heartbeat(&s, "b", t + LIVE_MS + 1).unwrap(), 2);
        leave(&s, "c").unwrap();
        assert_eq!(heartbeat(&s, "b", t + LIVE_MS + 2).unwrap(), 1, "a node that left is not counted");
    }

    #[test]
    fn long_gone_nodes_are_forgotten() {
        let d = tempfile::tempdir().unwrap();
        let s = trent_store::sqlite::SqliteStore::open(&d.path().join("t.db")).unwrap();
        heartbeat(&s, "old", 0).unwrap();
        heartbeat(&s, "new", FORGET_MS + 1).unwrap();
        let rows = s.read().unwrap().scan(TABLE, "", None, 10).unwrap();
        assert_eq!(rows.into_iter().map(|(k, _)| k).collect::<Vec<_>>(), ["new"]);
    }
}
