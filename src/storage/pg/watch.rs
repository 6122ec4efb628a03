//! [`Cluster::watch`](crate::storage::Cluster::watch) for PostgreSQL: other nodes' changes,
//! heard through `LISTEN`.
//!
//! Every folder write notifies `channel("folders")` with `"{node} {folder} {modseq}"`, every
//! settings write `channel("settings")` with `"{node} {what}"` (see `mod.rs`). One thread per
//! watcher holds its own connection (not a pooled one: a listening connection must stay open
//! and idle), turns each payload into a [`ClusterEvent`] and drops this node's own.
//!
//! Notifications sent while no connection listens are lost, so after a broken connection the
//! thread reconnects (with a growing pause) and reports [`ClusterEvent::Resync`]: the watcher
//! then looks at everything it watches. The thread holds only a weak handle on the store and
//! ends soon after the store is dropped.

use std::sync::mpsc;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;

use super::dircache::DirCache;
use super::pool::{pg_error, quote_ident, Connect};
use super::{Inner, PgStore};
use crate::storage::{ClusterEvent, StorageError};

/// How long one wait for notifications lasts: how soon the thread notices the store is gone.
const WAIT: Duration = Duration::from_millis(500);

/// How long the connection may stay quiet before the thread checks that it still works (a
/// broken TCP connection is not always reported until something is sent on it).
const CHECK_AFTER: Duration = Duration::from_secs(30);

/// The pauses between reconnection attempts: doubling from the first to the last.
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

type OnEvent = Box<dyn Fn(ClusterEvent) + Send + Sync>;

/// What the listening thread needs, apart from the connection.
struct Listener {
    store: Weak<Inner>,
    connect: Connect,
    folders: String,
    settings: String,
    node: String,
    on_event: OnEvent,
}

impl PgStore {
    /// Starts the listening thread. Returns once it listens (or with the error of its first
    /// connection), so a change committed after this returns is heard.
    pub(crate) fn watch(&self, on_event: OnEvent) -> Result<(), StorageError> {
        let listener = Listener {
            store: Arc::downgrade(&self.inner),
            connect: self.pool().connect_settings().clone(),
            folders: self.channel("folders"),
            settings: self.channel("settings"),
            node: self.node().to_string(),
            on_event,
        };
        let (started_tx, started_rx) = mpsc::sync_channel(1);
        // The first connection is made on the new thread too: the blocking client must not
        // run on a thread inside a tokio runtime, which the caller's may be.
        std::thread::Builder::new()
            .name("pg-watch".into())
            .spawn(move || match listener.listen() {
                Ok(client) => {
                    listener.cache(|c| c.set_listening(true));
                    let _ = started_tx.send(Ok(()));
                    listener.run(client);
                }
                Err(e) => {
                    let _ = started_tx.send(Err(e));
                }
            })
            .map_err(StorageError::Io)?;
        started_rx.recv().map_err(|_| {
            StorageError::Backend("PostgreSQL watch: the listening thread ended".into())
        })?
    }
}

impl Listener {
    /// Runs `f` on the store's cached recipient lookups, unless the store is gone.
    fn cache(&self, f: impl FnOnce(&DirCache)) {
        if let Some(inner) = self.store.upgrade() {
            f(&inner.dir_cache);
        }
    }

    /// Whether the store is gone (the thread should end).
    fn stopped(&self) -> bool {
        self.store.strong_count() == 0
    }

    /// A new connection listening on both channels.
    fn listen(&self) -> Result<Client, StorageError> {
        let mut client = self.connect.connect()?;
        client
            .batch_execute(&format!(
                "LISTEN {}; LISTEN {}",
                quote_ident(&self.folders),
                quote_ident(&self.settings)
            ))
            .map_err(pg_error)?;
        Ok(client)
    }

    /// Listens until the store is dropped, reconnecting when the connection breaks.
    fn run(&self, mut client: Client) {
        loop {
            let broken = self.hear(&mut client);
            drop(client);
            let Some(e) = broken else { return };
            // Changes made meanwhile go unheard: no cached lookups until listening again.
            self.cache(|c| c.set_listening(false));
            tracing::warn!("PostgreSQL watch: connection lost ({e}); reconnecting");
            client = match self.reconnect() {
                Some(c) => c,
                None => return,
            };
            self.cache(|c| c.set_listening(true));
            tracing::info!("PostgreSQL watch: listening again; looking at everything watched");
            (self.on_event)(ClusterEvent::Resync);
        }
    }

    /// Delivers notifications until the connection breaks (`Some(error)`) or the store is
    /// dropped (`None`).
    fn hear(&self, client: &mut Client) -> Option<StorageError> {
        let mut quiet_since = Instant::now();
        loop {
            if self.stopped() {
                return None;
            }
            let mut heard = Vec::new();
            {
                let mut notes = client.notifications();
                let mut iter = notes.timeout_iter(WAIT);
                loop {
                    match iter.next() {
                        Ok(Some(n)) => {
                            if n.channel() == self.settings {
                                // Dropped at once, not when the batch ends: on a busy node
                                // the folder notifications could hold the batch open (each
                                // wait is up to WAIT) while stale answers were served.
                                self.cache(DirCache::invalidate);
                            }
                            heard.push((n.channel().to_string(), n.payload().to_string()));
                            // Take what is already buffered without waiting again.
                            if heard.len() >= 1000 {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => return Some(pg_error(e)),
                    }
                }
            }
            if heard.is_empty() {
                if client.is_closed() {
                    return Some(StorageError::Backend(
                        "PostgreSQL: connection closed".into(),
                    ));
                }
                if quiet_since.elapsed() >= CHECK_AFTER {
                    if let Err(e) = client.simple_query("SELECT 1") {
                        return Some(pg_error(e));
                    }
                    quiet_since = Instant::now();
                }
                continue;
            }
            quiet_since = Instant::now();
            if heard.iter().any(|(channel, _)| *channel == self.settings) {
                // Any node's directory change (this node's too: a write by another process
                // under this node's name) drops the cached lookups before it is reported
                // (again: a lookup that ran while the batch was heard may have cached).
                self.cache(DirCache::invalidate);
            }
            for (channel, payload) in heard {
                let event = if channel == self.folders {
                    parse_folder(&payload, &self.node)
                } else if channel == self.settings {
                    parse_settings(&payload, &self.node)
                } else {
                    continue;
                };
                match event {
                    Ok(Some(event)) => (self.on_event)(event),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(%channel, "PostgreSQL watch: {e}"),
                }
            }
        }
    }

    /// Connects again, pausing longer after each failure; `None` when the store is dropped
    /// meanwhile.
    fn reconnect(&self) -> Option<Client> {
        let mut pause = BACKOFF_FIRST;
        loop {
            // Sleep in short steps so that a dropped store ends the thread soon.
            let until = Instant::now() + pause;
            while Instant::now() < until {
                if self.stopped() {
                    return None;
                }
                std::thread::sleep(WAIT.min(until.saturating_duration_since(Instant::now())));
            }
            if self.stopped() {
                return None;
            }
            match self.listen() {
                Ok(c) => return Some(c),
                Err(e) => {
                    tracing::warn!(
                        "PostgreSQL watch: cannot reconnect ({e}); next try in {pause:?}"
                    );
                    pause = (pause * 2).min(BACKOFF_MAX);
                }
            }
        }
    }
}

/// A folder notification `"{node} {folder} {modseq}"` (the node name may hold spaces; the
/// numbers do not). `Ok(None)`: this node's own.
pub(crate) fn parse_folder(payload: &str, own: &str) -> Result<Option<ClusterEvent>, String> {
    let bad = || format!("malformed folder notification {payload:?}");
    let mut parts = payload.rsplitn(3, ' ');
    let modseq = parts.next().ok_or_else(bad)?;
    let folder = parts.next().ok_or_else(bad)?;
    let node = parts.next().ok_or_else(bad)?;
    let modseq: u64 = modseq.parse().map_err(|_| bad())?;
    let folder = folder.parse().map_err(|_| bad())?;
    Ok((node != own).then_some(ClusterEvent::Folder { folder, modseq }))
}

/// A settings notification `"{node} {what}"`. `Ok(None)`: this node's own.
pub(crate) fn parse_settings(payload: &str, own: &str) -> Result<Option<ClusterEvent>, String> {
    let (node, what) = payload
        .rsplit_once(' ')
        .filter(|(_, what)| !what.is_empty())
        .ok_or_else(|| format!("malformed settings notification {payload:?}"))?;
    Ok((node != own).then(|| ClusterEvent::Settings {
        what: what.to_string(),
    }))
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
