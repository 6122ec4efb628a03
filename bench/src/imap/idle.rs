//! `--idle-clients N`: N connections that LOGIN, SELECT and IDLE, then hold
//! until told to stop, reading (and discarding) the server's updates. On
//! stop each sends DONE and LOGOUT. The setup runs `SETUP_CONCURRENCY`
//! connections at a time, so the server's accept backlog does not overflow.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;

use super::client::ImapClient;
use super::Shared;
use crate::client::ConnError;

/// Connections being set up at once.
const SETUP_CONCURRENCY: usize = 64;
/// Longest time an idling connection is held, whatever the caller says.
const MAX_HOLD: Duration = Duration::from_secs(24 * 3600);

/// How one idle connection ended.
pub enum IdleEnd {
    /// Never reached IDLE.
    Failed(String),
    /// Idled; whether DONE and LOGOUT completed.
    Closed { clean: bool, error: Option<String> },
}

/// The idling connections of a run.
pub struct IdleGroup {
    tasks: JoinSet<IdleEnd>,
    stop: watch::Sender<bool>,
    pub updates: Arc<AtomicU64>,
    pub idling: usize,
    pub failed: Vec<String>,
    pub setup: Duration,
}

/// Opens `n` idling connections; returns once each is idling or has failed.
pub async fn open(shared: Arc<Shared>, n: usize) -> IdleGroup {
    let started = Instant::now();
    let (stop, stop_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = mpsc::channel::<Result<(), String>>(1024);
    let gate = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
    let updates = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for id in 0..n {
        tasks.spawn(idle_connection(
            id,
            shared.clone(),
            gate.clone(),
            ready_tx.clone(),
            stop_rx.clone(),
            updates.clone(),
        ));
    }
    drop(ready_tx);
    let (mut idling, mut failed) = (0, Vec::new());
    // Each task reports once; the channel closes when all senders are gone.
    for _ in 0..n {
        match ready_rx.recv().await {
            Some(Ok(())) => idling += 1,
            Some(Err(e)) => failed.push(e),
            None => break,
        }
    }
    IdleGroup {
        tasks,
        stop,
        updates,
        idling,
        failed,
        setup: started.elapsed(),
    }
}

impl IdleGroup {
    /// Ends every connection (DONE, LOGOUT); returns how many closed cleanly
    /// and the first distinct errors.
    pub async fn close(mut self) -> (usize, Vec<String>) {
        let _ = self.stop.send(true);
        let mut clean = 0;
        let mut errors = Vec::new();
        while let Some(joined) = self.tasks.join_next().await {
            match joined {
                Ok(IdleEnd::Closed { clean: true, .. }) => clean += 1,
                Ok(IdleEnd::Closed { error, .. }) => {
                    if let Some(e) = error {
                        super::report::note(&mut errors, e);
                    }
                }
                Ok(IdleEnd::Failed(_)) => {}
                Err(e) => super::report::note(&mut errors, format!("idle task ended: {e}")),
            }
        }
        (clean, errors)
    }
}

async fn idle_connection(
    id: usize,
    shared: Arc<Shared>,
    gate: Arc<Semaphore>,
    ready: mpsc::Sender<Result<(), String>>,
    mut stop: watch::Receiver<bool>,
    updates: Arc<AtomicU64>,
) -> IdleEnd {
    let setup = async {
        let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
        enter_idle(id, &shared).await.map_err(|e| e.to_string())
    };
    let mut imap = match setup.await {
        Ok(imap) => {
            let _ = ready.send(Ok(())).await;
            imap
        }
        Err(e) => {
            let _ = ready.send(Err(e.clone())).await;
            return IdleEnd::Failed(e);
        }
    };
    drop(ready);
    let stopped = async move {
        // Err: the sender is gone, which also means stop.
        let _ = stop.wait_for(|s| *s).await;
    };
    match imap.idle_wait(Instant::now() + MAX_HOLD, stopped).await {
        Ok(n) => {
            updates.fetch_add(n, Ordering::Relaxed);
        }
        Err(e) => {
            return IdleEnd::Closed {
                clean: false,
                error: Some(format!("while idling: {e}")),
            }
        }
    }
    let done = imap.idle_done().await;
    let bye = imap.logout().await;
    match (done, bye) {
        (Ok(d), Some(b)) if d.ok() && b.ok() => IdleEnd::Closed {
            clean: true,
            error: None,
        },
        (Ok(d), _) if !d.ok() => IdleEnd::Closed {
            clean: false,
            error: Some(format!("DONE: {}", d.text)),
        },
        (Err(e), _) => IdleEnd::Closed {
            clean: false,
            error: Some(format!("DONE: {e}")),
        },
        _ => IdleEnd::Closed {
            clean: false,
            error: Some("LOGOUT did not complete".into()),
        },
    }
}

/// Connect, LOGIN, SELECT, IDLE.
async fn enter_idle(id: usize, shared: &Shared) -> Result<ImapClient, ConnError> {
    let mut imap = ImapClient::connect(&shared.connect).await?;
    let refused = |step, line| ConnError::Refused { step, line };
    let done = imap.login(shared.account(id)).await?;
    if !done.ok() {
        return Err(refused("LOGIN", done.text));
    }
    let done = imap
        .command(&format!("SELECT {}", shared.mailbox_quoted))
        .await?;
    if !done.ok() {
        return Err(refused("SELECT", done.text));
    }
    if let Some((_, done)) = imap.idle_start().await? {
        return Err(refused("IDLE", done.text));
    }
    imap.shrink();
    Ok(imap)
}
