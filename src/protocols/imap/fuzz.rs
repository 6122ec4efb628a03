//! The IMAP session under arbitrary input: what the fuzz target (`fuzz/fuzz_targets/
//! imap_session.rs`) runs, and what the test suite replays the seed corpus through
//! (docs/architecture.md §6, layer 5).
//!
//! The first byte chooses the options (see [`Options`]): TLS active, plaintext login allowed,
//! STARTTLS offered, the read size, whether a successful `LOGIN` + `SELECT INBOX` comes before
//! the input (so that half the inputs start in the selected state), and whether folder changes
//! arrive between reads. The rest is client input, fed in chunks of the read size. Every
//! `Authenticate` is answered (failure and success alternate), every `StartTls` is
//! completed, and changes made "elsewhere" to the watched folder are applied to the backend
//! and announced through `folder_changed`, so every state and every update path is reached.
//!
//! Invariants checked after every step: no panic, no action after `Close` and no output
//! for input or changes arriving after it, every write ends in CRLF, and the framer's buffer
//! stays bounded.
//!
//! [`MemBackend`] (`fuzz/backend.rs`) keeps everything in memory and implements every
//! [`Backend`] method.

mod backend;

pub use backend::{MemBackend, Read, OTHER, SAMPLE_MESSAGES, USER};

use super::backend::{Backend, FlagOp, FolderRef, NewMessage, StoreOutcome};
use super::session::{Action, FolderChange, Session, SessionConfig};

/// What the first input byte chooses.
#[derive(Debug, Clone, Copy)]
struct Options {
    tls: bool,
    allow_plaintext: bool,
    starttls_available: bool,
    /// Prefix a successful LOGIN and SELECT INBOX (forces plaintext login on).
    selected: bool,
    /// Bytes per `receive`.
    chunk: usize,
    /// Apply and announce a change to the watched folder after some reads.
    changes: bool,
    /// Every password check fails (except the prefix's), so that the failure limit is
    /// reached; otherwise they alternate, failure first.
    all_fail: bool,
}

const CHUNKS: [usize; 4] = [1, 7, 64, 4096];

impl Options {
    fn from_byte(b: u8) -> Options {
        let selected = b & 0x08 != 0;
        Options {
            tls: b & 0x01 != 0,
            allow_plaintext: b & 0x02 != 0 || selected,
            starttls_available: b & 0x04 != 0,
            selected,
            chunk: CHUNKS[usize::from((b >> 4) & 0x03)],
            changes: b & 0x40 != 0,
            all_fail: b & 0x80 != 0,
        }
    }
}

const PREFIX: &[u8] = b"P1 LOGIN alice@fuzz.test secret\r\nP2 SELECT INBOX\r\n";
const APPEND_LIMIT: u64 = 64 * 1024;
const MAX_LINE: usize = 8 * 1024;

/// The fuzzer's side of the connection: the session, the backend, and what has been seen.
struct Driver {
    session: Session,
    backend: MemBackend,
    closed: bool,
    opts: Options,
    answers: u32,
    watched: Option<FolderRef>,
    changes: u32,
    /// Everything written to the client.
    sent: Vec<u8>,
}

impl Driver {
    fn new(opts: Options) -> Driver {
        let config = SessionConfig {
            hostname: "imap.fuzz.test".into(),
            starttls_available: opts.starttls_available,
            allow_plaintext: opts.allow_plaintext,
            append_limit: APPEND_LIMIT,
            unauthenticate: true,
            max_line: MAX_LINE,
        };
        Driver {
            session: Session::new(config, opts.tls),
            backend: MemBackend::new(),
            closed: false,
            opts,
            answers: 0,
            watched: None,
            changes: 0,
            sent: Vec::new(),
        }
    }

    /// Performs the actions front to back, answering those that need an answer.
    fn perform(&mut self, actions: Vec<Action>) {
        let mut pending = actions;
        pending.reverse();
        while let Some(action) = pending.pop() {
            assert!(!self.closed, "action after Close: {action:?}");
            let more = match action {
                Action::Close => {
                    self.closed = true;
                    Vec::new()
                }
                Action::Send(bytes) => {
                    // A chunk of a FETCH under way may end anywhere (fetch_stream.rs).
                    assert!(
                        bytes.ends_with(b"\r\n") || self.session.has_more_output(),
                        "write without CRLF: {bytes:?}"
                    );
                    self.sent.extend_from_slice(&bytes);
                    Vec::new()
                }
                Action::Watch(folder) => {
                    self.watched = folder;
                    Vec::new()
                }
                // One session alone: no other account's events to pass on.
                Action::WatchAccounts(_) => Vec::new(),
                Action::StartTls => self.session.tls_established(&self.backend),
                Action::Compress { .. } => self.session.compression_started(&self.backend),
                Action::UnwatchAll => {
                    self.watched = None;
                    Vec::new()
                }
                Action::Authenticate { .. } => {
                    self.answers += 1;
                    let ok = self.answer_ok();
                    self.session
                        .resume_auth(ok.then(|| USER.to_string()), &self.backend)
                }
            };
            pending.extend(more.into_iter().rev());
        }
    }

    /// The prefix's login succeeds; after it, failure and success alternate (failure
    /// first), or every check fails.
    fn answer_ok(&self) -> bool {
        if self.opts.selected && self.answers == 1 {
            return true;
        }
        let n = self.answers - u32::from(self.opts.selected);
        !self.opts.all_fail && n % 2 == 0
    }

    fn receive(&mut self, input: &[u8]) {
        let out = self.session.receive(input, &self.backend);
        if self.closed {
            assert!(out.is_empty(), "output after Close: {out:?}");
            return;
        }
        self.perform(out);
        // As the shell does: a chunked FETCH goes on, chunk by chunk, until it is done.
        for _ in 0..100_000 {
            if self.closed || !self.session.has_more_output() {
                break;
            }
            let more = self.session.resume(&self.backend);
            self.perform(more);
        }
        let bound = (APPEND_LIMIT as usize) + 2 * 1024 * 1024 + input.len();
        assert!(
            self.session.buffered() <= bound,
            "framer buffer grew to {}",
            self.session.buffered()
        );
    }

    /// A change made elsewhere to the watched folder: applied to the backend, then announced.
    fn change(&mut self, pick: u8) {
        let Some(folder) = self.watched else {
            return;
        };
        self.changes += 1;
        let uids: Vec<u32> = self
            .backend
            .messages(folder)
            .map(|l| l.iter().map(|m| m.uid).collect())
            .unwrap_or_default();
        let some_uid = uids.get(usize::from(pick) % uids.len().max(1)).copied();
        let change = match (pick % 3, some_uid) {
            (1, Some(uid)) => {
                let _ = self.backend.expunge(folder, &[uid]);
                FolderChange::Expunged { uids: vec![uid] }
            }
            (2, Some(uid)) => {
                let flags = pick & 0x1f;
                match self
                    .backend
                    .store_flags(folder, &[uid], FlagOp::Replace, flags, &[], None)
                {
                    Ok(StoreOutcome { changed, .. }) if !changed.is_empty() => {
                        let (uid, flags, keywords, modseq) = changed[0].clone();
                        FolderChange::Flags {
                            uid,
                            flags,
                            keywords,
                            modseq,
                        }
                    }
                    _ => return,
                }
            }
            _ => {
                let content = SAMPLE_MESSAGES[usize::from(pick) % SAMPLE_MESSAGES.len()];
                let new = NewMessage {
                    flags: 0,
                    keywords: Vec::new(),
                    internal_date: backend::NOW,
                    content: content.as_bytes().to_vec(),
                };
                match self.backend.append(folder, vec![new]) {
                    Ok(uids) => match uids.first() {
                        Some(&uid) => FolderChange::Added { uid },
                        None => return,
                    },
                    Err(_) => return,
                }
            }
        };
        let out = self.session.folder_changed(change, &self.backend);
        if self.closed {
            assert!(out.is_empty(), "output after Close: {out:?}");
        } else {
            self.perform(out);
        }
    }
}

/// Runs one input; panics only if an invariant breaks (which is what the fuzzer looks for).
pub fn drive(data: &[u8]) {
    transcript(data);
}

/// [`drive`], returning everything the session wrote (to check what a seed reaches).
pub fn transcript(data: &[u8]) -> Vec<u8> {
    let Some((&first, input)) = data.split_first() else {
        return Vec::new();
    };
    let opts = Options::from_byte(first);
    let mut d = Driver::new(opts);
    let greeting = d.session.greeting();
    d.perform(greeting);
    if opts.selected {
        d.receive(PREFIX);
    }
    for (i, chunk) in input.chunks(opts.chunk).enumerate() {
        d.receive(chunk);
        if opts.changes && i % 3 == 1 {
            d.change(chunk[0]);
        }
    }
    // Whatever follows a close is ignored.
    if d.closed {
        d.receive(b"Z NOOP\r\n");
        d.change(0);
    }
    d.sent
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(first: u8, input: &[u8]) -> (Driver, String) {
        let mut d = Driver::new(Options::from_byte(first));
        let greeting = d.session.greeting();
        d.perform(greeting);
        if d.opts.selected {
            d.receive(PREFIX);
        }
        d.receive(input);
        let text = String::from_utf8_lossy(&d.sent).into_owned();
        (d, text)
    }

    #[test]
    fn prefix_reaches_the_selected_state() {
        let mut d = Driver::new(Options::from_byte(0x08));
        d.receive(PREFIX);
        assert!(d.session.is_authenticated());
        assert!(d.watched.is_some(), "SELECT INBOX did not watch the folder");
    }

    #[test]
    fn backend_serves_fetch_of_the_multipart() {
        let (_, text) = run(0x08, b"F1 FETCH 3 (BODYSTRUCTURE ENVELOPE)\r\n");
        assert!(text.contains("\"MIXED\""), "{text}");
        assert!(text.contains("\"ALTERNATIVE\""), "{text}");
        assert!(text.contains("F1 OK"), "{text}");
    }

    #[test]
    fn login_answers_alternate() {
        let (d, text) = run(0x02, b"a LOGIN x y\r\nb LOGIN x y\r\nc LOGOUT\r\n");
        assert!(text.contains("a NO [AUTHENTICATIONFAILED]"), "{text}");
        assert!(text.contains("b OK [CAPABILITY"), "{text}");
        assert!(text.contains("c OK LOGOUT"), "{text}");
        assert_eq!(d.answers, 2);
    }

    #[test]
    fn three_failures_close_and_nothing_follows() {
        let (d, text) = run(
            0x82,
            b"a LOGIN x y\r\nb LOGIN x y\r\nc LOGIN x y\r\nd NOOP\r\n",
        );
        assert!(text.contains("* BYE Too many failed logins"), "{text}");
        assert!(!text.contains("d OK"), "{text}");
        assert!(d.closed);
    }

    #[test]
    fn folder_changes_reach_an_idling_session() {
        let mut d = Driver::new(Options::from_byte(0x08));
        d.receive(PREFIX);
        d.receive(b"I IDLE\r\n");
        assert!(d.session.is_idle());
        let before = d.backend.messages(d.watched.unwrap_or(0)).map(|m| m.len());
        d.change(0);
        let after = d.backend.messages(d.watched.unwrap_or(0)).map(|m| m.len());
        assert_eq!(before.map(|n| n + 1), after);
        assert_eq!(d.changes, 1);
    }

    #[test]
    fn set_acl_modifies_rights() {
        let b = MemBackend::new();
        let inbox = b.find_folder(USER, "INBOX").unwrap().unwrap().id;
        b.set_acl(inbox, OTHER, "lr").unwrap();
        b.set_acl(inbox, OTHER, "+w").unwrap();
        assert_eq!(b.rights(inbox, OTHER).unwrap(), "lrw");
        b.set_acl(inbox, OTHER, "-lrw").unwrap();
        assert_eq!(b.rights(inbox, OTHER).unwrap(), "");
    }
}
