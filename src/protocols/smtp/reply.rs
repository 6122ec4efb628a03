//! SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 2034, RFC 3463).
//!
//! Fixed replies are constants named after their code (`R250_OK`); replies that carry a host
//! name, an address or a queue id are built by the functions below. The mapping from errors
//! (`CommandError`, `EnqueueError`) to replies lives here and nowhere else.

use std::borrow::Cow;

use super::command::CommandError;
use super::enqueue_error::EnqueueError;

/// One reply, possibly multi-line (lines separated by `\n` in `text`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// Enhanced status code ("5.5.1"), repeated on every line (RFC 2034 §4).
    pub status: Option<&'static str>,
    pub text: Cow<'static, str>,
}

impl Reply {
    /// A fixed reply with an enhanced status code.
    pub const fn new(code: u16, status: &'static str, text: &'static str) -> Reply {
        Reply {
            code,
            status: Some(status),
            text: Cow::Borrowed(text),
        }
    }

    /// A fixed reply without an enhanced status code (220, 334, 354 and EHLO have none).
    pub const fn plain(code: u16, text: &'static str) -> Reply {
        Reply {
            code,
            status: None,
            text: Cow::Borrowed(text),
        }
    }

    /// A reply whose text is built at run time.
    pub fn dynamic(code: u16, status: Option<&'static str>, text: String) -> Reply {
        Reply {
            code,
            status,
            text: Cow::Owned(text),
        }
    }

    /// Permanent failure (5xx): counts toward the error limit.
    pub fn is_permanent_error(&self) -> bool {
        self.code >= 500
    }

    /// The reply on the wire. Control characters in the text (which could only come from a
    /// client-supplied value) are replaced, so a reply can never inject a line.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len() + 16);
        let lines: Vec<&str> = self.text.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            out.extend_from_slice(format!("{}{}", self.code, sep).as_bytes());
            if let Some(status) = self.status {
                out.extend_from_slice(status.as_bytes());
                if !line.is_empty() {
                    out.push(b' ');
                }
            }
            for c in line.chars() {
                if c.is_control() {
                    out.push(b'?');
                } else {
                    let mut b = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                }
            }
            out.extend_from_slice(b"\r\n");
        }
        out
    }
}

/// Enhanced status codes used here (RFC 3463), named after their value.
pub mod status {
    pub const S2_0_0: &str = "2.0.0";
    pub const S2_1_0: &str = "2.1.0";
    pub const S2_1_5: &str = "2.1.5";
    pub const S2_7_0: &str = "2.7.0";
    pub const S4_2_2: &str = "4.2.2";
    pub const S4_3_0: &str = "4.3.0";
    pub const S4_3_1: &str = "4.3.1";
    pub const S4_3_2: &str = "4.3.2";
    pub const S4_4_2: &str = "4.4.2";
    pub const S4_5_3: &str = "4.5.3";
    pub const S4_7_0: &str = "4.7.0";
    pub const S5_0_0: &str = "5.0.0";
    pub const S5_1_1: &str = "5.1.1";
    pub const S5_1_2: &str = "5.1.2";
    pub const S5_1_3: &str = "5.1.3";
    pub const S5_1_7: &str = "5.1.7";
    pub const S5_3_4: &str = "5.3.4";
    pub const S5_5_1: &str = "5.5.1";
    pub const S5_5_2: &str = "5.5.2";
    pub const S5_5_4: &str = "5.5.4";
    pub const S5_6_7: &str = "5.6.7";
    pub const S5_7_0: &str = "5.7.0";
    pub const S5_7_1: &str = "5.7.1";
    pub const S5_7_8: &str = "5.7.8";
    pub const S5_7_10: &str = "5.7.10";
    pub const S5_7_11: &str = "5.7.11";
}

use status::*;

pub const R214_HELP: Reply = Reply::new(
    214,
    S2_0_0,
    "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH",
);
pub const R220_READY_TLS: Reply = Reply::new(220, S2_0_0, "Ready to start TLS");
pub const R221_BYE: Reply = Reply::new(221, S2_0_0, "Bye");
pub const R235_AUTH_OK: Reply = Reply::new(235, S2_7_0, "Authentication successful");
pub const R250_OK: Reply = Reply::new(250, S2_0_0, "Ok");
pub const R250_SENDER_OK: Reply = Reply::new(250, S2_1_0, "Ok");
pub const R250_RCPT_OK: Reply = Reply::new(250, S2_1_5, "Ok");
pub const R252_CANNOT_VRFY: Reply = Reply::new(
    252,
    S2_1_5,
    "Cannot VRFY user, but will accept message and attempt delivery",
);
pub const R334_EMPTY: Reply = Reply::plain(334, "");
/// "Username:" in base64 (the LOGIN mechanism's de-facto prompt).
pub const R334_USERNAME: Reply = Reply::plain(334, "VXNlcm5hbWU6");
/// "Password:" in base64.
pub const R334_PASSWORD: Reply = Reply::plain(334, "UGFzc3dvcmQ6");
pub const R354_START_DATA: Reply = Reply::plain(354, "End data with <CR><LF>.<CR><LF>");
pub const R451_RCPT_TEMPFAIL: Reply =
    Reply::new(451, S4_3_0, "Temporary lookup failure, try again later");
pub const R452_MAILBOX_FULL: Reply = Reply::new(452, S4_2_2, "Mailbox full, try again later");
pub const R451_LOCAL_ERROR: Reply = Reply::new(451, S4_3_0, "Local error in processing");
pub const R452_TOO_MANY_RCPTS: Reply = Reply::new(452, S4_5_3, "Too many recipients");
pub const R452_STORAGE: Reply = Reply::new(452, S4_3_1, "Insufficient system storage");
pub const R454_AUTH_TEMPFAIL: Reply = Reply::new(454, S4_7_0, "Temporary authentication failure");
pub const R500_UNKNOWN: Reply = Reply::new(500, S5_5_2, "Command unrecognized");
pub const R500_EMPTY: Reply = Reply::new(500, S5_5_2, "Empty command line");
pub const R500_BARE_LF: Reply = Reply::new(500, S5_5_2, "Bare LF not allowed; use CRLF");
pub const R500_LINE_TOO_LONG: Reply = Reply::new(500, S5_5_2, "Line too long");
pub const R501_AUTH_CANCELLED: Reply = Reply::new(501, S5_0_0, "Authentication cancelled");
pub const R501_BAD_BASE64: Reply = Reply::new(501, S5_5_2, "Invalid base64 data");
pub const R501_BAD_AUTH_DATA: Reply = Reply::new(501, S5_5_2, "Invalid authentication data");
pub const R501_BAD_SENDER: Reply = Reply::new(501, S5_1_7, "Bad sender address syntax");
pub const R502_EXPN: Reply = Reply::new(502, S5_5_1, "EXPN not available");
pub const R502_NO_STARTTLS: Reply = Reply::new(502, S5_5_1, "STARTTLS not available");
pub const R503_NEED_HELO: Reply = Reply::new(503, S5_5_1, "Error: send HELO/EHLO first");
pub const R503_NEED_EHLO: Reply = Reply::new(503, S5_5_1, "Error: send EHLO first");
pub const R503_NEED_MAIL: Reply = Reply::new(503, S5_5_1, "Error: need MAIL command");
pub const R503_NEED_RCPT: Reply = Reply::new(503, S5_5_1, "Error: need RCPT command");
pub const R503_NESTED_MAIL: Reply = Reply::new(503, S5_5_1, "Error: nested MAIL command");
pub const R503_RCPT_AFTER_BDAT: Reply =
    Reply::new(503, S5_5_1, "Error: RCPT not allowed after BDAT");
pub const R503_DATA_AFTER_BDAT: Reply =
    Reply::new(503, S5_5_1, "Error: DATA not allowed after BDAT");
pub const R503_ALREADY_AUTH: Reply = Reply::new(503, S5_5_1, "Error: already authenticated");
pub const R503_AUTH_IN_TX: Reply = Reply::new(
    503,
    S5_5_1,
    "Error: AUTH not allowed during a mail transaction",
);
pub const R503_AUTH_DISABLED: Reply = Reply::new(503, S5_5_1, "Error: authentication not enabled");
pub const R503_TLS_ACTIVE: Reply = Reply::new(503, S5_5_1, "Error: TLS already active");
pub const R504_UNKNOWN_MECH: Reply = Reply::new(504, S5_5_4, "Unrecognized authentication type");
pub const R530_AUTH_REQUIRED: Reply = Reply::new(530, S5_7_0, "Authentication required");
/// RFC 8689 §4.1: REQUIRETLS on MAIL FROM only over TLS (5.7.10, "Encryption needed").
pub const R530_REQUIRETLS_NEEDS_TLS: Reply = Reply::new(
    530,
    S5_7_10,
    "REQUIRETLS needs a TLS session (STARTTLS first)",
);
pub const R535_AUTH_FAILED: Reply = Reply::new(535, S5_7_8, "Authentication credentials invalid");
pub const R538_ENCRYPTION_REQUIRED: Reply = Reply::new(
    538,
    S5_7_11,
    "Encryption required for requested authentication mechanism",
);
pub const R552_TOO_BIG: Reply = Reply::new(
    552,
    S5_3_4,
    "Message size exceeds fixed maximum message size",
);
pub const R553_BAD_RCPT: Reply = Reply::new(553, S5_1_3, "Bad recipient address syntax");
pub const R553_NEED_SMTPUTF8: Reply = Reply::new(
    553,
    S5_6_7,
    "Non-ASCII address requires the SMTPUTF8 parameter on MAIL",
);

/// A value from outside (queue id, address, error text) as part of one reply line: a `\n`
/// would otherwise start a new reply line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// `220 <host> ESMTP Ferrymail`
pub fn r220_greeting(host: &str) -> Reply {
    Reply::dynamic(220, None, format!("{host} ESMTP Ferrymail"))
}

/// `421 4.3.2 <host> Service shutting down`
pub fn r421_shutdown(host: &str) -> Reply {
    Reply::dynamic(421, Some(S4_3_2), format!("{host} Service shutting down"))
}

/// `421 4.4.2 <host> Timeout`
pub fn r421_timeout(host: &str) -> Reply {
    Reply::dynamic(421, Some(S4_4_2), format!("{host} Timeout"))
}

/// `421 4.7.0 <host> Too many errors`
pub fn r421_too_many_errors(host: &str) -> Reply {
    Reply::dynamic(421, Some(S4_7_0), format!("{host} Too many errors"))
}

/// `421 4.7.0 <host> Too much pipelined input`
pub fn r421_input_overflow(host: &str) -> Reply {
    Reply::dynamic(
        421,
        Some(S4_7_0),
        format!("{host} Too much pipelined input"),
    )
}

/// `250 2.0.0 Ok: queued as <id>`
pub fn r250_queued(id: &str) -> Reply {
    Reply::dynamic(250, Some(S2_0_0), format!("Ok: queued as {}", one_line(id)))
}

/// `250 2.0.0 Ok: <n> octets received` (a BDAT chunk that is not the last).
pub fn r250_chunk(n: u64) -> Reply {
    Reply::dynamic(250, Some(S2_0_0), format!("Ok: {n} octets received"))
}

/// `550 5.1.1 <addr>: Recipient address rejected: no such user`
pub fn r550_no_such_user(addr: &str) -> Reply {
    Reply::dynamic(
        550,
        Some(S5_1_1),
        format!(
            "<{}>: Recipient address rejected: no such user",
            one_line(addr)
        ),
    )
}

/// `550 5.7.1 <reason>`: the authenticated user may not use this sender address; the
/// reason (from `mailauth::sender`) names the address and the account.
pub fn r550_sender_refused(reason: &str) -> Reply {
    Reply::dynamic(550, Some(S5_7_1), one_line(reason))
}

/// `550 5.1.3 <addr>: …`: a quoted local part, which no account here has and which the
/// queue does not carry to other servers.
pub fn r550_quoted_local_part(addr: &str) -> Reply {
    Reply::dynamic(
        550,
        Some(S5_1_3),
        format!(
            "<{}>: Recipient address rejected: quoted local parts are not accepted",
            one_line(addr)
        ),
    )
}

/// `550 5.1.2 <addr>: …`: an address literal (`user@[192.0.2.1]`) as recipient domain.
pub fn r550_address_literal(addr: &str) -> Reply {
    Reply::dynamic(
        550,
        Some(S5_1_2),
        format!(
            "<{}>: Recipient address rejected: address literals are not accepted as domains",
            one_line(addr)
        ),
    )
}

/// `554 5.7.1 <addr>: Relay access denied`
pub fn r554_relay_denied(addr: &str) -> Reply {
    Reply::dynamic(
        554,
        Some(S5_7_1),
        format!("<{}>: Relay access denied", one_line(addr)),
    )
}

/// `552 5.3.4 Message size exceeds ...` at MAIL, with the limit.
pub fn r552_declared_too_big(limit: u64) -> Reply {
    Reply::dynamic(
        552,
        Some(S5_3_4),
        format!("Message size exceeds fixed limit of {limit} octets"),
    )
}

impl From<&CommandError> for Reply {
    fn from(e: &CommandError) -> Reply {
        match e {
            CommandError::Empty => R500_EMPTY,
            CommandError::Unknown => R500_UNKNOWN,
            CommandError::Syntax(what) => Reply::new(501, S5_5_4, what),
            CommandError::BadSender => R501_BAD_SENDER,
            CommandError::BadRecipient => R553_BAD_RCPT,
            CommandError::Unsupported(what) => Reply::new(555, S5_5_4, what),
        }
    }
}

impl From<&EnqueueError> for Reply {
    fn from(e: &EnqueueError) -> Reply {
        match e {
            EnqueueError::Temporary(msg) if !msg.is_empty() => Reply::dynamic(
                451,
                Some(S4_3_0),
                format!("Temporary failure: {}", one_line(msg)),
            ),
            EnqueueError::Temporary(_) => R451_LOCAL_ERROR,
            EnqueueError::InsufficientStorage => R452_STORAGE,
            EnqueueError::Rejected(msg) if !msg.is_empty() => Reply::dynamic(
                554,
                Some(S5_7_1),
                format!("Message rejected: {}", one_line(msg)),
            ),
            EnqueueError::Rejected(_) => Reply::new(554, S5_7_1, "Message rejected"),
            EnqueueError::SenderRefused(reason) => r550_sender_refused(reason),
            EnqueueError::PolicyRejected(msg) => Reply::dynamic(
                550,
                Some(S5_7_1),
                format!("Message refused: {}", one_line(msg)),
            ),
        }
    }
}
