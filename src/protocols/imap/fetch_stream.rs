//! Bounded FETCH output (issue 10): a FETCH over many or big messages is answered in
//! chunks the shell writes one at a time, never as one buffer the size of the folder.
//!
//! `FETCH 1:* BODY[]` on a 1 GB folder used to build a gigabyte of responses before the
//! first byte went out. Now the command runs as a [`FetchJob`]: it writes message responses
//! until its output reaches [`OUTPUT_CHUNK`] and then stops; the session keeps the job and
//! reads no further commands (pipelined ones wait in the framer, whose size is bounded).
//! The shell sends the chunk — waiting for the socket, which is the back-pressure of a slow
//! client — and only then calls [`Session::resume`](super::session::Session::resume) for the next one. So the output a
//! session holds is one chunk plus at most one message's non-streamed items, whatever the
//! folder size and however many FETCHes are pipelined; compression and TLS sit below the
//! shell's writes and only ever see one chunk.
//!
//! A whole-message item (`BODY[]`, `BODY.PEEK[]`, `RFC822`) that is the only item needing
//! the content is not read into memory at all: [`Backend::open_content`](super::backend::Backend::open_content) gives a reader
//! and the literal is copied from it in pieces, straight into the chunk being built (one
//! copy of each byte in memory, a piece at a time, instead of the body, its section copy
//! and the response's copies).

use std::collections::VecDeque;
use std::io::Read;

use super::backend::FolderRef;
use super::response::Out;
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
    /// Whether each message's index record is read (content, sizes and dates, EMAILID):
    /// the backend is then told of the next messages a batch at a time
    /// (`Backend::will_read`).
    pub reads_records: bool,
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
    pub(super) fn pump(&mut self, out: &mut Out, limit: usize) -> std::io::Result<bool> {
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

#[cfg(test)]
#[path = "fetch_stream_tests.rs"]
mod tests;
