//! Delivery status notifications (RFC 3464), built with mail-builder, and the RFC 3461 rules
//! for when to send one.
//!
//! A DSN is `multipart/report; report-type=delivery-status` with three parts: a text for
//! people, the `message/delivery-status` fields (per message: Reporting-MTA,
//! Original-Envelope-Id, Arrival-Date; per recipient: Final-Recipient, Original-Recipient,
//! Action, Status, Remote-MTA, Diagnostic-Code, Last-Attempt-Date, Will-Retry-Until), and the
//! original message (`message/rfc822`) or only its header (`text/rfc822-headers`).
//!
//! Choices (RFC 3461 §4.3 leaves them to the MTA): a failure DSN returns the whole message
//! unless the sender asked for RET=HDRS or the message is larger than [`MAX_RETURNED`]; delay
//! and success DSNs return the header only. Without NOTIFY, failures and delays are reported
//! (RFC 3461 §4.1 allows "FAILURE" or "FAILURE,DELAY" as the default). A DSN is sent from the
//! null sender and never to it (RFC 3461 §6.2, RFC 5321 §6.1), and carries
//! `Auto-Submitted: auto-replied` (RFC 3834).

use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart};
use mail_builder::MessageBuilder;

use crate::protocols::smtp::rfc5322_date;
use crate::storage::{DsnNotify, NotifyList};

/// Largest original message returned whole in a failure DSN; larger ones return headers.
pub const MAX_RETURNED: usize = 2 * 1024 * 1024;

/// RFC 3464 §2.3.3 `Action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Failed,
    Delayed,
    Delivered,
    /// Passed on to a server without DSN support (RFC 3461 §4.2 "relayed").
    Relayed,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Delivered => "delivered",
            Action::Relayed => "relayed",
        }
    }

    /// The NOTIFY keyword that asks for this kind of report.
    fn notify_keyword(self) -> DsnNotify {
        match self {
            Action::Failed => DsnNotify::Failure,
            Action::Delayed => DsnNotify::Delay,
            Action::Delivered | Action::Relayed => DsnNotify::Success,
        }
    }
}

/// Whether a recipient with `notify` (its RCPT NOTIFY list) wants a report of `action`
/// (RFC 3461 §4.1).
pub fn wanted(notify: Option<&NotifyList>, action: Action) -> bool {
    match notify {
        None => matches!(action, Action::Failed | Action::Delayed),
        Some(n) => n.contains(action.notify_keyword()),
    }
}

/// One recipient's part of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub final_recipient: String,
    /// RFC 3461 ORCPT as given ("rfc822;addr").
    pub original: Option<String>,
    pub action: Action,
    /// RFC 3463 status ("5.1.1").
    pub status: String,
    /// The remote server's reply ("550 5.1.1 …"), when a server gave one.
    pub diagnostic: Option<String>,
    /// The server that gave it.
    pub remote_mta: Option<String>,
    /// Why, in words, for the human-readable part.
    pub reason: String,
    pub will_retry_until: Option<i64>,
}

/// Everything a report says.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    /// Our host name.
    pub reporting_mta: &'a str,
    pub envid: Option<&'a str>,
    pub arrival: i64,
    pub last_attempt: i64,
    /// Who gets the report: the original envelope sender.
    pub to: &'a str,
    pub recipients: Vec<Recipient>,
    pub original: &'a [u8],
    /// RFC 3461 RET=FULL (or no RET) for a failure: return the whole message.
    pub return_full: bool,
    /// Unique part of the Message-ID.
    pub unique: String,
}

/// The report as a message, ready for the inbound queue.
pub fn build(r: &Report) -> Result<Vec<u8>, String> {
    let worst = if r.recipients.iter().any(|x| x.action == Action::Failed) {
        Action::Failed
    } else if r.recipients.iter().any(|x| x.action == Action::Delayed) {
        Action::Delayed
    } else {
        Action::Delivered
    };
    let subject = match worst {
        Action::Failed => "Undelivered Mail Returned to Sender",
        Action::Delayed => "Delayed Mail (still being retried)",
        _ => "Successful Mail Delivery Report",
    };
    let full = worst == Action::Failed && r.return_full && r.original.len() <= MAX_RETURNED;
    let original = if full {
        let cte = if r.original.iter().any(|b| *b > 127) {
            "8bit"
        } else {
            "7bit"
        };
        MimePart::new("message/rfc822", BodyPart::Binary(r.original.into())).transfer_encoding(cte)
    } else {
        let head = header_section(r.original);
        let cte = if head.iter().any(|b| *b > 127) {
            "8bit"
        } else {
            "7bit"
        };
        MimePart::new("text/rfc822-headers", BodyPart::Binary(head.into())).transfer_encoding(cte)
    };
    let parts = vec![
        MimePart::new("text/plain", human_text(r, worst)),
        MimePart::new("message/delivery-status", status_fields(r)).transfer_encoding("7bit"),
        original,
    ];
    let body = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "delivery-status"),
        parts,
    );
    MessageBuilder::new()
        .from((
            "Mail Delivery System",
            format!("MAILER-DAEMON@{}", r.reporting_mta).as_str(),
        ))
        .to(r.to)
        .subject(subject)
        .date(r.last_attempt)
        .message_id(format!("{}@{}", r.unique, r.reporting_mta))
        .header("Auto-Submitted", Raw::new("auto-replied"))
        .body(body)
        .write_to_vec()
        .map_err(|e| format!("cannot build the DSN: {e}"))
}

/// The header section of a message (up to and including the empty line).
pub fn header_section(msg: &[u8]) -> &[u8] {
    let end = msg
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| msg.windows(2).position(|w| w == b"\n\n").map(|i| i + 2))
        .unwrap_or(msg.len());
    &msg[..end]
}

fn human_text(r: &Report, worst: Action) -> String {
    let mut t = format!("This is the mail system at {}.\r\n\r\n", r.reporting_mta);
    t.push_str(match worst {
        Action::Failed => {
            "Your message could not be delivered to one or more recipients.\r\n\
             It is attached below, with the reasons.\r\n"
        }
        Action::Delayed => {
            "Your message has not been delivered yet to one or more recipients.\r\n\
             Delivery will be retried; you do not need to send it again.\r\n"
        }
        _ => "Your message was delivered to the recipients below.\r\n",
    });
    t.push_str("\r\n");
    for x in &r.recipients {
        t.push_str(&format!("<{}>: {}\r\n", x.final_recipient, x.reason));
    }
    t
}

/// `address-type ; address`: rfc822 for ASCII, utf-8 (RFC 6533) otherwise.
fn typed(address: &str) -> String {
    if address.is_ascii() {
        format!("rfc822; {address}")
    } else {
        format!("utf-8; {address}")
    }
}

/// Field values must stay on one line of ASCII: anything else is replaced.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fn status_fields(r: &Report) -> String {
    let mut f = format!("Reporting-MTA: dns; {}\r\n", r.reporting_mta);
    if let Some(id) = r.envid {
        f.push_str(&format!("Original-Envelope-Id: {}\r\n", clean(id)));
    }
    f.push_str(&format!("Arrival-Date: {}\r\n", rfc5322_date(r.arrival)));
    for x in &r.recipients {
        f.push_str("\r\n");
        if let Some((kind, addr)) = x.original.as_deref().and_then(|o| o.split_once(';')) {
            f.push_str(&format!(
                "Original-Recipient: {}; {}\r\n",
                clean(kind.trim()),
                clean(addr.trim())
            ));
        }
        f.push_str(&format!(
            "Final-Recipient: {}\r\n",
            clean(&typed(&x.final_recipient))
        ));
        f.push_str(&format!("Action: {}\r\n", x.action.as_str()));
        f.push_str(&format!("Status: {}\r\n", clean(&x.status)));
        if let Some(mta) = &x.remote_mta {
            f.push_str(&format!("Remote-MTA: dns; {}\r\n", clean(mta)));
        }
        if let Some(d) = &x.diagnostic {
            f.push_str(&format!("Diagnostic-Code: smtp; {}\r\n", clean(d)));
        }
        f.push_str(&format!(
            "Last-Attempt-Date: {}\r\n",
            rfc5322_date(r.last_attempt)
        ));
        if let Some(until) = x.will_retry_until {
            f.push_str(&format!("Will-Retry-Until: {}\r\n", rfc5322_date(until)));
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report<'a>(original: &'a [u8], action: Action, full: bool) -> Report<'a> {
        Report {
            reporting_mta: "mx.example.com",
            envid: Some("env-42"),
            arrival: 1_800_000_000,
            last_attempt: 1_800_000_600,
            to: "bob@example.com",
            recipients: vec![Recipient {
                final_recipient: "carol@remote.test".into(),
                original: Some("rfc822;Carol@Remote.test".into()),
                action,
                status: "5.1.1".into(),
                diagnostic: Some("550 5.1.1 no such user".into()),
                remote_mta: Some("mx.remote.test".into()),
                reason: "the server said: 550 5.1.1 no such user".into(),
                will_retry_until: (action == Action::Delayed).then_some(1_800_432_000),
            }],
            original,
            return_full: full,
            unique: "dsn1".into(),
        }
    }

    const ORIGINAL: &[u8] = b"From: bob@example.com\r\nSubject: lunch?\r\n\r\nat noon\r\n";

    #[test]
    fn failure_report_parses_as_multipart_report_with_every_field() {
        let bytes = build(&report(ORIGINAL, Action::Failed, true)).expect("builds");
        let text = String::from_utf8_lossy(&bytes);
        let msg = mail_parser::MessageParser::default()
            .parse(&bytes)
            .expect("parses");
        assert_eq!(msg.subject(), Some("Undelivered Mail Returned to Sender"));
        use mail_parser::MimeHeaders;
        let ct = msg.content_type().expect("content type");
        assert_eq!(ct.ctype(), "multipart");
        assert_eq!(ct.subtype(), Some("report"));
        assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
        for want in [
            "Auto-Submitted: auto-replied",
            "MAILER-DAEMON@mx.example.com",
            "Content-Type: message/delivery-status",
            "Reporting-MTA: dns; mx.example.com",
            "Original-Envelope-Id: env-42",
            "Original-Recipient: rfc822; Carol@Remote.test",
            "Final-Recipient: rfc822; carol@remote.test",
            "Action: failed",
            "Status: 5.1.1",
            "Remote-MTA: dns; mx.remote.test",
            "Diagnostic-Code: smtp; 550 5.1.1 no such user",
            "Last-Attempt-Date: ",
            "Content-Type: message/rfc822",
            "Subject: lunch?",
            "at noon",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("Will-Retry-Until"));
    }

    #[test]
    fn headers_only_when_asked_and_for_delays() {
        for (action, full) in [(Action::Failed, false), (Action::Delayed, true)] {
            let bytes = build(&report(ORIGINAL, action, full)).expect("builds");
            let text = String::from_utf8_lossy(&bytes);
            assert!(text.contains("Content-Type: text/rfc822-headers"), "{text}");
            assert!(text.contains("Subject: lunch?"));
            assert!(!text.contains("at noon"), "no body: {text}");
        }
        let text =
            String::from_utf8_lossy(&build(&report(ORIGINAL, Action::Delayed, true)).unwrap())
                .into_owned();
        assert!(text.contains("Action: delayed"));
        assert!(text.contains("Will-Retry-Until: "));
        assert!(text.contains("Subject: Delayed Mail"));
    }

    #[test]
    fn notify_rules() {
        assert!(wanted(None, Action::Failed));
        assert!(wanted(None, Action::Delayed));
        assert!(!wanted(None, Action::Delivered));
        let list = |keywords: &[DsnNotify]| NotifyList::new(keywords.to_vec());
        let never = list(&[DsnNotify::Never]);
        let success_failure = list(&[DsnNotify::Success, DsnNotify::Failure]);
        assert!(!wanted(Some(&never), Action::Failed));
        assert!(wanted(Some(&success_failure), Action::Relayed));
        assert!(!wanted(Some(&success_failure), Action::Delayed));
        assert!(wanted(Some(&list(&[DsnNotify::Delay])), Action::Delayed));
    }

    #[test]
    fn header_section_stops_at_the_blank_line() {
        assert_eq!(
            header_section(ORIGINAL),
            b"From: bob@example.com\r\nSubject: lunch?\r\n\r\n"
        );
        assert_eq!(header_section(b"no body"), b"no body");
    }
}
