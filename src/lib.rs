//! Ferrymail: an all-in-one messaging server.
//!
//! A tour, following a message (docs/architecture.md §1):
//!
//! - [`config`] loads the TOML configuration (the embedded default is `config/ferrymail.toml`).
//! - [`server`] boots the supervisor: store, TLS, queue actors, listeners, console socket.
//! - [`actors::listener`] accepts a connection and starts an
//!   [`actors::smtp_session::SmtpSessionActor`], the IO shell around the pure
//!   [`protocols::smtp::Session`] codec.
//! - On DATA [`delivery::accept`] decides what is accepted and as which queue record (sender
//!   rights, DMARC, REQUIRETLS); the session writes the body file and sends `Enqueue` to
//!   [`actors::queues::InboundQueueActor`], which commits it ([`storage::Durability::commit_async`],
//!   group commit) before the client hears 250.
//! - On the way in, [`mailauth`] signs mail from authenticated users (DKIM) and checks mail
//!   from other servers (SPF, DKIM, ARC, DMARC → Authentication-Results, DMARC policy).
//! - Inbound routes to local / remote / bad; the local queue appends to the recipient's INBOX
//!   through its [`actors::folder::MailboxFolderActor`], which broadcasts `MailboxChanged` to
//!   the folder's watchers and, through [`actors::account_events`], to sessions that watch
//!   the whole account (IMAP NOTIFY).
//! - Remote mail goes to [`actors::queues::remote::RemoteQueueActor`], which delivers it over
//!   SMTP with [`outbound`] (MX lookup, the [`protocols::smtp::client`] codec, retries through
//!   the deferred queue, bounces as RFC 3464 DSNs).
//! - [`net`] is the connection and TLS plumbing under all of these (plain/TLS streams,
//!   certificates, client TLS, deadlines, deflate).
//! - [`admin`] is the one command set for the console (over `data/control.sock`, served by
//!   [`admin::socket`]), the CLI and, later, the admin web; [`http`] serves the health page.
//! - The load tool behind `ferrymail bench` is a crate of its own, `bench/` (ferrymail-bench),
//!   which uses this library; none of it is compiled into the server.

pub mod actors;
pub mod admin;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod fetch;
pub mod http;
pub mod mailauth;
pub mod net;
pub mod outbound;
pub mod protocols;
pub mod server;
pub mod storage;
