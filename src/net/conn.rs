//! A connection that is plain TCP or TLS (implicit, or after STARTTLS): the server side of
//! sessions clients open, and the client side of outbound delivery.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::deflate::Deflate;

/// How long a TLS handshake may take before the connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

pub enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Our side of an outbound connection after STARTTLS.
    ClientTls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// Any of the above after IMAP COMPRESS=DEFLATE (RFC 4978).
    Deflate(Box<Deflate<Conn>>),
}

impl Conn {
    pub fn is_tls(&self) -> bool {
        match self {
            Conn::Deflate(d) => d.get_ref().is_tls(),
            c => matches!(c, Conn::Tls(_) | Conn::ClientTls(_)),
        }
    }

    /// Compresses both directions from now on (IMAP COMPRESS, RFC 4978); `pending` is
    /// compressed input the session read before it asked for this.
    pub fn compress(self, pending: Vec<u8>) -> Conn {
        Conn::Deflate(Box::new(Deflate::new(self, pending)))
    }

    /// The TLS protocol version and cipher suite, for the Received header and logs.
    pub fn tls_info(&self) -> Option<String> {
        match self {
            Conn::Plain(_) => None,
            Conn::Deflate(d) => d.get_ref().tls_info(),
            Conn::Tls(t) => {
                let (_, c) = t.get_ref();
                Some(format!(
                    "{:?} {:?}",
                    c.protocol_version()?,
                    c.negotiated_cipher_suite()?.suite()
                ))
            }
            Conn::ClientTls(t) => {
                let (_, c) = t.get_ref();
                Some(format!(
                    "{:?} {:?}",
                    c.protocol_version()?,
                    c.negotiated_cipher_suite()?.suite()
                ))
            }
        }
    }

    /// Performs the server side of a TLS handshake on a plain connection (STARTTLS, or
    /// implicit TLS right after accept). A connection already in TLS is returned as it is.
    pub async fn upgrade(self, config: Arc<rustls::ServerConfig>) -> io::Result<Conn> {
        match self {
            Conn::Plain(tcp) => {
                let accept = TlsAcceptor::from(config).accept(tcp);
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await {
                    Ok(Ok(tls)) => Ok(Conn::Tls(Box::new(tls))),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "TLS handshake timed out",
                    )),
                }
            }
            tls => Ok(tls),
        }
    }

    /// Performs the client side of a TLS handshake (outbound STARTTLS) with `name` as SNI.
    pub async fn connect_tls(
        self,
        config: Arc<rustls::ClientConfig>,
        name: rustls_pki_types::ServerName<'static>,
    ) -> io::Result<Conn> {
        match self {
            Conn::Plain(tcp) => {
                let connect = TlsConnector::from(config).connect(name, tcp);
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, connect).await {
                    Ok(Ok(tls)) => Ok(Conn::ClientTls(Box::new(tls))),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "TLS handshake timed out",
                    )),
                }
            }
            tls => Ok(tls),
        }
    }
}

impl Conn {
    /// Takes over an accepted socket (from the acceptor's std listener) and, on an
    /// implicit-TLS port, performs the handshake. `None` when implicit TLS is asked for but
    /// no certificate is configured.
    pub async fn accept(
        stream: std::net::TcpStream,
        implicit_tls: bool,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> io::Result<Option<Conn>> {
        stream.set_nonblocking(true)?;
        let tcp = TcpStream::from_std(stream)?;
        let _ = tcp.set_nodelay(true);
        let conn = Conn::Plain(tcp);
        if !implicit_tls {
            return Ok(Some(conn));
        }
        match tls {
            Some(tls) => Ok(Some(conn.upgrade(tls).await?)),
            None => Ok(None),
        }
    }

    /// Writes `out` and flushes; `out` is left empty. A client that takes none of it for
    /// `stall` is given up on (`TimedOut`): without this a client that stops reading
    /// holds its session and connection slot forever, and while the session waits to
    /// write it reads nothing, so no read deadline (the login's included) would ever fire.
    /// Progress restarts the wait: a slow reader is served, a stalled one is not.
    pub async fn send(&mut self, out: &mut Vec<u8>, stall: Duration) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let mut sent = 0;
        while sent < out.len() {
            let n = progress(stall, self.write(&out[sent..])).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            sent += n;
        }
        out.clear();
        progress(stall, self.flush()).await
    }

    /// Sends what is left in `out`, then closes the connection.
    pub async fn close_with(mut self, out: &mut Vec<u8>, stall: Duration) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.send(out, stall).await?;
        let _ = progress(stall, self.shutdown()).await;
        Ok(())
    }

    /// STARTTLS: sends the pending "go ahead" reply, then performs the handshake. `None`
    /// when no certificate is configured (the protocol layer never asks then).
    pub async fn start_tls(
        mut self,
        out: &mut Vec<u8>,
        tls: Option<Arc<rustls::ServerConfig>>,
        stall: Duration,
    ) -> io::Result<Option<Conn>> {
        self.send(out, stall).await?;
        match tls {
            Some(tls) => Ok(Some(self.upgrade(tls).await?)),
            None => Ok(None),
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::ClientTls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::Deflate(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Conn::ClientTls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Conn::Deflate(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::ClientTls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::Deflate(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::ClientTls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::Deflate(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// One write step that must make progress within `stall`.
async fn progress<T>(
    stall: Duration,
    step: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    tokio::time::timeout(stall, step).await.unwrap_or_else(|_| {
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "the client took none of our output for {}s",
                stall.as_secs()
            ),
        ))
    })
}

/// Runs `work` on `state` on tokio's blocking pool and hands the state back with the result.
/// Sessions use it for a command's storage work (reads, folder-actor round trips, waiting
/// for a commit), so that a long command does not hold up the other sessions that share
/// the session's arbiter thread. A panic in `work` ends only this session, as an error.
pub async fn on_blocking_pool<T, R>(
    mut state: T,
    work: impl FnOnce(&mut T) -> R + Send + 'static,
) -> io::Result<(T, R)>
where
    T: Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let r = work(&mut state);
        (state, r)
    })
    .await
    .map_err(|e| io::Error::other(format!("session command failed: {e}")))
}
