//! TLS for every listener: the configured PEM certificate, or a self-signed one made on
//! first start in `data/certs`. The same certificate is served whatever SNI the client
//! sends (or none: mail clients often connect by IP), so the resolver is rustls'
//! single-certificate one, never the strict SNI resolver (docs/architecture.md §7).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::ring::default_provider;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {err}")]
    Read { path: PathBuf, err: String },
    #[error("{path}: no certificate found in the PEM file")]
    NoCertificate { path: PathBuf },
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(String),
    #[error("cannot write {path}: {err}")]
    Write { path: PathBuf, err: String },
    #[error("certificate and key do not work together: {0}")]
    Config(String),
}

/// Where the certificate in use comes from.
#[derive(Debug, Clone)]
pub struct CertPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub self_signed: bool,
}

/// The configured certificate paths, or the self-signed pair in `data/certs` (made now if
/// missing, for `hostname` and localhost).
pub fn ensure_certificate(config: &Config) -> Result<CertPaths, TlsError> {
    if let (Some(cert), Some(key)) = (&config.tls.cert, &config.tls.key) {
        return Ok(CertPaths {
            cert: cert.clone(),
            key: key.clone(),
            self_signed: false,
        });
    }
    let dir = config.data_dir.join("certs");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    if !cert.exists() || !key.exists() {
        generate_self_signed(&config.hostname, &cert, &key)?;
        tracing::info!(cert = %cert.display(), "made a self-signed certificate");
    }
    Ok(CertPaths {
        cert,
        key,
        self_signed: true,
    })
}

fn generate_self_signed(hostname: &str, cert: &Path, key: &Path) -> Result<(), TlsError> {
    let mut names = vec![hostname.to_string()];
    if hostname != "localhost" {
        names.push("localhost".to_string());
    }
    let made =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    let write = |path: &Path, text: String| -> Result<(), TlsError> {
        let err = |e: std::io::Error| TlsError::Write {
            path: path.to_path_buf(),
            err: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        write_private(path, text.as_bytes()).map_err(err)
    };
    write(key, made.key_pair.serialize_pem())?;
    write(cert, made.cert.pem())
}

/// Writes `bytes` to a file that is 0600 from the moment it exists: the private key is
/// never readable by others, not even between a write and a later chmod. A file left by an
/// earlier run keeps its mode on open, so it is set again.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Loads the PEM pair into a rustls server configuration (ring provider, TLS 1.2 and 1.3).
pub fn load_server_config(paths: &CertPaths) -> Result<Arc<ServerConfig>, TlsError> {
    let read_err = |path: &Path, e: &dyn std::fmt::Display| TlsError::Read {
        path: path.to_path_buf(),
        err: e.to_string(),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&paths.cert)
        .map_err(|e| read_err(&paths.cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| read_err(&paths.cert, &e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: paths.cert.clone(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(&paths.key).map_err(|e| read_err(&paths.key, &e))?;
    let config = ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn self_signed_key_is_created_0600() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c/cert.pem"), dir.path().join("c/key.pem"));
        generate_self_signed("mail.test", &cert, &key).unwrap();
        for path in [&key, &cert] {
            let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", path.display());
        }
        // A key left world-readable by someone is made private again when rewritten.
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&key, b"x").unwrap();
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read(&key).unwrap(), b"x");
    }
}
