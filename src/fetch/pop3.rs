//! POP3 client (RFC 1939), enough to collect a maildrop: CAPA (RFC 2449), STLS (RFC 2595),
//! AUTH PLAIN (RFC 5034, RFC 4616) when offered else USER/PASS, UIDL, LIST, RETR with
//! dot-unstuffing, DELE, QUIT.
//!
//! Notes:
//! - DELE only marks; the server removes marked messages when QUIT succeeds (RFC 1939 §6,
//!   UPDATE state). A connection lost before QUIT deletes nothing: the next run deletes
//!   again what is recorded as fetched.
//! - The pure parsers (status line, UIDL/LIST lines, unstuffing) are below the client and
//!   table-tested; the client is tested against scripted servers over in-memory pipes.

use std::sync::Arc;

use base64::Engine;

use super::conn::LineConn;
use super::{Budget, FetchError, MAX_LISTING_BYTES};

/// `+OK text` → Ok(text), `-ERR text` → Err(text) (RFC 1939 §3); anything else is a
/// protocol error.
pub fn parse_status(line: &[u8]) -> Result<Result<String, String>, FetchError> {
    let text = String::from_utf8_lossy(line);
    if let Some(rest) = text.strip_prefix("+OK") {
        Ok(Ok(rest.trim_start().to_string()))
    } else if let Some(rest) = text.strip_prefix("-ERR") {
        Ok(Err(rest.trim_start().to_string()))
    } else {
        Err(FetchError::Protocol(format!(
            "not a POP3 status line: {:?}",
            truncate(&text)
        )))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// A line of a multi-line response: `None` at the terminating ".", else the line with
/// its byte-stuffing removed (RFC 1939 §3: a leading "." is doubled on the wire).
pub fn unstuff(line: &[u8]) -> Option<&[u8]> {
    match line {
        b"." => None,
        [b'.', rest @ ..] => Some(rest),
        other => Some(other),
    }
}

/// `n uid` (UIDL, RFC 1939 §7): the uid is 1–70 characters 0x21–0x7E.
pub fn parse_uidl_line(line: &[u8]) -> Result<(u32, String), FetchError> {
    let text = String::from_utf8_lossy(line);
    let mut it = text.split_ascii_whitespace();
    let bad = || FetchError::Protocol(format!("bad UIDL line {:?}", truncate(&text)));
    let n = it.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
    let uid = it.next().ok_or_else(bad)?;
    if uid.len() > 70 || !uid.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(bad());
    }
    Ok((n, uid.to_string()))
}

/// `n size` (LIST, RFC 1939 §5).
pub fn parse_list_line(line: &[u8]) -> Result<(u32, u64), FetchError> {
    let text = String::from_utf8_lossy(line);
    let mut it = text.split_ascii_whitespace();
    let n = it.next().and_then(|n| n.parse().ok());
    let size = it.next().and_then(|n| n.parse().ok());
    match (n, size) {
        (Some(n), Some(size)) => Ok((n, size)),
        _ => Err(FetchError::Protocol(format!(
            "bad LIST line {:?}",
            truncate(&text)
        ))),
    }
}

/// A message on the server: its number in this session, UIDL and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pop3Message {
    pub number: u32,
    pub uidl: String,
    pub size: u64,
}

pub struct Pop3Client {
    conn: LineConn,
    /// CAPA lines (upper-cased keyword first), empty if the server has no CAPA.
    pub capabilities: Vec<String>,
}

impl Pop3Client {
    /// Reads the greeting.
    pub async fn start(mut conn: LineConn) -> Result<Pop3Client, FetchError> {
        let line = conn.read_line().await?;
        if let Err(e) = parse_status(&line)? {
            return Err(FetchError::Server(format!("greeting: -ERR {e}")));
        }
        Ok(Pop3Client {
            conn,
            capabilities: Vec::new(),
        })
    }

    /// Sends one command; the text after +OK, or the server's -ERR as an error.
    async fn command(&mut self, cmd: &str) -> Result<String, FetchError> {
        self.conn.send(format!("{cmd}\r\n").as_bytes()).await?;
        self.status(cmd).await
    }

    async fn status(&mut self, cmd: &str) -> Result<String, FetchError> {
        let line = self.conn.read_line().await?;
        let verb = cmd.split(' ').next().unwrap_or(cmd);
        parse_status(&line)?.map_err(|e| FetchError::Server(format!("{verb}: -ERR {e}")))
    }

    /// The lines of a multi-line response, unstuffed, within `budget`.
    async fn multiline(&mut self, mut budget: Budget) -> Result<Vec<Vec<u8>>, FetchError> {
        let mut lines = Vec::new();
        loop {
            let line = self.conn.read_line().await?;
            let Some(l) = unstuff(&line) else {
                return Ok(lines);
            };
            budget.take(l.len() + 2)?;
            lines.push(l.to_vec());
        }
    }

    /// CAPA (RFC 2449); a server without it gets an empty list.
    pub async fn capa(&mut self) -> Result<&[String], FetchError> {
        self.conn.send(b"CAPA\r\n").await?;
        match self.status("CAPA").await {
            Ok(_) => {
                let lines = self.multiline(Budget::listing("CAPA", 64 * 1024)).await?;
                self.capabilities = lines
                    .iter()
                    .map(|l| String::from_utf8_lossy(l).trim().to_string())
                    .collect();
            }
            Err(FetchError::Server(_)) => self.capabilities.clear(),
            Err(e) => return Err(e),
        }
        Ok(&self.capabilities)
    }

    pub fn has_capability(&self, word: &str) -> bool {
        self.capabilities.iter().any(|c| {
            c.split_ascii_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case(word))
        })
    }

    fn sasl_plain(&self) -> bool {
        self.capabilities.iter().any(|c| {
            let mut w = c.split_ascii_whitespace();
            w.next().is_some_and(|k| k.eq_ignore_ascii_case("SASL"))
                && w.any(|m| m.eq_ignore_ascii_case("PLAIN"))
        })
    }

    /// STLS (RFC 2595 §4), then CAPA again (the list may change after TLS).
    pub async fn stls(
        mut self,
        config: Arc<rustls::ClientConfig>,
        host: &str,
    ) -> Result<Pop3Client, FetchError> {
        if !self.has_capability("STLS") {
            return Err(FetchError::Tls("the server does not offer STLS".into()));
        }
        self.command("STLS").await?;
        let conn = self.conn.start_tls(config, host).await?;
        let mut client = Pop3Client {
            conn,
            capabilities: Vec::new(),
        };
        client.capa().await?;
        Ok(client)
    }

    /// AUTH PLAIN with the initial response when the server lists SASL PLAIN, else
    /// USER/PASS. A refusal is [`FetchError::Auth`].
    pub async fn login(&mut self, user: &str, password: &str) -> Result<(), FetchError> {
        if self.sasl_plain() {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
            return self
                .command(&format!("AUTH PLAIN {token}"))
                .await
                .map(|_| ())
                .map_err(FetchError::refused);
        }
        self.command(&format!("USER {user}"))
            .await
            .map_err(FetchError::refused)?;
        self.command(&format!("PASS {password}"))
            .await
            .map(|_| ())
            .map_err(FetchError::refused)
    }

    /// Every message with its UIDL and size (UIDL and LIST, joined by number).
    pub async fn list(&mut self) -> Result<Vec<Pop3Message>, FetchError> {
        self.command("UIDL").await?;
        let uidls = self
            .multiline(Budget::listing("UIDL", MAX_LISTING_BYTES))
            .await?;
        self.command("LIST").await?;
        let sizes = self
            .multiline(Budget::listing("LIST", MAX_LISTING_BYTES))
            .await?;
        let mut size_of = std::collections::HashMap::new();
        for l in &sizes {
            let (n, size) = parse_list_line(l)?;
            size_of.insert(n, size);
        }
        uidls
            .iter()
            .map(|l| {
                let (number, uidl) = parse_uidl_line(l)?;
                Ok(Pop3Message {
                    number,
                    uidl,
                    size: size_of.get(&number).copied().unwrap_or(0),
                })
            })
            .collect()
    }

    /// RETR: the message, lines joined with CRLF, at most `max_bytes`.
    pub async fn retr(&mut self, number: u32, max_bytes: u64) -> Result<Vec<u8>, FetchError> {
        self.command(&format!("RETR {number}")).await?;
        let lines = self.multiline(Budget::bytes(max_bytes)).await?;
        let mut out = Vec::with_capacity(lines.iter().map(|l| l.len() + 2).sum());
        for l in lines {
            out.extend_from_slice(&l);
            out.extend_from_slice(b"\r\n");
        }
        Ok(out)
    }

    pub async fn dele(&mut self, number: u32) -> Result<(), FetchError> {
        self.command(&format!("DELE {number}")).await.map(|_| ())
    }

    /// QUIT: the server now removes the messages marked with DELE.
    pub async fn quit(mut self) -> Result<(), FetchError> {
        let r = self.command("QUIT").await.map(|_| ());
        self.conn.shutdown().await;
        r
    }
}

#[cfg(test)]
#[path = "pop3_tests.rs"]
mod tests;
