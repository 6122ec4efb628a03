//! TLS for outbound delivery: the policy hook and the rustls client configurations.
//!
//! [`policy_for`] is the one place that decides, per destination, how much TLS delivery
//! needs. Today every destination is [`TlsPolicy::Opportunistic`] (RFC 3207 + RFC 7435: use
//! STARTTLS when offered, accept any certificate, fall back to plaintext when TLS cannot be
//! had). MTA-STS (RFC 8461), DANE (RFC 7672) and REQUIRETLS (RFC 8689) plug in here: they
//! return [`TlsPolicy::Required`] or [`TlsPolicy::Verified`] for the destinations they cover
//! (issue 5, part 4).

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::ring::default_provider;
use rustls::RootCertStore;
use rustls_pki_types::ServerName;

use crate::actors::client_tls::AcceptAnyCertificate;

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
}

impl TlsPolicy {
    /// What the client codec does about STARTTLS.
    pub fn mode(&self) -> TlsMode {
        match self {
            TlsPolicy::Opportunistic => TlsMode::Opportunistic,
            TlsPolicy::Required | TlsPolicy::Verified(_) => TlsMode::Required,
        }
    }
}

/// The TLS policy for mail to `domain` (the recipient domain, or the smarthost's name).
pub fn policy_for(_domain: &str) -> TlsPolicy {
    TlsPolicy::Opportunistic
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
    }

    #[test]
    fn server_names() {
        assert!(server_name("mx.example.com").is_ok());
        assert!(server_name("127.0.0.1").is_ok());
        assert!(server_name("[::1]").is_ok());
        assert!(server_name("bad name").is_err());
    }
}
