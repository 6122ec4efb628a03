//! Ferrymail: an all-in-one messaging server.
//!
//! A tour, following a message (docs/architecture.md §1–§2; README's "Layout" has the table of
//! layers and what each may use):
//!
//! - [`config`] loads the TOML configuration (the embedded default is `config/ferrymail.toml`).
//! - [`server`] boots the supervisor: store, TLS, queue actors, listeners, console socket.
//! - [`actors::listener`] accepts a connection and starts a session: one generic shell,
//!   [`actors::session::shell::SessionActor`], around each protocol's pure codec
//!   ([`protocols::smtp::Session`], [`protocols::imap::session::Session`],
//!   [`protocols::pop3::Session`]); [`net`] is the connection and TLS plumbing under it.
//! - **The SMTP DATA path:** the SMTP adapter ([`actors::smtp_session`], its `enqueue`) asks
//!   [`delivery::accept`] what is accepted and as which queue record (sender rights, DMARC,
//!   REQUIRETLS, DKIM signing), writes the body file and sends `Enqueue` to
//!   [`actors::queues::InboundQueueActor`] (`actors/queues/inbound.rs`), which commits it
//!   ([`storage::Durability::commit_async`], group commit) before the client hears 250.
//! - **The queue runners** are [`actors::queues`]: the inbound queue routes with
//!   [`delivery::route`] to local / remote / bad; [`actors::queues::LocalQueueActor`]
//!   appends to the recipient's folder through its [`actors::folder::MailboxFolderActor`]
//!   (the folder's one writer, which broadcasts the change to IMAP sessions);
//!   [`actors::queues::remote::RemoteQueueActor`] delivers over SMTP with [`outbound`] (MX
//!   lookup, the [`protocols::smtp::client`] codec, retries through the deferred queue,
//!   bounces as RFC 3464 DSNs); console changes arrive as typed messages
//!   ([`actors::queues::Change`]).
//! - **The IMAP FETCH handler** is `Session::fetch` in `protocols::imap::messages`, one item
//!   per message in `protocols::imap::fetch_items`, big bodies streamed by
//!   `protocols::imap::fetch_stream`; the store behind it is
//!   [`actors::imap_backend`].
//! - On the way in, [`mailauth`] signs mail from authenticated users (DKIM) and checks mail
//!   from other servers (SPF, DKIM, ARC, DMARC → Authentication-Results).
//! - [`storage`] is the traits every backend implements, the body files and the group commit;
//!   the sled backend is `storage::sled`, the only code that names sled.
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
pub mod scheduling;
pub mod server;
pub mod storage;
