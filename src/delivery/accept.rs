//! The accept decision for a message an SMTP session received: may an authenticated user use
//! the message's From:/Sender: addresses, is mail from another server checked (SPF, DKIM,
//! ARC, DMARC) and what does its DMARC policy make of it (refused, to Junk, delivered), does
//! it need REQUIRETLS, and which queue record the inbound queue commits for it.
//!
//! Mail policy, below the actors (docs/architecture.md §2): plain functions over plain
//! values, unit-tested without sockets or DNS. The SMTP session actor does the IO around them:
//! it runs the verifier's DNS checks, writes the body file, sends the record to the inbound
//! queue and answers the client.

use crate::config::{AuthConfig, DmarcEnforcement};
use crate::mailauth::results::{self, Disposition};
use crate::mailauth::sender::{self, SenderDirectory, Verdict};
use crate::mailauth::{AuthSummary, Signer};
use crate::protocols::smtp::{self, requiretls, EnqueueError, Envelope, Service};
use crate::storage::{
    self, BlobId, EnvelopeParams, NotifyList, QueueId, QueueRecipient, QueueRecord, StorageError,
    Store,
};

/// Where a quarantined message goes (the folder every account gets, special-use \Junk).
pub const JUNK: &str = "Junk";

/// An authenticated user's message must not claim a From: or Sender: address the user may
/// not use (`mailauth::sender`): 550 5.7.1 at the end of DATA/BDAT. Mail from nobody logged
/// in is judged by SPF, DKIM and DMARC instead, and passes here.
pub fn check_header_senders(dir: &dyn SenderDirectory, env: &Envelope) -> Result<(), EnqueueError> {
    let Some(user) = &env.auth_as else {
        return Ok(());
    };
    match sender::check_message(dir, user, &env.body) {
        Ok(Verdict::Allowed) => Ok(()),
        Ok(Verdict::Refused(reason)) => {
            tracing::info!(user, "message refused: {reason}");
            Err(EnqueueError::SenderRefused(reason))
        }
        Err(e) => Err(storage_to_enqueue(e)),
    }
}

/// Whether the message is checked: mail from another server (the smtp port, nobody logged
/// in, not from a trusted network) when `[auth] verify` is on. Other mail passes unchanged.
pub fn wants_verification(auth: &AuthConfig, service: Service, env: &Envelope) -> bool {
    let trusted = auth
        .trusted_networks
        .iter()
        .any(|n| n.contains(env.peer.ip));
    service == Service::Smtp && env.auth_as.is_none() && auth.verify && !trusted
}

/// Removes Authentication-Results fields that claim our name (RFC 8601 §5: forged ones),
/// before the message is checked and our own field is added.
pub fn strip_forged_results(env: &mut Envelope, hostname: &str) {
    if let Some(cleaned) = results::strip_forged(&env.body, hostname) {
        env.body = cleaned;
    }
}

/// What the checks decided for a message that is accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checks {
    /// Header text to put on top of the message (Authentication-Results, CRLF-terminated);
    /// empty when the message was not checked.
    pub header: String,
    /// Where local delivery puts the message instead of INBOX.
    pub folder: Option<String>,
}

/// The DMARC decision for a checked message: its Authentication-Results header, and the
/// disposition under `enforcement`: refused (550 5.7.1), to [`JUNK`], or delivered.
pub fn judge(
    summary: &AuthSummary,
    hostname: &str,
    enforcement: DmarcEnforcement,
    mail_from: &str,
) -> Result<Checks, EnqueueError> {
    let header = results::format_header(hostname, summary);
    let enforce = enforcement == DmarcEnforcement::Enforce;
    let folder = match results::disposition(&summary.dmarc, enforce) {
        Disposition::Deliver => None,
        Disposition::Quarantine => {
            tracing::info!(from = %mail_from, "DMARC quarantine: to Junk");
            Some(JUNK.to_string())
        }
        Disposition::Reject => {
            tracing::info!(from = %mail_from, "DMARC reject");
            let domain = summary.dmarc.from_domain.as_deref().unwrap_or("the sender");
            return Err(EnqueueError::PolicyRejected(format!(
                "DMARC check failed and {domain} asks receivers to reject such mail"
            )));
        }
    };
    Ok(Checks { header, folder })
}

/// The message as stored: on top of what was received, the checks' header (see [`Checks`]),
/// our Received field, and for an authenticated user's message (`sign_as`) a DKIM-Signature.
/// RFC 6376 §5: sign what the recipients get; the signature covers the submitted message,
/// below our own trace fields. A message that cannot be signed goes unsigned (logged).
pub fn stored_content(
    store: &Store,
    signer: &Signer,
    checks_header: &str,
    received: &str,
    sign_as: Option<&str>,
    body: &[u8],
) -> Vec<u8> {
    let mut top = format!("{checks_header}{received}");
    if let Some(user) = sign_as {
        match signer.sign_submission(store, body, user) {
            Ok(Some(sig)) => top.push_str(&sig),
            Ok(None) => {}
            Err(e) => tracing::warn!("message not DKIM-signed: {e}"),
        }
    }
    let mut content = Vec::with_capacity(top.len() + body.len());
    content.extend_from_slice(top.as_bytes());
    content.extend_from_slice(body);
    content
}

/// The body file written for a message, and the queue id it is filed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredBody {
    pub id: QueueId,
    pub blob: BlobId,
    pub size: u64,
}

/// The inbound queue record for `env`, whose body is `body`: recipients with their DSN
/// parameters, REQUIRETLS (from MAIL FROM or a `+requiretls` recipient tag, RFC 8689), where
/// it came from (`tls`: over TLS), and `folder` for local delivery (see [`Checks`]).
pub fn queue_record(
    env: &Envelope,
    body: StoredBody,
    folder: Option<String>,
    tls: bool,
    now: i64,
) -> QueueRecord {
    let (recipients, tagged) = queue_recipients(env);
    let origin = format!(
        "{} from {} [{}]{}",
        env.protocol,
        env.helo,
        env.peer.ip,
        if tls { " tls" } else { "" }
    );
    QueueRecord {
        params: EnvelopeParams {
            body: Some(body_type(env.body_type)),
            smtputf8: env.smtputf8,
            ret: env.ret.map(dsn_ret),
            envid: env.envid.clone(),
            requiretls: env.requiretls || tagged,
        },
        auth_as: env.auth_as.clone(),
        folder,
        ..QueueRecord::inbound(
            body.id,
            body.blob,
            body.size,
            env.mail_from.clone(),
            recipients,
            origin,
            now,
        )
    }
}

/// The recipients to queue, each without a `+requiretls` tag (the address as given stays as
/// `original`), and whether any had one.
fn queue_recipients(env: &Envelope) -> (Vec<QueueRecipient>, bool) {
    let mut tagged = false;
    let recipients = env
        .recipients
        .iter()
        .map(|r| {
            let stripped = requiretls::strip_tag(&r.address);
            tagged |= stripped.is_some();
            QueueRecipient {
                address: stripped.unwrap_or_else(|| r.address.clone()),
                original: r.address.clone(),
                orcpt: r.orcpt.clone(),
                notify: r.notify.as_deref().map(notify_list),
                delivered: false,
                last_error: None,
            }
        })
        .collect();
    (recipients, tagged)
}

fn body_type(b: smtp::BodyType) -> storage::BodyType {
    match b {
        smtp::BodyType::SevenBit => storage::BodyType::SevenBit,
        smtp::BodyType::EightBitMime => storage::BodyType::EightBitMime,
        smtp::BodyType::BinaryMime => storage::BodyType::BinaryMime,
    }
}

fn dsn_ret(r: smtp::DsnRet) -> storage::DsnRet {
    match r {
        smtp::DsnRet::Full => storage::DsnRet::Full,
        smtp::DsnRet::Hdrs => storage::DsnRet::Hdrs,
    }
}

fn notify_list(keywords: &[smtp::DsnNotify]) -> NotifyList {
    let keyword = |n: &smtp::DsnNotify| match n {
        smtp::DsnNotify::Never => storage::DsnNotify::Never,
        smtp::DsnNotify::Success => storage::DsnNotify::Success,
        smtp::DsnNotify::Failure => storage::DsnNotify::Failure,
        smtp::DsnNotify::Delay => storage::DsnNotify::Delay,
    };
    NotifyList::new(keywords.iter().map(keyword).collect())
}

/// A storage failure as the client hears it: 452 when the disk is full, else 451 (the
/// details go to the log, not to the client).
pub fn storage_to_enqueue(e: StorageError) -> EnqueueError {
    match &e {
        StorageError::Io(io) if io.raw_os_error() == Some(libc::ENOSPC) => {
            EnqueueError::InsufficientStorage
        }
        _ => {
            tracing::error!("enqueue failed: {e}");
            EnqueueError::Temporary("local error in processing".into())
        }
    }
}

#[cfg(test)]
#[path = "accept_tests.rs"]
mod tests;
