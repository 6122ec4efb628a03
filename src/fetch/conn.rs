//! A client connection read line by line: every read has a timeout, every line a size bound
//! checked before it is buffered, and STARTTLS/STLS refuses to upgrade while the server has
//! sent bytes we have not read yet (they would be plain text injected into the TLS session;
//! RFC 2595 §4, RFC 9051 §6.2.1).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::FetchError;

/// Anything a client can talk over: a TCP stream, a TLS stream, a test's in-memory pipe.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

pub struct LineConn {
    stream: Box<dyn Stream>,
    /// Bytes read and not yet consumed.
    buf: Vec<u8>,
    /// Bound on each read and write.
    pub timeout: Duration,
    /// Longest line, CRLF included.
    pub max_line: usize,
}

const READ_CHUNK: usize = 16 * 1024;

impl LineConn {
    pub fn new(stream: Box<dyn Stream>, timeout: Duration, max_line: usize) -> LineConn {
        LineConn {
            stream,
            buf: Vec::new(),
            timeout,
            max_line,
        }
    }

    fn too_long(&self) -> FetchError {
        FetchError::Protocol(format!(
            "the server sent a line longer than {} bytes",
            self.max_line
        ))
    }

    async fn fill(&mut self) -> Result<(), FetchError> {
        let mut chunk = [0u8; READ_CHUNK];
        let n = tokio::time::timeout(self.timeout, self.stream.read(&mut chunk))
            .await
            .map_err(|_| FetchError::Timeout)??;
        if n == 0 {
            return Err(FetchError::Closed);
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// The next line without its line end (CRLF, or a bare LF from a sloppy server).
    pub async fn read_line(&mut self) -> Result<Vec<u8>, FetchError> {
        let mut scanned = 0;
        loop {
            if let Some(p) = self.buf[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + p;
                if end >= self.max_line {
                    return Err(self.too_long());
                }
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            scanned = self.buf.len();
            if scanned >= self.max_line {
                return Err(self.too_long());
            }
            self.fill().await?;
        }
    }

    /// Exactly `n` bytes (an IMAP literal). The caller has checked `n` against its bound.
    pub async fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, FetchError> {
        while self.buf.len() < n {
            self.fill().await?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), FetchError> {
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        tokio::time::timeout(self.timeout, write)
            .await
            .map_err(|_| FetchError::Timeout)??;
        Ok(())
    }

    /// Performs the client side of a TLS handshake on this connection.
    pub async fn start_tls(
        self,
        config: Arc<rustls::ClientConfig>,
        host: &str,
    ) -> Result<LineConn, FetchError> {
        if !self.buf.is_empty() {
            return Err(FetchError::Protocol(
                "the server sent data before the TLS handshake".into(),
            ));
        }
        let name = crate::net::client_tls::server_name(host);
        let connect = tokio_rustls::TlsConnector::from(config).connect(name, self.stream);
        let tls = tokio::time::timeout(self.timeout, connect)
            .await
            .map_err(|_| FetchError::Timeout)?
            .map_err(|e| FetchError::Tls(e.to_string()))?;
        Ok(LineConn {
            stream: Box::new(tls),
            buf: Vec::new(),
            timeout: self.timeout,
            max_line: self.max_line,
        })
    }

    /// Closes the write side (best effort).
    pub async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(self.timeout, self.stream.shutdown()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(bytes: &'static [u8], max_line: usize) -> LineConn {
        let (client, mut server) = tokio::io::duplex(64);
        tokio::spawn(async move {
            let _ = server.write_all(bytes).await;
            // Keep the pipe open so that a missing line end times out instead of closing.
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        LineConn::new(Box::new(client), Duration::from_millis(300), max_line)
    }

    #[tokio::test]
    async fn lines_literals_bounds_and_timeouts() {
        let mut c = conn(b"+OK hi\r\nbare\nabc{3}\r\nxyz", 100);
        assert_eq!(c.read_line().await.unwrap(), b"+OK hi");
        assert_eq!(c.read_line().await.unwrap(), b"bare");
        assert_eq!(c.read_line().await.unwrap(), b"abc{3}");
        assert_eq!(c.read_exact(3).await.unwrap(), b"xyz");
        assert!(matches!(c.read_line().await, Err(FetchError::Timeout)));

        let mut c = conn(b"0123456789012345678901234567890123456789\r\n", 16);
        assert!(matches!(c.read_line().await, Err(FetchError::Protocol(_))));
    }
}
