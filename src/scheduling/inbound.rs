//! iMIP arriving by mail (RFC 6047): local delivery's hook. A message stored for a local
//! account with a `text/calendar` part whose METHOD is REQUEST, REPLY, CANCEL, COUNTER,
//! DECLINECOUNTER or REFRESH is
//! processed in a blocking task, off the queue actor; the mail stays delivered as mail
//! whatever happens here.
//!
//! Whose From: is believed ([`Trust`]): a scheduling message is processed only when its
//! sender logged in (the queue record's `auth_as`: submission ties From: to the login), or
//! when `[auth] verify` is on and the Authentication-Results field this server added (the
//! one whose authserv-id is our hostname; forged ones are removed from mail that is
//! checked) says `dmarc=pass`, DMARC being what ties From: to the sending domain. Any other
//! message (not checked, `dmarc=fail`/`none`/…) is logged at info and ignored; the mail
//! itself stays delivered. Mail from `[auth] trusted_networks` is not checked, so a field
//! claiming our name there is whatever the trusted relay passed on.
//!
//! Who may do what (checked on that From: address):
//!
//! - REQUEST: From: is the event's ORGANIZER and the recipient one of its attendees. If
//!   the recipient already has a copy (by UID) it must have that organizer too and is
//!   updated; without one, the event is placed in the recipient's default calendar.
//! - CANCEL: From: is the event's ORGANIZER and so is the stored copy's, which is marked
//!   cancelled; without a stored copy only the schedule inbox gets the message.
//! - REPLY: From: is the one ATTENDEE the REPLY names, and that attendee is on the
//!   recipient's copy, which the recipient organizes (found by UID in its calendars). A
//!   REPLY from someone not invited is ignored and logged.
//! - COUNTER and REFRESH (RFC 5546 §3.2.7, §3.2.6): From: is an ATTENDEE of the
//!   recipient's copy, which the recipient organizes. A COUNTER waits in the schedule
//!   inbox for the organizer's answer in the webmail (accept: the event takes the
//!   proposed time and a REQUEST goes to every attendee; decline: DECLINECOUNTER to the
//!   proposer); a REFRESH is answered at once with a REQUEST of the current event to
//!   that attendee.
//! - DECLINECOUNTER: From: is the organizer of the recipient's copy; kept in the inbox.
//!
//! Bounds: messages over [`MAX_MESSAGE`] are not looked at, calendar parts over
//! [`MAX_CALENDAR`] neither, and only the first calendar part of a message counts.

use std::sync::Arc;

use mail_parser::{MessageParser, MimeHeaders};

use super::deliver::{process_local, Applied};
use crate::actors::ServerContext;
use crate::protocols::caldav::validate::parse_calendar;
use crate::protocols::itip::{self, Message, Method};
use crate::storage::{QueueRecord, Store};

/// Larger messages are not searched for an iCalendar part.
pub const MAX_MESSAGE: u64 = 4 << 20;
/// Larger calendar parts are ignored.
pub const MAX_CALENDAR: usize = 512 << 10;

/// What vouches for the From: address of a message (module comment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trust {
    /// The sender logged in (`auth_as` on the queue record).
    Login,
    /// `[auth] verify` is on: believed when the Authentication-Results field of this
    /// server (authserv-id: the hostname given) says `dmarc=pass`.
    Dmarc(String),
    /// Nothing: scheduling messages are ignored.
    Unverified,
}

impl Trust {
    /// How far mail recorded as `rec` can be believed on a server checking mail when
    /// `verify` is on and calling itself `hostname`.
    pub fn of(rec: &QueueRecord, verify: bool, hostname: &str) -> Trust {
        if rec.auth_as.is_some() {
            Trust::Login
        } else if verify {
            Trust::Dmarc(hostname.to_string())
        } else {
            Trust::Unverified
        }
    }
}

/// Local delivery's hook: `rec` was stored for `account`, which recipient `rcpt` (the
/// RCPT TO address as the sender gave it: maybe an alias, a list alias, of the account)
/// reached. Returns at once.
pub fn after_local_delivery(
    ctx: &Arc<ServerContext>,
    account: &str,
    rcpt: &str,
    rec: &QueueRecord,
) {
    if rec.size > MAX_MESSAGE {
        return;
    }
    let trust = {
        let config = ctx.config();
        Trust::of(rec, config.auth.verify, &config.hostname)
    };
    let (ctx, account, blob, id) = (ctx.clone(), account.to_ascii_lowercase(), rec.blob, rec.id);
    let rcpt = crate::protocols::smtp::requiretls::strip_tag(rcpt)
        .unwrap_or_else(|| rcpt.to_string())
        .to_ascii_lowercase();
    let ctx2 = ctx.clone();
    let work = tokio::task::spawn_blocking(move || {
        let bytes = match ctx.store.blobs().get(&blob) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(id, "iMIP: cannot read the message: {e}");
                return None;
            }
        };
        match process_message_to(&ctx.store, &account, &rcpt, &bytes, &trust, ctx.clock.now()) {
            Ok(Some((method, Applied::Answered(answer)))) => {
                tracing::info!(
                    id = format!("{id:016X}"),
                    to = %account,
                    method = method.as_str(),
                    "iMIP message processed: answering with a REQUEST to {}",
                    answer.recipient
                );
                return Some(answer);
            }
            Ok(None) => {}
            Ok(Some((method, Applied::Ignored(why)))) => tracing::info!(
                id = format!("{id:016X}"),
                to = %account,
                method = method.as_str(),
                "iMIP message ignored: {why}"
            ),
            Ok(Some((method, applied))) => tracing::info!(
                id = format!("{id:016X}"),
                to = %account,
                method = method.as_str(),
                "iMIP message processed: {applied:?}"
            ),
            Err(e) => tracing::warn!(id, to = %account, "iMIP: {e}"),
        }
        None
    });
    // A REFRESH's answer leaves as the organizer's REQUEST (a local attendee's inbox, or
    // iMIP through the remote queue), off the blocking pool.
    tokio::spawn(async move {
        if let Ok(Some(answer)) = work.await {
            super::deliver::deliver(&ctx2, &answer).await;
        }
    });
}

/// Processes one stored message for `account` (module comment); `None` when it carries no
/// scheduling message, `Applied::Ignored` when `trust` does not vouch for its From:.
pub fn process_message(
    store: &Store,
    account: &str,
    raw: &[u8],
    trust: &Trust,
    now: i64,
) -> Result<Option<(Method, Applied)>, String> {
    process_message_to(store, account, account, raw, trust, now)
}

/// [`process_message`] for mail that reached `account` through recipient address `rcpt`
/// (an alias of it, a list alias too): the scheduling message is addressed to `rcpt`, so
/// an organizer that is that alias is found (only the member holding its copy answers).
pub fn process_message_to(
    store: &Store,
    account: &str,
    rcpt: &str,
    raw: &[u8],
    trust: &Trust,
    now: i64,
) -> Result<Option<(Method, Applied)>, String> {
    // Cheap test first: most mail has no calendar part at all.
    if !contains_ignore_case(raw, b"text/calendar") {
        return Ok(None);
    }
    let Some(msg) = MessageParser::default().parse(raw) else {
        return Ok(None);
    };
    let Some(part) = msg.parts.iter().find(|p| {
        p.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("text")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("calendar"))
        })
    }) else {
        return Ok(None);
    };
    let Some(text) = part.text_contents().filter(|t| t.len() <= MAX_CALENDAR) else {
        return Ok(None);
    };
    let Ok(calendar) = parse_calendar(text) else {
        return Ok(None);
    };
    let Some(method) = Method::of(&calendar) else {
        return Ok(None);
    };
    let Some(uid) = itip::uid(&calendar) else {
        return Ok(None);
    };
    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .and_then(itip::address);
    let Some(from) = from else {
        return Ok(Some((method, Applied::Ignored("no From: address".into()))));
    };
    match trust {
        Trust::Login => {}
        Trust::Dmarc(hostname) if dmarc_passed(&msg, hostname) => {}
        Trust::Dmarc(_) => {
            let why = "the sender is not authenticated (no dmarc=pass from this server)";
            return Ok(Some((method, Applied::Ignored(why.into()))));
        }
        Trust::Unverified => {
            let why = "the sender is not authenticated (no login, [auth] verify is off)";
            return Ok(Some((method, Applied::Ignored(why.into()))));
        }
    }
    let message = Message {
        method,
        recipient: rcpt.to_string(),
        sender: from,
        uid,
        calendar,
    };
    process_local(store, account, &message, now).map(|a| Some((method, a)))
}

/// Whether an Authentication-Results field of this server (authserv-id `hostname`) says
/// `dmarc=pass`.
fn dmarc_passed(msg: &mail_parser::Message<'_>, hostname: &str) -> bool {
    msg.header_values("Authentication-Results")
        .filter_map(|v| v.as_text())
        .any(|t| results_say_dmarc_pass(t, hostname))
}

/// One Authentication-Results value (RFC 8601 §2.2): its authserv-id is `hostname` and one
/// of its results is `dmarc=pass`. Comments and quoted strings (which hold the SMTP MAIL
/// FROM and HELO, chosen by the sender) are dropped before the value is split at `;`, so
/// they cannot pass for a result.
pub(crate) fn results_say_dmarc_pass(value: &str, hostname: &str) -> bool {
    let mut plain = String::with_capacity(value.len());
    let (mut depth, mut quoted, mut escaped) = (0u32, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => escaped = true,
            '"' if depth == 0 => quoted = !quoted,
            _ if quoted => {}
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            c => plain.push(c),
        }
    }
    let mut parts = plain.split(';');
    let id = parts.next().unwrap_or("").split_whitespace().next();
    if !id.is_some_and(|id| id.eq_ignore_ascii_case(hostname)) {
        return false;
    }
    parts.any(|p| {
        p.split_whitespace()
            .next()
            .is_some_and(|r| r.eq_ignore_ascii_case("dmarc=pass"))
    })
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}
