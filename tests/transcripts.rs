//! Transcript tests (docs/architecture.md §6, layer 2): `tests/transcripts/<proto>/*.txt` replayed
//! against a real server on port 0.
//!
//! Format, one directive per line:
//! - `C: text`   the client sends `text` + CRLF; consecutive C/R lines go out together
//!   (pipelined) before the next S line is read.
//! - `R: text`   the client sends `text` raw, with `\r`, `\n`, `\\` and `\xNN` escapes, no CRLF added.
//! - `S: glob`   one reply line from the server must match (`*` any run, `?` one char);
//!   `S:` alone is an empty line.
//! - `CLOSED`    the server must have closed the connection.
//! - `${NAME}`   in an S: line, a run of letters, digits, `_` and `-` the server chose (a
//!   UIDVALIDITY, an RFC 8474 object id); the first occurrence binds it, later S: lines must
//!   repeat it and C:/R: lines send it.
//! - `RECONNECT [service]` (mid-file) drop the connection and open a new one, to the same
//!   listener or to `service` (a POP3 file checks what an IMAP session sees afterwards).
//! - `CONNECT service`  (first line, optional) which listener: smtp, submission, imap, pop3…;
//!   the default is the directory's protocol (smtp for `smtp/`, imap for `imap/`, pop3 for
//!   `pop3/`).
//! - `# …` and blank lines are comments.
//!
//! Each file is replayed twice: client writes whole, then written in small chunks (the
//! codec's own tests split at every byte; this checks the real socket path). POP3 files are
//! replayed a third time pipelined (RFC 2449 §6.6): every command up to the next
//! `RECONNECT`/`CLOSED` goes out before the first reply is read, and the replies must come
//! in the same order.
//!
//! SMTP files share one server and leave nothing behind. IMAP files create folders and
//! messages, so every replay of an IMAP file gets a fresh server: a file starts from an
//! account holding only the default folders, and may assume that (UIDs start at 1, etc.).
//! A server literal (`{n}` followed by its bytes) is matched line by line like any other
//! output, the literal's content lines being S: lines of their own.
//!
//! POP3 files also get a fresh server each, whose bob@example.com INBOX holds the three
//! [`POP3_SEED`] messages (appended over IMAP, so stored byte for byte).

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use common::TestServer;

#[derive(Debug, Clone)]
enum Step {
    Send(Vec<u8>),
    /// To another listener, or the same one (`None`).
    Reconnect(Option<String>),
    Expect(String),
    Closed,
}

/// The messages in bob's INBOX when a POP3 transcript starts (UIDs 1-3). The second has
/// bare LF line ends (as an IMAP APPEND may store them): POP3 sends and counts them as CRLF.
const POP3_SEED: [&[u8]; 3] = [
    b"From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: first\r\n\r\nHello Bob.\r\n.leading dot\r\nBye.\r\n",
    b"From: Carol <carol@example.net>\nSubject: bare LFs\n\none\ntwo\n",
    b"Subject: caf\xc3\xa9\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nl1\r\nl2\r\nl3\r\nl4\r\n",
];

fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b'\\' => out.push(b'\\'),
                b'x' if i + 3 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).expect("\\xNN escape"));
                    i += 4;
                    continue;
                }
                other => panic!("unknown escape \\{}", other as char),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn parse(text: &str, default_service: &str) -> (String, Vec<Step>) {
    let mut service = default_service.to_string();
    let mut steps = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(s) = line.strip_prefix("CONNECT ") {
            service = s.trim().to_string();
        } else if let Some(c) = line.strip_prefix("C:") {
            let c = c.strip_prefix(' ').unwrap_or(c);
            steps.push(Step::Send(format!("{c}\r\n").into_bytes()));
        } else if let Some(c) = line.strip_prefix("R: ") {
            steps.push(Step::Send(unescape(c)));
        } else if let Some(s) = line.strip_prefix("S:") {
            // `S:` alone: an empty line (inside a literal).
            steps.push(Step::Expect(s.strip_prefix(' ').unwrap_or(s).to_string()));
        } else if let Some(rest) = line.trim().strip_prefix("RECONNECT") {
            let to = rest.trim();
            steps.push(Step::Reconnect((!to.is_empty()).then(|| to.to_string())));
        } else if line.trim() == "CLOSED" {
            steps.push(Step::Closed);
        } else {
            panic!("bad transcript line: {line:?}");
        }
    }
    (service, steps)
}

/// `*` matches any run, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Replaces bound `${NAME}`s in `text`.
fn substitute(text: &str, vars: &HashMap<String, String>) -> String {
    let mut out = text.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    out
}

/// `glob` with one unbound `${NAME}` allowed: it matches a run of digits, letters, `_` and `-`
/// and is bound.
fn matches(pattern: &str, text: &str, vars: &mut HashMap<String, String>) -> bool {
    let pattern = substitute(pattern, vars);
    let Some(start) = pattern.find("${") else {
        return glob(&pattern, text);
    };
    let end = start + pattern[start..].find('}').expect("${NAME} closed");
    let (prefix, name, suffix) = (
        &pattern[..start],
        &pattern[start + 2..end],
        &pattern[end + 1..],
    );
    for (pos, _) in text.char_indices() {
        let digits: String = text[pos..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        if !digits.is_empty()
            && glob(prefix, &text[..pos])
            && glob(suffix, &text[pos + digits.len()..])
        {
            vars.insert(name.to_string(), digits);
            return true;
        }
    }
    false
}

fn connect(server: &TestServer, service: &str) -> (TcpStream, BufReader<TcpStream>) {
    let stream = TcpStream::connect(server.addr(service)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (stream.try_clone().unwrap(), BufReader::new(stream))
}

/// How the client writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Each batch of C/R lines in one write.
    Whole,
    /// Each batch in small pieces.
    Chunked,
    /// Every C/R line up to the next RECONNECT/CLOSED in one write, before any S line.
    Pipelined,
}

/// Moves every send of a connection ahead of its first expectation (for [`Mode::Pipelined`]).
/// A connection whose sends use bound `${NAME}`s is left as it is.
fn pipelined(steps: &[Step]) -> Vec<Step> {
    let mut out = Vec::new();
    for segment in steps.split_inclusive(|s| matches!(s, Step::Reconnect(_) | Step::Closed)) {
        let uses_vars = segment
            .iter()
            .any(|s| matches!(s, Step::Send(b) if b.windows(2).any(|w| w == b"${")));
        if uses_vars {
            out.extend_from_slice(segment);
            continue;
        }
        let (sends, others): (Vec<Step>, Vec<Step>) = segment
            .iter()
            .cloned()
            .partition(|s| matches!(s, Step::Send(_)));
        out.extend(sends);
        out.extend(others);
    }
    out
}

fn replay(server: &TestServer, name: &str, service: &str, steps: &[Step], mode: Mode) {
    let chunked = mode == Mode::Chunked;
    let reordered;
    let steps = if mode == Mode::Pipelined {
        reordered = pipelined(steps);
        &reordered[..]
    } else {
        steps
    };
    let (mut writer, mut reader) = connect(server, service);
    let mut vars = HashMap::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut seed = 7u32;
    let mut flush = |pending: &mut Vec<u8>, writer: &mut TcpStream| {
        if pending.is_empty() {
            return;
        }
        if chunked {
            let mut rest = &pending[..];
            while !rest.is_empty() {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let n = (1 + (seed >> 16) as usize % 7).min(rest.len());
                // The server may already have closed (a transcript testing that); ignore.
                let _ = writer.write_all(&rest[..n]);
                rest = &rest[n..];
            }
        } else {
            let _ = writer.write_all(pending);
        }
        pending.clear();
    };
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Send(b) => {
                let text = String::from_utf8_lossy(b);
                if text.contains("${") {
                    pending.extend_from_slice(substitute(&text, &vars).as_bytes());
                } else {
                    pending.extend_from_slice(b);
                }
            }
            Step::Reconnect(to) => {
                flush(&mut pending, &mut writer);
                (writer, reader) = connect(server, to.as_deref().unwrap_or(service));
            }
            Step::Expect(pattern) => {
                flush(&mut pending, &mut writer);
                let mut line = String::new();
                reader.read_line(&mut line).unwrap_or_else(|e| {
                    panic!("{name} ({mode:?}) step {i}: expected {pattern:?}, read failed: {e}")
                });
                let got = line.trim_end_matches(['\r', '\n']);
                assert!(
                    matches(pattern, got, &mut vars),
                    "{name} ({mode:?}) step {i}: expected {pattern:?}, got {got:?}"
                );
            }
            Step::Closed => {
                flush(&mut pending, &mut writer);
                let mut line = String::new();
                let n = reader.read_line(&mut line).unwrap_or(0);
                assert_eq!(n, 0, "{name}: expected the server to close, got {line:?}");
            }
        }
    }
}

fn start_server() -> TestServer {
    TestServer::start_with("max_line_length = 1000\nallow_plaintext_auth = true")
}

/// A fresh server whose bob@example.com INBOX holds [`POP3_SEED`].
fn start_pop3_server() -> TestServer {
    let server = start_server();
    let mut imap = common::Imap::login(server.addr("imap"), "bob@example.com");
    for m in POP3_SEED {
        let tag = imap.bump();
        let mut wire = format!("{tag} APPEND INBOX {{{}+}}\r\n", m.len()).into_bytes();
        wire.extend_from_slice(m);
        wire.extend_from_slice(b"\r\n");
        imap.send_raw(&wire);
        let r = imap.until_tagged(&tag);
        assert!(common::ok(&r), "seed APPEND: {r:?}");
    }
    imap.cmd("LOGOUT");
    server
}

fn run_dir(proto: &str) {
    // Only SMTP transcripts share a server (see the module comment).
    let shared = (proto == "smtp").then(start_server);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/transcripts")
        .join(proto);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no transcripts in {}", dir.display());
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let (service, steps) = parse(&std::fs::read_to_string(&f).unwrap(), proto);
        let modes: &[Mode] = if proto == "pop3" {
            &[Mode::Whole, Mode::Chunked, Mode::Pipelined]
        } else {
            &[Mode::Whole, Mode::Chunked]
        };
        for &mode in modes {
            match &shared {
                Some(server) => replay(server, &name, &service, &steps, mode),
                None if proto == "pop3" => {
                    replay(&start_pop3_server(), &name, &service, &steps, mode)
                }
                None => replay(&start_server(), &name, &service, &steps, mode),
            }
        }
    }
}

#[test]
fn smtp_transcripts() {
    run_dir("smtp");
}

#[test]
fn imap_transcripts() {
    run_dir("imap");
}

#[test]
fn pop3_transcripts() {
    run_dir("pop3");
}

#[test]
fn pipelining_moves_sends_ahead_within_a_connection() {
    let (_, steps) = parse(
        "S: hi\nC: A\nS: a\nC: B\nS: b\nRECONNECT imap\nS: hi\nC: x ${V}\nS: y\nCLOSED\n",
        "pop3",
    );
    let kinds: String = pipelined(&steps)
        .iter()
        .map(|s| match s {
            Step::Send(_) => 'C',
            Step::Expect(_) => 'S',
            Step::Reconnect(_) => 'R',
            Step::Closed => 'X',
        })
        .collect();
    assert_eq!(kinds, "CCSSSRSCSX");
}

#[test]
fn glob_matches() {
    assert!(glob(
        "250 2.0.0 Ok: queued as *",
        "250 2.0.0 Ok: queued as 00AB"
    ));
    assert!(glob("2?0 *", "250 x"));
    assert!(!glob("250 *", "550 x"));
    assert!(glob("*", ""));
    let mut vars = HashMap::new();
    assert!(matches(
        "* OK [UIDVALIDITY ${UV}] *",
        "* OK [UIDVALIDITY 42] x",
        &mut vars
    ));
    assert_eq!(vars["UV"], "42");
    assert!(matches("[${UV}]", "[42]", &mut vars));
    assert!(!matches("[${UV}]", "[43]", &mut vars));
    assert_eq!(
        substitute("SELECT x (QRESYNC (${UV} 1))", &vars),
        "SELECT x (QRESYNC (42 1))"
    );
}
