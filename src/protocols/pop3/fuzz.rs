//! The POP3 session under arbitrary input: what the fuzz target (`fuzz/fuzz_targets/
//! pop3_session.rs`) runs, and what the test suite replays the seed corpus through
//! (docs/architecture.md §6, layer 5).
//!
//! The first byte chooses the options (see [`Options`]): TLS active, plaintext login allowed,
//! STLS offered, the read size, whether the maildrop is locked by someone else, the backend
//! fails or a message vanishes after login, and whether every password check fails. The rest is client input, fed in
//! chunks of the read size. Every `Authenticate` is answered (failure and success alternate,
//! failure first), every `StartTls` completed.
//!
//! Invariants checked after every step: no panic; no action after `Close` and nothing for
//! input after it; every write ends in CRLF; the framer's buffer stays bounded; the lock is
//! released when the session closes; the UPDATE state runs at most once, only for messages
//! of the snapshot, and never flags a message it expunges.

use std::collections::BTreeMap;

use super::backend::{Backend, BackendError, Maildrop, MessageInfo, Update};
use super::command::MAX_SASL_LINE;
use super::message::wire_size;
use super::session::{Action, AuthAnswer, Session, SessionConfig};

/// The account every successful check logs in as.
pub const USER: &str = "alice@fuzz.test";
pub const UIDVALIDITY: u32 = 1_700_000_000;

/// The maildrop the in-memory backend starts with: (uid, message).
pub const SAMPLE_MESSAGES: [(u32, &[u8]); 4] = [
    (
        3,
        b"From: Bob <bob@fuzz.test>\r\nTo: alice@fuzz.test\r\nSubject: one\r\n\r\nHello.\r\n.dot line\r\nBye.\r\n",
    ),
    (7, b"Subject: bare LFs\n\nline one\nline two\n"),
    (8, b"Subject: caf\xc3\xa9\r\n\r\n\xe2\x82\xac no final line end"),
    (12, b"Subject: header only\r\n"),
];

/// An in-memory maildrop with the lock and failures the options ask for.
#[derive(Debug)]
pub struct MemBackend {
    pub messages: BTreeMap<u32, Vec<u8>>,
    /// Another session holds the lock.
    pub locked_elsewhere: bool,
    /// Storage fails on every call.
    pub failing: bool,
    /// This session holds the lock.
    pub locked: bool,
    /// Every UPDATE applied.
    pub commits: Vec<Update>,
    /// UIDs removed behind the session's back (by "IMAP").
    pub gone: Vec<u32>,
}

impl MemBackend {
    pub fn new() -> MemBackend {
        MemBackend {
            messages: SAMPLE_MESSAGES
                .iter()
                .map(|(u, m)| (*u, m.to_vec()))
                .collect(),
            locked_elsewhere: false,
            failing: false,
            locked: false,
            commits: Vec::new(),
            gone: Vec::new(),
        }
    }
}

impl Default for MemBackend {
    fn default() -> Self {
        MemBackend::new()
    }
}

impl Backend for MemBackend {
    fn open(&mut self, account: &str) -> Result<Maildrop, BackendError> {
        if self.failing {
            return Err(BackendError::Unavailable("storage error".into()));
        }
        if account != USER {
            return Err(BackendError::Permanent(format!("{account} has no INBOX")));
        }
        if self.locked_elsewhere || self.locked {
            return Err(BackendError::InUse(
                "Maildrop is locked by another session".into(),
            ));
        }
        self.locked = true;
        Ok(Maildrop {
            uidvalidity: UIDVALIDITY,
            messages: self
                .messages
                .iter()
                .map(|(uid, m)| MessageInfo {
                    uid: *uid,
                    size: wire_size(m),
                })
                .collect(),
        })
    }

    fn message(&mut self, uid: u32) -> Result<Vec<u8>, BackendError> {
        if self.failing {
            return Err(BackendError::Unavailable("storage error".into()));
        }
        if self.gone.contains(&uid) {
            return Err(BackendError::Gone(format!("message {uid}")));
        }
        self.messages
            .get(&uid)
            .cloned()
            .ok_or_else(|| BackendError::Gone(format!("message {uid}")))
    }

    fn commit(&mut self, update: &Update) -> Result<(), BackendError> {
        if self.failing {
            return Err(BackendError::Unavailable("storage error".into()));
        }
        for uid in &update.deleted {
            self.messages.remove(uid);
        }
        self.commits.push(update.clone());
        Ok(())
    }

    fn release(&mut self) {
        self.locked = false;
    }
}

/// What the first input byte chooses.
#[derive(Debug, Clone, Copy)]
struct Options {
    tls: bool,
    allow_plaintext: bool,
    starttls_available: bool,
    /// Bytes per `receive`.
    chunk: usize,
    locked_elsewhere: bool,
    failing: bool,
    /// Every password check fails; otherwise they alternate, failure first.
    all_fail: bool,
    /// Message 2 (uid 7) is expunged elsewhere after login.
    gone: bool,
}

const CHUNKS: [usize; 4] = [1, 7, 64, 4096];

impl Options {
    fn from_byte(b: u8) -> Options {
        Options {
            tls: b & 0x01 != 0,
            allow_plaintext: b & 0x02 != 0,
            starttls_available: b & 0x04 != 0,
            locked_elsewhere: b & 0x48 == 0x08,
            chunk: CHUNKS[usize::from((b >> 4) & 0x03)],
            failing: b & 0x48 == 0x40,
            all_fail: b & 0x80 != 0,
            gone: b & 0x48 == 0x48,
        }
    }
}

struct Driver {
    session: Session,
    backend: MemBackend,
    opts: Options,
    closed: bool,
    answers: u32,
    sent: Vec<u8>,
}

impl Driver {
    fn new(opts: Options) -> Driver {
        let config = SessionConfig {
            hostname: "pop.fuzz.test".into(),
            starttls_available: opts.starttls_available,
            allow_plaintext: opts.allow_plaintext,
        };
        let mut backend = MemBackend::new();
        backend.locked_elsewhere = opts.locked_elsewhere;
        backend.failing = opts.failing;
        if opts.gone {
            backend.gone.push(7);
        }
        Driver {
            session: Session::new(config, opts.tls),
            backend,
            opts,
            closed: false,
            answers: 0,
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
                    assert!(!self.backend.locked, "lock held after Close");
                    Vec::new()
                }
                Action::Send(bytes) => {
                    assert!(bytes.ends_with(b"\r\n"), "write without CRLF: {bytes:?}");
                    self.sent.extend_from_slice(&bytes);
                    Vec::new()
                }
                Action::StartTls => self.session.tls_established(&mut self.backend),
                Action::Authenticate { .. } => {
                    self.answers += 1;
                    let answer = if !self.opts.all_fail && self.answers % 2 == 0 {
                        AuthAnswer::Account(USER.to_string())
                    } else {
                        AuthAnswer::Rejected
                    };
                    self.session.resume_auth(answer, &mut self.backend)
                }
            };
            pending.extend(more.into_iter().rev());
        }
    }

    fn check(&self) {
        assert!(
            self.session.buffered() <= MAX_SASL_LINE + 4096,
            "framer holds {} bytes",
            self.session.buffered()
        );
        assert!(self.backend.commits.len() <= 1, "UPDATE ran twice");
        if let Some(u) = self.backend.commits.first() {
            assert!(self.closed, "UPDATE without closing");
            for uid in u.deleted.iter().chain(&u.seen) {
                assert!(
                    SAMPLE_MESSAGES.iter().any(|(s, _)| s == uid),
                    "UPDATE names uid {uid} outside the snapshot"
                );
            }
            assert!(
                !u.seen.iter().any(|s| u.deleted.contains(s)),
                "flags an expunged message"
            );
        }
    }
}

/// Runs one fuzz input; panics when an invariant breaks.
pub fn drive(data: &[u8]) {
    run(data);
}

/// Runs one input and returns everything the session wrote (for seed coverage checks).
pub fn transcript(data: &[u8]) -> Vec<u8> {
    run(data).sent
}

fn run(data: &[u8]) -> Driver {
    let Some((&first, input)) = data.split_first() else {
        return Driver::new(Options::from_byte(0));
    };
    let mut d = Driver::new(Options::from_byte(first));
    let greeting = d.session.greeting();
    d.perform(greeting);
    for chunk in input.chunks(d.opts.chunk) {
        let actions = d.session.receive(chunk, &mut d.backend);
        if d.closed {
            assert!(actions.is_empty(), "output after Close: {actions:?}");
        }
        d.perform(actions);
        d.check();
    }
    if !d.closed {
        let actions = d.session.timeout(&mut d.backend);
        d.perform(actions);
        assert!(d.closed, "timeout must close");
    }
    d.check();
    d
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    /// Command lines the structured property test picks from.
    const WORDS: [&str; 24] = [
        "USER alice@fuzz.test",
        "PASS secret",
        "PASS wrong",
        "STAT",
        "LIST",
        "LIST 2",
        "RETR 1",
        "RETR 2",
        "TOP 3 1",
        "DELE 1",
        "DELE 2",
        "RSET",
        "NOOP",
        "UIDL",
        "UIDL 4",
        "CAPA",
        "STLS",
        "UTF8",
        "AUTH PLAIN",
        "AGFsaWNlQGZ1enoudGVzdABzZWNyZXQ=",
        "AUTH LOGIN",
        "*",
        "QUIT",
        "RETR 0",
    ];

    proptest! {
        #[test]
        fn arbitrary_bytes_keep_the_invariants(data in proptest::collection::vec(any::<u8>(), 0..1500)) {
            super::drive(&data);
        }

        #[test]
        fn arbitrary_command_sequences_keep_the_invariants(
            opt in any::<u8>(),
            picks in proptest::collection::vec(0..WORDS.len(), 0..40),
        ) {
            let mut data = vec![opt];
            for p in picks {
                data.extend_from_slice(WORDS[p].as_bytes());
                data.extend_from_slice(b"\r\n");
            }
            super::drive(&data);
        }
    }

    #[test]
    fn empty_and_tiny_inputs() {
        super::drive(b"");
        super::drive(b"\x02");
        super::drive(b"\x02USER alice@fuzz.test\r\nPASS x\r\nUSER alice@fuzz.test\r\nPASS y\r\nRETR 1\r\nQUIT\r\n");
    }
}
