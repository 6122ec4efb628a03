//! Ferrymail: an all-in-one messaging server.
pub mod admin;
pub mod bench;
pub mod config;
pub mod protocols;
pub mod storage;
