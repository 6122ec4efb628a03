//! TLS for outbound delivery: the per-connection TLS policy and the rustls client
//! configurations.
//!
//! What a destination needs is decided in [`super::policy`] (MTA-STS, DANE); this module turns
//! a [`TlsPolicy`] into a rustls configuration. Without a policy delivery is
//! [`TlsPolicy::Opportunistic`] (RFC 3207 + RFC 7435: STARTTLS when offered, any certificate,
//! plaintext when TLS cannot be had).

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::ring::default_provider;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

use super::dane::{DaneVerifier, Tlsa};
use crate::config::DeliveryConfig;
use crate::net::client_tls::AcceptAnyCertificate;
use crate::protocols::smtp::client::TlsMode;

/// How much TLS a destination needs.
#[derive(Debug, Clone)]
pub enum TlsPolicy {
    /// STARTTLS when offered, any certificate; plaintext when TLS is not offered or fails.
    Opportunistic,
    /// TLS must be used (any certificate); otherwise delivery fails temporarily.
    Required,
    /// TLS with a certificate that chains to `roots` and matches the MX host name.
    Verified(Arc<RootCertStore>),
    /// TLS with a certificate that matches the host's DNSSEC-validated TLSA records.
    Dane(Vec<Tlsa>),
}

impl TlsPolicy {
    /// What the client codec does about STARTTLS.
    pub fn mode(&self) -> TlsMode {
        match self {
            TlsPolicy::Opportunistic => TlsMode::Opportunistic,
            TlsPolicy::Required | TlsPolicy::Verified(_) | TlsPolicy::Dane(_) => TlsMode::Required,
        }
    }

    /// Does a session under this policy authenticate the server (MTA-STS or DANE)?
    pub fn authenticates(&self) -> Option<&'static str> {
        match self {
            TlsPolicy::Verified(_) => Some("MTA-STS"),
            TlsPolicy::Dane(records) if records.iter().any(Tlsa::usable) => Some("DANE"),
            _ => None,
        }
    }
}

/// The trust anchors for MTA-STS (policy fetches and MX certificates): the compiled-in public
/// roots, or the PEM file of `[delivery] test_trust_roots` (tests).
pub fn trust_roots(d: &DeliveryConfig) -> Result<Arc<RootCertStore>, String> {
    let mut roots = RootCertStore::empty();
    match &d.test_trust_roots {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            for c in certs {
                let c = c.map_err(|e| format!("{}: {e}", path.display()))?;
                roots
                    .add(c)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
    }
    Ok(Arc::new(roots))
}

/// The RFC 8460 §4.3 result type of a failed TLS handshake.
pub fn result_type(e: &rustls::Error) -> &'static str {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::NotValidForName | C::NotValidForNameContext { .. } => "certificate-host-mismatch",
            C::Expired
            | C::ExpiredContext { .. }
            | C::NotValidYet
            | C::NotValidYetContext { .. } => "certificate-expired",
            C::UnknownIssuer | C::BadSignature | C::UnhandledCriticalExtension => {
                "certificate-not-trusted"
            }
            _ => "validation-failure",
        },
        _ => "validation-failure",
    }
}

/// The rustls client configuration for `policy`.
pub fn client_config(policy: &TlsPolicy) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| e.to_string())?;
    let config = match policy {
        TlsPolicy::Opportunistic | TlsPolicy::Required => builder
            .dangerous()
            // Opportunistic TLS encrypts without authenticating: SMTP servers' certificates
            // often do not match their MX names.
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate::new(provider)))
            .with_no_client_auth(),
        TlsPolicy::Verified(roots) => {
            let verifier = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider)
                .build()
                .map_err(|e| e.to_string())?;
            builder.with_webpki_verifier(verifier).with_no_client_auth()
        }
        TlsPolicy::Dane(records) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(DaneVerifier {
                records: records.clone(),
                provider,
            }))
            .with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The SNI name for `host` (a DNS name, or an IP literal).
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.trim_matches(|c| c == '[' || c == ']').to_string())
        .map_err(|e| format!("{host}: not a valid TLS server name: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_build_for_every_policy() {
        assert!(client_config(&TlsPolicy::Opportunistic).is_ok());
        assert!(client_config(&TlsPolicy::Required).is_ok());
        // An empty root store cannot verify anything: refused when built.
        assert!(client_config(&TlsPolicy::Verified(Arc::new(RootCertStore::empty()))).is_err());
        assert_eq!(TlsPolicy::Opportunistic.mode(), TlsMode::Opportunistic);
        assert_eq!(TlsPolicy::Required.mode(), TlsMode::Required);
        assert!(client_config(&TlsPolicy::Dane(Vec::new())).is_ok());
        assert_eq!(TlsPolicy::Dane(Vec::new()).authenticates(), None);
    }

    #[test]
    fn handshake_errors_have_report_types() {
        use rustls::CertificateError as C;
        let e = |c| rustls::Error::InvalidCertificate(c);
        assert_eq!(
            result_type(&e(C::NotValidForName)),
            "certificate-host-mismatch"
        );
        assert_eq!(result_type(&e(C::Expired)), "certificate-expired");
        assert_eq!(result_type(&e(C::UnknownIssuer)), "certificate-not-trusted");
        assert_eq!(
            result_type(&rustls::Error::HandshakeNotComplete),
            "validation-failure"
        );
    }

    #[test]
    fn server_names() {
        assert!(server_name("mx.example.com").is_ok());
        assert!(server_name("127.0.0.1").is_ok());
        assert!(server_name("[::1]").is_ok());
        assert!(server_name("bad name").is_err());
    }
}
