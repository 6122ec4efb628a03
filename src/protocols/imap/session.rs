//! The IMAP session: state machine, command dispatch, and the untagged updates that tell a
//! client about changes made elsewhere (RFC 9051 §5.2, §7).
//!
//! Input bytes go through the [`Framer`] (literals, line bounds) and the parser; each command
//! runs against the [`Backend`] and produces its responses. The framer's bounds follow the
//! state (small before login, so that nobody unauthenticated can make the server hold more
//! than a few kilobytes; raised at login; small again after STARTTLS, which starts a new
//! framer). APPEND's message literals are not framed into the command: they stream to the
//! backend's staging as they arrive (append.rs). Two things leave the session as
//! actions instead of calls: password checks (argon2 is slow; the shell runs them off the
//! session's thread) and STARTTLS. Changes to the selected folder made by anyone (SMTP
//! delivery, another session, this one) arrive through [`Session::folder_changed`] and are
//! reported at the points RFC 9051 §7 allows: at once during IDLE, otherwise before the next
//! tagged response (EXPUNGE held back during FETCH, STORE and SEARCH, §7.5.1).
//!
//! States (RFC 9051 §3): not authenticated → authenticated → selected → logout; which
//! commands are legal where is in [`Session::dispatch`].

use std::collections::BTreeSet;

use super::append::{framer_limits, Incoming};
use super::backend::{Backend, BackendError, FolderInfo, FolderRef};
use super::framer::{FrameEvent, Framer};
use super::parser::{parse_command, ParseErrorKind, ParseOptions};
use super::types::{AuthMechanism, Command, CommandBody, Secret, Tag};

/// Logins that may fail before the connection is closed.
pub const MAX_AUTH_FAILURES: u32 = 3;

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub hostname: String,
    /// A certificate is configured: STARTTLS is offered on the plain port.
    pub starttls_available: bool,
    /// LOGIN/AUTHENTICATE allowed without TLS (otherwise LOGINDISABLED until STARTTLS).
    pub allow_plaintext: bool,
    /// APPENDLIMIT (RFC 7889): the largest message APPEND accepts.
    pub append_limit: u64,
    /// UNAUTHENTICATE (RFC 8437) offered; RFC 8437 §8 wants a way to turn it off.
    pub unauthenticate: bool,
    pub max_line: usize,
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send(Vec<u8>),
    /// The tagged OK for STARTTLS was sent: flush, handshake, then call `tls_established`.
    StartTls,
    /// Check a password; answer with `resume_auth`. The password is a [`Secret`] so that
    /// `Debug` output of an action (a trace log) never shows it.
    Authenticate {
        login: String,
        password: Secret,
    },
    /// Report changes of this folder (or of none) to `folder_changed` from now on.
    Watch(Option<FolderRef>),
    /// The tagged OK for COMPRESS was sent: flush it, then deflate both directions (RFC
    /// 4978), inflating `pending` (input read after the command) first; then call
    /// `compression_started`.
    Compress {
        pending: Vec<u8>,
    },
    /// Stop reporting changes of every folder watched so far (UNAUTHENTICATE: the next
    /// user must hear nothing of the last one's folders).
    UnwatchAll,
    /// NOTIFY (RFC 5465): pass these owners' account events to `account_event` from now on.
    WatchAccounts(Vec<String>),
    Close,
}

/// A change to the selected folder, as the folder actor broadcasts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderChange {
    Added {
        uid: u32,
    },
    Expunged {
        uids: Vec<u32>,
    },
    Flags {
        uid: u32,
        flags: u8,
        keywords: Vec<String>,
        modseq: u64,
    },
}

/// A message as the selected session knows it; its sequence number is its index + 1.
/// Kept small (24 bytes): every selected session holds one per message, and thousands of
/// IDLE sessions each hold their folder's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MsgView {
    pub modseq: u64,
    pub keywords: Keywords,
    pub uid: u32,
    pub flags: u8,
    pub recent: bool,
}

/// A message's keywords: no allocation at all for the common case of none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
// A thin pointer (8 bytes) where `Vec` would take 24: the box is the point here.
#[allow(clippy::box_collection)]
pub(super) struct Keywords(Option<Box<Vec<String>>>);

impl From<Vec<String>> for Keywords {
    fn from(v: Vec<String>) -> Keywords {
        Keywords((!v.is_empty()).then(|| Box::new(v)))
    }
}

impl std::ops::Deref for Keywords {
    type Target = [String];
    fn deref(&self) -> &[String] {
        self.0.as_deref().map_or(&[], |v| v.as_slice())
    }
}

/// The selected folder (RFC 9051 §3.3).
#[derive(Debug)]
pub(super) struct Selected {
    pub folder: FolderInfo,
    pub read_only: bool,
    pub messages: Vec<MsgView>,
    pub highest_modseq: u64,
    /// Changes waiting to be reported.
    pub pending_expunged: BTreeSet<u32>,
    pub pending_flags: BTreeSet<u32>,
    pub pending_added: bool,
    /// SEARCHRES (RFC 5182) saved result, as UIDs.
    pub saved: Vec<u32>,
    /// The keywords the client has been told of in FLAGS (RFC 9051 §7.3.5): one that is
    /// not here is announced before any FETCH shows it.
    pub keywords: Vec<String>,
    /// PERMANENTFLAGS as SELECT computed them from the user's rights: the system flag
    /// bits and whether new keywords may be made; `None` for a read-only selection.
    pub permanent: Option<(u8, bool)>,
    /// RFC 5267 searches kept up to date.
    pub contexts: super::context::Contexts,
}

impl Selected {
    pub fn seq_of(&self, uid: u32) -> Option<usize> {
        self.messages
            .binary_search_by_key(&uid, |m| m.uid)
            .ok()
            .map(|i| i + 1)
    }
    pub fn max_uid(&self) -> u32 {
        self.messages.last().map_or(0, |m| m.uid)
    }
}

#[derive(Debug)]
pub(super) enum State {
    NotAuthenticated,
    Authenticated,
    Selected(Box<Selected>),
    Logout,
}

/// An AUTHENTICATE exchange in progress (continuation lines).
#[derive(Debug)]
pub(super) struct Sasl {
    pub(super) tag: Tag,
    mechanism: AuthMechanism,
    login: Option<String>,
}

pub struct Session {
    pub(super) config: SessionConfig,
    pub(super) framer: Framer,
    pub(super) state: State,
    pub(super) user: Option<String>,
    pub(super) tls: bool,
    /// ENABLE IMAP4rev2 (RFC 9051): otherwise the session speaks rev1.
    pub(super) rev2: bool,
    pub(super) utf8: bool,
    pub(super) condstore: bool,
    pub(super) qresync: bool,
    /// UIDONLY (RFC 9586): messages named by UID only, in both directions.
    pub(super) uidonly: bool,
    /// COMPRESS=DEFLATE is on (RFC 4978).
    pub(super) compressed: bool,
    /// NOTIFY SET in force (RFC 5465).
    pub(super) notify: Option<super::types::NotifySet>,
    auth_failures: u32,
    /// Tag of the IDLE command while idling.
    pub(super) idle: Option<Tag>,
    pub(super) sasl: Option<Sasl>,
    /// A password check, TLS handshake or COMPRESS start is out; its tag.
    pub(super) waiting_auth: Option<Tag>,
    /// The message literals of the APPEND being received (append.rs).
    pub(super) incoming: Option<Incoming>,
    /// The tagged answer to a command being discarded, due when its last byte has come.
    pub(super) refusal: Option<String>,
    /// A chunked FETCH under way (fetch_stream.rs): no input is processed until it is done.
    pub(super) fetching: Option<super::fetch_stream::FetchJob>,
    closed: bool,
}

/// Responses produced by a command: untagged lines first, then the tagged completion.
pub(super) type Out = Vec<u8>;

pub(super) fn line(out: &mut Out, text: &str) {
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A command's completion: OK, NO or BAD with an optional response code.
#[derive(Debug)]
pub(super) enum Done {
    Ok(String),
    No(String),
    Bad(String),
}

impl From<BackendError> for Done {
    fn from(e: BackendError) -> Done {
        match e {
            BackendError::NotFound(m) => Done::No(format!("[NONEXISTENT] {m}")),
            BackendError::Exists(m) => Done::No(format!("[ALREADYEXISTS] {m}")),
            BackendError::Invalid(m) => Done::No(format!("[CANNOT] {m}")),
            BackendError::OverQuota(r) => Done::No(format!("[OVERQUOTA] quota exceeded ({r})")),
            BackendError::Conflict(m) => Done::No(format!("[INUSE] {m}")),
            BackendError::Unavailable(m) => Done::No(format!("[UNAVAILABLE] {m}")),
        }
    }
}

impl Session {
    pub fn new(config: SessionConfig, tls_active: bool) -> Session {
        let framer = Framer::new(framer_limits(&config, false));
        Session {
            config,
            framer,
            state: State::NotAuthenticated,
            user: None,
            tls: tls_active,
            rev2: false,
            utf8: false,
            condstore: false,
            qresync: false,
            uidonly: false,
            compressed: false,
            notify: None,
            auth_failures: 0,
            idle: None,
            sasl: None,
            waiting_auth: None,
            incoming: None,
            refusal: None,
            fetching: None,
            closed: false,
        }
    }

    pub fn greeting(&mut self) -> Vec<Action> {
        let caps = self.capabilities();
        vec![Action::Send(
            format!(
                "* OK [CAPABILITY {caps}] {} Ferrymail IMAP ready\r\n",
                self.config.hostname
            )
            .into_bytes(),
        )]
    }

    pub fn is_authenticated(&self) -> bool {
        !matches!(self.state, State::NotAuthenticated)
    }

    pub fn is_waiting(&self) -> bool {
        self.waiting_auth.is_some()
    }

    pub fn is_idle(&self) -> bool {
        self.idle.is_some()
    }

    /// Input bytes held, not yet consumed (bounded by the framer's limits).
    pub fn buffered(&self) -> usize {
        self.framer.buffered()
    }

    /// Whether the client owes literal bytes (see [`Framer::in_literal`]).
    pub fn in_literal(&self) -> bool {
        !self.closed && self.framer.in_literal()
    }

    /// Whether a command has begun and is not yet whole (see [`Framer::mid_command`]).
    pub fn mid_command(&self) -> bool {
        !self.closed && self.framer.mid_command()
    }

    /// While an APPEND message literal streams in: how many of its bytes are still to come
    /// (the shell reads in bigger pieces meanwhile). `None` otherwise.
    pub fn streaming(&self) -> Option<u64> {
        if self.closed || self.waiting_auth.is_some() || self.fetching.is_some() {
            return None;
        }
        self.framer.streaming()
    }

    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The capability list for the current state (RFC 9051 §6.1.1).
    pub fn capabilities(&self) -> String {
        let mut caps = vec!["IMAP4rev1", "IMAP4rev2"];
        let plain_ok = self.tls || self.config.allow_plaintext;
        // RFC 9051 §6.2.1: STARTTLS is only valid before login, so only offered there.
        if !self.tls && self.config.starttls_available && !self.is_authenticated() {
            caps.push("STARTTLS");
        }
        if !plain_ok {
            caps.push("LOGINDISABLED");
        } else if !self.is_authenticated() {
            caps.extend(["AUTH=PLAIN", "AUTH=LOGIN"]);
        }
        caps.extend([
            "SASL-IR",
            "LITERAL+",
            "ENABLE",
            "IDLE",
            "NAMESPACE",
            "ID",
            "UNSELECT",
        ]);
        if self.is_authenticated() {
            caps.extend([
                "UIDPLUS",
                "CHILDREN",
                "MOVE",
                "CONDSTORE",
                "QRESYNC",
                "ACL",
                "RIGHTS=texk",
                "QUOTA",
                "QUOTA=RES-STORAGE",
                "QUOTA=RES-MESSAGE",
                "SPECIAL-USE",
                "CREATE-SPECIAL-USE",
                "LIST-EXTENDED",
                "LIST-STATUS",
                "LIST-MYRIGHTS",
                "ESEARCH",
                "SEARCHRES",
                "SORT",
                "ESORT",
                "SORT=DISPLAY",
                "CONTEXT=SEARCH",
                "CONTEXT=SORT",
                "THREAD=ORDEREDSUBJECT",
                "THREAD=REFERENCES",
                "UTF8=ACCEPT",
                "STATUS=SIZE",
                "BINARY",
                "MULTIAPPEND",
                "REPLACE",
                "SAVEDATE",
                "PARTIAL",
                "PREVIEW",
                "WITHIN",
                "OBJECTID",
                "METADATA",
                "METADATA-SERVER",
                "CATENATE",
                "NOTIFY",
                "URLAUTH",
                "URLAUTH=BINARY",
                "COMPRESS=DEFLATE",
                "UIDONLY",
            ]);
        }
        if self.is_authenticated() && self.config.unauthenticate && !self.compressed {
            // Not while compressed: see unauthenticate.rs.
            caps.push("UNAUTHENTICATE");
        }
        let mut s = caps.join(" ");
        if self.is_authenticated() {
            s.push_str(&format!(" APPENDLIMIT={}", self.config.append_limit));
        }
        s
    }

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

    /// Ends the session: no more input is processed and no FETCH goes on.
    pub(super) fn close_now(&mut self) {
        self.closed = true;
        self.state = State::Logout;
        self.fetching = None;
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

    /// Autologout (RFC 9051 §5.4).
    pub fn timeout(&mut self) -> Vec<Action> {
        self.closed = true;
        vec![
            Action::Send(b"* BYE Autologout; idle for too long\r\n".to_vec()),
            Action::Close,
        ]
    }

    pub fn shutdown(&mut self) -> Vec<Action> {
        self.closed = true;
        vec![
            Action::Send(b"* BYE [UNAVAILABLE] Server shutting down\r\n".to_vec()),
            Action::Close,
        ]
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

#[cfg(test)]
mod size_tests {
    #[test]
    fn a_message_view_stays_small() {
        assert!(std::mem::size_of::<super::MsgView>() <= 24);
    }
}
