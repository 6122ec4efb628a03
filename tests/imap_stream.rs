//! Bounded IMAP output (issue 10): `FETCH 1:* BODY[]` over a big folder, and many FETCHes
//! pipelined, while the client does not read. The server's per-session output must stay at
//! a chunk or so (the `imap_output_peak` gauge in its stats), whatever the folder size;
//! once the client reads, every byte must be there, in order. With COMPRESS=DEFLATE too.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::time::Duration;

use common::{ok, Imap, TestServer};
use ferrymail::storage::{BlobId, Flags, NewMessage};

const USER: &str = "bob@example.com";
/// What a session may hold for its connection at once: a chunk (256 KiB) and a piece of
/// a literal, with room to spare; without chunking, the whole FETCH (200 MiB below).
const BOUND: u64 = 1024 * 1024;

/// Message `i` of about `size` bytes: a header, then lines of pseudo-random letters (so
/// that COMPRESS cannot shrink it to nothing and the client's socket really fills).
fn content(i: usize, size: usize) -> Vec<u8> {
    let mut c =
        format!("Subject: stream {i}\r\nMessage-ID: <s{i}@example.net>\r\n\r\n").into_bytes();
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    while c.len() < size {
        for _ in 0..76 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.push(b'a' + (x % 26) as u8);
        }
        c.extend_from_slice(b"\r\n");
    }
    c
}

/// Puts `n` messages of `size` bytes into the user's INBOX straight through storage (fast:
/// no SMTP, no APPEND); nobody has the folder open yet.
fn fill_inbox(server: &TestServer, n: usize, size: usize) {
    let store = server.store();
    let (folders, _) = server.writers();
    let inbox = store
        .folder_id(USER, "INBOX")
        .expect("reads")
        .expect("INBOX exists");
    for i in 0..n {
        let c = content(i, size);
        let blob: BlobId = store.blobs().put(&c).expect("blob written");
        folders
            .append_message(
                inbox,
                NewMessage {
                    blob,
                    size: c.len() as u64,
                    flags: Flags::default(),
                    internal_date: 1_700_000_000,
                },
                None,
            )
            .expect("appended");
    }
}

/// Logged in with INBOX selected.
fn selected(server: &TestServer) -> Imap {
    let mut c = Imap::login(server.addr("imap"), USER);
    let r = c.cmd("SELECT INBOX");
    assert!(ok(&r), "{r:?}");
    c
}

/// The client stops reading for a while: long enough for the server to fill the socket
/// and stall on it. Nothing is timed: what is asserted after is a bound on what the server
/// held, which a longer pause can only test harder.
fn stall(server: &TestServer) {
    std::thread::sleep(Duration::from_millis(1500));
    assert_bounded(server);
}

/// The most output a session held at once stayed within [`BOUND`].
fn assert_bounded(server: &TestServer) {
    let peak = server.handle().ctx.stats.imap_output_peak();
    assert!(peak > 0, "the server wrote nothing");
    assert!(
        peak <= BOUND,
        "a session held {peak} bytes of output (bound {BOUND})"
    );
}

/// Reads one FETCH's responses up to its tagged completion: checks each `BODY[] {n}`
/// literal against message `seq - 1` and returns how many there were.
fn read_fetch(r: &mut impl BufRead, tag: &str, size: usize) -> usize {
    let mut seen = 0;
    for _ in 0..100_000 {
        let mut line = Vec::new();
        r.read_until(b'\n', &mut line)
            .unwrap_or_else(|e| panic!("{tag}: read failed after {seen} messages: {e}"));
        assert!(!line.is_empty(), "connection closed before {tag} completed");
        let text = String::from_utf8_lossy(&line).into_owned();
        if text.starts_with(&format!("{tag} ")) {
            assert!(text.starts_with(&format!("{tag} OK")), "{text}");
            return seen;
        }
        let Some(len) = text
            .trim_end()
            .strip_suffix('}')
            .and_then(|t| t.rsplit_once('{'))
            .and_then(|(_, n)| n.parse::<usize>().ok())
        else {
            continue;
        };
        let seq: usize = text
            .strip_prefix("* ")
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not a FETCH response: {text}"));
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).expect("literal");
        assert!(
            body == content(seq - 1, size),
            "{tag}: message {seq} differs ({len} bytes)"
        );
        seen += 1;
    }
    panic!("{tag} never completed");
}

#[test]
fn fetch_of_a_big_folder_to_a_stalled_client_holds_one_chunk() {
    let server = TestServer::start();
    let (n, size) = (200, 1024 * 1024);
    fill_inbox(&server, n, size);
    let mut c = selected(&server);
    c.send_raw(b"f FETCH 1:* BODY.PEEK[]\r\n");
    stall(&server);
    let mut r = BufReader::new(c.stream.try_clone().expect("clone"));
    assert_eq!(read_fetch(&mut r, "f", size), n);
    assert_bounded(&server);
}

#[test]
fn pipelined_fetches_wait_for_the_client_one_chunk_at_a_time() {
    let server = TestServer::start();
    let (n, size) = (16, 128 * 1024);
    fill_inbox(&server, n, size);
    let mut c = selected(&server);
    let mut burst = Vec::new();
    for i in 0..50 {
        burst.extend_from_slice(format!("p{i} FETCH 1:* BODY.PEEK[]\r\n").as_bytes());
    }
    c.send_raw(&burst);
    stall(&server);
    let mut r = BufReader::new(c.stream.try_clone().expect("clone"));
    for i in 0..50 {
        assert_eq!(read_fetch(&mut r, &format!("p{i}"), size), n, "p{i}");
    }
    assert_bounded(&server);
}

#[test]
fn compressed_fetch_to_a_stalled_client_holds_one_chunk() {
    use flate2::{write::DeflateEncoder, Compression};
    let server = TestServer::start();
    let (n, size) = (40, 1024 * 1024);
    fill_inbox(&server, n, size);
    let mut c = selected(&server);
    let r = c.cmd("COMPRESS DEFLATE");
    assert!(ok(&r), "{r:?}");
    let mut w = DeflateEncoder::new(c.stream.try_clone().expect("clone"), Compression::fast());
    w.write_all(b"f FETCH 1:* BODY.PEEK[]\r\n").expect("writes");
    // A sync flush: the server sees the command now.
    w.flush().expect("flushes");
    stall(&server);
    let mut r = BufReader::new(Inflate::new(c.stream.try_clone().expect("clone")));
    assert_eq!(read_fetch(&mut r, "f", size), n);
    assert_bounded(&server);
}

/// The client's inflater. Not flate2's `read::DeflateDecoder`: that one holds back the
/// end of a sync-flushed stream until more input comes, which here never does (the
/// server waits for the client's next command).
struct Inflate {
    inner: std::net::TcpStream,
    d: flate2::Decompress,
    buf: Vec<u8>,
    pos: usize,
}

impl Inflate {
    fn new(inner: std::net::TcpStream) -> Inflate {
        Inflate {
            inner,
            d: flate2::Decompress::new(false),
            buf: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for Inflate {
    fn read(&mut self, dst: &mut [u8]) -> std::io::Result<usize> {
        for _ in 0..1_000_000 {
            let (in0, out0) = (self.d.total_in(), self.d.total_out());
            self.d
                .decompress(&self.buf[self.pos..], dst, flate2::FlushDecompress::Sync)
                .map_err(std::io::Error::other)?;
            self.pos += (self.d.total_in() - in0) as usize;
            let produced = (self.d.total_out() - out0) as usize;
            if produced > 0 || dst.is_empty() {
                return Ok(produced);
            }
            if self.pos < self.buf.len() && self.d.total_in() > in0 {
                continue;
            }
            let left = self.buf.split_off(self.pos);
            self.buf = left;
            self.pos = 0;
            let mut more = [0u8; 64 * 1024];
            let n = self.inner.read(&mut more)?;
            if n == 0 {
                return Ok(0);
            }
            self.buf.extend_from_slice(&more[..n]);
        }
        Err(std::io::Error::other("inflate makes no progress"))
    }
}

/// A client that stops reading for good is disconnected once it has taken none of the
/// output for `output_timeout`: it does not hold its session (and connection slot)
/// forever. Nothing is timed: the test waits, bounded, for the session to be gone.
#[test]
fn a_client_that_stops_reading_is_disconnected_after_the_output_timeout() {
    let mut server = TestServer::start();
    server.config.imap.output_timeout = Duration::from_secs(2);
    server.restart();
    let (n, size) = (40, 1024 * 1024);
    fill_inbox(&server, n, size);
    let mut c = selected(&server);
    let open = |server: &TestServer| server.handle().ctx.stats.open_sessions();
    assert_eq!(open(&server), 1);
    c.send_raw(b"f FETCH 1:* BODY.PEEK[]\r\n");
    assert!(
        common::fetch::wait_until(120, || open(&server) == 0),
        "the stalled session is still open"
    );
    // What the server had handed to the socket before it gave up is there, then the end:
    // far less than the 40 MiB asked for.
    let mut got = Vec::new();
    let _ = c.stream.read_to_end(&mut got);
    assert!(got.len() < n * size, "{} bytes arrived", got.len());
}
