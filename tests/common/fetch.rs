//! Helpers for the fetch tests: fill an outside server's mailbox, read Message-IDs, wait.

use std::time::{Duration, Instant};

use ferrymail::storage::{Flags, FolderWriter, NewMessage, Store};

use super::TestServer;

/// A letter with a unique Message-ID `<n-tag@example.net>`.
pub fn letter(tag: &str, n: usize, headers: &str) -> String {
    format!(
        "Return-Path: <sender@example.net>\r\nFrom: Sender <sender@example.net>\r\n{headers}\
         Subject: {tag} {n}\r\nMessage-ID: <{n}-{tag}@example.net>\r\n\r\nLetter {n}.\r\n.dot line\r\n"
    )
}

/// Appends `messages` to `account`'s INBOX of a running server, straight through storage
/// (before any session opens the folder: the test door `writers_for_tests`), and commits.
pub fn fill(server: &TestServer, account: &str, messages: &[String]) {
    let (store, ctx) = (server.store(), server.handle().ctx.clone());
    fill_store(&store, ctx.writers_for_tests().0, account, messages);
}

pub fn fill_store(store: &Store, folders: &FolderWriter, account: &str, messages: &[String]) {
    let folder = store
        .folder_id(account, "INBOX")
        .unwrap()
        .expect("INBOX exists");
    for m in messages {
        let blob = store.blobs().put(m.as_bytes()).unwrap();
        folders
            .append_message(
                folder,
                NewMessage {
                    blob,
                    size: m.len() as u64,
                    flags: Flags::default(),
                    internal_date: 1_795_305_600,
                },
                None,
            )
            .unwrap();
    }
    store.commit().unwrap();
}

/// The value of the first `name:` header of a stored message.
pub fn header(message: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    head.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

/// The Message-IDs of `account`'s INBOX, sorted.
pub fn message_ids(store: &Store, account: &str) -> Vec<String> {
    let mut ids: Vec<String> = super::inbox_of(store, account)
        .iter()
        .map(|m| header(m, "Message-ID").unwrap_or_default())
        .collect();
    ids.sort();
    ids
}

/// Polls `f` every 50 ms until it holds or `secs` pass; returns whether it held.
pub fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The number in "source N added" / "(source N)".
pub fn source_id(console_output: &str) -> u64 {
    let at = console_output.find("source ").expect("mentions a source") + 7;
    console_output[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no source id in {console_output:?}"))
}

/// `source add` for bob@ on `home`, fetching bob@'s INBOX on `outside` over `protocol`
/// ("imap" or "pop3") without TLS; `extra` options are appended.
pub fn add_source(home: &TestServer, outside: &TestServer, protocol: &str, extra: &str) -> u64 {
    let bob = "bob@example.com";
    let port = outside.addr(protocol).port();
    let (ok, out) = home.console(&format!(
        "source add {bob} --host 127.0.0.1 --port {port} --protocol {protocol} --tls none \
         --user {bob} --password '{}' --interval 3600 {extra}",
        super::PASSWORD
    ));
    assert!(ok, "{out}");
    assert!(!out.contains(super::PASSWORD), "{out}");
    source_id(&out)
}

/// `source status ID` through the console.
pub fn status(home: &TestServer, id: u64) -> String {
    let (ok, out) = home.console(&format!("source status {id}"));
    assert!(ok, "{out}");
    out
}

/// Waits until the source's first (automatic) run is over; returns its status.
pub fn wait_first_run(home: &TestServer, id: u64) -> String {
    let mut last = String::new();
    let done = wait_until(120, || {
        last = status(home, id);
        !last.contains("last run: never") && !last.contains("(running now)")
    });
    assert!(done, "the run did not finish: {last}");
    last
}
