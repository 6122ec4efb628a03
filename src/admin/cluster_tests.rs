//! The `cluster` tables, and the embedded backend's answer.

use std::time::Duration;

use super::*;
use crate::storage::QueueName;

const NOW: i64 = 1_800_000_000;

fn node(name: &str, seen_ago: i64, leases: u64) -> NodeInfo {
    NodeInfo {
        name: name.into(),
        started: NOW - 3600,
        seen: NOW - seen_ago,
        version: "0.1.0".into(),
        leases,
    }
}

#[test]
fn nodes_are_alive_while_their_heartbeat_is_younger_than_a_lease() {
    let nodes = [
        node("node-a", 5, 2),
        node("node-b", 60, 0),
        node("node-c", 59, 1),
    ];
    let out = format_nodes(&nodes, "node-a", Duration::from_secs(60), NOW);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(lines[0].starts_with("node "), "{out}");
    let cols = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
    assert_eq!(
        cols(lines[1]),
        [
            "node-a",
            "(this)",
            &iso8601(NOW - 3600),
            &iso8601(NOW - 5),
            "yes",
            "0.1.0",
            "2"
        ]
    );
    assert_eq!(cols(lines[2])[3], "no", "{out}");
    assert_eq!(cols(lines[3])[3], "yes", "{out}");
    assert_eq!(lines[4], "3 nodes, 2 alive (heartbeat within 60s)");
}

#[test]
fn leases_list_queue_id_owner_and_until() {
    assert_eq!(format_leases(&[]), "no queue leases");
    let out = format_leases(&[Lease {
        queue: QueueName::Remote,
        id: 42,
        owner: "node-b".into(),
        until: NOW,
    }]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["remote", "42", "node-b", &iso8601(NOW)]
    );
    assert_eq!(lines[2], "1 leases");
}

#[test]
fn the_embedded_backend_is_a_single_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _) = Store::open(dir.path()).expect("open");
    let storage = StorageConfig::default();
    for leases in [false, true] {
        assert_eq!(
            execute(&store, &storage, leases, NOW).as_deref(),
            Ok(SINGLE_NODE)
        );
    }
}

#[test]
fn two_nodes_on_one_database_are_listed() {
    use crate::storage::pg_testing as testing;
    let Some(url) = testing::url("two_nodes_on_one_database_are_listed") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = testing::schema_for(dir.path());
    let (a, cfg) = testing::open_node(&url, dir.path(), &schema, "node-a");
    let (_b, _) = testing::open_node(&url, dir.path(), &schema, "node-b");
    let storage = StorageConfig {
        backend: crate::config::StorageBackend::Postgres(cfg),
        blobs: None,
    };
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    let out = execute(&a, &storage, false, now).expect("cluster");
    assert!(out.contains("node-a (this)"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("node-b ")), "{out}");
    assert!(
        out.ends_with("2 nodes, 2 alive (heartbeat within 60s)"),
        "{out}"
    );
    assert_eq!(
        execute(&a, &storage, true, now).as_deref(),
        Ok("no queue leases")
    );
    testing::drop_schema(&url, &schema);
}
