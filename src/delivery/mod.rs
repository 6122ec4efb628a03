//! Mail rules between the sessions and the queues, below the actors: what is accepted and as
//! which record ([`accept`]), and where it goes ([`route`]). Plain functions over storage and
//! configuration that the session and queue actors apply (docs/architecture.md §1).
pub mod accept;
pub mod route;
