//! UNAUTHENTICATE (RFC 8437): back from the authenticated or selected state to not
//! authenticated, so that one connection can log in as one user after another.
//!
//! Implementation notes:
//! - RFC 8437 §3–4.1: everything the login set up is forgotten except TLS (and ID, which
//!   we keep no state for): the selected mailbox is left without expunging (like UNSELECT),
//!   its SEARCHRES result goes with it, ENABLEd extensions (IMAP4rev2, UTF8=ACCEPT,
//!   CONDSTORE, QRESYNC, UIDONLY) are off again, and the shell drops every folder subscription
//!   ([`Action::UnwatchAll`]) so the next user hears nothing of this one's folders.
//!   Failed logins keep counting across users (brute-force screening).
//! - With COMPRESS active the capability is withdrawn and the command is BAD (§3 allows BAD
//!   for a command "not advertised by the server"): ending the client's deflate stream at
//!   the exact byte after its UNAUTHENTICATE line cannot be done reliably once a client
//!   pipelines, and RFC 8437 §4.1 requires compression to end there.
//! - `[imap] unauthenticate = false` turns it off (RFC 8437 §8: servers MUST provide a way).

use super::session::{Action, Done, Out, Session, State};

impl Session {
    /// `UNAUTHENTICATE`, valid in the authenticated and selected states.
    pub(super) fn unauthenticate(&mut self, out: &mut Out, actions: &mut Vec<Action>) -> Done {
        if !self.config.unauthenticate {
            return Done::Bad("UNAUTHENTICATE is not enabled here".into());
        }
        if self.compressed {
            return Done::Bad("UNAUTHENTICATE is not available while COMPRESS is active".into());
        }
        self.state = State::NotAuthenticated;
        self.user = None;
        self.rev2 = false;
        self.utf8 = false;
        self.condstore = false;
        self.qresync = false;
        // A NOTIFY SET belongs to the user who made it; the next one starts with none.
        self.notify = None;
        self.uidonly = false;
        self.idle = None;
        actions.push(Action::Send(std::mem::take(out)));
        actions.push(Action::UnwatchAll);
        Done::Ok("UNAUTHENTICATE completed, now in not authenticated state".into())
    }
}
