//! A test certificate authority (rcgen): the trust root of `[delivery] test_trust_roots`, and
//! the certificates it issues to the test MX and MTA-STS policy server.

// Each test binary uses part of it.
#![allow(dead_code)]

use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate chain (end entity first) and its key.
pub struct Issued {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// DER of the end entity's SubjectPublicKeyInfo (for TLSA 3 1 x).
    pub spki: Vec<u8>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Ferrymail test CA");
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa { cert, key }
    }

    /// Writes the CA certificate as PEM to `path` (for `test_trust_roots`).
    pub fn write_pem(&self, path: &Path) {
        std::fs::write(path, self.cert.pem()).expect("write CA PEM");
    }

    /// A certificate for `names`, issued by this CA.
    pub fn issue(&self, names: &[&str]) -> Issued {
        let key = KeyPair::generate().expect("key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let cert = CertificateParams::new(names)
            .expect("params")
            .signed_by(&key, &self.cert, &self.key)
            .expect("certificate");
        Issued {
            chain: vec![cert.der().clone(), self.cert.der().clone()],
            spki: key.public_key_der(),
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }
}

/// A self-signed certificate for `names` (trusted by nobody).
pub fn self_signed(names: &[&str]) -> Issued {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let c = rcgen::generate_simple_self_signed(names).expect("self-signed");
    Issued {
        chain: vec![c.cert.der().clone()],
        spki: c.key_pair.public_key_der(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(c.key_pair.serialize_der())),
    }
}
