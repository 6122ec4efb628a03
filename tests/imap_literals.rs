//! IMAP literals of every size (issue 9): APPEND over STARTTLS (143) and implicit TLS (993)
//! with synchronizing `{n}`, LITERAL+ `{n+}`, `{n-}` and literal8 `~{n}` literals, from
//! 0 bytes through the buffer boundaries to 25 MiB, the limit and the limit + 1; each stored
//! message is fetched back and compared byte for byte. Then MULTIAPPEND atomicity, the
//! memory of 500 unauthenticated connections announcing 50 MiB literals (the real binary),
//! and real clients: curl, mbsync and neomutt with multi-megabyte messages.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Imap, TestServer, PASSWORD};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

const USER: &str = "bob@example.com";
const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

// --- a small IMAP client over TLS -------------------------------------------------------

/// Accepts the server's self-signed certificate: these tests are about literals, not about
/// certificate checks (tests/imap_clients.rs pins the certificate with curl).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

fn tls(sock: TcpStream) -> Box<dyn Stream> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    let name = ServerName::try_from("mx.example.com").expect("name");
    let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    Box::new(rustls::StreamOwned::new(conn, sock))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    /// Port 143, STARTTLS before the login.
    StartTls,
    /// Port 993.
    ImplicitTls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sync,
    Plus,
    Minus,
    Binary,
}

impl Kind {
    fn announce(self, n: usize) -> String {
        match self {
            Kind::Sync => format!("{{{n}}}"),
            Kind::Plus => format!("{{{n}+}}"),
            Kind::Minus => format!("{{{n}-}}"),
            Kind::Binary => format!("~{{{n}}}"),
        }
    }
    fn synchronizing(self) -> bool {
        matches!(self, Kind::Sync | Kind::Binary)
    }
}

struct Client {
    io: BufReader<Box<dyn Stream>>,
    tag: u32,
}

fn socket(addr: SocketAddr) -> TcpStream {
    let sock = TcpStream::connect(addr).expect("connect");
    // A hang fails the test instead of blocking it forever.
    sock.set_read_timeout(Some(Duration::from_secs(300)))
        .expect("timeout");
    sock
}

impl Client {
    /// Connects, secures the connection, logs in as bob and selects INBOX.
    fn connect(server: &TestServer, transport: Transport) -> Client {
        let io: Box<dyn Stream> = match transport {
            Transport::ImplicitTls => tls(socket(server.addr("imaps"))),
            Transport::StartTls => {
                let mut plain = BufReader::new(socket(server.addr("imap")));
                let mut greeting = String::new();
                plain.read_line(&mut greeting).expect("greeting");
                assert!(greeting.contains("STARTTLS"), "{greeting}");
                plain.get_mut().write_all(b"s STARTTLS\r\n").expect("write");
                let mut answer = String::new();
                plain.read_line(&mut answer).expect("answer");
                assert!(answer.starts_with("s OK"), "{answer}");
                assert!(plain.buffer().is_empty());
                tls(plain.into_inner())
            }
        };
        let mut c = Client {
            io: BufReader::new(io),
            tag: 0,
        };
        if transport == Transport::ImplicitTls {
            let greeting = c.line();
            assert!(greeting.starts_with(b"* OK"), "{greeting:?}");
        }
        let (lines, _) = c.cmd(&format!("LOGIN {USER} \"{PASSWORD}\""));
        assert!(tagged(&lines).contains(" OK "), "{lines:?}");
        let (lines, _) = c.cmd("SELECT INBOX");
        assert!(tagged(&lines).contains(" OK "), "{lines:?}");
        c
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("t{}", self.tag)
    }

    fn write(&mut self, bytes: &[u8]) {
        let io = self.io.get_mut();
        io.write_all(bytes).expect("write");
        io.flush().expect("flush");
    }

    fn line(&mut self) -> Vec<u8> {
        let mut l = Vec::new();
        self.io.read_until(b'\n', &mut l).expect("read");
        assert!(!l.is_empty(), "connection closed");
        l
    }

    /// Lines up to the tagged one; the literals in them apart.
    fn until_tagged(&mut self, tag: &str) -> (Vec<String>, Vec<Vec<u8>>) {
        let mut lines = Vec::new();
        let mut literals = Vec::new();
        loop {
            let l = self.line();
            let text = String::from_utf8_lossy(&l).into_owned();
            if let Some(n) = literal_size(&text) {
                let mut data = vec![0; n];
                self.io.read_exact(&mut data).expect("literal");
                literals.push(data);
            }
            let done = text.starts_with(&format!("{tag} "));
            lines.push(text);
            if done {
                return (lines, literals);
            }
        }
    }

    fn cmd(&mut self, command: &str) -> (Vec<String>, Vec<Vec<u8>>) {
        let tag = self.next_tag();
        self.write(format!("{tag} {command}\r\n").as_bytes());
        self.until_tagged(&tag)
    }

    /// APPENDs `body` with a literal of `kind`; returns the tagged answer.
    fn append(&mut self, mailbox: &str, body: &[u8], kind: Kind) -> String {
        let tag = self.next_tag();
        let head = format!("{tag} APPEND {mailbox} {}\r\n", kind.announce(body.len()));
        self.write(head.as_bytes());
        if kind.synchronizing() {
            let answer = String::from_utf8_lossy(&self.line()).into_owned();
            if !answer.starts_with('+') {
                assert!(answer.starts_with(&format!("{tag} ")), "{answer}");
                return answer;
            }
        }
        // Non-synchronizing: everything goes at once, whatever the server thinks of it.
        self.write(body);
        self.write(b"\r\n");
        let (lines, _) = self.until_tagged(&tag);
        tagged(&lines).to_string()
    }

    /// The stored message (BINARY[] for literal8, which may hold NUL; else BODY[]).
    fn fetch(&mut self, uid: u32, binary: bool) -> Vec<u8> {
        let item = if binary {
            "BINARY.PEEK[]"
        } else {
            "BODY.PEEK[]"
        };
        let (lines, mut literals) = self.cmd(&format!("UID FETCH {uid} {item}"));
        assert!(tagged(&lines).contains(" OK "), "{lines:?}");
        assert_eq!(literals.len(), 1, "{lines:?}");
        literals.remove(0)
    }
}

fn tagged(lines: &[String]) -> &str {
    lines.last().map_or("", |l| l.trim_end())
}

/// The size of the literal (`{n}` or `~{n}`) that ends a response line.
fn literal_size(line: &str) -> Option<usize> {
    let inner = line.trim_end().strip_suffix('}')?;
    let open = inner.rfind('{')?;
    inner[open + 1..].parse().ok()
}

/// `[APPENDUID v uid]` of a tagged OK.
fn appended_uid(answer: &str) -> u32 {
    let rest = answer
        .split("[APPENDUID ")
        .nth(1)
        .unwrap_or_else(|| panic!("no APPENDUID: {answer}"));
    rest.split([' ', ']'])
        .nth(1)
        .and_then(|u| u.parse().ok())
        .unwrap_or_else(|| panic!("bad APPENDUID: {answer}"))
}

/// A message of exactly `size` bytes (an RFC 5322 header when there is room), its lines
/// numbered so that a shifted or dropped piece shows; `binary` puts NUL and 8-bit bytes in.
fn message(size: usize, binary: bool) -> Vec<u8> {
    let mut m = format!("From: {USER}\r\nSubject: {size} bytes\r\n\r\n").into_bytes();
    let mut i = 0u64;
    while m.len() < size {
        if binary {
            m.extend_from_slice(&[0, 0xff, b'b', (i % 251) as u8, b'\r', b'\n']);
        } else {
            m.extend_from_slice(format!("line {i:08} of the body\r\n").as_bytes());
        }
        i += 1;
    }
    m.truncate(size);
    if size > 0 && !binary {
        // Never a NUL in a non-literal8 message (RFC 9051 §4.3).
        assert!(!m.contains(&0));
    }
    m
}

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

/// A server with the default APPENDLIMIT (the common test config sets 1,000,000).
fn server_with_limit(limit: usize) -> TestServer {
    TestServer::start_edited("", "[auth]\nverify = false\n", None, |text| {
        text.replace("append_limit = 1000000", &format!("append_limit = {limit}"))
    })
}

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
    // Nothing of the failed command stays on disk either.
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

/// Every file under `dir` (none if it does not exist).
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files.extend(walk(&p));
        } else {
            files.push(p);
        }
    }
    files
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
            "hostname = \"mx.test\"\ndata_dir = \"data\"\n[listeners]\nimap = \"127.0.0.1:0\"\n\
             [auth]\nverify = false\n",
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
