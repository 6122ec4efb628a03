//! The SMTP session under arbitrary input: what the fuzz target (`fuzz/fuzz_targets/
//! smtp_session.rs`) runs, and what the test suite replays the seed corpus through.
//!
//! The first byte picks the listener (smtp / submission / smtps) and the read size; the rest
//! is client input, fed in chunks of that size. Every pending `Authenticate`/`Enqueue` is
//! answered (alternating success and failure), STARTTLS is "completed", so every state is
//! reachable. Checked after every step: no panic, the input buffer within its bound, no
//! output after `Close`.

use std::net::{IpAddr, Ipv4Addr};

use super::{
    Action, Answer, Directory, EnqueueError, PeerInfo, RecipientCheck, SenderCheck, Service,
    Session, SessionConfig,
};

struct FuzzDirectory;

impl Directory for FuzzDirectory {
    fn check_recipient(&self, address: &str) -> RecipientCheck {
        match address.len() % 5 {
            0 => RecipientCheck::Local,
            1 => RecipientCheck::UnknownLocal,
            2 => RecipientCheck::Remote,
            3 => RecipientCheck::MailboxFull,
            _ => RecipientCheck::TempFail,
        }
    }

    fn check_sender(&self, account: &str, address: &str) -> SenderCheck {
        match address.len() % 3 {
            0 => SenderCheck::Allowed,
            1 => SenderCheck::Refused(format!("{address} is not {account}'s")),
            _ => SenderCheck::TempFail,
        }
    }
}

/// Runs one input; panics only if an invariant breaks (which is what the fuzzer looks for).
pub fn drive(data: &[u8]) {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let service = match first % 3 {
        0 => Service::Smtp,
        1 => Service::Submission,
        _ => Service::Smtps,
    };
    let chunk = 1 + (first as usize >> 2);
    let mut config = SessionConfig::for_service("mx.fuzz.test", service);
    config.max_message_size = 4096;
    config.drop_size = 8192;
    config.allow_plaintext_auth = first & 0x80 != 0;
    let peer = PeerInfo {
        ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: 2525,
        session_id: "FUZZ".into(),
    };
    let mut session = Session::new(config, peer, service == Service::Smtps);
    let dir = FuzzDirectory;
    let mut closed = false;
    let mut answers = 0u32;
    let mut pending: Vec<Action> = session.greeting();
    pending.reverse();
    let mut rest = input;
    loop {
        while let Some(action) = pending.pop() {
            assert!(!closed, "action after Close: {action:?}");
            answers += 1;
            let more = match action {
                Action::Close => {
                    closed = true;
                    Vec::new()
                }
                Action::Send(_) => Vec::new(),
                Action::StartTls => session.tls_established(&dir),
                Action::Authenticate { .. } => session.resume(
                    Answer::Auth((answers % 2 == 0).then(|| "bob@fuzz.test".to_string())),
                    &dir,
                ),
                Action::Enqueue(env) => {
                    assert!(env.body.len() <= 4096 + 2, "body over the size limit");
                    let answer = if answers % 3 == 0 {
                        Err(EnqueueError::Temporary("fuzz".into()))
                    } else {
                        Ok("Q1".into())
                    };
                    session.resume(Answer::Enqueued(answer), &dir)
                }
            };
            // Keep the order: actions are performed front to back.
            pending.extend(more.into_iter().rev());
        }
        if closed || rest.is_empty() {
            break;
        }
        let n = chunk.min(rest.len());
        let mut out = session.receive(&rest[..n], &dir);
        out.reverse();
        pending = out;
        rest = &rest[n..];
        assert!(
            session.buffered() <= session.pending_limit() + chunk,
            "input buffer grew to {}",
            session.buffered()
        );
    }
}
