//! Pure protocol codecs.
pub mod caldav;
pub mod carddav;
pub mod date;
pub mod davreport;
pub mod imap;
pub mod itip;
pub mod pop3;
pub mod smtp;
pub mod webdav;
