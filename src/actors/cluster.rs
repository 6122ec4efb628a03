//! Running as one node of a cluster (several servers on one PostgreSQL database; see
//! `storage::Cluster`). On the embedded backend, a cluster of one, nothing here starts.
//!
//! - Other nodes' changes: the store's watcher ([`crate::storage::Cluster::watch`]) reports
//!   folder changes, which the folder registry has the folders' actors tell their
//!   subscribers ([`super::folder::FolderRegistry::changed_elsewhere`]), and settings
//!   changes, which drop or reload what this node keeps in memory. Notifications can be
//!   lost, so every watched folder is also looked at every `poll_interval`, and all of them
//!   after the watcher reconnected ([`ClusterEvent::Resync`]).
//! - Queue leases: every `lease / 3` the node renews its heartbeat (and with it the leases of
//!   the queue records it works on) and claims the records of nodes whose leases ran out,
//!   which go to its queue actors as if just loaded.

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::ServerContext;
use crate::config::StorageBackend;
use crate::storage::{ClusterEvent, QueueId, QueueName};

/// The queues whose records a node's actors work on (the bad queue only holds records until
/// the console acts on them): their orphans are claimed.
pub const WORKED_QUEUES: [QueueName; 5] = [
    QueueName::Inbound,
    QueueName::Local,
    QueueName::Remote,
    QueueName::Deferred,
    QueueName::ToArchive,
];

/// Orphaned records claimed per queue and heartbeat (the rest on the next beats).
const CLAIM_BATCH: usize = 100;

/// Starts the watcher, the poll timer and the heartbeat (after the queue actors, which
/// claimed orphans go to). Does nothing on the embedded backend.
pub fn start(ctx: &Arc<ServerContext>) {
    let Some(poll) = ctx.store.poll_interval() else {
        return;
    };
    let weak = Arc::downgrade(ctx);
    let watching = ctx.store.watch(Box::new(move |event| {
        if let Some(ctx) = weak.upgrade() {
            on_event(&ctx, event);
        }
    }));
    match watching {
        Ok(()) => {
            tracing::info!(node = %ctx.store.node_name(), "listening for other nodes' changes")
        }
        Err(e) => tracing::error!(
            "cannot listen for other nodes' changes ({e}); looking every {poll:?} only"
        ),
    }
    every(ctx, poll, false, |ctx| {
        for folder in ctx.folders.watched() {
            ctx.folders.changed_elsewhere(ctx, folder, None);
        }
    });
    if let StorageBackend::Postgres(pg) = &ctx.config().storage.backend {
        every(ctx, heartbeat_interval(pg.lease), true, beat);
    }
}

/// How often a node renews its heartbeat: three times per lease, so that one or two late
/// beats do not cost it its records.
pub fn heartbeat_interval(lease: Duration) -> Duration {
    (lease / 3).max(Duration::from_millis(100))
}

/// Runs `work` every `period` on the core arbiter (`blocking`: on its blocking pool, for
/// work that waits on the database) until the server context is gone.
fn every(
    ctx: &Arc<ServerContext>,
    period: Duration,
    blocking: bool,
    work: fn(&Arc<ServerContext>),
) {
    let weak: Weak<ServerContext> = Arc::downgrade(ctx);
    ctx.core_arbiter().spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(ctx) = weak.upgrade() else {
                return;
            };
            if ctx.is_shutting_down() {
                return;
            }
            if blocking {
                if let Err(e) = tokio::task::spawn_blocking(move || work(&ctx)).await {
                    tracing::error!("cluster timer: {e}");
                }
            } else {
                work(&ctx);
            }
        }
    });
}

/// One heartbeat: renew this node's row and leases, then claim orphaned queue records.
fn beat(ctx: &Arc<ServerContext>) {
    if let Err(e) = ctx.store.heartbeat() {
        tracing::warn!("cluster heartbeat failed: {e}");
    }
    for queue in WORKED_QUEUES {
        match ctx.store.queue_claim_orphans(queue, CLAIM_BATCH) {
            Ok(records) if records.is_empty() => {}
            Ok(records) => {
                let ids: Vec<QueueId> = records.iter().map(|r| r.id).collect();
                tracing::info!(
                    queue = queue.as_str(),
                    count = ids.len(),
                    ?ids,
                    "claimed orphaned queue records"
                );
                if ctx.queues_ready() {
                    for id in ids {
                        ctx.queues().notify(queue, id);
                    }
                }
            }
            Err(e) => tracing::warn!(
                queue = queue.as_str(),
                "claiming orphaned queue records failed: {e}"
            ),
        }
    }
}

/// One change heard from another node.
fn on_event(ctx: &Arc<ServerContext>, event: ClusterEvent) {
    match event {
        ClusterEvent::Folder { folder, modseq } => {
            ctx.folders.changed_elsewhere(ctx, folder, Some(modseq));
        }
        ClusterEvent::Settings { what } => settings_changed(ctx, &what),
        ClusterEvent::Resync => {
            for folder in ctx.folders.watched() {
                ctx.folders.changed_elsewhere(ctx, folder, None);
            }
            for what in ["directory", "dkim", "screening", "fetch"] {
                settings_changed(ctx, what);
            }
        }
    }
}

/// Another node changed settings: what this node keeps of them in memory is dropped or
/// read again. Everything else (accounts, domains, aliases, sender rights, DKIM keys) is
/// read from the store on use.
fn settings_changed(ctx: &Arc<ServerContext>, what: &str) {
    tracing::debug!(what, "settings changed on another node");
    match what {
        "screening" => ctx.screen.reload(),
        // Cached logins are trusted only while the account record is unchanged anyway;
        // dropping them makes a change elsewhere take effect at once.
        "directory" => ctx.credentials.clear(),
        // The parsed keys are checked against the active key on every signature; this only
        // frees the ones of removed keys.
        "dkim" => ctx.mail_auth.signer.clear(),
        "fetch" => super::fetcher::sync_with_store(ctx),
        other => tracing::debug!(what = other, "no cached settings of this kind"),
    }
}
