//! The IMAP session: its state, and the untagged updates that tell a client about changes
//! made elsewhere (RFC 9051 §5.2, §7).
//!
//! Layering inside the session: this file holds the state (the [`Session`] struct, the
//! selected folder, the small types every command shares) and imports no command module;
//! the command modules (mailboxes.rs, messages.rs, append.rs, context.rs …) add their
//! handlers to [`Session`] on top of it; dispatch.rs, above them all, holds the entry
//! points the shell calls and routes each command to its handler.
//!
//! Input bytes go through the [`Framer`] (literals, line bounds) and the parser; each command
//! runs against the [`Backend`](super::backend::Backend) and produces its responses. The framer's bounds follow the
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
//! commands are legal where is in `Session::dispatch` (dispatch.rs).

use std::collections::BTreeSet;

use super::backend::{BackendError, FolderInfo, FolderRef, StagedBody};
use super::framer::{Framer, FramerLimits};
use super::types::{AuthMechanism, SearchKey, Secret, SortCriterion, Tag};

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
    pub contexts: Contexts,
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
    pub(super) mechanism: AuthMechanism,
    pub(super) login: Option<String>,
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
    pub(super) auth_failures: u32,
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
    pub(super) closed: bool,
}

pub(super) use super::response::{line, Out};

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

/// The message literals of the APPEND command being received.
#[derive(Default)]
pub(super) struct Incoming {
    /// Bodies complete so far, in command order.
    pub(super) bodies: Vec<Box<dyn StagedBody>>,
    /// The body being written.
    pub(super) current: Option<Box<dyn StagedBody>>,
    /// The current literal is a literal8 (`~{n}`, RFC 3516): NUL allowed.
    pub(super) binary: bool,
    /// Writing failed, or the literal was not valid: the command will fail with this once it
    /// has arrived.
    pub(super) failed: Option<Done>,
}

/// The update contexts of the selected mailbox (RFC 5267; kept up to date in context.rs).
#[derive(Debug, Default)]
pub(super) struct Contexts(pub(super) Vec<SearchContext>);

#[derive(Debug)]
pub(super) struct SearchContext {
    pub(super) tag: String,
    pub(super) uid: bool,
    pub(super) keys: Vec<SearchKey>,
    /// `Some` for SORT.
    pub(super) sort: Option<Vec<SortCriterion>>,
    /// UIDs: ascending for SEARCH, in sort order for SORT.
    pub(super) results: Vec<u32>,
    /// The highest MODSEQ and UID already evaluated.
    pub(super) modseq: u64,
    pub(super) max_uid: u32,
}

/// Before login only credentials come as literals (LOGIN's user and password): nothing
/// bigger is accepted, so an unauthenticated client cannot make the server hold more.
pub(super) const PRELOGIN_MAX_LITERAL: u64 = 8 * 1024;
/// A whole command before login (two credential literals and their lines).
const PRELOGIN_MAX_COMMAND: usize = 24 * 1024;
/// After login: a literal other than an APPEND message (a SEARCH string, a mailbox name).
const MAX_LITERAL: u64 = 1024 * 1024;
/// After login: a whole command, APPEND's messages not counted (they are streamed).
const MAX_COMMAND: usize = 2 * 1024 * 1024;

/// The framer's bounds before (`authenticated` false) and after login. APPEND's messages
/// are bounded by APPENDLIMIT in append.rs, not here: they are streamed, not held.
pub(super) fn framer_limits(config: &SessionConfig, authenticated: bool) -> FramerLimits {
    if authenticated {
        FramerLimits {
            max_line: config.max_line,
            max_literal: MAX_LITERAL,
            max_command: MAX_COMMAND.max(config.max_line.saturating_mul(2)),
        }
    } else {
        FramerLimits {
            max_line: config.max_line,
            max_literal: PRELOGIN_MAX_LITERAL,
            max_command: PRELOGIN_MAX_COMMAND,
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

    /// Ends the session: no more input is processed and no FETCH goes on.
    pub(super) fn close_now(&mut self) {
        self.closed = true;
        self.state = State::Logout;
        self.fetching = None;
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

#[cfg(test)]
mod size_tests {
    #[test]
    fn a_message_view_stays_small() {
        assert!(std::mem::size_of::<super::MsgView>() <= 24);
    }
}
