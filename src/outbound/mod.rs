//! Outbound delivery (issue 5): everything the remote queue actor
//! ([`crate::actors::remote_queue::RemoteQueueActor`]) uses to get mail to other servers.
//!
//! - [`dns`]: the resolver from `[dns] nameservers` (shared with the mail-authentication
//!   checks), MX lookup with A/AAAA fallback and null MX (RFC 7505).
//! - [`tls`]: the per-destination TLS policy hook and the rustls client configurations.
//! - [`session`]: one SMTP connection, the IO shell around the sans-IO client codec
//!   ([`crate::protocols::smtp::client`]).
//! - [`deliver`]: a destination's connection: MX hosts and addresses in order, one connection
//!   reused for every queued message, the per-recipient results of each.
//! - [`settle`]: the results of an attempt into storage: deferred with the next retry time,
//!   bounced, reported (DSN), or kept in the bad queue.
//! - [`dsn`]: RFC 3464 delivery status notifications.
//!
//! Delivery is at least once: a message the peer accepted is settled right after its final
//! reply, and a crash between the two sends it again after the restart (the peer then has it
//! twice). Nothing is ever lost: the record leaves the remote queue only in the transaction
//! that settles it.

pub mod deliver;
pub mod dns;
pub mod dsn;
pub mod session;
pub mod settle;
pub mod tls;
