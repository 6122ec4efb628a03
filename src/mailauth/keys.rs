//! DKIM key pairs: generation (rsa-sha256 2048-bit, RFC 6376 §3.3.3; ed25519-sha256,
//! RFC 8463), PEM files, the DNS record to publish, and loading a stored key for signing.

use base64::Engine;
use mail_auth::common::crypto::{DkimKey as SigningKey, Ed25519Key, RsaKey, Sha256};
use mail_auth::dkim::generate::DkimKeyPair;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;

use super::AuthError;
use crate::storage::{DkimAlgorithm, DkimKey, Store};

/// RSA modulus size: RFC 8301 §3.2 asks for at least 1024 bits and recommends 2048; larger
/// keys do not fit a single 255-byte TXT string and some DNS providers mishandle them.
pub const RSA_BITS: usize = 2048;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A freshly made key pair: the PEM private key and the DNS `p=` value.
pub struct GeneratedKey {
    pub private_pem: Vec<u8>,
    pub public_key: String,
}

/// Makes a key pair for `algorithm`.
pub fn generate_pair(algorithm: DkimAlgorithm) -> Result<GeneratedKey, AuthError> {
    let crypto = |e: mail_auth::Error| AuthError::Crypto(e.to_string());
    Ok(match algorithm {
        DkimAlgorithm::Rsa => {
            let pair = DkimKeyPair::generate_rsa(RSA_BITS).map_err(crypto)?;
            GeneratedKey {
                // PKCS#1 RSAPrivateKey.
                private_pem: pem("RSA PRIVATE KEY", pair.private_key()),
                // Published as SubjectPublicKeyInfo, which every verifier reads (RFC 6376
                // Appendix C makes its record with `openssl rsa -pubout`).
                public_key: B64.encode(rsa_spki(pair.public_key())),
            }
        }
        DkimAlgorithm::Ed25519 => {
            let pair = DkimKeyPair::generate_ed25519().map_err(crypto)?;
            GeneratedKey {
                // PKCS#8 (RFC 8410).
                private_pem: pem("PRIVATE KEY", pair.private_key()),
                // RFC 8463 §4.2: the raw 32-byte public key.
                public_key: B64.encode(pair.public_key()),
            }
        }
    })
}

/// Generates and stores a key for `domain`. Without `selector`, one is made from the date
/// and the algorithm ("rsa-20261121", then "rsa-20261121-2", …).
pub fn generate(
    store: &Store,
    domain: &str,
    algorithm: DkimAlgorithm,
    selector: Option<&str>,
    now: i64,
) -> Result<DkimKey, AuthError> {
    let selector = match selector {
        Some(s) => s.to_string(),
        None => free_selector(store, domain, algorithm, now)?,
    };
    let pair = generate_pair(algorithm)?;
    Ok(store.dkim_add(
        domain,
        &selector,
        algorithm,
        &pair.public_key,
        &pair.private_pem,
        now,
    )?)
}

fn free_selector(
    store: &Store,
    domain: &str,
    algorithm: DkimAlgorithm,
    now: i64,
) -> Result<String, AuthError> {
    let (y, m, d, ..) = crate::clock::civil(now);
    let base = format!("{}-{y:04}{m:02}{d:02}", algorithm.as_str());
    let taken: Vec<String> = store
        .dkim_list(domain)?
        .into_iter()
        .map(|k| k.selector)
        .collect();
    let mut candidate = base.clone();
    let mut n = 1;
    while taken.contains(&candidate) {
        n += 1;
        candidate = format!("{base}-{n}");
    }
    Ok(candidate)
}

/// Reads a stored private key into a signing key.
pub fn load_signing_key(store: &Store, key: &DkimKey) -> Result<SigningKey, AuthError> {
    let pem = store.dkim_private_key(key)?;
    let der = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        AuthError::Crypto(format!(
            "DKIM key {} of {}: not a PEM private key: {e}",
            key.selector, key.domain
        ))
    })?;
    let bad = |e: mail_auth::Error| {
        AuthError::Crypto(format!("DKIM key {} of {}: {e}", key.selector, key.domain))
    };
    Ok(match (key.algorithm, der) {
        (DkimAlgorithm::Rsa, der) => {
            SigningKey::Rsa(RsaKey::<Sha256>::from_key_der(der).map_err(bad)?)
        }
        (DkimAlgorithm::Ed25519, PrivateKeyDer::Pkcs8(der)) => SigningKey::Ed25519(
            Ed25519Key::from_pkcs8_maybe_unchecked_der(der.secret_pkcs8_der()).map_err(bad)?,
        ),
        (DkimAlgorithm::Ed25519, _) => {
            return Err(AuthError::Crypto(format!(
                "DKIM key {} of {}: an ed25519 key must be PKCS#8 (\"BEGIN PRIVATE KEY\")",
                key.selector, key.domain
            )))
        }
    })
}

/// PEM text (RFC 7468): base64 in 64-column lines between the labels.
fn pem(label: &str, der: &[u8]) -> Vec<u8> {
    let b64 = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out.into_bytes()
}

/// DER length octets (X.690 §8.1.3).
fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    der_len(content.len(), &mut out);
    out.extend_from_slice(content);
    out
}

/// Wraps a PKCS#1 RSAPublicKey in a SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) with the
/// rsaEncryption algorithm (RFC 8017 Appendix A.1).
fn rsa_spki(pkcs1: &[u8]) -> Vec<u8> {
    // SEQUENCE { OID 1.2.840.113549.1.1.1, NULL }
    const ALGORITHM: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bits = vec![0u8]; // no unused bits
    bits.extend_from_slice(pkcs1);
    let mut body = ALGORITHM.to_vec();
    body.extend_from_slice(&der(0x03, &bits));
    der(0x30, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_use_the_short_and_long_forms() {
        let enc = |n| {
            let mut v = Vec::new();
            der_len(n, &mut v);
            v
        };
        assert_eq!(enc(5), [5]);
        assert_eq!(enc(0x7f), [0x7f]);
        assert_eq!(enc(0x80), [0x81, 0x80]);
        assert_eq!(enc(270), [0x82, 0x01, 0x0e]);
    }

    #[test]
    fn rsa_public_key_is_published_as_subject_public_key_info() {
        let pair = generate_pair(DkimAlgorithm::Rsa).unwrap();
        let spki = B64.decode(&pair.public_key).unwrap();
        // A 2048-bit key's SPKI is 294 bytes and starts like `openssl rsa -pubout` output.
        assert_eq!(spki.len(), 294);
        assert!(pair
            .public_key
            .starts_with("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"));
        let pem = String::from_utf8(pair.private_pem).unwrap();
        assert!(
            pem.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"),
            "{pem}"
        );
        assert!(pem.lines().all(|l| l.len() <= 64));
    }

    #[test]
    fn ed25519_public_key_is_32_raw_bytes() {
        let pair = generate_pair(DkimAlgorithm::Ed25519).unwrap();
        assert_eq!(B64.decode(&pair.public_key).unwrap().len(), 32);
        assert!(pair
            .private_pem
            .starts_with(b"-----BEGIN PRIVATE KEY-----\n"));
    }

    #[test]
    fn generated_keys_get_dated_selectors_and_load_back() {
        let (_dir, store) = crate::storage::testutil::store();
        store.add_domain("example.com").unwrap();
        let now = 1_795_000_000; // 2026-11-18
        let a = generate(&store, "example.com", DkimAlgorithm::Ed25519, None, now).unwrap();
        let b = generate(&store, "example.com", DkimAlgorithm::Ed25519, None, now).unwrap();
        let c = generate(&store, "example.com", DkimAlgorithm::Rsa, Some("Main"), now).unwrap();
        assert_eq!(a.selector, "ed25519-20261118");
        assert_eq!(b.selector, "ed25519-20261118-2");
        assert_eq!(c.selector, "main");
        for k in [&a, &c] {
            let signing = load_signing_key(&store, k).unwrap();
            assert!(matches!(
                (k.algorithm, signing),
                (DkimAlgorithm::Rsa, SigningKey::Rsa(_))
                    | (DkimAlgorithm::Ed25519, SigningKey::Ed25519(_))
            ));
        }
        let err = generate(&store, "nowhere.example", DkimAlgorithm::Rsa, None, now).unwrap_err();
        assert!(err.to_string().contains("domain add"), "{err}");
    }
}
