//! The notification payloads, and a watcher hearing another node on the test database
//! (skipped loudly without `FERRYMAIL_TEST_PG_URL`).

use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{parse_folder, parse_settings};
use crate::storage::pg::testing;
use crate::storage::ClusterEvent;

#[test]
fn folder_payloads_parse_and_own_ones_are_dropped() {
    assert_eq!(
        parse_folder("node-b 42 7", "node-a"),
        Ok(Some(ClusterEvent::Folder {
            folder: 42,
            modseq: 7
        }))
    );
    // A node name with spaces: the numbers are the last two words.
    assert_eq!(
        parse_folder("mail host 2 3 0", "node-a"),
        Ok(Some(ClusterEvent::Folder {
            folder: 3,
            modseq: 0
        }))
    );
    assert_eq!(parse_folder("node-a 42 7", "node-a"), Ok(None));
    for bad in ["", "42 7", "node-b x 7", "node-b 42 -1", "node-b 42 7x"] {
        assert!(parse_folder(bad, "node-a").is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn settings_payloads_parse_and_own_ones_are_dropped() {
    assert_eq!(
        parse_settings("node-b screening", "node-a"),
        Ok(Some(ClusterEvent::Settings {
            what: "screening".into()
        }))
    );
    assert_eq!(parse_settings("node-a dkim", "node-a"), Ok(None));
    for bad in ["", "directory", "node-b "] {
        assert!(
            parse_settings(bad, "node-a").is_err(),
            "{bad:?} was accepted"
        );
    }
}

/// A plain connection to the test database (not a node's).
fn client(url: &str) -> postgres::Client {
    url.parse::<postgres::Config>()
        .and_then(|c| c.connect(postgres::NoTls))
        .expect("connecting to the test database")
}

fn notify(url: &str, channel: &str, payload: &str) {
    client(url)
        .execute("SELECT pg_notify($1, $2)", &[&channel, &payload])
        .expect("pg_notify");
}

/// The connections of the test database that last ran a LISTEN on `schema`'s channels.
const LISTENERS: &str = "FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()";

fn listen_pattern(schema: &str) -> String {
    format!("LISTEN \"ferrymail.{schema}.%")
}

fn listeners(url: &str, schema: &str) -> i64 {
    client(url)
        .query_one(
            &format!("SELECT count(*) {LISTENERS}"),
            &[&listen_pattern(schema)],
        )
        .expect("pg_stat_activity")
        .get(0)
}

/// Polls `done` every 100 ms until it holds, failing with `what` after 20 s.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_watcher_hears_other_nodes_and_stops_with_the_store() {
    let Some(url) = testing::url("a_watcher_hears_other_nodes_and_stops_with_the_store") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = testing::schema_for(dir.path());
    let (b, _) = testing::open_node(&url, dir.path(), &schema, "node-b");
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    b.watch(Box::new(move |e| {
        let _ = tx.lock().map(|tx| tx.send(e));
    }))
    .expect("watch");
    let folders = format!("ferrymail.{schema}.folders");
    let settings = format!("ferrymail.{schema}.settings");
    // Its own notifications are dropped; the next ones arrive in order.
    notify(&url, &folders, "node-b 5 9");
    notify(&url, &folders, "garbage");
    notify(&url, &folders, "node-a 5 10");
    notify(&url, &settings, "node-a screening");
    let wait = Duration::from_secs(20);
    assert_eq!(
        rx.recv_timeout(wait),
        Ok(ClusterEvent::Folder {
            folder: 5,
            modseq: 10
        })
    );
    assert_eq!(
        rx.recv_timeout(wait),
        Ok(ClusterEvent::Settings {
            what: "screening".into()
        })
    );
    assert_eq!(listeners(&url, &schema), 1);

    // A broken connection: the watcher reconnects and asks for a resync, then hears again.
    client(&url)
        .execute(
            &format!("SELECT pg_terminate_backend(pid) {LISTENERS}"),
            &[&listen_pattern(&schema)],
        )
        .expect("pg_terminate_backend");
    assert_eq!(rx.recv_timeout(wait), Ok(ClusterEvent::Resync));
    notify(&url, &folders, "node-a 6 1");
    assert_eq!(
        rx.recv_timeout(wait),
        Ok(ClusterEvent::Folder {
            folder: 6,
            modseq: 1
        })
    );

    drop(b);
    eventually("the listening connection outlived its store", || {
        listeners(&url, &schema) == 0
    });
    testing::drop_schema(&url, &schema);
}
