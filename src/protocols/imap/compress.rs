//! COMPRESS (RFC 4978): `COMPRESS DEFLATE` in the authenticated and selected states (the
//! ABNF puts it in `command-auth`).
//!
//! Implementation notes:
//! - The session only decides; the shell deflates. On OK the session hands the shell an
//!   [`Action::Compress`] carrying the input it already holds beyond the command (RFC 4978
//!   §3 says the client waits for the tagged OK, but a pipelining client that does not is
//!   still understood), and reads nothing more until `compression_started`.
//! - A second COMPRESS: `BAD [COMPRESSIONACTIVE]`: RFC 4978 §3 answers "COMPRESS already
//!   active" with BAD, and the response code (RFC 5530 §3) tells the client why. The NO of
//!   §3 ("active via another layer") never happens: rustls negotiates no TLS compression.
//! - An algorithm other than DEFLATE: BAD (RFC 4978 §3, "unknown argument").

use super::backend::Backend;
use super::session::{line, Action, Done, Out, Session};
use super::types::Tag;

impl Session {
    /// `COMPRESS algorithm`. `None`: the tagged OK is out and compression starts.
    pub(super) fn compress(
        &mut self,
        tag: &Tag,
        algorithm: &str,
        out: &mut Out,
        actions: &mut Vec<Action>,
    ) -> Option<Done> {
        if self.compressed {
            return Some(Done::Bad(
                "[COMPRESSIONACTIVE] DEFLATE is already active".into(),
            ));
        }
        if algorithm != "DEFLATE" {
            return Some(Done::Bad(format!(
                "Unknown compression algorithm {algorithm}"
            )));
        }
        line(out, &format!("{tag} OK DEFLATE active"));
        self.compressed = true;
        let pending = self.framer.take_unscanned();
        actions.push(Action::Send(std::mem::take(out)));
        actions.push(Action::Compress { pending });
        self.waiting_auth = Some(tag.clone());
        None
    }

    /// Called by the shell once both directions are compressed.
    pub fn compression_started(&mut self, backend: &dyn Backend) -> Vec<Action> {
        self.waiting_auth = None;
        self.process(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fuzz::{MemBackend, USER};
    use super::super::session::{Action, Session, SessionConfig};

    fn logged_in(b: &MemBackend) -> Session {
        let mut s = Session::new(
            SessionConfig {
                hostname: "h".into(),
                starttls_available: false,
                allow_plaintext: true,
                append_limit: 1 << 20,
                unauthenticate: true,
                max_line: 8192,
            },
            false,
        );
        s.greeting();
        let acts = s.receive(b"l LOGIN x y\r\n", b);
        assert!(
            matches!(acts[..], [Action::Authenticate { .. }]),
            "{acts:?}"
        );
        s.resume_auth(Some(USER.into()), b);
        s
    }

    fn text(actions: &[Action]) -> String {
        let mut t = String::new();
        for a in actions {
            if let Action::Send(b) = a {
                t.push_str(&String::from_utf8_lossy(b));
            }
        }
        t
    }

    /// The OK goes out before the action; input after the command (already compressed by a
    /// client that did not wait) goes to the shell, and nothing is read until it is done.
    #[test]
    fn compress_hands_over_what_followed_and_waits() {
        let b = MemBackend::new();
        let mut s = logged_in(&b);
        assert!(s.capabilities().contains("COMPRESS=DEFLATE"));
        let acts = s.receive(b"c COMPRESS DEFLATE\r\n\x78\x9c\x01", &b);
        assert_eq!(
            acts,
            vec![
                Action::Send(b"c OK DEFLATE active\r\n".to_vec()),
                Action::Compress {
                    pending: b"\x78\x9c\x01".to_vec()
                }
            ]
        );
        assert!(
            s.receive(b"n NOOP\r\n", &b).is_empty(),
            "read while starting"
        );
        assert_eq!(text(&s.compression_started(&b)), "n OK NOOP completed\r\n");
        let acts = s.receive(b"d COMPRESS DEFLATE\r\n", &b);
        assert_eq!(
            text(&acts),
            "d BAD [COMPRESSIONACTIVE] DEFLATE is already active\r\n"
        );
        // UNAUTHENTICATE would have to end compression mid-stream: withdrawn, and BAD.
        assert!(!s.capabilities().contains("UNAUTHENTICATE"));
        let acts = s.receive(b"u UNAUTHENTICATE\r\n", &b);
        assert!(text(&acts).starts_with("u BAD "), "{acts:?}");
        assert!(s.is_authenticated());
    }

    #[test]
    fn unauthenticate_forgets_the_user_and_can_be_turned_off() {
        let b = MemBackend::new();
        let mut s = logged_in(&b);
        let acts = s.receive(b"e ENABLE UTF8=ACCEPT\r\ns SELECT INBOX\r\n", &b);
        assert!(text(&acts).contains("s OK [READ-WRITE]"), "{acts:?}");
        let acts = s.receive(b"u UNAUTHENTICATE\r\n", &b);
        assert!(acts.contains(&Action::UnwatchAll), "{acts:?}");
        assert!(text(&acts)
            .ends_with("u OK UNAUTHENTICATE completed, now in not authenticated state\r\n"));
        assert!(!s.is_authenticated() && s.user().is_none());
        let acts = s.receive(b"e ENABLE UTF8=ACCEPT\r\n", &b);
        assert!(text(&acts).starts_with("e BAD "), "{acts:?}");

        let mut s = logged_in(&b);
        s.config.unauthenticate = false;
        assert!(!s.capabilities().contains("UNAUTHENTICATE"));
        let acts = s.receive(b"u UNAUTHENTICATE\r\n", &b);
        assert_eq!(text(&acts), "u BAD UNAUTHENTICATE is not enabled here\r\n");
        assert!(s.is_authenticated());
    }
}
