//! A minimal POP3 client for load: greeting, STLS, USER/PASS, LIST, RETR, QUIT.
//!
//! RFCs: 1939 (the commands, multi-line responses), 2595 (STLS), 8314 (implicit TLS).
//! Every read is bounded by the per-command timeout, by line length and by the size of a
//! multi-line response, so a misbehaving server cannot stall or flood the bench.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::client::{bounded, ConnError, Endpoint, Io};
use crate::options::{Credentials, TlsMode};

/// Longest status or listing line accepted.
const MAX_LINE: usize = 64 * 1024;
/// Largest multi-line response (a RETR of a big message).
const MAX_MULTI: u64 = 256 * 1024 * 1024;
const READ_CHUNK: usize = 16 * 1024;

/// A status line: `+OK …` or `-ERR …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub ok: bool,
    pub line: String,
}

pub struct Pop3Client {
    io: Box<dyn Io>,
    buf: Vec<u8>,
    timeout: Duration,
}

impl Pop3Client {
    /// Connects, reads the greeting and, for `--starttls`, upgrades with STLS.
    pub async fn connect(endpoint: &Endpoint) -> Result<Pop3Client, ConnError> {
        let io = endpoint.open().await?;
        let mut c = Pop3Client {
            io,
            buf: Vec::with_capacity(READ_CHUNK),
            timeout: endpoint.timeout,
        };
        let greeting = c.status().await?;
        if !greeting.ok {
            return Err(ConnError::Refused {
                step: "greeting",
                line: greeting.line,
            });
        }
        if let (TlsMode::StartTls, Some(connector)) = (endpoint.tls, &endpoint.connector) {
            let r = c.command("STLS").await?;
            if !r.ok {
                return Err(ConnError::Refused {
                    step: "STLS",
                    line: r.line,
                });
            }
            // RFC 2595 §4: nothing may be pipelined behind STLS; the buffer is empty.
            let plain = std::mem::replace(&mut c.io, Box::new(tokio::io::duplex(1).0));
            c.io = Box::new(endpoint.handshake(connector, plain).await?);
        }
        Ok(c)
    }

    /// USER and PASS; the answer to PASS (or to USER, when that was refused).
    pub async fn login(&mut self, account: &Credentials) -> Result<Status, ConnError> {
        let r = self.command(&format!("USER {}", account.user)).await?;
        if !r.ok {
            return Ok(r);
        }
        self.command(&format!("PASS {}", account.pass)).await
    }

    /// Sends one command line and reads its status line.
    pub async fn command(&mut self, line: &str) -> Result<Status, ConnError> {
        let wire = format!("{line}\r\n");
        bounded(self.timeout, "write", self.io.write_all(wire.as_bytes())).await??;
        self.status().await
    }

    /// A multi-line command: the status and, after +OK, the data lines as
    /// (lines, octets after un-stuffing, CRLFs included).
    pub async fn multi(&mut self, line: &str) -> Result<(Status, Vec<Vec<u8>>, u64), ConnError> {
        let status = self.command(line).await?;
        let mut lines = Vec::new();
        let mut octets = 0u64;
        if !status.ok {
            return Ok((status, lines, 0));
        }
        loop {
            let l = self.line(MAX_MULTI as usize).await?;
            if l == b"." {
                return Ok((status, lines, octets));
            }
            let l = l.strip_prefix(b".").map(<[u8]>::to_vec).unwrap_or(l);
            octets += l.len() as u64 + 2;
            if octets > MAX_MULTI {
                return Err(ConnError::Malformed(format!(
                    "{line}: response over {MAX_MULTI} octets"
                )));
            }
            // Only LIST's lines are kept whole; RETR's are counted.
            if lines.len() < 1_000_000 && l.len() < 64 {
                lines.push(l);
            }
        }
    }

    pub async fn quit(mut self) -> Result<Status, ConnError> {
        let r = self.command("QUIT").await?;
        let _ = bounded(self.timeout, "close", self.io.shutdown()).await;
        Ok(r)
    }

    async fn status(&mut self) -> Result<Status, ConnError> {
        let l = self.line(MAX_LINE).await?;
        let line = String::from_utf8_lossy(&l).into_owned();
        if line.starts_with("+OK") || line.starts_with("+ ") {
            Ok(Status { ok: true, line })
        } else if line.starts_with("-ERR") {
            Ok(Status { ok: false, line })
        } else {
            Err(ConnError::Malformed(line))
        }
    }

    /// One line without its CRLF, at most `max` bytes.
    async fn line(&mut self, max: usize) -> Result<Vec<u8>, ConnError> {
        let mut scanned = 0;
        loop {
            if let Some(i) = self.buf[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + i;
                let mut l: Vec<u8> = self.buf.drain(..=end).collect();
                l.pop();
                if l.last() == Some(&b'\r') {
                    l.pop();
                }
                return Ok(l);
            }
            scanned = self.buf.len();
            if self.buf.len() > max {
                return Err(ConnError::Malformed(format!("line over {max} bytes")));
            }
            let start = self.buf.len();
            self.buf.resize(start + READ_CHUNK, 0);
            let n = bounded(
                self.timeout,
                "response",
                self.io.read(&mut self.buf[start..]),
            )
            .await;
            let n = match n {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => {
                    self.buf.truncate(start);
                    return Err(e.into());
                }
                Err(e) => {
                    self.buf.truncate(start);
                    return Err(e);
                }
            };
            self.buf.truncate(start + n);
            if n == 0 {
                return Err(ConnError::Closed);
            }
        }
    }
}
