//! A minimal IMAP client for load: just the commands the bench sends.
//!
//! RFCs: 9051 and 3501 (LOGIN, SELECT, FETCH, STORE, SEARCH, APPEND, EXPUNGE,
//! NOOP, LOGOUT), 2177 (IDLE), 7888 (LITERAL+), 3502 (MULTIAPPEND),
//! 4315 (UIDPLUS: APPENDUID, UID EXPUNGE), 8314 (implicit TLS).
//!
//! Responses are read as "logical lines": a line that ends in a literal
//! (`{N}`) continues after the N bytes. Nothing beyond what the bench
//! counts is kept: EXISTS and EXPUNGE keep the message count, SEARCH
//! results and APPENDUID are parsed. Every read is bounded by the command's
//! deadline and by line count and size, so a misbehaving server cannot
//! stall or flood the bench.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;

use crate::client::{bounded, ConnError, Io};
use crate::options::{Credentials, TlsMode};

/// Longest logical response line, literals included.
const MAX_RESPONSE_LINE: usize = 64 * 1024 * 1024;
/// Room made in the buffer before each read.
const READ_CHUNK: usize = 16 * 1024;
/// Most untagged lines in answer to one command (FETCH 1:* on a big folder).
const MAX_RESPONSE_LINES: u64 = 20_000_000;

/// Where and how to connect (the SMTP bench's endpoint: address, TLS, timeout).
pub type ConnectSpec = crate::client::Endpoint;

/// The status of a tagged response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
}

/// What a command got back.
#[derive(Debug, Clone, Default)]
pub struct Done {
    pub status: Option<Status>,
    /// The tagged line, without the tag.
    pub text: String,
    /// Untagged lines received.
    pub untagged: u64,
    /// Numbers of the last `* SEARCH` response.
    pub search: Vec<u32>,
}

impl Done {
    pub fn ok(&self) -> bool {
        self.status == Some(Status::Ok)
    }

    /// The UID from `[APPENDUID validity uid]` (RFC 4315 §3), single message only.
    pub fn append_uid(&self) -> Option<u32> {
        let code = self.text.split("[APPENDUID ").nth(1)?;
        let uid = code.split([']', ' ']).nth(1)?;
        uid.parse().ok()
    }
}

/// One response read from the server.
enum Response {
    Untagged(Vec<u8>),
    Continuation,
    Tagged { tag: Vec<u8>, rest: Vec<u8> },
}

/// One IMAP connection.
pub struct ImapClient {
    io: Box<dyn Io>,
    buf: Vec<u8>,
    /// Start of unread data in `buf`.
    pos: usize,
    timeout: Duration,
    next_tag: u64,
    caps: HashSet<String>,
    /// The tag of an IDLE waiting for DONE.
    pending_idle: Option<String>,
    /// Messages in the selected mailbox, as far as this session knows.
    pub exists: u32,
    /// Keywords the last untagged FLAGS response announced (lowercase).
    announced: HashSet<String>,
    /// Whether the server may create keywords (`\*` in PERMANENTFLAGS).
    pub keywords_allowed: bool,
    /// Responses that broke a rule this client checks: a keyword in `FETCH (FLAGS …)` that
    /// no FLAGS response announced (RFC 9051 §7.3.5; imaptest counts the same).
    pub protocol_errors: u64,
    /// The first few of them.
    pub protocol_notes: Vec<String>,
    /// Bytes read from the server so far (after TLS).
    pub received: u64,
}

impl ImapClient {
    /// Connects, reads the greeting and secures the connection as asked.
    pub async fn connect(spec: &ConnectSpec) -> Result<ImapClient, ConnError> {
        let io = spec.open().await?;
        let mut client = ImapClient {
            io,
            buf: Vec::with_capacity(8192),
            pos: 0,
            timeout: spec.timeout,
            next_tag: 0,
            caps: HashSet::new(),
            pending_idle: None,
            exists: 0,
            announced: HashSet::new(),
            keywords_allowed: false,
            protocol_errors: 0,
            protocol_notes: Vec::new(),
            received: 0,
        };
        let deadline = Instant::now() + spec.timeout;
        let greeting = match client.read_response(deadline).await? {
            Response::Untagged(line) => line,
            _ => return Err(ConnError::Malformed("greeting is not untagged".into())),
        };
        let text = String::from_utf8_lossy(&greeting).into_owned();
        if !(text.starts_with("OK") || text.starts_with("PREAUTH")) {
            return Err(ConnError::Refused {
                step: "greeting",
                line: text,
            });
        }
        client.note_capabilities(&text);
        if let (TlsMode::StartTls, Some(connector)) = (&spec.tls, &spec.connector) {
            client.starttls(connector, spec).await?;
        }
        Ok(client)
    }

    /// Whether the server advertised `cap` (upper case), e.g. `LITERAL+`.
    pub fn has_capability(&self, cap: &str) -> bool {
        self.caps.contains(cap)
    }

    /// RFC 9051 §6.2.2; the capabilities are those after STARTTLS.
    async fn starttls(&mut self, c: &TlsConnector, spec: &ConnectSpec) -> Result<(), ConnError> {
        let done = self.command("STARTTLS").await?;
        if !done.ok() {
            return Err(ConnError::Refused {
                step: "STARTTLS",
                line: done.text,
            });
        }
        if self.pos != self.buf.len() {
            return Err(ConnError::Malformed("data after STARTTLS reply".into()));
        }
        let plain = std::mem::replace(&mut self.io, Box::new(tokio::io::duplex(1).0));
        self.io = Box::new(spec.handshake(c, plain).await?);
        self.caps.clear();
        Ok(())
    }

    /// LOGIN with quoted strings; learns the capabilities after login.
    pub async fn login(&mut self, creds: &Credentials) -> Result<Done, ConnError> {
        let done = self
            .command(&format!(
                "LOGIN {} {}",
                quoted(&creds.user),
                quoted(&creds.pass)
            ))
            .await?;
        if done.ok() {
            self.caps.clear();
            self.note_capabilities(&done.text);
            if self.caps.is_empty() {
                self.command("CAPABILITY").await?;
            }
        }
        Ok(done)
    }

    /// Sends `tag command` and reads everything up to its tagged response.
    pub async fn command(&mut self, command: &str) -> Result<Done, ConnError> {
        let tag = self.tag();
        self.send(format!("{tag} {command}\r\n").as_bytes()).await?;
        self.finish(&tag, Instant::now() + self.timeout).await
    }

    /// APPEND (with MULTIAPPEND when there are several messages): each
    /// message with its flags. Literals are non-synchronizing with LITERAL+,
    /// else each waits for the server's continuation request.
    pub async fn append(
        &mut self,
        mailbox: &str,
        messages: &[(&str, &[u8])],
    ) -> Result<Done, ConnError> {
        let tag = self.tag();
        let deadline = Instant::now() + self.timeout;
        let plus = if self.has_capability("LITERAL+") {
            "+"
        } else {
            ""
        };
        let mut head = format!("{tag} APPEND {}", quoted(mailbox));
        for (i, (flags, body)) in messages.iter().enumerate() {
            head.push_str(&format!(" ({flags}) {{{}{plus}}}\r\n", body.len()));
            self.send(head.as_bytes()).await?;
            if plus.is_empty() {
                if let Some(refused) = self.await_continuation(&tag, deadline).await? {
                    return Ok(refused);
                }
            }
            self.send(body).await?;
            head.clear();
            if i + 1 == messages.len() {
                self.send(b"\r\n").await?;
            }
        }
        self.finish(&tag, deadline).await
    }

    /// IDLE (RFC 2177): returns once the server has sent its continuation
    /// (or a refusal, then `Some`).
    pub async fn idle_start(&mut self) -> Result<Option<(String, Done)>, ConnError> {
        let tag = self.tag();
        self.send(format!("{tag} IDLE\r\n").as_bytes()).await?;
        let deadline = Instant::now() + self.timeout;
        match self.await_continuation(&tag, deadline).await? {
            Some(refused) => Ok(Some((tag, refused))),
            None => {
                self.pending_idle = Some(tag);
                Ok(None)
            }
        }
    }

    /// DONE, then the tagged response to the IDLE.
    pub async fn idle_done(&mut self) -> Result<Done, ConnError> {
        let tag = self
            .pending_idle
            .take()
            .ok_or_else(|| ConnError::Malformed("DONE without IDLE".into()))?;
        self.send(b"DONE\r\n").await?;
        self.finish(&tag, Instant::now() + self.timeout).await
    }

    /// Reads and counts what arrives while idling, until `until` passes or
    /// `stop` resolves. The server's untagged updates are discarded.
    pub async fn idle_wait<F: std::future::Future>(
        &mut self,
        until: Instant,
        stop: F,
    ) -> Result<u64, ConnError> {
        let mut seen = 0u64;
        tokio::pin!(stop);
        for _ in 0..MAX_RESPONSE_LINES {
            tokio::select! {
                _ = &mut stop => return Ok(seen),
                _ = tokio::time::sleep_until(until.into()) => return Ok(seen),
                r = self.read_response(until + self.timeout) => match r? {
                    Response::Untagged(line) => { self.note_untagged(&line, &mut Done::default()); seen += 1 }
                    _ => return Err(ConnError::Malformed("unexpected response during IDLE".into())),
                }
            }
        }
        Ok(seen)
    }

    /// LOGOUT and close; best effort.
    pub async fn logout(mut self) -> Option<Done> {
        let done = self.command("LOGOUT").await.ok();
        let _ = bounded(self.timeout, "shutdown", self.io.shutdown()).await;
        done
    }

    /// Gives back buffer memory (for connections that only idle).
    pub fn shrink(&mut self) {
        self.buf.drain(..self.pos);
        self.pos = 0;
        self.buf.shrink_to_fit();
    }

    fn tag(&mut self) -> String {
        self.next_tag += 1;
        format!("b{}", self.next_tag)
    }

    /// Waits for `+`; a tagged response for `tag` instead means refusal.
    async fn await_continuation(
        &mut self,
        tag: &str,
        deadline: Instant,
    ) -> Result<Option<Done>, ConnError> {
        let mut done = Done::default();
        for _ in 0..MAX_RESPONSE_LINES {
            match self.read_response(deadline).await? {
                Response::Continuation => return Ok(None),
                Response::Untagged(line) => self.note_untagged(&line, &mut done),
                Response::Tagged { tag: t, rest } if t == tag.as_bytes() => {
                    tagged(&rest, &mut done);
                    return Ok(Some(done));
                }
                Response::Tagged { .. } => {}
            }
        }
        Err(ConnError::Malformed("too many responses".into()))
    }

    /// Reads untagged responses until the tagged one for `tag`.
    async fn finish(&mut self, tag: &str, deadline: Instant) -> Result<Done, ConnError> {
        let mut done = Done::default();
        for _ in 0..MAX_RESPONSE_LINES {
            match self.read_response(deadline).await? {
                Response::Untagged(line) => self.note_untagged(&line, &mut done),
                Response::Continuation => {
                    return Err(ConnError::Malformed("unexpected continuation".into()))
                }
                Response::Tagged { tag: t, rest } if t == tag.as_bytes() => {
                    tagged(&rest, &mut done);
                    if done.text.contains("[CAPABILITY ") {
                        let text = done.text.clone();
                        self.note_capabilities(&text);
                    }
                    return Ok(done);
                }
                Response::Tagged { rest, .. } => {
                    let line = String::from_utf8_lossy(&rest);
                    return Err(ConnError::Malformed(format!("foreign tag: {line}")));
                }
            }
        }
        Err(ConnError::Malformed("too many responses".into()))
    }

    /// Keeps the count of messages and SEARCH results; notes capabilities.
    fn note_untagged(&mut self, line: &[u8], done: &mut Done) {
        done.untagged += 1;
        let mut words = line.splitn(3, |&b| b == b' ');
        let first = words.next().unwrap_or_default();
        let second = words.next().unwrap_or_default();
        if let Ok(n) = std::str::from_utf8(first).unwrap_or("").parse::<u32>() {
            if second.eq_ignore_ascii_case(b"EXISTS") {
                self.exists = n;
            } else if second.eq_ignore_ascii_case(b"EXPUNGE") {
                self.exists = self.exists.saturating_sub(1);
            } else if second.eq_ignore_ascii_case(b"FETCH") {
                self.check_fetch_flags(n, line);
            }
        } else if first.eq_ignore_ascii_case(b"FLAGS") {
            self.announced = flag_list(line, b"FLAGS (")
                .filter(|f| !f.starts_with('\\'))
                .collect();
        } else if first.eq_ignore_ascii_case(b"OK")
            && line
                .windows(17)
                .any(|w| w.eq_ignore_ascii_case(b"[PERMANENTFLAGS ("))
        {
            self.keywords_allowed = flag_list(line, b"[PERMANENTFLAGS (").any(|f| f == "\\*");
        } else if first.eq_ignore_ascii_case(b"SEARCH") {
            done.search = line[first.len()..]
                .split(|&b| b == b' ')
                .filter_map(|w| std::str::from_utf8(w).ok()?.parse().ok())
                .collect();
        } else if first.eq_ignore_ascii_case(b"CAPABILITY") {
            let text = String::from_utf8_lossy(line).into_owned();
            self.caps = text
                .split_whitespace()
                .skip(1)
                .map(|c| c.to_ascii_uppercase())
                .collect();
        }
    }

    /// RFC 9051 §7.3.5: a keyword a FETCH response shows must have been announced by a
    /// FLAGS response first. Only the response's first physical line is looked at, so that
    /// message text in a literal is never taken for flags.
    fn check_fetch_flags(&mut self, seq: u32, line: &[u8]) {
        let head = line
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(line, |end| &line[..end]);
        let unannounced: Vec<String> = flag_list(head, b"FLAGS (")
            .filter(|f| !f.starts_with('\\') && !self.announced.contains(f))
            .collect();
        if !unannounced.is_empty() {
            self.protocol_errors += 1;
            crate::imap::report::note(
                &mut self.protocol_notes,
                format!(
                    "FETCH {seq} FLAGS shows {} before any FLAGS response announced it",
                    unannounced.join(" ")
                ),
            );
        }
    }

    /// Capabilities from a `[CAPABILITY ...]` response code, if any.
    fn note_capabilities(&mut self, text: &str) {
        if let Some(code) = text.split("[CAPABILITY ").nth(1) {
            let list = code.split(']').next().unwrap_or("");
            self.caps = list
                .split_whitespace()
                .map(|c| c.to_ascii_uppercase())
                .collect();
        }
    }

    /// Writes all of `data` and flushes, within the timeout.
    pub async fn send(&mut self, data: &[u8]) -> Result<(), ConnError> {
        let io = &mut self.io;
        bounded(self.timeout, "write", async move {
            io.write_all(data).await?;
            io.flush().await
        })
        .await??;
        Ok(())
    }

    /// One logical response, literals included.
    async fn read_response(&mut self, deadline: Instant) -> Result<Response, ConnError> {
        let mut line = self.read_line(deadline).await?;
        while let Some(n) = literal_size(&line) {
            if line.len() + n > MAX_RESPONSE_LINE {
                return Err(ConnError::Malformed("response too large".into()));
            }
            line.extend_from_slice(b"\r\n");
            self.read_exact_into(n, &mut line, deadline).await?;
            let more = self.read_line(deadline).await?;
            line.extend_from_slice(&more);
        }
        Ok(match line.first() {
            Some(b'*') => Response::Untagged(line.get(2..).unwrap_or_default().to_vec()),
            Some(b'+') => Response::Continuation,
            _ => {
                let mut parts = line.splitn(2, |&b| b == b' ');
                let tag = parts.next().unwrap_or_default().to_vec();
                let rest = parts.next().unwrap_or_default().to_vec();
                Response::Tagged { tag, rest }
            }
        })
    }

    /// One line without its CRLF.
    async fn read_line(&mut self, deadline: Instant) -> Result<Vec<u8>, ConnError> {
        for _ in 0..MAX_RESPONSE_LINE {
            if let Some(end) = self.buf[self.pos..].iter().position(|&b| b == b'\n') {
                let raw = &self.buf[self.pos..self.pos + end];
                let line = raw.strip_suffix(b"\r").unwrap_or(raw).to_vec();
                self.pos += end + 1;
                return Ok(line);
            }
            if self.buf.len() - self.pos > MAX_RESPONSE_LINE {
                return Err(ConnError::Malformed("response line too long".into()));
            }
            self.fill(deadline).await?;
        }
        Err(ConnError::Malformed("response line too long".into()))
    }

    async fn read_exact_into(
        &mut self,
        n: usize,
        out: &mut Vec<u8>,
        deadline: Instant,
    ) -> Result<(), ConnError> {
        // Each pass reads at least one byte or fails, so n + 1 passes suffice.
        for _ in 0..=n {
            if self.buf.len() - self.pos >= n {
                out.extend_from_slice(&self.buf[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(());
            }
            self.fill(deadline).await?;
        }
        Err(ConnError::Malformed("literal not received".into()))
    }

    /// Reads more bytes into the buffer, compacting it first.
    async fn fill(&mut self, deadline: Instant) -> Result<(), ConnError> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.reserve(READ_CHUNK);
        let left = deadline.saturating_duration_since(Instant::now());
        let n = bounded(left, "response", self.io.read_buf(&mut self.buf)).await??;
        if n == 0 {
            return Err(ConnError::Closed);
        }
        self.received += n as u64;
        Ok(())
    }
}

/// The flags of the parenthesised list that follows `opener` (matched without regard to
/// case), lowercase; nothing when `opener` is absent.
fn flag_list<'a>(line: &'a [u8], opener: &[u8]) -> impl Iterator<Item = String> + 'a {
    let start = line
        .windows(opener.len())
        .position(|w| w.eq_ignore_ascii_case(opener))
        .map(|i| i + opener.len());
    let list = start.map_or(&line[..0], |s| {
        let rest = &line[s..];
        &rest[..rest.iter().position(|&b| b == b')').unwrap_or(rest.len())]
    });
    list.split(|&b| b == b' ')
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).to_ascii_lowercase())
}

/// Splits the tagged response's `OK text` into status and text.
fn tagged(rest: &[u8], done: &mut Done) {
    let text = String::from_utf8_lossy(rest).into_owned();
    let word = text.split(' ').next().unwrap_or("");
    done.status = if word.eq_ignore_ascii_case("OK") {
        Some(Status::Ok)
    } else if word.eq_ignore_ascii_case("NO") {
        Some(Status::No)
    } else {
        Some(Status::Bad)
    };
    done.text = text;
}

/// The N of a line ending in a literal announcement `{N}` or `~{N}`.
fn literal_size(line: &[u8]) -> Option<usize> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let digits = body[open + 1..]
        .strip_suffix(b"+")
        .unwrap_or(&body[open + 1..]);
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// An IMAP quoted string (RFC 9051 §4.3); the caller excluded CR, LF, NUL.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_announcements() {
        assert_eq!(literal_size(b"* 1 FETCH (BODY[] {123}"), Some(123));
        assert_eq!(literal_size(b"* 1 FETCH (BINARY[] ~{7}"), Some(7));
        assert_eq!(literal_size(b"* 1 FETCH (X {0}"), Some(0));
        assert_eq!(literal_size(b"* OK {x}"), None);
        assert_eq!(literal_size(b"* OK {}"), None);
        assert_eq!(literal_size(b"* OK done"), None);
    }

    #[test]
    fn unannounced_keywords_in_fetch_are_protocol_errors() {
        let mut c = ImapClient {
            io: Box::new(tokio::io::duplex(1).0),
            buf: Vec::new(),
            pos: 0,
            timeout: Duration::from_secs(1),
            next_tag: 0,
            caps: HashSet::new(),
            pending_idle: None,
            exists: 0,
            announced: HashSet::new(),
            keywords_allowed: false,
            protocol_errors: 0,
            protocol_notes: Vec::new(),
            received: 0,
        };
        let mut done = Done::default();
        c.note_untagged(b"FLAGS (\\Seen \\Deleted $Label1)", &mut done);
        c.note_untagged(b"OK [PERMANENTFLAGS (\\Seen \\*)] ok", &mut done);
        assert!(c.keywords_allowed);
        c.note_untagged(b"1 FETCH (FLAGS (\\Seen $label1) UID 4)", &mut done);
        c.note_untagged(
            b"2 FETCH (UID 5 BODY[] {20}\r\nFLAGS ($Label9 x)\r\n)",
            &mut done,
        );
        assert_eq!(c.protocol_errors, 0, "{:?}", c.protocol_notes);
        c.note_untagged(b"3 FETCH (FLAGS ($Label2 \\Flagged))", &mut done);
        assert_eq!(c.protocol_errors, 1);
        assert!(c.protocol_notes[0].contains("FETCH 3 FLAGS shows $label2"));
        c.note_untagged(b"FLAGS (\\Seen $Label1 $Label2)", &mut done);
        c.note_untagged(b"3 FETCH (FLAGS ($Label2))", &mut done);
        assert_eq!(c.protocol_errors, 1);
    }

    #[test]
    fn quoting_and_appenduid() {
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
        let mut done = Done::default();
        tagged(b"OK [APPENDUID 38505 3955] APPEND completed", &mut done);
        assert!(done.ok());
        assert_eq!(done.append_uid(), Some(3955));
        tagged(b"garbage line", &mut done);
        assert_eq!(done.status, Some(Status::Bad));
        tagged(b"NO [TRYCREATE] no", &mut done);
        assert_eq!((done.status, done.append_uid()), (Some(Status::No), None));
    }
}
