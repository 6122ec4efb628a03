//! One view of an outside mailbox over either protocol: connect (TCP, TLS, login, select),
//! list, fetch, delete, finish. What identifies a message across sessions is its *mark*:
//! the POP3 UIDL, or `UIDVALIDITY:UID` for IMAP.

use std::time::Duration;

use super::conn::LineConn;
use super::imap::ImapClient;
use super::pop3::Pop3Client;
use super::FetchError;
use crate::storage::{FetchProtocol, TlsMode};

/// Where and how to log in. `Debug` never shows the password.
#[derive(Clone)]
pub struct Endpoint {
    pub protocol: FetchProtocol,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub verify_cert: bool,
    pub user: String,
    pub password: String,
    /// Bound on each read and write, and on connecting.
    pub timeout: Duration,
    /// Largest message fetched.
    pub max_message: u64,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("protocol", &self.protocol)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Longest response line accepted (a UIDL or FETCH line is far shorter).
pub const MAX_LINE: usize = 64 * 1024;

/// A message on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteMessage {
    pub mark: String,
    /// POP3 message number or IMAP UID.
    pub handle: u32,
    pub size: u64,
}

pub enum Remote {
    Pop3(Pop3Client),
    Imap {
        client: ImapClient,
        uidvalidity: u32,
        deleted: Vec<u32>,
    },
}

impl Remote {
    /// Connects over TCP (bounded by the timeout) and opens the mailbox.
    pub async fn connect(ep: &Endpoint) -> Result<Remote, FetchError> {
        let addr = format!(
            "{}:{}",
            ep.host.trim_start_matches('[').trim_end_matches(']'),
            ep.port
        );
        let addr = if ep.host.contains(':') && !ep.host.starts_with('[') {
            format!("[{}]:{}", ep.host, ep.port)
        } else {
            addr
        };
        let tcp = tokio::time::timeout(ep.timeout, tokio::net::TcpStream::connect(&addr))
            .await
            .map_err(|_| FetchError::Timeout)?
            .map_err(|e| FetchError::Io(std::io::Error::new(e.kind(), format!("{addr}: {e}"))))?;
        let _ = tcp.set_nodelay(true);
        Remote::open(LineConn::new(Box::new(tcp), ep.timeout, MAX_LINE), ep).await
    }

    /// Opens the mailbox over an established connection: TLS as configured, login, and
    /// for IMAP the INBOX.
    pub async fn open(mut conn: LineConn, ep: &Endpoint) -> Result<Remote, FetchError> {
        let tls =
            || crate::actors::client_tls::client_config(ep.verify_cert).map_err(FetchError::Tls);
        if ep.tls == TlsMode::Implicit {
            conn = conn.start_tls(tls()?, &ep.host).await?;
        }
        match ep.protocol {
            FetchProtocol::Pop3 => {
                let mut c = Pop3Client::start(conn).await?;
                c.capa().await?;
                if ep.tls == TlsMode::StartTls {
                    c = c.stls(tls()?, &ep.host).await?;
                }
                c.login(&ep.user, &ep.password).await?;
                Ok(Remote::Pop3(c))
            }
            FetchProtocol::Imap => {
                let mut c = ImapClient::start(conn, ep.max_message).await?;
                if c.capabilities.is_empty() {
                    c.capability().await?;
                }
                if ep.tls == TlsMode::StartTls {
                    c = c.starttls(tls()?, &ep.host).await?;
                }
                c.login(&ep.user, &ep.password).await?;
                let uidvalidity = c.select_inbox().await?;
                Ok(Remote::Imap {
                    client: c,
                    uidvalidity,
                    deleted: Vec::new(),
                })
            }
        }
    }

    pub fn protocol_name(&self) -> &'static str {
        match self {
            Remote::Pop3(_) => "POP3",
            Remote::Imap { .. } => "IMAP",
        }
    }

    /// Every message on the server, oldest first.
    pub async fn list(&mut self) -> Result<Vec<RemoteMessage>, FetchError> {
        match self {
            Remote::Pop3(c) => Ok(c
                .list()
                .await?
                .into_iter()
                .map(|m| RemoteMessage {
                    mark: m.uidl,
                    handle: m.number,
                    size: m.size,
                })
                .collect()),
            Remote::Imap {
                client,
                uidvalidity,
                ..
            } => Ok(client
                .list()
                .await?
                .into_iter()
                .map(|m| RemoteMessage {
                    mark: format!("{uidvalidity}:{}", m.uid),
                    handle: m.uid,
                    size: m.size,
                })
                .collect()),
        }
    }

    /// The message, or `None` if it vanished from the server meanwhile.
    pub async fn fetch(
        &mut self,
        m: &RemoteMessage,
        max: u64,
    ) -> Result<Option<Vec<u8>>, FetchError> {
        if m.size > max {
            return Err(FetchError::TooBig(max));
        }
        match self {
            Remote::Pop3(c) => c.retr(m.handle, max).await.map(Some),
            Remote::Imap { client, .. } => client.fetch_body(m.handle).await,
        }
    }

    /// Deletes `m` (POP3: marked now, removed at QUIT; IMAP: \Deleted now, expunged in
    /// [`Remote::finish`]).
    pub async fn delete(&mut self, m: &RemoteMessage) -> Result<(), FetchError> {
        match self {
            Remote::Pop3(c) => c.dele(m.handle).await,
            Remote::Imap {
                client, deleted, ..
            } => {
                client.delete(&[m.handle]).await?;
                deleted.push(m.handle);
                Ok(())
            }
        }
    }

    /// Ends the session; deletions take effect here.
    pub async fn finish(self) -> Result<(), FetchError> {
        match self {
            Remote::Pop3(c) => c.quit().await,
            Remote::Imap {
                mut client,
                deleted,
                ..
            } => {
                client.expunge(&deleted).await?;
                client.logout().await
            }
        }
    }
}
