//! Connection and TLS plumbing, below the actors (docs/architecture.md §1): the byte
//! streams and TLS configurations that the session actors, outbound delivery, the fetch
//! clients and the load tool all use.
//!
//! Nothing here knows about actors, admin commands, HTTP or the server: it may use
//! [`crate::config`] (the server TLS configuration is built from it) and outside crates
//! only, so [`crate::outbound`] and [`crate::fetch`] can use it without reaching up into
//! the actor layer (`tests/layers` checks this).

pub mod client_tls;
pub mod conn;
pub mod deadline;
pub mod deflate;
pub mod tls;
