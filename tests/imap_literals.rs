//! IMAP literals of every size (issue 9): APPEND over STARTTLS (143) and implicit TLS (993)
//! with synchronizing `{n}`, LITERAL+ `{n+}`, `{n-}` and literal8 `~{n}` literals, from
//! 0 bytes through the buffer boundaries to 25 MiB, the limit and the limit + 1; each stored
//! message is fetched back and compared byte for byte. Then MULTIAPPEND atomicity and the
//! memory of 500 unauthenticated connections announcing 50 MiB literals (the real binary).
//! Real clients with multi-megabyte messages: tests/imap_literal_clients.rs.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::tls_imap::{
    appended_uid, message, server_with_limit, tagged, walk, Client, Kind, Transport, USER,
};
use common::Imap;

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// Appends `size` bytes with `kind` and checks the stored copy, or the refusal `expect`.
fn check_append(c: &mut Client, size: usize, kind: Kind, refusal: Option<&str>) {
    let body = message(size, kind == Kind::Binary);
    let answer = c.append("INBOX", &body, kind);
    if let Some(want) = refusal {
        assert!(
            answer.contains(want),
            "{size} bytes, {kind:?}: {answer} (wanted {want})"
        );
        // The connection lives on.
        let (lines, _) = c.cmd("NOOP");
        assert!(tagged(&lines).contains(" OK "), "{lines:?}");
        return;
    }
    assert!(answer.contains(" OK "), "{size} bytes, {kind:?}: {answer}");
    let stored = c.fetch(appended_uid(&answer), kind == Kind::Binary);
    assert!(
        stored == body,
        "{size} bytes, {kind:?}: stored {} bytes differ",
        stored.len()
    );
}

/// The sizes of the acceptance list under the default APPENDLIMIT (50 MiB).
const SIZES: [usize; 10] = [
    1,
    8 * KIB - 1,
    8 * KIB,
    8 * KIB + 1,
    64 * KIB - 1,
    64 * KIB,
    64 * KIB + 1,
    MIB,
    5 * MIB + 3,
    25 * MIB,
];

fn every_size(transport: Transport) {
    let server = server_with_limit(52_428_800);
    let mut c = Client::connect(&server, transport);
    for kind in [Kind::Sync, Kind::Plus] {
        // A zero-byte message is no message (as Dovecot answers); the session goes on.
        check_append(&mut c, 0, kind, Some("NO [CANNOT] Empty message"));
        for size in SIZES {
            check_append(&mut c, size, kind, None);
        }
    }
    for kind in [Kind::Minus, Kind::Binary] {
        for size in [1, 8 * KIB + 1, 64 * KIB + 1, MIB] {
            check_append(&mut c, size, kind, None);
        }
    }
}

#[test]
fn appends_of_every_size_over_starttls() {
    every_size(Transport::StartTls);
}

#[test]
fn appends_of_every_size_over_implicit_tls() {
    every_size(Transport::ImplicitTls);
}

#[test]
fn the_limit_and_one_more_over_both_transports() {
    const LIMIT: usize = 3 * MIB;
    let server = server_with_limit(LIMIT);
    for transport in [Transport::StartTls, Transport::ImplicitTls] {
        let mut c = Client::connect(&server, transport);
        let toobig = format!("NO [TOOBIG] Message exceeds APPENDLIMIT {LIMIT}");
        for kind in [Kind::Sync, Kind::Plus, Kind::Binary] {
            check_append(&mut c, LIMIT, kind, None);
            // Synchronizing: refused instead of "+"; non-synchronizing: read, discarded,
            // then refused.
            check_append(&mut c, LIMIT + 1, kind, Some(&toobig));
        }
    }
}

#[test]
fn multiappend_is_all_or_nothing() {
    let server = server_with_limit(52_428_800);
    let store = server.store();
    // Room for two of the five 100 kB messages.
    store
        .set_quota(USER, Some(250_000), None)
        .expect("set quota");
    store.commit().expect("commit");
    let mut c = Client::connect(&server, Transport::ImplicitTls);
    let bodies: Vec<Vec<u8>> = (0..5).map(|i| message(100_000 + i, false)).collect();
    let tag = c.next_tag();
    let mut wire = format!("{tag} APPEND INBOX").into_bytes();
    for b in &bodies {
        wire.extend_from_slice(format!(" {{{}+}}\r\n", b.len()).as_bytes());
        wire.extend_from_slice(b);
    }
    wire.extend_from_slice(b"\r\n");
    c.write(&wire);
    let (lines, _) = c.until_tagged(&tag);
    assert!(tagged(&lines).contains("NO [OVERQUOTA]"), "{lines:?}");
    let (lines, _) = c.cmd("STATUS INBOX (MESSAGES)");
    assert!(
        lines.iter().any(|l| l.contains("(MESSAGES 0)")),
        "nothing appended: {lines:?}"
    );
    // Nothing of the failed command stays on disk either: its bodies are collected after
    // the next commit round (the committer deletes after answering, so after a second).
    store.commit().expect("commit");
    store.commit().expect("commit");
    let blobs = server.data_dir().join("blobs");
    let left: Vec<_> = walk(&blobs);
    assert!(left.is_empty(), "files left behind: {left:?}");
    // Two fit: one commit of both.
    let tag = c.next_tag();
    let mut wire = format!("{tag} APPEND INBOX").into_bytes();
    for b in &bodies[..2] {
        wire.extend_from_slice(format!(" {{{}+}}\r\n", b.len()).as_bytes());
        wire.extend_from_slice(b);
    }
    wire.extend_from_slice(b"\r\n");
    c.write(&wire);
    let (lines, _) = c.until_tagged(&tag);
    assert!(tagged(&lines).contains(" OK [APPENDUID "), "{lines:?}");
    let (lines, _) = c.cmd("STATUS INBOX (MESSAGES)");
    assert!(
        lines.iter().any(|l| l.contains("(MESSAGES 2)")),
        "{lines:?}"
    );
}

// --- memory under unauthenticated literals (the real binary) ------------------------------

/// `ferrymail serve` on a fresh data directory; killed when dropped.
struct Running {
    child: Child,
    imap: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn start(dir: &Path) -> Running {
        let config = dir.join("ferrymail.toml");
        std::fs::write(
            &config,
            // The 500 connections all come from 127.0.0.1: above the default per-address
            // cap, which this test is not about.
            "hostname = \"mx.test\"\ndata_dir = \"data\"\n[listeners]\nimap = \"127.0.0.1:0\"\n\
             [imap]\nmax_connections_per_ip = 1000\n[auth]\nverify = false\n",
        )
        .expect("config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferrymail"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ferrymail");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut imap = None;
        // Start-up ends with the `ready:` line; bounded by the lines it prints.
        for line in lines.by_ref().take(200).map_while(Result::ok) {
            if let Some(a) = line.strip_prefix("listening imap ") {
                imap = a.parse().ok();
            }
            if line.starts_with("ready: ") {
                break;
            }
        }
        // Keep draining stdout so that the server never blocks writing to it.
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        let imap = imap.expect("an imap listening line");
        Running { child, imap }
    }

    /// VmRSS from /proc, in kB.
    fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// Bytes sent to the server's IMAP port that it has not read yet (the receive queues
    /// of its sockets, from /proc/net/tcp).
    fn unread(&self) -> u64 {
        let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
        let port = format!(":{:04X}", self.imap.port());
        table
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                // local address, state 01 = established, tx_queue:rx_queue.
                (f.len() > 4 && f[1].ends_with(&port) && f[3] == "01")
                    .then(|| f[4].split(':').nth(1))
                    .flatten()
                    .and_then(|rx| u64::from_str_radix(rx, 16).ok())
            })
            .sum()
    }
}

#[test]
fn unauthenticated_literals_are_never_buffered() {
    const CONNECTIONS: usize = 500;
    const SENT: usize = 256 * KIB;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Running::start(dir.path());
    // One full session first, so that the baseline includes what any session needs.
    let mut warm = Imap::connect(server.imap);
    warm.cmd("NOOP");
    let before = server.rss_kb();
    let chunk = vec![b'x'; 64 * KIB];
    let mut conns = Vec::with_capacity(CONNECTIONS);
    for i in 0..CONNECTIONS {
        let mut s = TcpStream::connect(server.imap).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let mut greeting = [0u8; 256];
        let n = s.read(&mut greeting).expect("greeting");
        assert!(greeting[..n].starts_with(b"* OK"), "connection {i}");
        // The old way in: a small APPEND used to raise the limits before login.
        s.write_all(b"a APPEND INBOX {1}\r\n").expect("write");
        let n = s.read(&mut greeting).expect("answer");
        assert!(
            greeting[..n].starts_with(b"a BAD"),
            "{}",
            String::from_utf8_lossy(&greeting[..n])
        );
        s.write_all(b"b APPEND INBOX {52428800+}\r\n")
            .expect("write");
        for _ in 0..SENT / chunk.len() {
            s.write_all(&chunk).expect("write literal");
        }
        conns.push(s);
    }
    // The server has read (and dropped) everything sent: bounded wait.
    let deadline = Instant::now() + Duration::from_secs(120);
    while server.unread() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(server.unread(), 0, "the server stopped reading");
    let after = server.rss_kb();
    let grown_mb = after.saturating_sub(before) / 1000;
    eprintln!(
        "{CONNECTIONS} connections, {} MiB of literal sent: VmRSS {before} kB -> {after} kB \
         (+{grown_mb} MB)",
        CONNECTIONS * SENT / MIB
    );
    assert!(grown_mb < 50, "RSS grew by {grown_mb} MB");
    // Every connection is still alive and still discarding.
    for (i, s) in conns.iter_mut().enumerate() {
        s.write_all(&chunk[..KIB])
            .unwrap_or_else(|e| panic!("connection {i}: {e}"));
    }
}

/// REPLACE (RFC 8508) and CATENATE's TEXT parts (RFC 4469) carry message literals too: they
/// are streamed like APPEND's, so multi-megabyte drafts can be replaced and put together.
#[test]
fn replace_and_catenate_take_megabyte_literals() {
    let server = server_with_limit(52_428_800);
    let mut c = Client::connect(&server, Transport::ImplicitTls);
    let first = message(2 * MIB, false);
    let answer = c.append("INBOX", &first, Kind::Plus);
    let old = appended_uid(&answer);
    let (lines, _) = c.cmd("SELECT INBOX");
    assert!(tagged(&lines).contains(" OK "), "{lines:?}");

    let second = message(3 * MIB + 7, false);
    let tag = c.next_tag();
    let mut wire = format!("{tag} UID REPLACE {old} INBOX {{{}+}}\r\n", second.len()).into_bytes();
    wire.extend_from_slice(&second);
    wire.extend_from_slice(b"\r\n");
    c.write(&wire);
    let (lines, _) = c.until_tagged(&tag);
    assert!(tagged(&lines).contains(" OK "), "{lines:?}");
    let new = lines
        .iter()
        .find_map(|l| l.split("[APPENDUID ").nth(1))
        .and_then(|rest| rest.split([' ', ']']).nth(1))
        .and_then(|u| u.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("no APPENDUID in {lines:?}"));
    assert!(c.fetch(new, false) == second, "replaced message differs");

    // CATENATE: a 1 MiB text part, the replaced message by URL, a small text part.
    let head = message(MIB, false);
    let tail = b"\r\n-- \r\nend\r\n";
    let tag = c.next_tag();
    let mut wire =
        format!("{tag} APPEND INBOX CATENATE (TEXT {{{}+}}\r\n", head.len()).into_bytes();
    wire.extend_from_slice(&head);
    wire.extend_from_slice(
        format!(" URL \"/INBOX/;UID={new}\" TEXT {{{}}}\r\n", tail.len()).as_bytes(),
    );
    c.write(&wire);
    let cont = c.line();
    assert!(cont.starts_with(b"+"), "{}", String::from_utf8_lossy(&cont));
    let mut rest = tail.to_vec();
    rest.extend_from_slice(b")\r\n");
    c.write(&rest);
    let (lines, _) = c.until_tagged(&tag);
    assert!(tagged(&lines).contains(" OK "), "{lines:?}");
    let uid = appended_uid(tagged(&lines));
    let mut want = head.clone();
    want.extend_from_slice(&second);
    want.extend_from_slice(tail);
    assert!(c.fetch(uid, false) == want, "catenated message differs");
}
