//! Pure protocol codecs.
pub mod imap;
pub mod smtp;
