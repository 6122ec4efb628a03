//! Delivery rules, below the actors: plain functions over storage and configuration that the queue actors apply (docs/architecture.md §1).
pub mod route;
