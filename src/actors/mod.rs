//! Actors: IO, TLS, timers, routing and supervision (docs/architecture.md §1–2).
//!
//! The tree, as the console's `actors` command shows it:
//!
//! ```text
//! supervisor (server.rs)
//! ├─ listener/<service>          acceptors: connection limits, hand sockets to session arbiters
//! │   └─ Smtp/Imap/Pop3SessionActor  one per connection, a shell around protocols::<proto>::Session
//! ├─ queue/{inbound,local,remote,deferred,toarchive,bad}   queue actors over stored records
//! │   └─ (remote) one connection worker per destination   outbound SMTP, see queues/remote.rs
//! ├─ folder/<account>/<name>     MailboxFolderActor, one per open folder, the folder's only writer
//! ├─ fetch/<source id>           FetcherActor, one per MultiPOP/DomainPOP source
//! ├─ snooze                      the waker of snoozed messages (a timer task)
//! └─ control                      the console's Unix socket (served by admin::socket)
//! ```
//!
//! Queue and folder actors run on the `core` arbiter, sessions on the session arbiters
//! (one per core), acceptors, control socket and HTTP on the system arbiter.
//! Queue and folder actors are started under `actix::Supervisor` and contain panics with
//! [`supervisor::guarded`], so a failing one restarts and reloads from storage; their
//! futures, the sessions' and the long-lived tasks (acceptors, control socket) are
//! supervised too (`supervisor::in_actor`, `contained`, `supervise_task`).

pub mod account_events;
pub mod auth;
pub mod authlog;
pub mod cluster;
pub mod credential_cache;
pub mod fetcher;
pub mod folder;
pub mod folder_changes;
pub mod header_cache;
pub mod imap_backend;
pub mod imap_notify;
pub mod imap_session;
pub mod listener;
pub mod pop3_backend;
pub mod pop3_session;
pub mod queues;
pub mod screen;
pub mod session;
pub mod smtp_session;
pub mod snooze;
pub mod stats;
pub mod supervisor;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use actix::ArbiterHandle;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::Config;
use crate::storage::{Store, Writers};

/// Everything the actors share: configuration (swappable by `reload`), the store, the TLS
/// configuration, counters, the supervision registry and the shutdown signal.
pub struct ServerContext {
    config: RwLock<Arc<Config>>,
    tls: RwLock<Option<Arc<rustls::ServerConfig>>>,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub stats: stats::Stats,
    pub registry: supervisor::ActorRegistry,
    pub faults: supervisor::FaultHooks,
    pub auth_log: authlog::AuthFailureLog,
    /// The folder actors, which alone hold the store's folder writes.
    pub folders: folder::FolderRegistry,
    /// The store's queue writes, reachable only by the queue actors (a private field).
    pub queue_records: queues::RecordWriter,
    /// Account-wide changes for sessions that watch more than one folder (IMAP NOTIFY).
    pub account_events: account_events::AccountEvents,
    /// The fetch sources' actors (MultiPOP, DomainPOP).
    pub fetchers: fetcher::Fetchers,
    queues: OnceLock<queues::QueueAddrs>,
    shutdown: watch::Sender<bool>,
    /// Notified when someone (console `shutdown`, a test) asks the server to stop.
    pub stop_requested: tokio::sync::Notify,
    /// Bounds concurrent password verifications (see `auth::check_password`).
    pub password_checks: tokio::sync::Semaphore,
    /// Logins verified recently (see `auth::check_password`); memory only.
    pub credentials: credential_cache::CredentialCache,
    /// Message headers for IMAP SEARCH, SORT, THREAD and ENVELOPE.
    pub headers: header_cache::HeaderCache,
    /// DKIM signing keys and the SPF/DKIM/DMARC verifier.
    pub mail_auth: crate::mailauth::MailAuth,
    /// POP3 maildrop locks and octet counts.
    pub pop3: pop3_backend::Pop3Shared,
    /// Dynamic screening: bans of client addresses on every service (`[screening]`).
    pub screen: screen::Screen,
    /// Rung when a message is snoozed, so the waker looks at the next wake time again.
    pub snoozes: snooze::SnoozeWaker,
    core: ArbiterHandle,
    session_arbiters: Vec<ArbiterHandle>,
    /// The folder actors' arbiters (set once at start); the core arbiter until then.
    folder_arbiters: OnceLock<Vec<ArbiterHandle>>,
    next_arbiter: AtomicUsize,
    next_session: AtomicU64,
}

impl ServerContext {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Arc<Config>,
        tls: Option<Arc<rustls::ServerConfig>>,
        store: Store,
        writers: Writers,
        clock: Arc<dyn Clock>,
        auth_log: authlog::AuthFailureLog,
        core: ArbiterHandle,
        session_arbiters: Vec<ArbiterHandle>,
    ) -> Arc<ServerContext> {
        let (shutdown, _) = watch::channel(false);
        let max_fetchers = config.fetch.max_concurrent;
        let screen = screen::Screen::load(store.clone(), clock.clone());
        // Other nodes share the store when it asks to be polled for their changes.
        let clustered = store.poll_interval().is_some();
        Arc::new(ServerContext {
            config: RwLock::new(config),
            tls: RwLock::new(tls),
            store,
            clock,
            stats: stats::Stats::default(),
            registry: supervisor::ActorRegistry::default(),
            faults: supervisor::FaultHooks::default(),
            auth_log,
            folders: folder::FolderRegistry::new(writers.folders, clustered),
            queue_records: queues::RecordWriter::new(writers.queues),
            account_events: account_events::AccountEvents::default(),
            fetchers: fetcher::Fetchers::new(max_fetchers),
            queues: OnceLock::new(),
            shutdown,
            stop_requested: tokio::sync::Notify::new(),
            headers: header_cache::HeaderCache::new(64 * 1024 * 1024),
            mail_auth: crate::mailauth::MailAuth::default(),
            pop3: pop3_backend::Pop3Shared::default(),
            screen,
            snoozes: snooze::SnoozeWaker::default(),
            password_checks: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            credentials: credential_cache::CredentialCache::default(),
            core,
            session_arbiters,
            folder_arbiters: OnceLock::new(),
            next_arbiter: AtomicUsize::new(0),
            next_session: AtomicU64::new(1),
        })
    }

    /// The configuration in force now; sessions take a snapshot when they start, so a
    /// `reload` applies to new sessions without dropping the running ones.
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_config(&self, config: Arc<Config>) {
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = config;
    }

    pub fn tls(&self) -> Option<Arc<rustls::ServerConfig>> {
        self.tls.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_tls(&self, tls: Option<Arc<rustls::ServerConfig>>) {
        *self.tls.write().unwrap_or_else(|p| p.into_inner()) = tls;
    }

    /// The one door to the folder and queue writes outside their actors, for tests that
    /// seed messages or queue records directly. Only with the `fault-injection` feature,
    /// which release builds lack.
    #[cfg(feature = "fault-injection")]
    pub fn writers_for_tests(
        &self,
    ) -> (&crate::storage::FolderWriter, &crate::storage::QueueWriter) {
        (
            self.folders.writer_for_tests(),
            self.queue_records.for_tests(),
        )
    }

    /// The queue actors' addresses (set once at boot).
    pub fn queues(&self) -> &queues::QueueAddrs {
        self.queues
            .get()
            .unwrap_or_else(|| unreachable!("queue actors are started before any listener"))
    }

    /// Publishes the queue actors' addresses, then asks each queue to scan its records:
    /// a queue actor that started before the addresses were known (at boot) must not route
    /// a record to a neighbour it cannot name yet.
    pub fn set_queues(&self, addrs: queues::QueueAddrs) {
        let _ = self.queues.set(addrs);
        self.queues().rescan_all();
    }

    /// Whether [`ServerContext::set_queues`] has run.
    pub fn queues_ready(&self) -> bool {
        self.queues.get().is_some()
    }

    pub fn core_arbiter(&self) -> &ArbiterHandle {
        &self.core
    }

    /// Gives the folder actors arbiters of their own (once, at start; later calls change
    /// nothing).
    pub fn set_folder_arbiters(&self, arbiters: Vec<ArbiterHandle>) {
        if !arbiters.is_empty() {
            let _ = self.folder_arbiters.set(arbiters);
        }
    }

    /// The arbiter folder `id`'s actor runs on: one of the folder arbiters (by id), or the
    /// core arbiter when there are none.
    pub fn folder_arbiter(&self, id: u64) -> &ArbiterHandle {
        match self.folder_arbiters.get() {
            Some(a) => &a[(id % a.len() as u64) as usize],
            None => &self.core,
        }
    }

    /// Session arbiters are used round robin.
    pub fn session_arbiter(&self) -> &ArbiterHandle {
        let n = self.next_arbiter.fetch_add(1, Ordering::Relaxed);
        &self.session_arbiters[n % self.session_arbiters.len()]
    }

    /// A short unique id for a session, used in logs, the Received header and the
    /// auth-failure log.
    pub fn new_session_id(&self) -> String {
        let n = self.next_session.fetch_add(1, Ordering::Relaxed);
        format!("{:X}{:04X}", self.clock.now() & 0xFFFF_FFFF, n & 0xFFFF)
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub fn begin_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}
