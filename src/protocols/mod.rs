//! Pure protocol codecs.
pub mod date;
pub mod imap;
pub mod smtp;
