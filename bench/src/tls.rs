//! TLS for the benchmark client: **bench-only, accepts any certificate.**
//!
//! A load tool is pointed at test servers with self-signed or mismatched
//! certificates, so it uses [`AcceptAnyCertificate`], which skips chain and name
//! validation but still checks the handshake signatures against the certificate's
//! key, so the TLS cost measured is that of a real handshake.

use tokio_rustls::TlsConnector;

pub use ferrymail::net::client_tls::{server_name, AcceptAnyCertificate};

/// A connector using the ring provider and [`AcceptAnyCertificate`].
pub fn insecure_connector() -> Result<TlsConnector, String> {
    Ok(TlsConnector::from(
        ferrymail::net::client_tls::client_config(false)?,
    ))
}
