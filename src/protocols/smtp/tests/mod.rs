//! Test harness: a fake directory, a fake shell that answers actions, and a transcript runner
//! that feeds each client turn whole, one byte at a time and split at every point, and checks
//! that the server's output is the same every time.

mod auth;
mod parser;
mod props;
mod received;
mod transcripts;

use std::net::{IpAddr, Ipv4Addr};

use super::{
    Action, Answer, Directory, EnqueueError, Envelope, PeerInfo, RecipientCheck, SenderCheck,
    Service, Session, SessionConfig,
};

/// bob*/alice/jörg/postmaster are local; temp@ fails; other @example.com are unknown; the
/// rest is remote.
pub(super) struct FakeDir;

impl Directory for FakeDir {
    fn check_recipient(&self, address: &str) -> RecipientCheck {
        match address {
            "alice@example.com" | "jörg@example.com" | "postmaster@mx.example.com" => {
                RecipientCheck::Local
            }
            "temp@example.com" => RecipientCheck::TempFail,
            a if a.starts_with("bob") && a.ends_with("@example.com") => RecipientCheck::Local,
            a if a.ends_with("@example.com") => RecipientCheck::UnknownLocal,
            _ => RecipientCheck::Remote,
        }
    }

    /// alice may use her address, its +tag forms and <>; temp@ fails; the rest is refused.
    fn check_sender(&self, account: &str, address: &str) -> SenderCheck {
        let own =
            |a: &str| a == account || (a.starts_with("alice+") && a.ends_with("@example.com"));
        match address {
            "" => SenderCheck::Allowed,
            "temp@example.com" => SenderCheck::TempFail,
            a if account == "alice@example.com" && own(a) => SenderCheck::Allowed,
            a => SenderCheck::Refused(format!(
                "<{a}>: Sender address rejected: not owned by user {account}"
            )),
        }
    }
}

/// Port 25-like, with small limits so size paths are cheap to test; AUTH on in plaintext.
pub(super) fn config() -> SessionConfig {
    SessionConfig {
        hostname: "mx.example.com".into(),
        service: Service::Smtp,
        max_message_size: 1000,
        drop_size: 3000,
        max_recipients: 100,
        auth_enabled: true,
        auth_required: false,
        allow_plaintext_auth: true,
        starttls_available: true,
        max_line_length: 512,
    }
}

pub(super) fn peer() -> PeerInfo {
    PeerInfo {
        ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
        port: 40000,
        session_id: "S1".into(),
    }
}

/// What the client saw and what the shell was asked to do.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Outcome {
    /// Reply bytes, with shell events as `[EVENT]` lines.
    pub(super) log: String,
    pub(super) envelopes: Vec<Envelope>,
}

impl Outcome {
    /// The last line of every reply (continuation lines dropped) and the events.
    pub(super) fn replies(&self) -> Vec<&str> {
        self.log
            .split("\r\n")
            .filter(|l| !l.is_empty() && l.as_bytes().get(3) != Some(&b'-'))
            .collect()
    }

    /// Each expected entry is a prefix of the corresponding reply.
    #[track_caller]
    pub(super) fn expect(&self, expected: &[&str]) {
        let got = self.replies();
        let ok =
            got.len() == expected.len() && got.iter().zip(expected).all(|(g, e)| g.starts_with(e));
        assert!(ok, "replies differ\n got: {got:#?}\nwant: {expected:#?}");
    }
}

/// The fake shell. Credentials alice/secret succeed, user "tempfail" fails temporarily.
/// Messages containing REJECT / TEMPFAIL / FULL are refused accordingly.
#[derive(Default)]
struct Shell {
    out: Outcome,
    tls_pending: bool,
}

impl Shell {
    fn handle(&mut self, s: &mut Session, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send(bytes) => self.out.log.push_str(&String::from_utf8_lossy(&bytes)),
                Action::StartTls => {
                    self.out.log.push_str("[STARTTLS]\r\n");
                    self.tls_pending = true;
                }
                Action::Close => self.out.log.push_str("[CLOSE]\r\n"),
                Action::Authenticate {
                    mechanism,
                    authzid,
                    login,
                    password,
                } => {
                    self.out.log.push_str(&format!(
                        "[AUTH {mechanism} {} {login}]\r\n",
                        authzid.as_deref().unwrap_or("-")
                    ));
                    let answer = match (login.as_str(), password.as_str()) {
                        ("alice", "secret") => Answer::Auth(Some("alice@example.com".into())),
                        ("tempfail", _) => Answer::AuthTempFail,
                        _ => Answer::Auth(None),
                    };
                    let more = s.resume(answer, &FakeDir);
                    self.handle(s, more);
                }
                Action::Enqueue(env) => {
                    self.out.log.push_str("[ENQUEUE]\r\n");
                    let has = |w: &str| env.body.windows(w.len()).any(|x| x == w.as_bytes());
                    let result = if has("DMARC") {
                        Err(EnqueueError::PolicyRejected(
                            "DMARC policy of example.org".into(),
                        ))
                    } else if has("REJECT") {
                        Err(EnqueueError::Rejected("spam".into()))
                    } else if has("TEMPFAIL") {
                        Err(EnqueueError::Temporary("disk busy".into()))
                    } else if has("FULL") {
                        Err(EnqueueError::InsufficientStorage)
                    } else {
                        Ok(format!("Q{}", self.out.envelopes.len() + 1))
                    };
                    self.out.envelopes.push(env);
                    let more = s.resume(Answer::Enqueued(result), &FakeDir);
                    self.handle(s, more);
                }
            }
        }
    }
}

/// Cuts turn number `i` into the pieces `receive` gets.
type Splitter<'a> = dyn Fn(usize, &[u8]) -> Vec<Vec<u8>> + 'a;

/// Run one conversation: each turn is what the client sends before waiting for replies;
/// `split` cuts a turn into the pieces `receive` gets. A pending STARTTLS completes between
/// turns (the client waits for 220 before its handshake).
fn run_with(cfg: &SessionConfig, tls: bool, turns: &[&[u8]], split: &Splitter<'_>) -> Outcome {
    let mut s = Session::new(cfg.clone(), peer(), tls);
    let mut shell = Shell::default();
    let greeting = s.greeting();
    shell.handle(&mut s, greeting);
    for (i, turn) in turns.iter().enumerate() {
        for piece in split(i, turn) {
            let actions = s.receive(&piece, &FakeDir);
            shell.handle(&mut s, actions);
            assert!(s.buffered() <= s.pending_limit());
        }
        if shell.tls_pending {
            shell.tls_pending = false;
            shell.out.log.push_str("[TLS]\r\n");
            let actions = s.tls_established(&FakeDir);
            shell.handle(&mut s, actions);
        }
    }
    shell.out
}

/// Run once with every turn whole.
pub(super) fn run_once(cfg: &SessionConfig, tls: bool, turns: &[&[u8]]) -> Outcome {
    run_with(cfg, tls, turns, &|_, t| vec![t.to_vec()])
}

/// Run whole, byte by byte, and split in two at every point of every turn; all runs must
/// give the same outcome, which is returned.
#[track_caller]
pub(super) fn transcript_with(cfg: &SessionConfig, tls: bool, turns: &[&[u8]]) -> Outcome {
    let whole = run_once(cfg, tls, turns);
    let bytewise = run_with(cfg, tls, turns, &|_, t| {
        t.iter().map(|&b| vec![b]).collect()
    });
    assert_eq!(bytewise, whole, "byte-at-a-time differs");
    for (turn, t) in turns.iter().enumerate() {
        for at in 0..=t.len() {
            let split = |i: usize, t: &[u8]| {
                if i == turn {
                    vec![t[..at].to_vec(), t[at..].to_vec()]
                } else {
                    vec![t.to_vec()]
                }
            };
            let got = run_with(cfg, tls, turns, &split);
            assert_eq!(got, whole, "split of turn {turn} at {at} differs");
        }
    }
    whole
}

/// [`transcript_with`] with the default test config, one turn, no TLS.
#[track_caller]
pub(super) fn transcript(input: &[u8]) -> Outcome {
    transcript_with(&config(), false, &[input])
}
