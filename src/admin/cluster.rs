//! The `cluster` commands: the nodes sharing the database (`cluster`) and the queue leases
//! they hold (`cluster leases`). On the embedded backend the server is a cluster of one.

use std::fmt::Write as _;
use std::time::Duration;

use crate::clock::iso8601;
use crate::config::{StorageBackend, StorageConfig};
use crate::storage::{Lease, NodeInfo, Store};

/// What the embedded backend answers.
pub const SINGLE_NODE: &str = "single node (embedded storage)";

/// `cluster` (`leases`: `cluster leases`) at `now` (Unix seconds). A node counts as alive
/// while its last heartbeat is younger than one lease: it beats three times per lease.
pub fn execute(
    store: &Store,
    storage: &StorageConfig,
    leases: bool,
    now: i64,
) -> Result<String, String> {
    let lease = match &storage.backend {
        StorageBackend::Postgres(pg) => pg.lease,
        StorageBackend::Sled => return Ok(SINGLE_NODE.to_string()),
    };
    if store.node_name().is_empty() {
        return Ok(SINGLE_NODE.to_string());
    }
    if leases {
        leases_text(store)
    } else {
        nodes_text(store, lease, now)
    }
}

fn nodes_text(store: &Store, lease: Duration, now: i64) -> Result<String, String> {
    let nodes = store.cluster_nodes().map_err(|e| e.to_string())?;
    Ok(format_nodes(&nodes, &store.node_name(), lease, now))
}

fn leases_text(store: &Store) -> Result<String, String> {
    let leases = store.queue_leases().map_err(|e| e.to_string())?;
    Ok(format_leases(&leases))
}

/// The node table; `me` is marked "(this)".
fn format_nodes(nodes: &[NodeInfo], me: &str, lease: Duration, now: i64) -> String {
    let alive_for = i64::try_from(lease.as_secs()).unwrap_or(i64::MAX);
    let is_alive = |n: &NodeInfo| now.saturating_sub(n.seen) < alive_for;
    let mut out = format!(
        "{:<24} {:<20} {:<20} {:<6} {:<10} {}\n",
        "node", "started", "last seen", "alive", "version", "leases"
    );
    for n in nodes {
        let name = if n.name == me {
            format!("{} (this)", n.name)
        } else {
            n.name.clone()
        };
        let _ = writeln!(
            out,
            "{name:<24} {:<20} {:<20} {:<6} {:<10} {}",
            iso8601(n.started),
            iso8601(n.seen),
            if is_alive(n) { "yes" } else { "no" },
            n.version,
            n.leases
        );
    }
    let alive = nodes.iter().filter(|n| is_alive(n)).count();
    let _ = write!(
        out,
        "{} nodes, {alive} alive (heartbeat within {}s)",
        nodes.len(),
        lease.as_secs()
    );
    out
}

/// The lease table, as the store lists them (by queue and id).
fn format_leases(leases: &[Lease]) -> String {
    if leases.is_empty() {
        return "no queue leases".into();
    }
    let mut out = format!("{:<10} {:<12} {:<24} {}\n", "queue", "id", "owner", "until");
    for l in leases {
        let _ = writeln!(
            out,
            "{:<10} {:<12} {:<24} {}",
            l.queue.as_str(),
            l.id,
            l.owner,
            iso8601(l.until)
        );
    }
    let _ = write!(out, "{} leases", leases.len());
    out
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
