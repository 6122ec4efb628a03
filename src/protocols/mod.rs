//! Pure protocol codecs.
pub mod smtp;
