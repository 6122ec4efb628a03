//! One handler per SMTP command. Each says the states it runs in and the RFC section.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::command::{is_mailbox, Command, MailParams, RcptParams};
use super::data::{BodyBuf, DotDecoder};
use super::reply::{self, Reply};
use super::session::{Helo, Mode, Pending, Session, Transaction};
use super::{Action, Directory, Recipient, RecipientCheck, SenderCheck};

impl Session {
    /// Dispatch a parsed command (mode is `Command`).
    pub(crate) fn command(&mut self, cmd: Command, dir: &dyn Directory, out: &mut Vec<Action>) {
        match cmd {
            Command::Ehlo(name) => self.ehlo(name, true, out),
            Command::Helo(name) => self.ehlo(name, false, out),
            Command::Mail { from, params } => self.mail(from, params, dir, out),
            Command::Rcpt { to, params } => self.rcpt(to, params, dir, out),
            Command::Data => self.data(out),
            Command::Bdat { size, last } => self.bdat(size, last, out),
            Command::Rset => {
                // RFC 5321 §4.1.1.5: any state; ends the transaction, keeps HELO and AUTH.
                self.tx = None;
                self.reply(out, reply::R250_OK);
            }
            Command::Noop => self.reply(out, reply::R250_OK),
            Command::Quit => self.close_with(out, reply::R221_BYE),
            // RFC 5321 §3.5.3: 252 when we will not verify (address harvesting).
            Command::Vrfy(_) => self.reply(out, reply::R252_CANNOT_VRFY),
            Command::Expn(_) => self.reply(out, reply::R502_EXPN),
            Command::Help(_) => self.reply(out, reply::R214_HELP),
            Command::StartTls => self.starttls(out),
            Command::Auth { mechanism, initial } => {
                if !self.config.auth_enabled {
                    dir.auth_not_offered();
                }
                self.auth(&mechanism, initial, out)
            }
        }
    }

    /// EHLO/HELO, any state (RFC 5321 §4.1.1.1): resets the transaction.
    fn ehlo(&mut self, name: String, extended: bool, out: &mut Vec<Action>) {
        self.tx = None;
        self.helo = Some(Helo { name, extended });
        let host = self.config.hostname.clone();
        if !extended {
            return self.reply(out, Reply::dynamic(250, None, host));
        }
        let mut lines = vec![
            host,
            "PIPELINING".to_string(),
            format!("SIZE {}", self.config.max_message_size),
            "8BITMIME".to_string(),
            "SMTPUTF8".to_string(),
            "ENHANCEDSTATUSCODES".to_string(),
            "CHUNKING".to_string(),
            "DSN".to_string(),
        ];
        // RFC 8689 §4.1: REQUIRETLS is offered only once TLS is active.
        if self.tls {
            lines.push("REQUIRETLS".to_string());
        }
        if self.config.starttls_available && !self.tls {
            lines.push("STARTTLS".to_string());
        }
        if self.auth_offered() {
            lines.push("AUTH PLAIN LOGIN".to_string());
        }
        self.reply(out, Reply::dynamic(250, None, lines.join("\n")));
    }

    fn auth_offered(&self) -> bool {
        self.config.auth_enabled && (self.tls || self.config.allow_plaintext_auth)
    }

    /// MAIL, after HELO/EHLO and outside a transaction (RFC 5321 §4.1.1.2).
    fn mail(
        &mut self,
        from: String,
        params: MailParams,
        dir: &dyn Directory,
        out: &mut Vec<Action>,
    ) {
        let sender = self.auth.as_deref().map(|a| dir.check_sender(a, &from));
        let r = if self.helo.is_none() {
            reply::R503_NEED_HELO
        } else if self.tx.is_some() {
            reply::R503_NESTED_MAIL
        } else if self.config.auth_required && self.auth.is_none() {
            // RFC 6409 §4.3: submission requires authentication.
            reply::R530_AUTH_REQUIRED
        } else if params
            .size
            .is_some_and(|n| n > self.config.max_message_size)
        {
            // RFC 1870 §6.1
            reply::r552_declared_too_big(self.config.max_message_size)
        } else if !from.is_ascii() && !params.smtputf8 {
            // RFC 6531 §3.4
            reply::R553_NEED_SMTPUTF8
        } else if params.requiretls && !self.tls {
            // RFC 8689 §4.1
            reply::R530_REQUIRETLS_NEEDS_TLS
        } else if let Some(SenderCheck::Refused(reason)) = &sender {
            reply::r550_sender_refused(reason)
        } else if sender == Some(SenderCheck::TempFail) {
            reply::R451_RCPT_TEMPFAIL
        } else {
            self.tx = Some(Transaction {
                mail_from: from,
                params,
                recipients: Vec::new(),
                body: BodyBuf::new(self.config.max_message_size),
                chunking: false,
                received: 0,
            });
            reply::R250_SENDER_OK
        };
        self.reply(out, r);
    }

    /// RCPT, inside a transaction before any BDAT chunk (RFC 5321 §4.1.1.3).
    fn rcpt(&mut self, to: String, params: RcptParams, dir: &dyn Directory, out: &mut Vec<Action>) {
        let r = self.check_rcpt(to, params, dir);
        self.reply(out, r);
    }

    fn check_rcpt(&mut self, to: String, params: RcptParams, dir: &dyn Directory) -> Reply {
        let max_recipients = self.config.max_recipients;
        let authenticated = self.auth.is_some();
        let Some(tx) = &mut self.tx else {
            return reply::R503_NEED_MAIL;
        };
        if tx.chunking {
            return reply::R503_RCPT_AFTER_BDAT;
        }
        // RFC 5321 §4.5.1: <Postmaster> without a domain is ours.
        let address = if to == "postmaster" {
            format!("postmaster@{}", self.config.hostname)
        } else {
            to
        };
        if !is_mailbox(&address) {
            return reply::R553_BAD_RCPT;
        }
        // Valid syntax, but no account has such an address and the queue does not carry
        // them: a clear permanent answer rather than a failed lookup.
        if address.starts_with('"') {
            return reply::r550_quoted_local_part(&address);
        }
        if address.ends_with(']') {
            return reply::r550_address_literal(&address);
        }
        if !address.is_ascii() && !tx.params.smtputf8 {
            return reply::R553_NEED_SMTPUTF8;
        }
        if tx.recipients.len() >= max_recipients {
            return reply::R452_TOO_MANY_RCPTS;
        }
        match dir.check_recipient(&address) {
            RecipientCheck::Local => {}
            RecipientCheck::Remote if authenticated => {}
            // Never an open relay: unauthenticated clients reach local recipients only.
            RecipientCheck::Remote => return reply::r554_relay_denied(&address),
            RecipientCheck::UnknownLocal => return reply::r550_no_such_user(&address),
            RecipientCheck::TempFail => return reply::R451_RCPT_TEMPFAIL,
            RecipientCheck::MailboxFull => return reply::R452_MAILBOX_FULL,
        }
        if !tx.recipients.iter().any(|r| r.address == address) {
            tx.recipients.push(Recipient {
                address,
                notify: params.notify,
                orcpt: params.orcpt,
            });
        }
        reply::R250_RCPT_OK
    }

    /// DATA, in a transaction with a recipient and no BDAT chunk (RFC 5321 §4.1.1.4,
    /// RFC 3030 §3: no DATA after BDAT).
    fn data(&mut self, out: &mut Vec<Action>) {
        let r = match &self.tx {
            None => reply::R503_NEED_MAIL,
            Some(tx) if tx.chunking => reply::R503_DATA_AFTER_BDAT,
            Some(tx) if tx.recipients.is_empty() => reply::R503_NEED_RCPT,
            Some(_) => {
                self.mode = Mode::Data(DotDecoder::new());
                reply::R354_START_DATA
            }
        };
        self.reply(out, r);
    }

    /// BDAT, any state: the chunk is always read (RFC 3030 §2), and accepted only in a
    /// transaction with a recipient.
    fn bdat(&mut self, size: u64, last: bool, out: &mut Vec<Action>) {
        let received = self.tx.as_ref().map_or(0, |tx| tx.received);
        if received.saturating_add(size) > self.config.drop_size {
            return self.close_with(out, reply::R552_TOO_BIG);
        }
        let reject = match &mut self.tx {
            None => Some(reply::R503_NEED_MAIL),
            Some(tx) if tx.recipients.is_empty() => Some(reply::R503_NEED_RCPT),
            Some(tx) => {
                tx.chunking = true;
                None
            }
        };
        self.mode = Mode::Bdat {
            size,
            remaining: size,
            last,
            reject,
        };
        if size == 0 {
            self.end_of_chunk(out);
        }
    }

    /// STARTTLS, when TLS is not active (RFC 3207 §4). Input after this line is discarded.
    fn starttls(&mut self, out: &mut Vec<Action>) {
        if self.tls {
            return self.reply(out, reply::R503_TLS_ACTIVE);
        }
        if !self.config.starttls_available {
            return self.reply(out, reply::R502_NO_STARTTLS);
        }
        self.reply(out, reply::R220_READY_TLS);
        out.push(Action::StartTls);
        self.mode = Mode::TlsPending;
    }

    /// AUTH, after EHLO, not yet authenticated, outside a transaction (RFC 4954 §4).
    fn auth(&mut self, mechanism: &str, initial: Option<String>, out: &mut Vec<Action>) {
        let refusal = if !self.config.auth_enabled {
            Some(reply::R503_AUTH_DISABLED)
        } else if !self.helo.as_ref().is_some_and(|h| h.extended) {
            Some(reply::R503_NEED_EHLO)
        } else if self.auth.is_some() {
            Some(reply::R503_ALREADY_AUTH)
        } else if self.tx.is_some() {
            Some(reply::R503_AUTH_IN_TX)
        } else if !self.tls && !self.config.allow_plaintext_auth {
            Some(reply::R538_ENCRYPTION_REQUIRED)
        } else {
            None
        };
        if let Some(r) = refusal {
            return self.reply(out, r);
        }
        match (mechanism, initial) {
            ("PLAIN", None) => {
                self.mode = Mode::AuthPlain;
                self.reply(out, reply::R334_EMPTY);
            }
            ("PLAIN", Some(ir)) => self.auth_plain_response(ir.as_bytes(), out),
            ("LOGIN", None) => {
                self.mode = Mode::AuthLoginUser;
                self.reply(out, reply::R334_USERNAME);
            }
            ("LOGIN", Some(ir)) => self.auth_login_user(ir.as_bytes(), out),
            _ => self.reply(out, reply::R504_UNKNOWN_MECH),
        }
    }

    /// RFC 4616: `message = [authzid] NUL authcid NUL passwd`.
    pub(crate) fn auth_plain_response(&mut self, line: &[u8], out: &mut Vec<Action>) {
        let decoded = match auth_response(line) {
            Ok(d) => d,
            Err(r) => return self.reply(out, r),
        };
        let parts: Vec<&[u8]> = decoded.split(|&b| b == 0).collect();
        let [authzid, login, password] = parts.as_slice() else {
            return self.reply(out, reply::R501_BAD_AUTH_DATA);
        };
        let (Ok(authzid), Ok(login), Ok(password)) = (
            std::str::from_utf8(authzid),
            std::str::from_utf8(login),
            std::str::from_utf8(password),
        ) else {
            return self.reply(out, reply::R501_BAD_AUTH_DATA);
        };
        if login.is_empty() {
            return self.reply(out, reply::R501_BAD_AUTH_DATA);
        }
        self.mode = Mode::Waiting(Pending::Auth);
        out.push(Action::Authenticate {
            mechanism: "PLAIN".to_string(),
            authzid: (!authzid.is_empty()).then(|| authzid.to_string()),
            login: login.to_string(),
            password: password.to_string(),
        });
    }

    /// LOGIN: the user name (as initial response or after 334 Username:).
    pub(crate) fn auth_login_user(&mut self, line: &[u8], out: &mut Vec<Action>) {
        match auth_response(line).map(String::from_utf8) {
            Ok(Ok(login)) if !login.is_empty() => {
                self.mode = Mode::AuthLoginPass { login };
                self.reply(out, reply::R334_PASSWORD);
            }
            Ok(_) => self.reply(out, reply::R501_BAD_AUTH_DATA),
            Err(r) => self.reply(out, r),
        }
    }

    /// LOGIN: the password.
    pub(crate) fn auth_login_pass(&mut self, login: String, line: &[u8], out: &mut Vec<Action>) {
        match auth_response(line).map(String::from_utf8) {
            Ok(Ok(password)) => {
                self.mode = Mode::Waiting(Pending::Auth);
                out.push(Action::Authenticate {
                    mechanism: "LOGIN".to_string(),
                    authzid: None,
                    login,
                    password,
                });
            }
            Ok(Err(_)) => self.reply(out, reply::R501_BAD_AUTH_DATA),
            Err(r) => self.reply(out, r),
        }
    }
}

/// A client's SASL response line (RFC 4954 §4): "*" cancels, "=" is empty, else base64.
fn auth_response(line: &[u8]) -> Result<Vec<u8>, Reply> {
    match line {
        b"*" => Err(reply::R501_AUTH_CANCELLED),
        b"=" => Ok(Vec::new()),
        _ => BASE64.decode(line).map_err(|_| reply::R501_BAD_BASE64),
    }
}
