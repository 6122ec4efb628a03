//! One view of an outside mailbox over either protocol: connect (TCP, TLS, login, select),
//! list, fetch, delete, finish. What identifies a message across sessions is its *mark*:
//! the POP3 UIDL, or `UIDVALIDITY:UID` for IMAP.

use std::time::Duration;

use super::conn::LineConn;
use super::imap::ImapClient;
use super::pop3::Pop3Client;
use super::FetchError;
use crate::storage::{FetchProtocol, FetchSource, TlsMode};

/// Bounds on a session with an outside server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// On connecting, and on each read and write.
    pub timeout: Duration,
    /// Largest message fetched.
    pub max_message: u64,
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

/// How often a login answered with POP3's `[IN-USE]` (RFC 2449 §8.1.1: another session
/// holds the maildrop) is tried again within one run, and the pause before each try. The
/// other session is often our own previous one, cut off a moment ago, which the server has
/// not yet noticed is gone.
pub const IN_USE_RETRIES: u32 = 3;
pub const IN_USE_PAUSE: Duration = Duration::from_secs(1);

fn in_use(e: &FetchError) -> bool {
    matches!(e, FetchError::Auth(text) if text.to_ascii_uppercase().contains("[IN-USE]"))
}

impl Remote {
    /// Connects and opens `source`'s mailbox, trying again a few times while the server
    /// says the mailbox is in use.
    pub async fn connect(
        source: &FetchSource,
        password: &str,
        limits: Limits,
    ) -> Result<Remote, FetchError> {
        let mut tries = 0;
        loop {
            match Remote::connect_once(source, password, limits).await {
                Err(e) if in_use(&e) && tries < IN_USE_RETRIES => {
                    tries += 1;
                    tokio::time::sleep(IN_USE_PAUSE * tries).await;
                }
                other => return other,
            }
        }
    }

    /// Connects over TCP (bounded by the timeout) and opens `source`'s mailbox.
    async fn connect_once(
        source: &FetchSource,
        password: &str,
        limits: Limits,
    ) -> Result<Remote, FetchError> {
        let host = source.host.trim_start_matches('[').trim_end_matches(']');
        let addr = if host.contains(':') {
            format!("[{host}]:{}", source.port)
        } else {
            format!("{host}:{}", source.port)
        };
        let tcp = tokio::time::timeout(limits.timeout, tokio::net::TcpStream::connect(&addr))
            .await
            .map_err(|_| FetchError::Timeout)?
            .map_err(|e| FetchError::Io(std::io::Error::new(e.kind(), format!("{addr}: {e}"))))?;
        let _ = tcp.set_nodelay(true);
        let conn = LineConn::new(Box::new(tcp), limits.timeout, MAX_LINE);
        Remote::open(conn, source, password, limits).await
    }

    /// Opens the mailbox over an established connection: TLS as configured, login, and
    /// for IMAP the INBOX.
    pub async fn open(
        mut conn: LineConn,
        source: &FetchSource,
        password: &str,
        limits: Limits,
    ) -> Result<Remote, FetchError> {
        let tls =
            || crate::net::client_tls::client_config(source.verify_cert).map_err(FetchError::Tls);
        let host = &source.host;
        if source.tls == TlsMode::Implicit {
            conn = conn.start_tls(tls()?, host).await?;
        }
        match source.protocol {
            FetchProtocol::Pop3 => {
                let mut c = Pop3Client::start(conn).await?;
                c.capa().await?;
                if source.tls == TlsMode::StartTls {
                    c = c.stls(tls()?, host).await?;
                }
                c.login(&source.user, password).await?;
                Ok(Remote::Pop3(c))
            }
            FetchProtocol::Imap => {
                let mut c = ImapClient::start(conn, limits.max_message).await?;
                if c.capabilities.is_empty() {
                    c.capability().await?;
                }
                if source.tls == TlsMode::StartTls {
                    c = c.starttls(tls()?, host).await?;
                }
                c.login(&source.user, password).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// A maildrop that is "in use" for the first login and free for the second.
    #[tokio::test]
    async fn a_mailbox_in_use_is_tried_again() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            for attempt in 0..2 {
                let (tcp, _) = listener.accept().await.unwrap();
                let (r, mut w) = tcp.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"+OK ready\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply: &[u8] = match line.split(' ').next().unwrap_or("") {
                        "CAPA" => b"+OK\r\nUSER\r\nUIDL\r\n.\r\n",
                        "USER" => b"+OK\r\n",
                        "PASS" if attempt == 0 => b"-ERR [IN-USE] maildrop locked\r\n",
                        "PASS" => b"+OK\r\n",
                        "UIDL" | "LIST" => b"+OK\r\n.\r\n",
                        "QUIT" => b"+OK bye\r\n",
                        _ => b"-ERR\r\n",
                    };
                    w.write_all(reply).await.unwrap();
                }
            }
        });
        let source = FetchSource {
            id: 1,
            owner: crate::storage::SourceOwner::Account("bob@example.com".into()),
            protocol: FetchProtocol::Pop3,
            host: "127.0.0.1".into(),
            port,
            tls: TlsMode::None,
            verify_cert: true,
            user: "bob".into(),
            password: Vec::new(),
            leave_on_server: true,
            interval: 60,
            domainpop: None,
        };
        let limits = Limits {
            timeout: Duration::from_secs(5),
            max_message: 1000,
        };
        let mut remote = Remote::connect(&source, "pw", limits).await.unwrap();
        assert!(remote.list().await.unwrap().is_empty());
        remote.finish().await.unwrap();
        server.await.unwrap();
    }
}
