//! CalDAV scheduling (RFC 6638) and iMIP (RFC 6047): the effects of the iTIP rules in
//! `protocols::itip` (which decides, without I/O, what a change means).
//!
//! - [`after_write`] (in `deliver`): the one call the CalDAV PUT/DELETE paths and the
//!   webmail calendar make after a successful store write of a calendar object. When the
//!   collection's owner is the object's ORGANIZER, the REQUESTs and CANCELs of
//!   `protocols::itip::organizer_messages` are delivered and the outcome of each REQUEST is
//!   written back as SCHEDULE-STATUS on the stored ATTENDEE (`1.2` delivered to a local
//!   account, `1.1` sent as iMIP, `3.7` no such user on a local domain, `5.1` not
//!   delivered); when the owner is an ATTENDEE, its REPLY goes to the organizer.
//! - Local recipients (accounts of this server): the message is stored in their schedule
//!   inbox (the calendar collection `inbox`, made on demand, VEVENT and VTODO; one resource
//!   per UID, the latest message replacing the earlier one; a COUNTER kept apart, one per UID
//!   and attendee, until the organizer answers it), and the event is placed or
//!   updated in their calendar: a REQUEST updates the copy of that UID (which must have the
//!   same organizer) or, when there is none, places a new one in the default calendar, with
//!   the attendee's PARTSTAT NEEDS-ACTION unless the organizer gave one; a CANCEL marks a
//!   stored copy STATUS:CANCELLED (without one only the inbox gets it); a REPLY updates the
//!   attendee's PARTSTAT in the organizer's copy.
//! - Outside recipients: an iMIP message (multipart/alternative: a text summary and the
//!   `text/calendar; method=…` part) built with mail-builder, From: the sender, handed to
//!   the submission path (`actors::smtp_session::enqueue`) as the sender's account, so it is
//!   DKIM-signed and leaves through the remote queue like any mail.
//! - [`inbound::after_local_delivery`]: local delivery's one hook. A message stored for a
//!   local account with a `text/calendar` part whose METHOD is REQUEST, REPLY, CANCEL,
//!   COUNTER, DECLINECOUNTER or REFRESH (`inbound`'s module comment) is
//!   processed off the queue actor (a blocking task) when its sender is authenticated: a
//!   login (`auth_as`), or `dmarc=pass` in this server's Authentication-Results with
//!   `[auth] verify` on; anything else is logged and ignored. The mail itself stays
//!   delivered either way.
//!
//! Errors are logged, never returned: the write or the delivery the client was answered
//! for has happened.

pub mod deliver;
pub mod inbound;

pub use deliver::after_write;

/// The collection names reserved under a calendar home (RFC 6638 §2.2, §2.1).
pub const INBOX: &str = "inbox";
pub const OUTBOX: &str = "outbox";

/// Whether `name` is the schedule inbox or outbox.
pub fn reserved(name: &str) -> bool {
    name == INBOX || name == OUTBOX
}

#[cfg(test)]
mod counter_tests;
#[cfg(test)]
mod tests;
