//! The session's entry points and its dispatcher (RFC 9051 §3, §6): input bytes through
//! the framer and the parser to the handler of each command, and the shell's answers
//! (password checked, TLS up, compression on, next chunk of a FETCH, folder changed).
//!
//! This module sits above the command modules (mailboxes.rs, messages.rs, append.rs …),
//! which sit above session.rs, the session's state: so the state never imports a handler
//! and no handler imports the dispatcher.

use super::backend::Backend;
use super::fetch_stream::{Progress, OUTPUT_CHUNK};
use super::framer::{FrameEvent, Framer};
use super::parser::{parse_command, ParseErrorKind, ParseOptions};
use super::session::{
    framer_limits, line, Action, Done, FolderChange, Out, Sasl, Session, State, MAX_AUTH_FAILURES,
};
use super::types::{AuthMechanism, Command, CommandBody, Secret, Tag};

impl Session {
    /// Feeds bytes read from the client; returns what to do.
    pub fn receive(&mut self, input: &[u8], backend: &dyn Backend) -> Vec<Action> {
        if self.closed {
            return Vec::new();
        }
        self.framer.push(input);
        self.process(backend)
    }

    pub(super) fn process(&mut self, backend: &dyn Backend) -> Vec<Action> {
        let mut actions = Vec::new();
        while !self.closed && self.waiting_auth.is_none() && self.fetching.is_none() {
            let Some(event) = self.framer.next() else {
                break;
            };
            let mut out = Vec::new();
            match event {
                FrameEvent::Frame(frame) => self.frame(&frame, backend, &mut out, &mut actions),
                FrameEvent::LiteralAnnounced { tag, size, .. } => {
                    self.literal_announced(tag, size, &mut out)
                }
                FrameEvent::MessageLiteral {
                    tag,
                    size,
                    synchronizing,
                    binary,
                } => self.message_announced(tag, size, synchronizing, binary, backend, &mut out),
                FrameEvent::LiteralData(bytes) => self.literal_data(&bytes),
                FrameEvent::LiteralEnd => self.literal_end(),
                FrameEvent::LineTooLong { tag } => {
                    // The command is dropped, with whatever it staged.
                    self.incoming = None;
                    let tag = tag.unwrap_or_else(|| "*".into());
                    line(&mut out, &format!("{tag} BAD Line too long"));
                }
                FrameEvent::TooLarge { tag, size } => {
                    // Answered once the client has sent the rest (RFC 7888 §4).
                    self.incoming = None;
                    let tag = tag.unwrap_or_else(|| "*".into());
                    self.refusal = Some(format!(
                        "{tag} NO [TOOBIG] A literal of {size} octets is too large"
                    ));
                }
                FrameEvent::Dropped { .. } => {
                    self.incoming = None;
                    if let Some(text) = self.refusal.take() {
                        line(&mut out, &text);
                    }
                }
            }
            // Handlers that emit an action first push what they wrote before it, so what is
            // left in `out` comes last.
            if !out.is_empty() {
                actions.push(Action::Send(out));
            }
        }
        coalesce(actions)
    }

    fn close(&mut self, out: &mut Out, actions: &mut Vec<Action>) {
        self.close_now();
        actions.push(Action::Send(std::mem::take(out)));
        actions.push(Action::Close);
    }

    fn frame(
        &mut self,
        frame: &[u8],
        backend: &dyn Backend,
        out: &mut Out,
        actions: &mut Vec<Action>,
    ) {
        if let Some(tag) = self.idle.clone() {
            let text = String::from_utf8_lossy(frame);
            if text.trim_end().eq_ignore_ascii_case("DONE") {
                self.idle = None;
                self.flush_updates(backend, out, true);
                line(out, &format!("{tag} OK IDLE terminated"));
            } else {
                line(out, &format!("{tag} BAD Expected DONE"));
                self.idle = None;
            }
            return;
        }
        if self.sasl.is_some() {
            self.sasl_continue(frame, out, actions);
            return;
        }
        let opts = ParseOptions { utf8: self.utf8 };
        let parsed = parse_command(frame, &opts);
        if !matches!(&parsed, Ok(c) if matches!(c.body, CommandBody::Append { .. } | CommandBody::Replace { .. }))
        {
            // Staged bodies belong to an APPEND or REPLACE only.
            self.incoming = None;
        }
        match parsed {
            Ok(cmd) => {
                self.dispatch(cmd, backend, out, actions);
                self.incoming = None;
            }
            Err(e) => {
                let tag = e.tag.map_or_else(|| "*".to_string(), |t| t.0);
                match e.kind {
                    ParseErrorKind::InvalidMailboxName => {
                        line(out, &format!("{tag} NO [CANNOT] {}", e.message))
                    }
                    ParseErrorKind::Syntax => line(out, &format!("{tag} BAD {}", e.message)),
                }
            }
        }
    }

    /// Runs one command in the current state.
    fn dispatch(
        &mut self,
        cmd: Command,
        backend: &dyn Backend,
        out: &mut Out,
        actions: &mut Vec<Action>,
    ) {
        let tag = cmd.tag.clone();
        let name = cmd.body.name();
        let done = match self.any_state_command(&tag, cmd.body, backend, out, actions) {
            Ok(done) => done,
            Err(_) if !self.is_authenticated() => {
                Some(Done::Bad(format!("{name} is not valid before login")))
            }
            Err(body) => self.authenticated_command(&tag, body, backend, out, actions),
        };
        // `None`: the command has answered, or goes on, by itself.
        let Some(done) = done else {
            return;
        };
        if self.fetching.is_some() {
            // A chunked FETCH goes on in `resume`, which completes it.
            return;
        }
        self.complete(&tag, name, done, backend, out);
    }

    /// The commands valid in any state (RFC 9051 §6.1) and those of the not authenticated
    /// state (§6.2); `Err` gives back any other. `Ok(None)`: the command has answered, or
    /// goes on, by itself.
    fn any_state_command(
        &mut self,
        tag: &Tag,
        body: CommandBody,
        backend: &dyn Backend,
        out: &mut Out,
        actions: &mut Vec<Action>,
    ) -> Result<Option<Done>, CommandBody> {
        use CommandBody::*;
        let authed = self.is_authenticated();
        let plaintext_refused = !(self.tls || self.config.allow_plaintext);
        Ok(Some(match body {
            Capability => {
                line(out, &format!("* CAPABILITY {}", self.capabilities()));
                Done::Ok("CAPABILITY completed".into())
            }
            Noop => {
                self.sync_with_index(backend);
                self.flush_updates(backend, out, true);
                Done::Ok("NOOP completed".into())
            }
            Logout => {
                line(out, "* BYE Logging out");
                line(out, &format!("{tag} OK LOGOUT completed"));
                self.close(out, actions);
                return Ok(None);
            }
            Id(_) => {
                line(
                    out,
                    "* ID (\"name\" \"Ferrymail\" \"vendor\" \"Ferrymail\")",
                );
                Done::Ok("ID completed".into())
            }
            StartTls => return Ok(self.starttls(tag, out, actions)),
            Login { .. } | Authenticate { .. } if authed => {
                Done::Bad("Already authenticated".into())
            }
            Login { .. } if plaintext_refused => {
                Done::No("[PRIVACYREQUIRED] LOGIN is disabled until STARTTLS".into())
            }
            Authenticate { .. } if plaintext_refused => {
                Done::No("[PRIVACYREQUIRED] Authentication is disabled until STARTTLS".into())
            }
            Login { user, password } => {
                self.start_auth(tag.clone(), user, password, out, actions);
                return Ok(None);
            }
            Authenticate { mechanism, initial } => {
                self.start_sasl(tag.clone(), mechanism, initial, out, actions);
                return Ok(None);
            }
            other => return Err(other),
        }))
    }

    /// STARTTLS (RFC 9051 §6.2.1): refused after login, over TLS, or without a certificate;
    /// else `None`, the TLS handshake follows.
    fn starttls(&mut self, tag: &Tag, out: &mut Out, actions: &mut Vec<Action>) -> Option<Done> {
        if self.is_authenticated() {
            Some(Done::Bad("STARTTLS is only valid before login".into()))
        } else if self.tls {
            Some(Done::Bad("TLS is already active".into()))
        } else if !self.config.starttls_available {
            Some(Done::No("STARTTLS is not available".into()))
        } else {
            line(out, &format!("{tag} OK Begin TLS negotiation now"));
            // RFC 9051 §6.2.1: nothing the client sent after STARTTLS is used.
            self.framer = Framer::new(framer_limits(&self.config, false));
            actions.push(Action::Send(std::mem::take(out)));
            actions.push(Action::StartTls);
            self.waiting_auth = Some(tag.clone());
            None
        }
    }

    /// The commands of the authenticated and selected states (RFC 9051 §6.3, §6.4) and their
    /// extensions; `None`: the command has answered, or goes on, by itself.
    fn authenticated_command(
        &mut self,
        tag: &Tag,
        body: CommandBody,
        backend: &dyn Backend,
        out: &mut Out,
        actions: &mut Vec<Action>,
    ) -> Option<Done> {
        use CommandBody::*;
        let name = body.name();
        let selected = matches!(self.state, State::Selected(_));
        Some(match body {
            ref body if self.needs_uid(body) => super::uidonly::uid_required(name),
            Unauthenticate => self.unauthenticate(out, actions),
            Compress(mechanism) => return self.compress(tag, &mechanism, out, actions),
            Enable(caps) => self.enable(&caps, out),
            Select { .. }
            | Create { .. }
            | Delete(_)
            | Rename { .. }
            | Subscribe(_)
            | Unsubscribe(_)
            | List(_)
            | Namespace
            | Status { .. }
            | Append { .. }
            | SetAcl { .. }
            | DeleteAcl { .. }
            | GetAcl(_)
            | ListRights { .. }
            | MyRights(_)
            | GetQuota(_)
            | GetQuotaRoot(_)
            | SetQuota { .. } => self.mailbox_command(tag, body, backend, out, actions),
            Notify(set) => self.notify_command(set, backend, out, actions),
            GetMetadata { .. } | SetMetadata { .. } => self.metadata_command(body, backend, out),
            ResetKey { .. } | GenUrlAuth(_) | UrlFetch(_) => {
                self.urlauth_command(body, backend, out)
            }
            Idle => {
                self.flush_updates(backend, out, true);
                line(out, "+ idling");
                self.idle = Some(tag.clone());
                return None;
            }
            _ if !selected => Done::Bad(format!("{name} needs a selected mailbox")),
            Replace {
                uid,
                id,
                mailbox,
                message,
            } => self.replace(uid, id, &mailbox, message, backend, out),
            body => self.message_command(tag, body, backend, out, actions),
        })
    }

    /// The tagged completion of command `name`, after the updates that may go before it.
    pub(super) fn complete(
        &mut self,
        tag: &Tag,
        name: &str,
        done: Done,
        backend: &dyn Backend,
        out: &mut Out,
    ) {
        let (kind, text) = match done {
            Done::Ok(t) => {
                // RFC 9051 §7: pending changes are reported before the completion.
                self.flush_updates(backend, out, allows_expunge(name));
                ("OK", t)
            }
            Done::No(t) => ("NO", t),
            Done::Bad(t) => ("BAD", t),
        };
        line(out, &format!("{tag} {kind} {text}"));
    }

    fn enable(&mut self, caps: &[String], out: &mut Out) -> Done {
        let mut enabled = Vec::new();
        for c in caps {
            let up = c.to_ascii_uppercase();
            let newly = match up.as_str() {
                "IMAP4REV2" => !std::mem::replace(&mut self.rev2, true),
                "UTF8=ACCEPT" => !std::mem::replace(&mut self.utf8, true),
                "CONDSTORE" => !std::mem::replace(&mut self.condstore, true),
                "QRESYNC" => {
                    self.condstore = true;
                    !std::mem::replace(&mut self.qresync, true)
                }
                "UIDONLY" => !std::mem::replace(&mut self.uidonly, true),
                _ => false,
            };
            if newly {
                enabled.push(up);
            }
        }
        if enabled.is_empty() {
            line(out, "* ENABLED");
        } else {
            line(out, &format!("* ENABLED {}", enabled.join(" ")));
        }
        Done::Ok("ENABLE completed".into())
    }

    // --- authentication ---------------------------------------------------------------

    fn start_auth(
        &mut self,
        tag: Tag,
        user: String,
        password: Secret,
        out: &mut Out,
        actions: &mut Vec<Action>,
    ) {
        actions.push(Action::Send(std::mem::take(out)));
        actions.push(Action::Authenticate {
            login: user,
            password,
        });
        self.waiting_auth = Some(tag);
    }

    fn start_sasl(
        &mut self,
        tag: Tag,
        mechanism: AuthMechanism,
        initial: Option<Secret>,
        out: &mut Out,
        actions: &mut Vec<Action>,
    ) {
        match &mechanism {
            AuthMechanism::Plain | AuthMechanism::Login => {}
            AuthMechanism::Other(m) => {
                line(
                    out,
                    &format!("{tag} NO Unsupported authentication mechanism {m}"),
                );
                return;
            }
        }
        self.sasl = Some(Sasl {
            tag,
            mechanism,
            login: None,
        });
        match initial {
            Some(resp) => self.sasl_step(resp.0, out, actions),
            None => match self.sasl.as_ref().map(|s| &s.mechanism) {
                Some(AuthMechanism::Login) => line(out, "+ VXNlcm5hbWU6"),
                _ => line(out, "+ "),
            },
        }
    }

    fn sasl_continue(&mut self, frame: &[u8], out: &mut Out, actions: &mut Vec<Action>) {
        let text = String::from_utf8_lossy(frame);
        let text = text.trim_end_matches(['\r', '\n']);
        if text == "*" {
            if let Some(s) = self.sasl.take() {
                line(out, &format!("{} BAD Authentication cancelled", s.tag));
            }
            return;
        }
        use base64::Engine;
        match base64::engine::general_purpose::STANDARD.decode(text.trim()) {
            Ok(bytes) => self.sasl_step(bytes, out, actions),
            Err(_) => {
                if let Some(s) = self.sasl.take() {
                    line(
                        out,
                        &format!("{} BAD Invalid base64 in authentication exchange", s.tag),
                    );
                }
            }
        }
    }

    fn sasl_step(&mut self, data: Vec<u8>, out: &mut Out, actions: &mut Vec<Action>) {
        let Some(mut sasl) = self.sasl.take() else {
            return;
        };
        match sasl.mechanism {
            AuthMechanism::Plain => {
                // RFC 4616: [authzid] NUL authcid NUL passwd
                let parts: Vec<&[u8]> = data.split(|b| *b == 0).collect();
                if parts.len() != 3 {
                    line(out, &format!("{} BAD Malformed PLAIN response", sasl.tag));
                    return;
                }
                let login = String::from_utf8_lossy(parts[1]).into_owned();
                // RFC 4616 §2: an authzid other than the authenticated identity would mean
                // acting as someone else, which nobody may; refuse instead of ignoring it.
                if !parts[0].is_empty() && !parts[0].eq_ignore_ascii_case(parts[1]) {
                    line(
                        out,
                        &format!(
                            "{} NO [AUTHORIZATIONFAILED] Cannot act as another user",
                            sasl.tag
                        ),
                    );
                    return;
                }
                let password = Secret(parts[2].to_vec());
                self.start_auth(sasl.tag, login, password, out, actions);
            }
            AuthMechanism::Login => match sasl.login.take() {
                None => {
                    sasl.login = Some(String::from_utf8_lossy(&data).into_owned());
                    line(out, "+ UGFzc3dvcmQ6");
                    self.sasl = Some(sasl);
                }
                Some(login) => self.start_auth(sasl.tag, login, Secret(data), out, actions),
            },
            AuthMechanism::Other(_) => {}
        }
    }

    /// The answer to `Action::Authenticate`: the account, or None for bad credentials.
    pub fn resume_auth(&mut self, account: Option<String>, backend: &dyn Backend) -> Vec<Action> {
        let Some(tag) = self.waiting_auth.take() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut actions = Vec::new();
        match account {
            Some(user) => {
                self.user = Some(user);
                self.state = State::Authenticated;
                self.framer.set_limits(framer_limits(&self.config, true));
                line(
                    &mut out,
                    &format!("{tag} OK [CAPABILITY {}] Logged in", self.capabilities()),
                );
            }
            None => {
                self.auth_failures += 1;
                line(
                    &mut out,
                    &format!("{tag} NO [AUTHENTICATIONFAILED] Invalid credentials"),
                );
                if self.auth_failures >= MAX_AUTH_FAILURES {
                    line(&mut out, "* BYE Too many failed logins");
                    actions.push(Action::Send(out));
                    self.closed = true;
                    actions.push(Action::Close);
                    return actions;
                }
            }
        }
        actions.push(Action::Send(out));
        actions.extend(self.process(backend));
        coalesce(actions)
    }

    /// Called by the shell after the STARTTLS handshake.
    pub fn tls_established(&mut self, backend: &dyn Backend) -> Vec<Action> {
        self.tls = true;
        self.waiting_auth = None;
        self.process(backend)
    }

    /// The selected folder changed; during IDLE the client hears it now.
    pub fn folder_changed(&mut self, change: FolderChange, backend: &dyn Backend) -> Vec<Action> {
        let State::Selected(sel) = &mut self.state else {
            return Vec::new();
        };
        match change {
            FolderChange::Added { .. } => sel.pending_added = true,
            FolderChange::Expunged { uids } => {
                for u in uids {
                    if sel.seq_of(u).is_some() {
                        sel.pending_expunged.insert(u);
                    }
                }
            }
            FolderChange::Flags {
                uid,
                flags,
                keywords,
                modseq,
            } => {
                if let Some(seq) = sel.seq_of(uid) {
                    let m = &mut sel.messages[seq - 1];
                    if modseq > m.modseq {
                        m.flags = flags;
                        m.keywords = keywords.into();
                        m.modseq = modseq;
                        sel.pending_flags.insert(uid);
                    }
                    sel.highest_modseq = sel.highest_modseq.max(modseq);
                }
            }
        }
        let mut out = Vec::new();
        if self.idle.is_some() {
            self.flush_updates(backend, &mut out, true);
        } else {
            self.notify_selected_now(backend, &mut out);
        }
        if out.is_empty() {
            Vec::new()
        } else {
            vec![Action::Send(out)]
        }
    }

    /// A chunked FETCH is under way: the shell sends what it has, then calls
    /// [`Session::resume`] (and reads no input meanwhile).
    pub fn has_more_output(&self) -> bool {
        self.fetching.is_some()
    }

    /// The next chunk of the FETCH under way; once it is done, its completion and whatever
    /// pipelined commands were waiting behind it.
    pub fn resume(&mut self, backend: &dyn Backend) -> Vec<Action> {
        let Some(mut job) = self.fetching.take() else {
            return self.process(backend);
        };
        let mut out = Vec::new();
        if let Some(e) = job.failed.take() {
            return self.broken_literal(out, &e);
        }
        let done = match self.fetch_more(&mut job, backend, &mut out, OUTPUT_CHUNK) {
            Ok(Progress::More) => {
                self.fetching = Some(job);
                return vec![Action::Send(out)];
            }
            Ok(Progress::Broken(e)) => return self.broken_literal(out, &e),
            Ok(Progress::Finished) => Done::Ok("FETCH completed".into()),
            Err(done) => done,
        };
        if let Some(tag) = &job.tag {
            self.complete(tag, "FETCH", done, backend, &mut out);
        }
        let mut actions = vec![Action::Send(out)];
        actions.extend(self.process(backend));
        actions
    }

    /// Called by the shell once both directions are compressed.
    pub fn compression_started(&mut self, backend: &dyn Backend) -> Vec<Action> {
        self.waiting_auth = None;
        self.process(backend)
    }
}

/// Merges adjacent sends into one write.
fn coalesce(actions: Vec<Action>) -> Vec<Action> {
    let mut merged: Vec<Action> = Vec::with_capacity(actions.len());
    for a in actions {
        match (merged.last_mut(), a) {
            (_, Action::Send(b)) if b.is_empty() => {}
            (Some(Action::Send(prev)), Action::Send(b)) => prev.extend_from_slice(&b),
            (_, a) => merged.push(a),
        }
    }
    merged
}

/// RFC 9051 §7.5.1: no EXPUNGE during FETCH, STORE or SEARCH (sequence numbers would shift
/// under the client); SORT and THREAD answer with sequence numbers too (RFC 5256), so they
/// are held back there as well. (Holding back during the UID variants is allowed, if not
/// required.)
fn allows_expunge(name: &str) -> bool {
    !matches!(name, "FETCH" | "STORE" | "SEARCH" | "SORT" | "THREAD")
}
