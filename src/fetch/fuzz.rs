//! The fetch clients under arbitrary server bytes: what the fuzz target
//! (`fuzz/fuzz_targets/fetch_clients.rs`) runs, and what the test suite replays the seed
//! corpus (`fuzz/corpus/fetch_clients/`) through.
//!
//! The first byte picks the client (even: POP3, odd: IMAP) and how many bytes each read may
//! return (1 to 64: every split is reachable); the rest is everything the server sends. The
//! client runs a whole collection session: greeting, CAPA/CAPABILITY, login, list, fetch of
//! the first message, delete, finish. Checked: no panic, a fetched message within its bound,
//! and the session ends (every read has a timeout; the server's end is closed after its
//! bytes).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::conn::LineConn;
use super::imap::ImapClient;
use super::pop3::Pop3Client;

/// Largest message the fuzzed clients accept.
const MAX_MESSAGE: u64 = 4096;

/// Runs one input; panics only if an invariant breaks.
pub fn drive(data: &[u8]) {
    let Some((&first, server_bytes)) = data.split_first() else {
        return;
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let capacity = usize::from(first >> 1) % 64 + 1;
    let imap = first & 1 == 1;
    let bytes = server_bytes.to_vec();
    rt.block_on(async move {
        let (client, server) = tokio::io::duplex(capacity);
        let (mut from_client, mut to_client) = tokio::io::split(server);
        // The server says its piece and hangs up; what the client sends is read and dropped.
        tokio::spawn(async move {
            let _ = to_client.write_all(&bytes).await;
        });
        tokio::spawn(async move {
            let mut sink = [0u8; 256];
            while matches!(from_client.read(&mut sink).await, Ok(n) if n > 0) {}
        });
        let conn = LineConn::new(Box::new(client), Duration::from_millis(50), 1024);
        if imap {
            imap_session(conn).await;
        } else {
            pop3_session(conn).await;
        }
    });
}

async fn pop3_session(conn: LineConn) {
    let Ok(mut c) = Pop3Client::start(conn).await else {
        return;
    };
    let _ = c.capa().await;
    if c.login("bob", "pw").await.is_err() {
        return;
    }
    let Ok(list) = c.list().await else { return };
    if let Some(m) = list.first() {
        if let Ok(body) = c.retr(m.number, MAX_MESSAGE).await {
            assert!(body.len() as u64 <= MAX_MESSAGE + 2, "RETR over its bound");
        }
        let _ = c.dele(m.number).await;
    }
    let _ = c.quit().await;
}

async fn imap_session(conn: LineConn) {
    let Ok(mut c) = ImapClient::start(conn, MAX_MESSAGE).await else {
        return;
    };
    if c.capabilities.is_empty() && c.capability().await.is_err() {
        return;
    }
    if c.login("bob", "pw").await.is_err() || c.select_inbox().await.is_err() {
        return;
    }
    let Ok(list) = c.list().await else { return };
    if let Some(m) = list.first() {
        if let Ok(Some(body)) = c.fetch_body(m.uid).await {
            assert!(body.len() as u64 <= MAX_MESSAGE, "literal over its bound");
        }
        let _ = c.delete(&[m.uid]).await;
        let _ = c.expunge(&[m.uid]).await;
    }
    let _ = c.logout().await;
}
