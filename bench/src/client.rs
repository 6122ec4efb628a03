//! A minimal SMTP client for load: just what a submission needs.
//!
//! RFCs: 5321 (EHLO, MAIL, RCPT, DATA, RSET, QUIT), 3207 (STARTTLS),
//! 4954 + 4616 (AUTH PLAIN), 2920 (PIPELINING), 8314 (implicit TLS).
//!
//! Every read and write is bounded by the per-command timeout, and replies
//! by line length and line count, so a misbehaving server cannot stall or
//! flood the bench.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use base64::Engine;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::options::{Credentials, TlsMode};

/// Longest reply line accepted (RFC 5321 §4.5.3.1.5 says 512; be lenient).
const MAX_REPLY_LINE: usize = 4096;
/// Most lines in one multi-line reply.
const MAX_REPLY_LINES: usize = 256;

/// Any byte stream the client can speak SMTP over.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A server reply: the code and the text of its last line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// The whole last line, e.g. `451 4.3.0 Try again later`.
    pub line: String,
}

impl Reply {
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }
}

/// Errors that end a connection (as opposed to a rejected message).
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("timeout waiting for {0}")]
    Timeout(&'static str),
    #[error("connection closed by server")]
    Closed,
    #[error("malformed reply: {0}")]
    Malformed(String),
    /// A reply that makes going on pointless (greeting, EHLO, STARTTLS, AUTH).
    #[error("{step} refused: {line}")]
    Refused { step: &'static str, line: String },
}

/// Where and how to connect: shared by the SMTP and IMAP load clients.
#[derive(Clone)]
pub struct Endpoint {
    pub addr: std::net::SocketAddr,
    pub tls: TlsMode,
    pub connector: Option<TlsConnector>,
    pub server_name: rustls_pki_types::ServerName<'static>,
    pub timeout: Duration,
}

impl Endpoint {
    /// Resolves `target` (`host:port`) within `timeout` and prepares TLS as asked.
    pub async fn resolve(
        target: &str,
        tls: TlsMode,
        timeout: Duration,
    ) -> Result<Endpoint, String> {
        let lookup = tokio::net::lookup_host(target);
        let addr = tokio::time::timeout(timeout, lookup)
            .await
            .map_err(|_| format!("resolving {target}: timeout"))?
            .map_err(|e| format!("resolving {target}: {e}"))?
            .next()
            .ok_or_else(|| format!("resolving {target}: no address"))?;
        let host = target.rsplit_once(':').map_or("", |(h, _)| h);
        let connector = match tls {
            TlsMode::None => None,
            TlsMode::StartTls | TlsMode::Implicit => Some(super::tls::insecure_connector()?),
        };
        Ok(Endpoint {
            addr,
            tls,
            connector,
            server_name: super::tls::server_name(host),
            timeout,
        })
    }

    /// A TCP connection, already in TLS when the mode is implicit TLS.
    pub async fn open(&self) -> Result<Box<dyn Io>, ConnError> {
        let tcp = bounded(self.timeout, "connect", TcpStream::connect(self.addr)).await??;
        tcp.set_nodelay(true)?;
        Ok(match (&self.tls, &self.connector) {
            (TlsMode::Implicit, Some(c)) => Box::new(self.handshake(c, tcp).await?),
            _ => Box::new(tcp),
        })
    }

    /// The client side of a TLS handshake (implicit TLS, or after STARTTLS).
    pub async fn handshake<S: Io + 'static>(
        &self,
        c: &TlsConnector,
        io: S,
    ) -> Result<tokio_rustls::client::TlsStream<S>, ConnError> {
        let connect = c.connect(self.server_name.clone(), io);
        Ok(bounded(self.timeout, "TLS handshake", connect).await??)
    }
}

/// How to open and set up each SMTP connection.
#[derive(Clone)]
pub struct ConnectSpec {
    pub endpoint: Endpoint,
    pub helo: String,
    pub auth: Option<Credentials>,
}

/// One SMTP connection, past greeting, EHLO, TLS and AUTH.
pub struct SmtpClient {
    io: Box<dyn Io>,
    buf: Vec<u8>,
    timeout: Duration,
    extensions: HashSet<String>,
}

impl SmtpClient {
    /// Connects and does everything up to the first MAIL FROM.
    pub async fn connect(spec: &ConnectSpec) -> Result<SmtpClient, ConnError> {
        let io = spec.endpoint.open().await?;
        let mut client = SmtpClient {
            io,
            buf: Vec::with_capacity(1024),
            timeout: spec.endpoint.timeout,
            extensions: HashSet::new(),
        };
        client.expect(2, "greeting").await?;
        client.ehlo(&spec.helo).await?;
        if let (TlsMode::StartTls, Some(connector)) = (&spec.endpoint.tls, &spec.endpoint.connector)
        {
            client.starttls(connector, spec).await?;
            client.ehlo(&spec.helo).await?;
        }
        if let Some(creds) = &spec.auth {
            client.auth_plain(creds).await?;
        }
        Ok(client)
    }

    /// Whether the server's EHLO reply listed `keyword` (upper case).
    pub fn has_extension(&self, keyword: &str) -> bool {
        self.extensions.contains(keyword)
    }

    /// RFC 5321 §4.1.1.1. Keeps the extension keywords for later checks.
    async fn ehlo(&mut self, helo: &str) -> Result<(), ConnError> {
        self.send(format!("EHLO {helo}\r\n").as_bytes()).await?;
        let (reply, lines) = self.read_reply_lines().await?;
        if !reply.is_positive() {
            return Err(ConnError::Refused {
                step: "EHLO",
                line: reply.line,
            });
        }
        self.extensions = lines
            .iter()
            .skip(1)
            .filter_map(|l| l.get(4..)?.split_whitespace().next())
            .map(|k| k.to_ascii_uppercase())
            .collect();
        Ok(())
    }

    /// RFC 3207 §4. Any bytes the server sent after its 220 would be a
    /// command-injection hazard, so they end the connection.
    async fn starttls(&mut self, c: &TlsConnector, spec: &ConnectSpec) -> Result<(), ConnError> {
        if !self.has_extension("STARTTLS") {
            return Err(ConnError::Refused {
                step: "STARTTLS",
                line: "not advertised in EHLO".into(),
            });
        }
        self.send(b"STARTTLS\r\n").await?;
        self.expect(2, "STARTTLS").await?;
        if !self.buf.is_empty() {
            return Err(ConnError::Malformed("data after STARTTLS reply".into()));
        }
        let plain = std::mem::replace(&mut self.io, Box::new(tokio::io::duplex(1).0));
        self.io = Box::new(spec.endpoint.handshake(c, plain).await?);
        self.extensions.clear();
        Ok(())
    }

    /// RFC 4954 with the PLAIN mechanism (RFC 4616), initial response inline.
    async fn auth_plain(&mut self, creds: &Credentials) -> Result<(), ConnError> {
        let token = format!("\0{}\0{}", creds.user, creds.pass);
        let encoded = base64::engine::general_purpose::STANDARD.encode(token);
        self.send(format!("AUTH PLAIN {encoded}\r\n").as_bytes())
            .await?;
        self.expect(2, "AUTH").await.map(|_| ())
    }

    /// Best effort: the bench is done with this connection either way.
    pub async fn quit(mut self) {
        if self.send(b"QUIT\r\n").await.is_ok() {
            let _ = self.read_reply().await;
        }
        let _ = bounded(self.timeout, "shutdown", self.io.shutdown()).await;
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

    /// Reads a reply whose first digit must be `class`, else `Refused`.
    async fn expect(&mut self, class: u16, step: &'static str) -> Result<Reply, ConnError> {
        let reply = self.read_reply().await?;
        if reply.code / 100 != class {
            return Err(ConnError::Refused {
                step,
                line: reply.line,
            });
        }
        Ok(reply)
    }

    /// Reads one (possibly multi-line) reply, RFC 5321 §4.2.1.
    pub async fn read_reply(&mut self) -> Result<Reply, ConnError> {
        self.read_reply_lines().await.map(|(r, _)| r)
    }

    async fn read_reply_lines(&mut self) -> Result<(Reply, Vec<String>), ConnError> {
        let deadline = Instant::now() + self.timeout;
        let mut lines = Vec::new();
        loop {
            let line = self.read_line(deadline).await?;
            let (code, last) = parse_reply_line(&line)?;
            if let Some(first) = lines.first().and_then(|l: &String| l.get(..3)) {
                if first != &line[..3] {
                    return Err(ConnError::Malformed(line));
                }
            }
            lines.push(line);
            if last {
                let line = lines.last().cloned().unwrap_or_default();
                return Ok((Reply { code, line }, lines));
            }
            if lines.len() >= MAX_REPLY_LINES {
                return Err(ConnError::Malformed("too many reply lines".into()));
            }
        }
    }

    /// One line without its CRLF (a bare LF is tolerated).
    async fn read_line(&mut self, deadline: Instant) -> Result<String, ConnError> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let raw: Vec<u8> = self.buf.drain(..=pos).collect();
                let text = String::from_utf8_lossy(&raw);
                return Ok(text.trim_end_matches(['\r', '\n']).to_string());
            }
            if self.buf.len() > MAX_REPLY_LINE {
                return Err(ConnError::Malformed("reply line too long".into()));
            }
            let mut chunk = [0u8; 4096];
            let left = deadline.saturating_duration_since(Instant::now());
            let n = bounded(left, "reply", self.io.read(&mut chunk)).await??;
            if n == 0 {
                return Err(ConnError::Closed);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Splits `250-text` / `250 text` / `250` into (code, is-last-line).
fn parse_reply_line(line: &str) -> Result<(u16, bool), ConnError> {
    let b = line.as_bytes();
    let digits =
        b.len() >= 3 && b[..3].iter().all(u8::is_ascii_digit) && (b'2'..=b'5').contains(&b[0]);
    if !digits {
        return Err(ConnError::Malformed(line.chars().take(200).collect()));
    }
    let code = (b[0] - b'0') as u16 * 100 + (b[1] - b'0') as u16 * 10 + (b[2] - b'0') as u16;
    match b.get(3) {
        None | Some(b' ') => Ok((code, true)),
        Some(b'-') => Ok((code, false)),
        Some(_) => Err(ConnError::Malformed(line.chars().take(200).collect())),
    }
}

/// Runs `fut` with a time limit; `what` names it in the error.
pub(super) async fn bounded<F: std::future::Future>(
    limit: Duration,
    what: &'static str,
    fut: F,
) -> Result<F::Output, ConnError> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| ConnError::Timeout(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_lines_parse() {
        assert_eq!(parse_reply_line("250 OK").ok(), Some((250, true)));
        assert_eq!(parse_reply_line("250-PIPELINING").ok(), Some((250, false)));
        assert_eq!(parse_reply_line("354").ok(), Some((354, true)));
        assert!(parse_reply_line("25").is_err());
        assert!(parse_reply_line("hello").is_err());
        assert!(parse_reply_line("250xOK").is_err());
        assert!(parse_reply_line("650 no").is_err());
    }
}
