//! One outbound SMTP connection: the IO shell around [`protocols::smtp::client::Client`].
//!
//! [`Connection::open`] connects, reads the greeting, says EHLO, starts TLS and
//! authenticates as the codec asks; [`Connection::deliver`] sends one message and returns one
//! result per recipient; [`Connection::quit`] ends politely. Every read and write has a
//! timeout (RFC 5321 §4.5.3.2).
//!
//! [`protocols::smtp::client::Client`]: crate::protocols::smtp::client::Client

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::tls::{client_config, result_type, server_name, TlsPolicy};
use crate::net::conn::Conn;
use crate::protocols::smtp::client::{
    Capabilities, Client, ClientConfig, Credentials, Event, OutgoingMessage, RcptResult,
    ServerReply, TlsMode,
};

/// Timeouts of one connection.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub command: Duration,
    pub data: Duration,
}

/// What a connection needs besides its address.
#[derive(Debug, Clone)]
pub struct SessionParams {
    /// Our EHLO name.
    pub ehlo_name: String,
    pub tls: TlsPolicy,
    pub credentials: Option<Credentials>,
    pub timeouts: Timeouts,
}

/// Why a connection could not be opened or used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// TCP connect failed, or the connection broke during the greeting phase.
    Io(String),
    /// The TLS handshake failed (opportunistic TLS may retry in the clear).
    Tls(TlsFailure),
    /// The peer refused the session (greeting, EHLO, STARTTLS required, AUTH).
    Refused(ServerReply),
}

/// A failed TLS handshake: why, and the RFC 8460 result type for TLS reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFailure {
    pub why: String,
    pub result_type: &'static str,
}

impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

impl OpenError {
    /// The peer does not offer STARTTLS and the policy requires TLS (the client codec's
    /// local 4.7.10 refusal).
    pub fn is_no_starttls(&self) -> bool {
        matches!(self, OpenError::Refused(r) if r.local && r.status_or_default() == "4.7.10")
    }
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Io(e) => write!(f, "{e}"),
            OpenError::Tls(e) => write!(f, "TLS handshake failed: {e}"),
            OpenError::Refused(r) => write!(f, "{r}"),
        }
    }
}

/// An open session, ready for messages.
pub struct Connection {
    conn: Option<Conn>,
    client: Client,
    /// The MX host name (for SNI and logs).
    pub host: String,
    pub addr: SocketAddr,
    timeouts: Timeouts,
    tls: TlsPolicy,
    results: Option<Vec<RcptResult>>,
    /// How the server's certificate was authenticated ("MTA-STS", "DANE"); `None` when it
    /// was not (opportunistic TLS, or plaintext).
    pub authenticated: Option<&'static str>,
}

/// Where a drive of the codec stopped.
enum Stop {
    Ready,
    Failed(ServerReply),
    Lost(String),
    TlsFailed(TlsFailure),
    Closed,
}

impl Connection {
    /// Connects to `addr` and runs the session up to its first [`Event::Ready`].
    /// `plaintext` forces TLS off (the retry after a failed opportunistic handshake).
    pub async fn open(
        host: &str,
        addr: SocketAddr,
        params: &SessionParams,
        plaintext: bool,
    ) -> Result<Connection, OpenError> {
        let tcp =
            match tokio::time::timeout(params.timeouts.connect, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return Err(OpenError::Io(format!("connect to {addr}: {e}"))),
                Err(_) => return Err(OpenError::Io(format!("connect to {addr}: timed out"))),
            };
        let _ = tcp.set_nodelay(true);
        let mode = if plaintext {
            TlsMode::Off
        } else {
            params.tls.mode()
        };
        let client = Client::new(ClientConfig {
            ehlo_name: params.ehlo_name.clone(),
            tls: mode,
            tls_active: false,
            credentials: params.credentials.clone(),
            allow_plaintext_auth: false,
        });
        let mut c = Connection {
            conn: Some(Conn::Plain(tcp)),
            client,
            host: host.to_string(),
            addr,
            timeouts: params.timeouts,
            tls: params.tls.clone(),
            results: None,
            authenticated: None,
        };
        match c.drive(VecDeque::new()).await {
            Stop::Ready => {
                c.authenticated = if c.is_tls() {
                    c.tls.authenticates()
                } else {
                    None
                };
                Ok(c)
            }
            Stop::Failed(r) => Err(OpenError::Refused(r)),
            Stop::TlsFailed(e) => Err(OpenError::Tls(e)),
            Stop::Lost(e) => Err(OpenError::Io(e)),
            Stop::Closed => Err(OpenError::Io("connection closed".into())),
        }
    }

    pub fn capabilities(&self) -> &Capabilities {
        self.client.capabilities()
    }

    pub fn is_tls(&self) -> bool {
        self.client.is_tls()
    }

    /// Sends one message. Returns the per-recipient results and whether the connection can
    /// take another message.
    pub async fn deliver(&mut self, msg: OutgoingMessage) -> (Vec<RcptResult>, bool) {
        let n = msg.recipients.len();
        let events: VecDeque<Event> = self.client.send_message(msg).into();
        let stop = self.drive(events).await;
        let results = self.results.take();
        let usable = matches!(stop, Stop::Ready);
        let results = match (results, stop) {
            (Some(r), _) => r,
            (None, Stop::Lost(why)) => self.client.connection_lost(&why).unwrap_or_default(),
            (None, Stop::Failed(r)) => vec![
                RcptResult {
                    outcome: r.outcome(),
                    reply: r,
                };
                n
            ],
            (None, _) => self
                .client
                .connection_lost("session ended")
                .unwrap_or_default(),
        };
        if results.len() != n {
            // Never expected; a defect must not lose recipients: all temporary.
            let r = ServerReply::local(451, "4.3.0", "delivery results incomplete");
            return (
                vec![
                    RcptResult {
                        outcome: r.outcome(),
                        reply: r,
                    };
                    n
                ],
                false,
            );
        }
        (results, usable)
    }

    /// QUIT and close (errors ignored: the messages are already settled).
    pub async fn quit(mut self) {
        let events: VecDeque<Event> = self.client.quit().into();
        let _ = tokio::time::timeout(self.timeouts.command, self.drive(events)).await;
        if let Some(mut c) = self.conn.take() {
            let _ = c.shutdown().await;
        }
    }

    async fn drive(&mut self, mut events: VecDeque<Event>) -> Stop {
        let mut buf = vec![0u8; 16 * 1024];
        // Bounded: every pass either handles queued events or reads; a read that times out
        // or ends ends the loop.
        loop {
            while let Some(ev) = events.pop_front() {
                match ev {
                    Event::Send(bytes) => {
                        let Some(conn) = self.conn.as_mut() else {
                            return Stop::Lost("no connection".into());
                        };
                        let write = async {
                            conn.write_all(&bytes).await?;
                            conn.flush().await
                        };
                        match tokio::time::timeout(self.timeouts.data, write).await {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => return Stop::Lost(format!("write: {e}")),
                            Err(_) => return Stop::Lost("write timed out".into()),
                        }
                    }
                    Event::StartTls => {
                        if let Err(e) = self.start_tls().await {
                            return Stop::TlsFailed(e);
                        }
                        events.extend(self.client.tls_established());
                    }
                    Event::Ready => return Stop::Ready,
                    Event::Delivered(r) => self.results = Some(r),
                    Event::Failed(r) => return Stop::Failed(r),
                    Event::Closed => return Stop::Closed,
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                return Stop::Lost("no connection".into());
            };
            let wait = if self.client.in_data() {
                self.timeouts.data
            } else {
                self.timeouts.command
            };
            match tokio::time::timeout(wait, conn.read(&mut buf)).await {
                Ok(Ok(0)) => return Stop::Lost("connection closed by the peer".into()),
                Ok(Ok(n)) => events.extend(self.client.receive(&buf[..n])),
                Ok(Err(e)) => return Stop::Lost(format!("read: {e}")),
                Err(_) => return Stop::Lost(format!("no reply within {}s", wait.as_secs())),
            }
        }
    }

    async fn start_tls(&mut self) -> Result<(), TlsFailure> {
        let local = |why: String| TlsFailure {
            why,
            result_type: "validation-failure",
        };
        let config = client_config(&self.tls).map_err(local)?;
        let name = server_name(&self.host)
            .or_else(|_| server_name(&self.addr.ip().to_string()))
            .map_err(local)?;
        let Some(conn) = self.conn.take() else {
            return Err(local("no connection".into()));
        };
        let tls = conn.connect_tls(config, name).await.map_err(|e| {
            // tokio-rustls passes rustls' own error inside the io::Error.
            let result_type = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .map_or("validation-failure", result_type);
            TlsFailure {
                why: e.to_string(),
                result_type,
            }
        })?;
        self.conn = Some(tls);
        Ok(())
    }
}
