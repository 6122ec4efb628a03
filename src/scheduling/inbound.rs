//! iMIP arriving by mail (RFC 6047): local delivery's hook. A message stored for a local
//! account with a `text/calendar` part whose METHOD is REQUEST, REPLY or CANCEL is
//! processed in a blocking task, off the queue actor; the mail stays delivered as mail
//! whatever happens here.
//!
//! Who may do what (checked on the From: address of the mail, the address DMARC aligns
//! when `[auth] verify` is on; a message whose Authentication-Results from this server say
//! `dmarc=fail` is not processed at all):
//!
//! - REQUEST and CANCEL: From: is the event's ORGANIZER, the recipient is one of its
//!   attendees (REQUEST), and a stored copy has that organizer too.
//! - REPLY: From: is the one ATTENDEE the REPLY names, and that attendee is on the
//!   recipient's copy, which the recipient organizes (found by UID in its calendars). A
//!   REPLY from someone not invited is ignored and logged.
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

/// Local delivery's hook: `rec` was stored for `account`. Returns at once.
pub fn after_local_delivery(ctx: &Arc<ServerContext>, account: &str, rec: &QueueRecord) {
    if rec.size > MAX_MESSAGE {
        return;
    }
    let (ctx, account, blob, id) = (ctx.clone(), account.to_ascii_lowercase(), rec.blob, rec.id);
    tokio::task::spawn_blocking(move || {
        let bytes = match ctx.store.blobs().get(&blob) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(id, "iMIP: cannot read the message: {e}");
                return;
            }
        };
        let hostname = ctx.config().hostname.clone();
        match process_message(&ctx.store, &account, &bytes, &hostname, ctx.clock.now()) {
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
    });
}

/// Processes one stored message for `account` (module comment); `None` when it carries no
/// scheduling message.
pub fn process_message(
    store: &Store,
    account: &str,
    raw: &[u8],
    hostname: &str,
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
    if dmarc_failed(&msg, hostname) {
        return Ok(Some((method, Applied::Ignored("DMARC failed".into()))));
    }
    let message = Message {
        method,
        recipient: account.to_string(),
        sender: from,
        uid,
        calendar,
    };
    process_local(store, account, &message, now).map(|a| Some((method, a)))
}

/// Whether this server's Authentication-Results header says `dmarc=fail`.
fn dmarc_failed(msg: &mail_parser::Message<'_>, hostname: &str) -> bool {
    msg.header_values("Authentication-Results").any(|v| {
        v.as_text().is_some_and(|t| {
            let t = t.trim_start().to_ascii_lowercase();
            t.starts_with(&hostname.to_ascii_lowercase()) && t.contains("dmarc=fail")
        })
    })
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}
