//! CMS SignedData (RFC 5652 §5) with the server's own certificate and key: how Apple
//! devices take a configuration profile as "signed" (and show the signer) rather than
//! "unsigned". The profile travels inside the signature (`eContent`, attached), as
//! `openssl smime -sign -nodetach` makes them.
//!
//! Implementation notes:
//!
//! - The structures are RustCrypto's (`cms`, `x509-cert`, `der`); the signature is made
//!   with ring, the crypto the TLS listeners already use, over the DER of the signed
//!   attributes (RFC 5652 §5.4: `contentType` id-data, `signingTime`, `messageDigest`).
//! - Keys: ECDSA P-256 and P-384 (what `[tls]` certificates are made with by default, and
//!   the usual Let's Encrypt ECDSA keys) and RSA of 2048 bits or more (ring's lower bound),
//!   in PKCS#8, SEC1 (`EC PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`) PEM. Which one is
//!   read from the certificate's public key, so a key that does not match its certificate
//!   is refused before anything is signed.
//! - The signer is named by issuer and serial number (SignerInfo version 1) and every
//!   certificate of the chain file is included, so a device can build the chain to its CA.
//! - Digests: SHA-256 (SHA-384 with P-384), RSA signatures PKCS#1 v1.5
//!   (`rsaEncryption`, as OpenSSL writes them).

use std::path::Path;
use std::time::Duration;

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use x509_cert::attr::Attribute;
use x509_cert::der::asn1::{Any, ObjectIdentifier, OctetString, SetOfVec, UtcTime};
use x509_cert::der::{Decode, Encode, Reader, SliceReader};
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

/// RFC 5652 §4: id-data.
const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// RFC 5652 §5.1: id-signedData.
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// RFC 5652 §11.1-11.3: the signed attributes.
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
/// RFC 5754 §2: SHA-2 digests.
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
/// RFC 5480 / RFC 5758 §3.2: EC keys, curves and ECDSA signatures.
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
/// RFC 8017 Appendix A.1: rsaEncryption (also the signature algorithm OpenSSL names).
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Why a profile could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("cannot read {0}: {1}")]
    Read(String, String),
    #[error("the certificate file holds no certificate")]
    NoCertificate,
    #[error("the certificate cannot be parsed: {0}")]
    Certificate(String),
    #[error(
        "the key type of the certificate is not supported for signing (ECDSA P-256/P-384 or RSA)"
    )]
    Unsupported,
    #[error("the private key does not fit the certificate: {0}")]
    Key(String),
    #[error("the signature could not be made")]
    Sign,
    #[error("encoding the signature failed: {0}")]
    Encode(String),
}

impl From<x509_cert::der::Error> for SignError {
    fn from(e: x509_cert::der::Error) -> Self {
        SignError::Encode(e.to_string())
    }
}

/// The signing key, of the kind its certificate names.
enum Key {
    Ecdsa {
        pair: EcdsaKeyPair,
        digest: &'static ring::digest::Algorithm,
        digest_oid: ObjectIdentifier,
        signature_oid: ObjectIdentifier,
    },
    Rsa(RsaKeyPair),
}

/// A certificate chain (leaf first) and its key, ready to sign.
pub struct Signer {
    chain: Vec<Certificate>,
    key: Key,
}

impl Signer {
    /// Reads the PEM files `cert` (the chain, leaf first) and `key`.
    pub fn from_files(cert: &Path, key: &Path) -> Result<Signer, SignError> {
        let read = |p: &Path, e: &dyn std::fmt::Display| {
            SignError::Read(p.display().to_string(), e.to_string())
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| read(cert, &e))?
            .collect::<Result<_, _>>()
            .map_err(|e| read(cert, &e))?;
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| read(key, &e))?;
        Signer::new(&certs, &key_der)
    }

    /// A signer from DER certificates (leaf first) and a private key.
    pub fn new(certs: &[CertificateDer<'_>], key: &PrivateKeyDer<'_>) -> Result<Signer, SignError> {
        let chain = certs
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SignError::Certificate(e.to_string()))?;
        let leaf = chain.first().ok_or(SignError::NoCertificate)?;
        let spki = &leaf.tbs_certificate.subject_public_key_info;
        let public = spki.subject_public_key.raw_bytes();
        let key = if spki.algorithm.oid == ID_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or(SignError::Unsupported)?;
            let (alg, digest, digest_oid, signature_oid) = if curve == SECP256R1 {
                (
                    &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                    &ring::digest::SHA256,
                    ID_SHA256,
                    ECDSA_SHA256,
                )
            } else if curve == SECP384R1 {
                (
                    &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                    &ring::digest::SHA384,
                    ID_SHA384,
                    ECDSA_SHA384,
                )
            } else {
                return Err(SignError::Unsupported);
            };
            let rng = SystemRandom::new();
            let pair = match key {
                PrivateKeyDer::Pkcs8(k) => {
                    EcdsaKeyPair::from_pkcs8(alg, k.secret_pkcs8_der(), &rng)
                }
                PrivateKeyDer::Sec1(k) => {
                    let scalar = sec1_scalar(k.secret_sec1_der())?;
                    EcdsaKeyPair::from_private_key_and_public_key(alg, &scalar, public, &rng)
                }
                _ => return Err(SignError::Key("an EC certificate needs an EC key".into())),
            }
            .map_err(|e| SignError::Key(e.to_string()))?;
            if pair.public_key().as_ref() != public {
                return Err(SignError::Key("the public keys differ".into()));
            }
            Key::Ecdsa {
                pair,
                digest,
                digest_oid,
                signature_oid,
            }
        } else if spki.algorithm.oid == RSA_ENCRYPTION {
            let pair = match key {
                PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
                PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
                _ => return Err(SignError::Key("an RSA certificate needs an RSA key".into())),
            }
            .map_err(|e| SignError::Key(e.to_string()))?;
            if pair.public_key().as_ref() != public {
                return Err(SignError::Key("the public keys differ".into()));
            }
            Key::Rsa(pair)
        } else {
            return Err(SignError::Unsupported);
        };
        Ok(Signer { chain, key })
    }

    /// `content` wrapped in a DER ContentInfo of type SignedData, signed at `now` (Unix
    /// seconds).
    pub fn sign(&self, content: &[u8], now: u64) -> Result<Vec<u8>, SignError> {
        let leaf = self.chain.first().ok_or(SignError::NoCertificate)?;
        let (digest, digest_oid, signature_alg) = match &self.key {
            Key::Ecdsa {
                digest,
                digest_oid,
                signature_oid,
                ..
            } => (
                *digest,
                *digest_oid,
                AlgorithmIdentifierOwned {
                    oid: *signature_oid,
                    parameters: None,
                },
            ),
            Key::Rsa(_) => (
                &ring::digest::SHA256,
                ID_SHA256,
                AlgorithmIdentifierOwned {
                    oid: RSA_ENCRYPTION,
                    parameters: Some(Any::null()),
                },
            ),
        };
        let digest_alg = AlgorithmIdentifierOwned {
            oid: digest_oid,
            parameters: None,
        };
        let content_digest = ring::digest::digest(digest, content);
        let time = UtcTime::from_unix_duration(Duration::from_secs(now))?;
        let mut attrs = SetOfVec::new();
        attrs.insert(attribute(ID_CONTENT_TYPE, Any::encode_from(&ID_DATA)?)?)?;
        attrs.insert(attribute(ID_SIGNING_TIME, Any::encode_from(&time)?)?)?;
        let digest_value = OctetString::new(content_digest.as_ref())?;
        attrs.insert(attribute(
            ID_MESSAGE_DIGEST,
            Any::encode_from(&digest_value)?,
        )?)?;
        // RFC 5652 §5.4: the signature covers the DER of the attributes as a SET OF (the
        // explicit SET tag, not the [0] they are written with).
        let signed = self.raw_signature(&attrs.to_der()?)?;
        let signer = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: leaf.tbs_certificate.issuer.clone(),
                serial_number: leaf.tbs_certificate.serial_number.clone(),
            }),
            digest_alg: digest_alg.clone(),
            signed_attrs: Some(attrs),
            signature_algorithm: signature_alg,
            signature: OctetString::new(signed)?,
            unsigned_attrs: None,
        };
        let mut digest_algorithms = SetOfVec::new();
        digest_algorithms.insert(digest_alg)?;
        let mut certificates = SetOfVec::new();
        for c in &self.chain {
            certificates.insert(CertificateChoices::Certificate(c.clone()))?;
        }
        let mut signer_infos = SetOfVec::new();
        signer_infos.insert(signer)?;
        let signed_data = SignedData {
            version: CmsVersion::V1,
            digest_algorithms,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: ID_DATA,
                econtent: Some(Any::encode_from(&OctetString::new(content)?)?),
            },
            certificates: Some(CertificateSet(certificates)),
            crls: None,
            signer_infos: SignerInfos(signer_infos),
        };
        let info = ContentInfo {
            content_type: ID_SIGNED_DATA,
            content: Any::encode_from(&signed_data)?,
        };
        Ok(info.to_der()?)
    }

    fn raw_signature(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let rng = SystemRandom::new();
        match &self.key {
            Key::Ecdsa { pair, .. } => pair
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SignError::Sign),
            Key::Rsa(pair) => {
                let mut out = vec![0u8; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut out)
                    .map_err(|_| SignError::Sign)?;
                Ok(out)
            }
        }
    }
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, SignError> {
    let mut values = SetOfVec::new();
    values.insert(value)?;
    Ok(Attribute { oid, values })
}

/// The private scalar of a SEC1 `ECPrivateKey` (RFC 5915 §3): `SEQUENCE { version 1,
/// privateKey OCTET STRING, [0] parameters OPTIONAL, [1] publicKey OPTIONAL }`.
fn sec1_scalar(der: &[u8]) -> Result<Vec<u8>, SignError> {
    let bad = |e: x509_cert::der::Error| SignError::Key(format!("SEC1 key: {e}"));
    let mut reader = SliceReader::new(der).map_err(bad)?;
    let scalar = reader
        .sequence(|r| {
            let _version: u8 = r.decode()?;
            let scalar: OctetString = r.decode()?;
            // The optional parameters and public key: the certificate has them already.
            while !r.is_finished() {
                let _: Any = r.decode()?;
            }
            Ok(scalar.into_bytes())
        })
        .map_err(bad)?;
    Ok(scalar)
}
