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
}
