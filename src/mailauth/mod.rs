//! Mail authentication with mail-auth: DKIM keys and signing for our domains, and the SPF,
//! DKIM, ARC and DMARC checks of mail from other servers.
//!
//! # RFCs
//!
//! | RFC  | what | status |
//! |------|------|--------|
//! | 6376 | DKIM signatures: signing (relaxed/relaxed, [`sign::SIGNED_HEADERS`]), verifying | full (through mail-auth) |
//! | 8463 | ed25519-sha256 for DKIM | full |
//! | 8301 | rsa-sha256 only, 2048-bit keys ([`keys::RSA_BITS`]) | full |
//! | 7208 | SPF for the HELO and MAIL FROM identities | full (through mail-auth) |
//! | 7489 | DMARC evaluation and alignment; policy applied as configured | partial: no aggregate or failure reports |
//! | 8601 | one Authentication-Results header per message, forged ones for our authserv-id removed | full |
//! | 8617 | ARC verification (result in Authentication-Results) | partial: no sealing |
//!
//! # How it is used
//!
//! - Keys: `dkim generate|list|activate|delete` (src/admin) call [`keys::generate`] and the
//!   `Store::dkim_*` functions. Rotation: generate a second key, publish its record, activate
//!   it, delete the old one once no mail signed with it can still be in transit.
//! - Signing: [`sign::Signer::sign`] gives the DKIM-Signature header for a message under a
//!   domain's active key; the SMTP session signs mail from authenticated users
//!   ([`sign::Signer::sign_submission`]) before it is queued, so every copy (local and remote)
//!   carries the signature. Outbound delivery needs no other signing step. The From:
//!   domain's key is used only for a user allowed to send as that From: ([`sender`]).
//! - Sender authorization: [`sender`] says which addresses an authenticated user may use
//!   (MAIL FROM, From:, Sender:); the SMTP session refuses the rest with 550 5.7.1.
//! - Checking: on the smtp port, unless `[auth] verify = false`, the session runs
//!   [`verify::Verifier::check`], prepends [`results::format_header`] and applies
//!   [`results::disposition`]: reject (550 5.7.1), quarantine (the queue record's `folder` is
//!   "Junk"), or deliver.
//!
//! # Deliberate choices
//!
//! - DMARC `temperror`/`permerror` never rejects or quarantines: mail is not lost to a DNS
//!   outage. A DNS timeout is a `temperror` of the check concerned, never a stalled session.
//! - Private keys are files (0600) beside the storage index, not index values (see `storage::dkim`).
//! - Authenticated mail is not checked (it is ours), and port 25 mail is not signed.
//!
//! # Layering
//!
//! This module sits beside the actors: it uses storage (keys) and configuration, holds no
//! actor, and does its own IO only through the DNS resolver. [`results`] is pure.

pub mod keys;
pub mod results;
pub mod sender;
pub mod sign;
#[cfg(test)]
#[path = "../../tests/common/dns.rs"]
pub(crate) mod testdns;
pub mod verify;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use crate::config::{Config, DnsConfig};
use crate::storage::StorageError;

pub use results::{AuthSummary, Disposition};
pub use sign::Signer;
pub use verify::{Inbound, Verifier};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Crypto(String),
    #[error("DNS: {0}")]
    Dns(String),
}

/// Shared by every session: the DKIM signer (with its parsed keys) and the verifiers, made
/// when first needed and remade when a `reload` changes `[dns]` or `[auth]` timeouts.
#[derive(Default)]
pub struct MailAuth {
    pub signer: Signer,
    /// One verifier per thread: the resolver spawns its socket tasks on the runtime of the
    /// thread that queries, and each session arbiter is its own runtime.
    verifiers: Mutex<HashMap<ThreadId, (VerifierKey, Arc<Verifier>)>>,
}

type VerifierKey = (DnsConfig, Duration, Duration);

impl MailAuth {
    /// The calling thread's verifier for `config`.
    pub fn verifier(&self, config: &Config) -> Result<Arc<Verifier>, AuthError> {
        let key = (
            config.dns.clone(),
            config.auth.dns_timeout,
            config.auth.verify_timeout,
        );
        let thread = std::thread::current().id();
        let mut all = self.verifiers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((k, v)) = all.get(&thread) {
            if *k == key {
                return Ok(v.clone());
            }
        }
        let v = Arc::new(Verifier::new(&key.0, key.1, key.2)?);
        all.insert(thread, (key, v.clone()));
        Ok(v)
    }
}
