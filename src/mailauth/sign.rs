//! DKIM signing (RFC 6376 §5) with the domain's active key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mail_auth::common::crypto::DkimKey as SigningKey;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner, Done};

use super::keys::load_signing_key;
use super::sender::{self, Verdict};
use super::AuthError;
use crate::storage::Store;

/// The header fields signed (RFC 6376 §5.4.1: those that carry the message's meaning). Each
/// one present is signed; one absent is still listed, so that adding it later breaks the
/// signature. `From` is listed twice so that a second From cannot be prepended (§5.4.2, §8.15).
pub const SIGNED_HEADERS: [&str; 13] = [
    "From",
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "To",
    "Cc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
];

type Prepared = DkimSigner<SigningKey, Done>;

/// (domain, selector).
type KeyId = (String, String);

/// Signs with each domain's active key. Parsed keys are kept (parsing an RSA key costs more
/// than a signature) and re-read when the active selector changes or is re-created.
#[derive(Default)]
pub struct Signer {
    /// (domain, selector) → (key creation time, signer).
    cache: Mutex<HashMap<KeyId, (i64, Arc<Prepared>)>>,
}

impl Signer {
    /// Drops every parsed key (they are parsed again on their next use).
    pub fn clear(&self) {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// The DKIM-Signature header field (CRLF-terminated) for `message` under `domain`, or
    /// `None` when the domain has no active key. relaxed/relaxed canonicalization, which
    /// survives the header refolding relays do (RFC 6376 §3.4).
    pub fn sign(
        &self,
        store: &Store,
        message: &[u8],
        domain: &str,
    ) -> Result<Option<String>, AuthError> {
        let Some(key) = store.dkim_active(domain)? else {
            return Ok(None);
        };
        let id = (key.domain.clone(), key.selector.clone());
        let cached = {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache
                .get(&id)
                .filter(|(created, _)| *created == key.created)
                .map(|(_, s)| s.clone())
        };
        let signer = match cached {
            Some(s) => s,
            None => {
                let prepared = Arc::new(
                    DkimSigner::from_key(load_signing_key(store, &key)?)
                        .domain(key.domain.clone())
                        .selector(key.selector.clone())
                        .headers(SIGNED_HEADERS)
                        .header_canonicalization(Canonicalization::Relaxed)
                        .body_canonicalization(Canonicalization::Relaxed),
                );
                let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
                cache.retain(|(d, _), _| *d != key.domain);
                cache.insert(id, (key.created, prepared.clone()));
                prepared
            }
        };
        let signature = signer
            .sign(message)
            .map_err(|e| AuthError::Crypto(format!("DKIM signing for {domain}: {e}")))?;
        Ok(Some(signature.to_header()))
    }

    /// Signs a message submitted by `auth_as`: with the key of its From: domain, or, when
    /// that domain has none, of the account's own domain. `None` when neither has a key.
    ///
    /// The From: domain's key is used only when `auth_as` may send as every From: and
    /// Sender: address ([`sender::check_message`]). The session refuses such a message
    /// before it gets here; this is the second line, so that no path can sign as a domain
    /// the user may not use.
    pub fn sign_submission(
        &self,
        store: &Store,
        message: &[u8],
        auth_as: &str,
    ) -> Result<Option<String>, AuthError> {
        let mut domains: Vec<String> = Vec::with_capacity(2);
        if let Some(d) = from_domain(message) {
            match sender::check_message(store, auth_as, message)? {
                Verdict::Allowed => domains.push(d),
                Verdict::Refused(reason) => {
                    tracing::warn!(user = auth_as, "not signing with the key of {d}: {reason}")
                }
            }
        }
        if let Some((_, d)) = auth_as.rsplit_once('@') {
            let d = d.to_ascii_lowercase();
            if !domains.contains(&d) {
                domains.push(d);
            }
        }
        for d in domains {
            if let Some(h) = self.sign(store, message, &d)? {
                return Ok(Some(h));
            }
        }
        Ok(None)
    }
}

/// The domain of the first address in the From: field, lowercased.
pub fn from_domain(message: &[u8]) -> Option<String> {
    let parsed = mail_parser::MessageParser::new().parse_headers(message)?;
    let from = parsed.from()?.first()?.address()?;
    let (_, domain) = from.rsplit_once('@')?;
    Some(domain.trim_end_matches('.').to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::DkimAlgorithm;

    const MSG: &[u8] = b"From: Bob <bob@Example.com>\r\nTo: alice@remote.example\r\n\
        Subject: hi\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\
        \r\nHello.\r\n";

    #[test]
    fn signs_with_the_active_key_and_follows_rotation() {
        let (_dir, store) = crate::storage::testutil::store();
        store.add_domain("example.com").unwrap();
        let signer = Signer::default();
        assert_eq!(signer.sign(&store, MSG, "example.com").unwrap(), None);
        let now = crate::clock::unix_now();
        super::super::keys::generate(
            &store,
            "example.com",
            DkimAlgorithm::Ed25519,
            Some("one"),
            now,
        )
        .unwrap();
        let h = signer.sign(&store, MSG, "example.com").unwrap().unwrap();
        assert!(h.starts_with("DKIM-Signature: "), "{h}");
        for tag in ["a=ed25519-sha256", "s=one", "d=example.com", "bh=", "b="] {
            assert!(h.contains(tag), "{tag} in {h}");
        }
        assert!(h.contains("c=relaxed/relaxed"), "{h}");
        // Every present field, plus From again and the absent ones, are in h=.
        let hlist: String = h
            .split("h=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        for f in [
            "From:From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "Cc",
            "Reply-To",
        ] {
            assert!(
                hlist.to_ascii_lowercase().contains(&f.to_ascii_lowercase()),
                "{f} in {hlist}"
            );
        }
        assert!(h.ends_with("\r\n"));

        super::super::keys::generate(&store, "example.com", DkimAlgorithm::Rsa, Some("two"), now)
            .unwrap();
        let h = signer.sign(&store, MSG, "example.com").unwrap().unwrap();
        assert!(h.contains("s=one"), "a new key waits for activation: {h}");
        store.dkim_activate("example.com", "two").unwrap();
        let h = signer.sign(&store, MSG, "example.com").unwrap().unwrap();
        assert!(h.contains("s=two") && h.contains("a=rsa-sha256"), "{h}");
    }

    #[test]
    fn submission_uses_the_from_domain_then_the_account_domain() {
        let (_dir, store) = crate::storage::testutil::store();
        store.add_domain("example.com").unwrap();
        store.add_domain("other.example").unwrap();
        store
            .add_account("carol@other.example", "pw", false)
            .unwrap();
        let signer = Signer::default();
        let now = crate::clock::unix_now();
        assert_eq!(
            signer
                .sign_submission(&store, MSG, "carol@other.example")
                .unwrap(),
            None
        );
        let sign_after_key_for = |domain: &str| {
            super::super::keys::generate(&store, domain, DkimAlgorithm::Ed25519, None, now)
                .unwrap();
            signer
                .sign_submission(&store, MSG, "carol@other.example")
                .unwrap()
                .unwrap()
        };
        let h = sign_after_key_for("other.example");
        assert!(h.contains("d=other.example"), "{h}");
        let h = sign_after_key_for("example.com");
        assert!(
            h.contains("d=other.example"),
            "carol may not send as bob@example.com: its key is not used: {h}"
        );
        store
            .add_send_as("carol@other.example", "bob@example.com")
            .unwrap();
        let h = signer
            .sign_submission(&store, MSG, "carol@other.example")
            .unwrap()
            .unwrap();
        assert!(h.contains("d=example.com"), "the From: domain wins: {h}");
        assert_eq!(from_domain(MSG).as_deref(), Some("example.com"));
        assert_eq!(from_domain(b"Subject: x\r\n\r\n"), None);
    }
}
