//! Pure protocol codecs.
pub mod date;
pub mod imap;
pub mod pop3;
pub mod smtp;
pub mod webdav;
