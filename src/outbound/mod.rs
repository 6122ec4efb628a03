//! Outbound delivery (issue 5): everything the remote queue actor
//! (`RemoteQueueActor`, in the actor layer above) uses to get mail to other servers.
//!
//! - [`dns`]: the resolver from `[dns] nameservers` (shared with the mail-authentication
//!   checks), MX lookup with A/AAAA fallback and null MX (RFC 7505).
//! - [`tls`]: TLS policies of a connection and their rustls client configurations.
//! - [`policy`]: what a destination's TLS policy is: DANE ([`dane`]) over MTA-STS
//!   ([`mta_sts`], fetched with [`https`]) over opportunistic TLS; results counted for TLS
//!   reports ([`tlsrpt`]). REQUIRETLS (RFC 8689) is checked per message in [`deliver`].
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

pub mod dane;
pub mod deliver;
pub mod dns;
pub mod dsn;
pub mod https;
pub mod mta_sts;
pub mod policy;
pub mod session;
pub mod settle;
pub mod show;
pub mod tls;
pub mod tlsrpt;
