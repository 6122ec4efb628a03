//! Bounded FETCH output (issue 10): a FETCH over many or big messages is answered in
//! chunks the shell writes one at a time, never as one buffer the size of the folder.
//!
//! `FETCH 1:* BODY[]` on a 1 GB folder used to build a gigabyte of responses before the
//! first byte went out. Now the command runs as a [`FetchJob`]: it writes message responses
//! until its output reaches [`OUTPUT_CHUNK`] and then stops; the session keeps the job and
//! reads no further commands (pipelined ones wait in the framer, whose size is bounded).
//! The shell sends the chunk — waiting for the socket, which is the back-pressure of a slow
//! client — and only then calls [`Session::resume`] for the next one. So the output a
//! session holds is one chunk plus at most one message's non-streamed items, whatever the
//! folder size and however many FETCHes are pipelined; compression and TLS sit below the
//! shell's writes and only ever see one chunk.
//!
//! A whole-message item (`BODY[]`, `BODY.PEEK[]`, `RFC822`) that is the only item needing
//! the content is not read into memory at all: [`Backend::open_content`] gives a reader
//! and the literal is copied from it in pieces, straight into the chunk being built (one
//! copy of each byte in memory, a piece at a time, instead of the body, its section copy
//! and the response's copies).

use std::collections::VecDeque;
use std::io::Read;

use super::backend::{Backend, FolderRef};
use super::session::{line, Action, Done, Out, Session};
use super::types::{FetchAttr, FetchModifiers, Tag};

/// A chunked FETCH yields once its output has reached this many bytes.
pub const OUTPUT_CHUNK: usize = 256 * 1024;

/// How much of a streamed literal is read from its reader at a time.
const READ_PIECE: usize = 64 * 1024;

/// The item streamed as a literal: its name and a space, its length, and the reader of it.
pub(super) type Literal = (Vec<u8>, u64, Box<dyn Read + Send>);

/// A FETCH in progress: what it fetches and which messages are left.
pub(super) struct FetchJob {
    /// `None` for a FETCH the session runs whole (NOTIFY's unsolicited ones).
    pub tag: Option<Tag>,
    pub uid: bool,
    pub attrs: Vec<FetchAttr>,
    pub modifiers: FetchModifiers,
    pub folder: FolderRef,
    pub plan: FetchPlan,
    /// Indices into the selected folder's messages, next first.
    pub left: VecDeque<usize>,
    /// The literal being copied out, when a chunk ended inside one.
    pub streaming: Option<Streaming>,
    /// A streamed literal broke off: the connection closes once the output so far is out.
    pub failed: Option<std::io::Error>,
}

/// What each message's response needs, worked out once per command.
#[derive(Debug, Clone, Copy)]
pub(super) struct FetchPlan {
    pub needs_content: bool,
    pub header_only: bool,
    pub needs_meta: bool,
    pub can_seen: bool,
    /// The index in `attrs` of the one whole-message item that is streamed from the
    /// backend's reader instead of being parsed from the content held in memory.
    pub streamed: Option<usize>,
}

impl FetchPlan {
    /// Which item, if any, may be streamed: a whole-message item that is the only item
    /// needing the message's content.
    pub fn streamed_item(
        attrs: &[FetchAttr],
        needs_content: impl Fn(&FetchAttr) -> bool,
    ) -> Option<usize> {
        let mut wanting = attrs.iter().enumerate().filter(|(_, a)| needs_content(a));
        match (wanting.next(), wanting.next()) {
            (Some((i, a)), None) if whole_message(a) => Some(i),
            _ => None,
        }
    }
}

/// `BODY[]`, `BODY.PEEK[]` and `RFC822`: the raw message, whole.
fn whole_message(a: &FetchAttr) -> bool {
    match a {
        FetchAttr::Rfc822 => true,
        FetchAttr::BodySection {
            section,
            partial: None,
            ..
        } => section.part.is_empty() && section.text.is_none(),
        _ => false,
    }
}

/// A literal copied from a reader: `left` bytes still to come, then `tail` (the rest of
/// the message's response).
pub(super) struct Streaming {
    reader: Box<dyn Read + Send>,
    left: u64,
    tail: Vec<u8>,
}

/// How far a step of a FETCH got.
pub(super) enum Progress {
    Finished,
    /// Output reached the chunk bound; more to come.
    More,
    /// A streamed literal could not be read to its announced length: the response is
    /// broken mid-literal and the connection must close.
    Broken(std::io::Error),
}

impl FetchJob {
    /// Writes the message responses of `items` (the one at `streamed` an empty
    /// placeholder for the literal `reader` gives) after `head`; returns the streaming
    /// state when there is a literal still to copy.
    pub fn write_response(
        out: &mut Out,
        head: &[u8],
        items: &[Vec<u8>],
        literal: Option<Literal>,
    ) -> Option<Streaming> {
        let at = literal
            .as_ref()
            .and_then(|_| items.iter().position(Vec::is_empty));
        out.extend_from_slice(head);
        let join = |to: &mut Vec<u8>, items: &[Vec<u8>], first: bool| {
            for (i, item) in items.iter().enumerate() {
                if i > 0 || !first {
                    to.push(b' ');
                }
                to.extend_from_slice(item);
            }
        };
        match (at, literal) {
            (Some(at), Some((prefix, len, reader))) => {
                join(out, &items[..at], true);
                if at > 0 {
                    out.push(b' ');
                }
                out.extend_from_slice(&prefix);
                out.extend_from_slice(format!("{{{len}}}\r\n").as_bytes());
                let mut tail = Vec::new();
                join(&mut tail, &items[at + 1..], false);
                tail.extend_from_slice(b")\r\n");
                Some(Streaming {
                    reader,
                    left: len,
                    tail,
                })
            }
            _ => {
                join(out, items, true);
                out.extend_from_slice(b")\r\n");
                None
            }
        }
    }
}

impl Streaming {
    /// Copies the literal into `out` until `out` reaches `limit` bytes or the literal
    /// ends (then the tail follows). True when the message's response is complete.
    fn pump(&mut self, out: &mut Out, limit: usize) -> std::io::Result<bool> {
        while self.left > 0 {
            let room = limit.saturating_sub(out.len());
            if room == 0 {
                return Ok(false);
            }
            let want = usize::try_from(self.left)
                .unwrap_or(usize::MAX)
                .min(room)
                .min(READ_PIECE);
            let start = out.len();
            out.resize(start + want, 0);
            let n = match self.reader.read(&mut out[start..]) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => 0,
                Err(e) => {
                    out.truncate(start);
                    return Err(e);
                }
            };
            out.truncate(start + n);
            if n == 0 && want > 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("message ended {} bytes early", self.left),
                ));
            }
            // As message::without_nul does for content held in memory.
            for b in out[start..].iter_mut().filter(|b| **b == 0) {
                *b = 0x80;
            }
            self.left -= n as u64;
        }
        out.extend_from_slice(&std::mem::take(&mut self.tail));
        Ok(true)
    }
}

impl Session {
    /// Runs `job` until its output reaches `limit` bytes or it is done.
    pub(super) fn fetch_more(
        &mut self,
        job: &mut FetchJob,
        backend: &dyn Backend,
        out: &mut Out,
        limit: usize,
    ) -> Result<Progress, Done> {
        loop {
            if let Some(s) = &mut job.streaming {
                match s.pump(out, limit) {
                    Ok(true) => job.streaming = None,
                    Ok(false) => return Ok(Progress::More),
                    Err(e) => return Ok(Progress::Broken(e)),
                }
            }
            if out.len() >= limit {
                return Ok(if job.left.is_empty() {
                    Progress::Finished
                } else {
                    Progress::More
                });
            }
            let Some(idx) = job.left.pop_front() else {
                return Ok(Progress::Finished);
            };
            job.streaming = self.fetch_message(job, idx, backend, out)?;
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

    /// A streamed literal broke off: nothing more can be said on this connection.
    pub(super) fn broken_literal(&mut self, out: Out, e: &std::io::Error) -> Vec<Action> {
        self.close_now();
        let mut out = out;
        // Not a response the client can parse (it is inside a literal), but it names the
        // cause for whoever reads a capture.
        line(&mut out, &format!("\r\n* BYE Message cannot be read: {e}"));
        vec![Action::Send(out), Action::Close]
    }
}

#[cfg(test)]
#[path = "fetch_stream_tests.rs"]
mod tests;
