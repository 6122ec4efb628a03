//! DKIM signing keys (RFC 6376 §3.6) as callers see them: algorithm, selector, public key and
//! the DNS record to publish; and the checks on selectors and key domains.

use serde::{Deserialize, Serialize};

use super::directory::normalize_domain;
use super::StorageError;

/// The two signing algorithms of RFC 6376 §3.3 (rsa-sha256) and RFC 8463 (ed25519-sha256).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DkimAlgorithm {
    Rsa,
    Ed25519,
}

impl DkimAlgorithm {
    /// The name used in commands: "rsa" or "ed25519".
    pub fn as_str(self) -> &'static str {
        match self {
            DkimAlgorithm::Rsa => "rsa",
            DkimAlgorithm::Ed25519 => "ed25519",
        }
    }

    /// The `a=` tag value of the signatures it makes.
    pub fn signature_name(self) -> &'static str {
        match self {
            DkimAlgorithm::Rsa => "rsa-sha256",
            DkimAlgorithm::Ed25519 => "ed25519-sha256",
        }
    }

    pub fn parse(s: &str) -> Option<DkimAlgorithm> {
        match s.to_ascii_lowercase().as_str() {
            "rsa" | "rsa-sha256" => Some(DkimAlgorithm::Rsa),
            "ed25519" | "ed25519-sha256" => Some(DkimAlgorithm::Ed25519),
            _ => None,
        }
    }
}

/// One signing key, without its private half.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DkimKey {
    pub domain: String,
    pub selector: String,
    pub algorithm: DkimAlgorithm,
    /// Unix seconds.
    pub created: i64,
    pub active: bool,
    /// The `p=` value of the DNS record: base64 of the public key (RFC 6376 §3.6.1).
    pub public_key: String,
}

impl DkimKey {
    /// The DNS name to publish the key at: `SELECTOR._domainkey.DOMAIN` (RFC 6376 §3.6.2.1).
    pub fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The TXT record's text (RFC 6376 §3.6.1; `k=ed25519` from RFC 8463 §4.2).
    pub fn dns_txt(&self) -> String {
        format!(
            "v=DKIM1; k={}; p={}",
            self.algorithm.as_str(),
            self.public_key
        )
    }

    /// The record as a zone-file line, quoted in 255-byte strings as TXT data must be.
    pub fn dns_record(&self) -> String {
        let txt = self.dns_txt();
        let chunks: Vec<String> = txt
            .as_bytes()
            .chunks(255)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
            .collect();
        format!("{} TXT {}", self.dns_name(), chunks.join(" "))
    }
}

/// A selector is a dot-separated list of LDH labels (RFC 6376 §3.1, `sub-domain`); lowercased.
pub fn normalize_selector(selector: &str) -> Result<String, StorageError> {
    let lower = selector.to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if lower.is_empty() || lower.len() > 200 || !lower.split('.').all(label_ok) {
        return Err(StorageError::Invalid(format!(
            "invalid selector {selector:?} (letters, digits and hyphens, in dot-separated labels)"
        )));
    }
    Ok(lower)
}

/// The domain of a key: a valid domain name in ASCII (the `d=` tag takes A-labels).
pub(crate) fn dkim_domain(domain: &str) -> Result<String, StorageError> {
    let d = normalize_domain(domain)?;
    if !d.is_ascii() {
        return Err(StorageError::Invalid(format!(
            "DKIM keys need the ASCII (A-label, xn--…) form of {domain:?}"
        )));
    }
    Ok(d)
}
