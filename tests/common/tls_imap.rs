//! A small IMAP client over TLS (STARTTLS on 143 or implicit on 993) for the tests of
//! literals: APPEND with every kind of literal, FETCH of whole messages.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls::pki_types::ServerName;

use super::{TestServer, PASSWORD};

pub const USER: &str = "bob@example.com";

pub trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

pub fn tls(sock: TcpStream) -> Box<dyn Stream> {
    // Any certificate: these tests are about literals, not about certificate checks
    // (tests/imap_clients.rs pins the certificate with curl).
    let config = ferrymail::net::client_tls::client_config(false).expect("TLS config");
    let name = ServerName::try_from("mx.example.com").expect("name");
    let conn = rustls::ClientConnection::new(config, name).expect("client");
    Box::new(rustls::StreamOwned::new(conn, sock))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Port 143, STARTTLS before the login.
    StartTls,
    /// Port 993.
    ImplicitTls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sync,
    Plus,
    Minus,
    Binary,
}

impl Kind {
    pub fn announce(self, n: usize) -> String {
        match self {
            Kind::Sync => format!("{{{n}}}"),
            Kind::Plus => format!("{{{n}+}}"),
            Kind::Minus => format!("{{{n}-}}"),
            Kind::Binary => format!("~{{{n}}}"),
        }
    }
    pub fn synchronizing(self) -> bool {
        matches!(self, Kind::Sync | Kind::Binary)
    }
}

pub struct Client {
    pub io: BufReader<Box<dyn Stream>>,
    tag: u32,
}

pub fn socket(addr: SocketAddr) -> TcpStream {
    let sock = TcpStream::connect(addr).expect("connect");
    // A hang fails the test instead of blocking it forever.
    sock.set_read_timeout(Some(Duration::from_secs(300)))
        .expect("timeout");
    sock
}

impl Client {
    /// Connects, secures the connection, logs in as bob and selects INBOX.
    pub fn connect(server: &TestServer, transport: Transport) -> Client {
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

    pub fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("t{}", self.tag)
    }

    pub fn write(&mut self, bytes: &[u8]) {
        let io = self.io.get_mut();
        io.write_all(bytes).expect("write");
        io.flush().expect("flush");
    }

    pub fn line(&mut self) -> Vec<u8> {
        let mut l = Vec::new();
        self.io.read_until(b'\n', &mut l).expect("read");
        assert!(!l.is_empty(), "connection closed");
        l
    }

    /// Lines up to the tagged one; the literals in them apart.
    pub fn until_tagged(&mut self, tag: &str) -> (Vec<String>, Vec<Vec<u8>>) {
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

    pub fn cmd(&mut self, command: &str) -> (Vec<String>, Vec<Vec<u8>>) {
        let tag = self.next_tag();
        self.write(format!("{tag} {command}\r\n").as_bytes());
        self.until_tagged(&tag)
    }

    /// APPENDs `body` with a literal of `kind`; returns the tagged answer.
    pub fn append(&mut self, mailbox: &str, body: &[u8], kind: Kind) -> String {
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
    pub fn fetch(&mut self, uid: u32, binary: bool) -> Vec<u8> {
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

pub fn tagged(lines: &[String]) -> &str {
    lines.last().map_or("", |l| l.trim_end())
}

/// The size of the literal (`{n}` or `~{n}`) that ends a response line.
pub fn literal_size(line: &str) -> Option<usize> {
    let inner = line.trim_end().strip_suffix('}')?;
    let open = inner.rfind('{')?;
    inner[open + 1..].parse().ok()
}

/// `[APPENDUID v uid]` of a tagged OK.
pub fn appended_uid(answer: &str) -> u32 {
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
pub fn message(size: usize, binary: bool) -> Vec<u8> {
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

/// A server with the default APPENDLIMIT (the common test config sets 1,000,000).
pub fn server_with_limit(limit: usize) -> TestServer {
    TestServer::start_edited("", "[auth]\nverify = false\n", None, |text| {
        text.replace("append_limit = 1000000", &format!("append_limit = {limit}"))
    })
}

/// Every file under `dir` (none if it does not exist).
pub fn walk(dir: &Path) -> Vec<PathBuf> {
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
