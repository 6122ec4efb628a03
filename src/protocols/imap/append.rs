//! Literals in the session (RFC 9051 §4.3, §7.5; RFC 7888 LITERAL+) and APPEND (RFC 9051
//! §6.3.12) and MULTIAPPEND (RFC 3502), with message literals streamed to the backend
//! instead of held in memory; APPENDLIMIT (RFC 7889), literal8 (RFC 3516), APPENDUID (RFC
//! 4315).
//!
//! Implementation notes:
//! - The framer's bounds follow the session's state ([`framer_limits`](super::session::framer_limits)): before login only
//!   credentials come as literals, at most 8 KiB; after login 1 MiB (SEARCH strings and the
//!   like). APPEND's messages are not bounded there: they are streamed, not held.
//! - The framer reports each message literal ([`super::framer::FrameEvent::MessageLiteral`])
//!   before any of its bytes is read, and the session decides there, in
//!   [`Session::message_literal`]: before login, BAD (RFC 9051 §6.3.12 is valid in the
//!   authenticated and selected states only); over APPENDLIMIT, `NO [TOOBIG]` (RFC 7889 §3).
//!   A synchronizing literal is refused instead of the "+" continuation, so the client sends
//!   nothing; a non-synchronizing one is on its way, so the framer reads and discards it (and
//!   the rest of the command) and the same tagged answer follows the command's end.
//! - Accepted, the literal gets a [`StagedBody`] from [`Backend::stage`] and its pieces are
//!   written there as they arrive ([`Session::literal_data`]); the store's staging is a file
//!   in the blob store's tmp directory, hashed while written. The session holds nothing of
//!   the message but the staging handle.
//! - When the whole command has arrived, its frame (with empty literals where the messages
//!   were) is parsed like any other command and [`Session::append`] pairs the parsed
//!   messages (flags, date) with the staged bodies in order, then appends them all with one
//!   [`Backend::append_staged`]: one transaction, all or none (RFC 3502: "if the server is
//!   unable to append all of the messages, it MUST NOT append any").
//! - Anything that ends the command early (a refusal, a parse error, a write failure) drops
//!   the staged bodies, and dropping one deletes it.
//! - A zero-length message is refused (`NO [CANNOT]`), as Dovecot does: it is not a message.

use super::backend::{Backend, StagedBody, StagedMessage};
use super::mailboxes::flags_to_bits;
use super::response;
use super::session::{line, Done, Incoming, Out, Session, State};
use super::types::{AppendMessage, CatPart, MailboxName};

impl Session {
    /// A synchronizing literal other than an APPEND message: within the framer's limits for
    /// the current state, or refused before the client sends it.
    pub(super) fn literal_announced(&mut self, tag: Option<String>, size: u64, out: &mut Out) {
        let tag = tag.unwrap_or_else(|| "*".into());
        if !self.framer.literal_fits() {
            self.framer.reject_literal();
            self.incoming = None;
            line(
                out,
                &format!("{tag} NO [TOOBIG] A literal of {size} octets is too large"),
            );
            return;
        }
        self.framer.accept_literal();
        line(out, "+ Ready for literal data");
    }

    /// An APPEND message literal of any kind: accepted (streamed) or refused; see the module
    /// notes.
    pub(super) fn message_announced(
        &mut self,
        tag: Option<String>,
        size: u64,
        synchronizing: bool,
        binary: bool,
        backend: &dyn Backend,
        out: &mut Out,
    ) {
        let tag = tag.unwrap_or_else(|| "*".into());
        // Not a command where one is expected: the line ends IDLE or the SASL exchange, as
        // any other line would.
        let decision = if let Some(idle) = self.idle.take() {
            Err(format!("{idle} BAD Expected DONE"))
        } else if let Some(sasl) = self.sasl.take() {
            Err(format!("{} BAD Authentication cancelled", sasl.tag))
        } else {
            self.message_literal(&tag, size, binary, backend)
        };
        match decision {
            Ok(()) => {
                self.framer.accept_literal();
                if synchronizing {
                    line(out, "+ Ready for literal data");
                }
            }
            Err(text) => {
                self.framer.reject_literal();
                if synchronizing {
                    line(out, &text);
                } else {
                    self.refusal = Some(text);
                }
            }
        }
    }

    /// A message literal was announced (see the module notes). Returns whether to accept it;
    /// otherwise the answer to give is in `refusal` (sent by the caller now for a
    /// synchronizing literal, after the discarded command for a non-synchronizing one).
    pub(super) fn message_literal(
        &mut self,
        tag: &str,
        size: u64,
        binary: bool,
        backend: &dyn Backend,
    ) -> Result<(), String> {
        if !self.is_authenticated() {
            self.incoming = None;
            return Err(format!("{tag} BAD APPEND is not valid before login"));
        }
        let limit = self.config.append_limit;
        if size > limit {
            self.incoming = None;
            return Err(format!(
                "{tag} NO [TOOBIG] Message exceeds APPENDLIMIT {limit}"
            ));
        }
        let incoming = self.incoming.get_or_insert_with(Incoming::default);
        incoming.binary = binary;
        if incoming.failed.is_some() {
            // Nothing more is written; the command fails when it ends.
            return Ok(());
        }
        match backend.stage() {
            Ok(body) => {
                incoming.current = Some(body);
                Ok(())
            }
            Err(e) => {
                self.incoming = None;
                Err(format!("{tag} {}", done_line(Done::from(e))))
            }
        }
    }

    /// A piece of the accepted message literal.
    pub(super) fn literal_data(&mut self, bytes: &[u8]) {
        let Some(incoming) = &mut self.incoming else {
            return;
        };
        let Some(body) = &mut incoming.current else {
            return;
        };
        // RFC 9051 §4.3: CHAR8 excludes NUL; binary content needs literal8 (RFC 3516).
        if !incoming.binary && bytes.contains(&0) {
            incoming.current = None;
            incoming.failed = Some(Done::Bad(
                "APPEND: NUL in literal (use literal8 ~{n} for binary data)".into(),
            ));
            return;
        }
        if let Err(e) = body.write(bytes) {
            tracing::warn!("cannot stage an APPEND message: {e}");
            incoming.current = None;
            incoming.failed = Some(Done::from(e));
        }
    }

    /// The message literal is complete.
    pub(super) fn literal_end(&mut self) {
        if let Some(incoming) = &mut self.incoming {
            if let Some(body) = incoming.current.take() {
                incoming.bodies.push(body);
            }
        }
    }

    /// APPEND / MULTIAPPEND once the whole command has arrived: `messages` as parsed (their
    /// literals empty), the bodies staged by [`Session::literal_data`].
    pub(super) fn append(
        &mut self,
        mailbox: &MailboxName,
        messages: Vec<AppendMessage>,
        backend: &dyn Backend,
    ) -> Result<Done, Done> {
        let incoming = self.incoming.take().unwrap_or_default();
        if let Some(failed) = incoming.failed {
            return Err(failed);
        }
        // Each plain message has one staged literal, each CATENATE message one per TEXT part.
        let wanted: usize = messages
            .iter()
            .map(|m| {
                m.catenate.as_ref().map_or(1, |parts| {
                    parts
                        .iter()
                        .filter(|p| matches!(p, CatPart::Text(_)))
                        .count()
                })
            })
            .sum();
        if incoming.bodies.len() != wanted {
            return Err(Done::Bad("APPEND: message literals do not match".into()));
        }
        let folder = match self.open_folder(backend, &mailbox.0) {
            Ok((f, rights)) if rights.contains('i') => f,
            Ok(_) => return Err(Done::No("[NOPERM] No right to append here".into())),
            // RFC 9051 §6.3.12: a missing target gets TRYCREATE.
            Err(Done::No(m)) if m.starts_with("[NONEXISTENT]") => {
                return Err(Done::No("[TRYCREATE] No such mailbox".into()))
            }
            Err(d) => return Err(d),
        };
        if folder.noselect {
            return Err(Done::No("[CANNOT] Mailbox cannot hold messages".into()));
        }
        let now = backend.now();
        let mut batch = Vec::with_capacity(messages.len());
        let mut bodies = incoming.bodies.into_iter();
        for m in messages {
            let body = match m.catenate {
                Some(parts) => self.catenated(parts, &mut bodies, backend)?,
                None => bodies
                    .next()
                    .ok_or_else(|| Done::Bad("APPEND: message literals do not match".into()))?,
            };
            if body.is_empty() {
                return Err(Done::No("[CANNOT] Empty message".into()));
            }
            let (flags, keywords) = flags_to_bits(&m.flags);
            batch.push(StagedMessage {
                flags,
                keywords,
                internal_date: m.date.map_or(now, |d| d.unix),
                body,
            });
        }
        let uids = backend
            .append_staged(folder.id, batch)
            .map_err(Done::from)?;
        if let State::Selected(sel) = &mut self.state {
            if sel.folder.id == folder.id {
                sel.pending_added = true;
            }
        }
        let mut set = Vec::new();
        response::sequence_set(&mut set, &uids);
        Ok(Done::Ok(format!(
            "[APPENDUID {} {}] APPEND completed",
            folder.uidvalidity,
            String::from_utf8_lossy(&set)
        )))
    }
}

impl Session {
    /// A CATENATE message (RFC 4469 §5): its TEXT parts were staged like messages, in order;
    /// they are read back, put together with the URL parts (within APPENDLIMIT, see
    /// catenate.rs) and staged again as one body.
    fn catenated(
        &self,
        parts: Vec<CatPart>,
        staged: &mut impl Iterator<Item = Box<dyn StagedBody>>,
        backend: &dyn Backend,
    ) -> Result<Box<dyn StagedBody>, Done> {
        let missing = || Done::Bad("APPEND: message literals do not match".into());
        let mut filled = Vec::with_capacity(parts.len());
        for part in parts {
            filled.push(match part {
                CatPart::Text(_) => {
                    let text = staged.next().ok_or_else(missing)?;
                    CatPart::Text(text.contents().map_err(Done::from)?)
                }
                url => url,
            });
        }
        let message = self.catenate(filled, backend)?;
        let mut body = backend.stage().map_err(Done::from)?;
        body.write(&message).map_err(Done::from)?;
        Ok(body)
    }

    /// REPLACE's message (RFC 8508), staged like an APPEND message: read back for the
    /// replacement, which the folder actor stores in one transaction with the expunge.
    pub(super) fn staged_replacement(&mut self) -> Result<Vec<u8>, Done> {
        let incoming = self.incoming.take().unwrap_or_default();
        if let Some(failed) = incoming.failed {
            return Err(failed);
        }
        let mut bodies = incoming.bodies;
        match (bodies.pop(), bodies.is_empty()) {
            (Some(body), true) => body.contents().map_err(Done::from),
            _ => Err(Done::Bad("REPLACE: message literal does not match".into())),
        }
    }
}

/// "NO text" / "BAD text" / "OK text" of a completion, without the tag.
fn done_line(done: Done) -> String {
    match done {
        Done::Ok(t) => format!("OK {t}"),
        Done::No(t) => format!("NO {t}"),
        Done::Bad(t) => format!("BAD {t}"),
    }
}

#[cfg(test)]
mod tests;
