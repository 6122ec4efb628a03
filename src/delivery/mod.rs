//! Mail rules between the sessions and the queues: what is accepted, and as which record.
pub mod accept;
