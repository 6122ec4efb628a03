//! Splits the client's byte stream into complete IMAP commands (RFC 9051 §2.2, §4.3 literals,
//! §7.5 continuation requests; RFC 7888 LITERAL+/LITERAL-; RFC 3516 literal8 `~{n}`), and
//! streams APPEND's message literals out in pieces instead of holding them.
//!
//! A command is one or more lines: a line that ends in a literal announcement `{n}`, `{n+}`,
//! `{n-}` or `~{n}` (outside a quoted string) is followed by exactly `n` opaque bytes and then
//! the rest of the command. The framer hands out the whole command, CRLFs and literal bytes
//! included, as one [`FrameEvent::Frame`] for [`super::parser::parse_command`].
//!
//! Message literals (RFC 9051 §6.3.12, RFC 3502 MULTIAPPEND) are different: they may be tens
//! of megabytes, so they are never buffered. Every literal of an APPEND, REPLACE or UID
//! REPLACE (RFC 8508) command except a mailbox name given as a literal is a message literal
//! (CATENATE's TEXT parts, RFC 4469, included: they are message text); for each one,
//! of any kind, the framer reports [`FrameEvent::MessageLiteral`] and waits for the session
//! to decide. Accepted, its bytes come out as [`FrameEvent::LiteralData`] pieces (as large as
//! the input that arrived) followed by [`FrameEvent::LiteralEnd`], and the session writes
//! them to the backend's staging area. In the command's frame the literal stands as an empty
//! one (`{0}` or `~{0}`), so the parser sees the APPEND's grammar unchanged and the session
//! pairs its messages with what it staged, in order.
//!
//! Implementation notes:
//! - Pure and incremental: bytes may arrive split anywhere; `push` stores them, `next` scans
//!   each byte once. "Need more input" is `None`, not an error.
//! - Line ends: CRLF, and a bare LF is accepted too (deliberate deviation from RFC 9051 §2.2,
//!   which requires CRLF: hand-typed telnet/netcat sessions and some scripts send LF; nothing
//!   is ambiguous about it). The frame keeps the bytes as they came; the parser accepts both.
//! - Bounds, checked before anything is stored: a line segment (outside literals) is at most
//!   `max_line` bytes, a literal other than a message at most `max_literal`, a whole command
//!   (message literals not counted, as they are not held) at most `max_command`. The session
//!   sets the limits for its state: small before login, so that an unauthenticated client
//!   cannot make the server hold more than a few kilobytes.
//! - Every literal whose bytes will not be read (synchronizing) is decided by the session:
//!   it answers the continuation request (`accept_literal`) or a tagged NO/BAD
//!   (`reject_literal`, after which the client sends nothing more of that command, RFC 9051
//!   §7.5). A message literal is decided by the session whatever its kind: a refused
//!   non-synchronizing one is read and discarded, and [`FrameEvent::Dropped`] says when the
//!   command has ended so that the tagged answer can follow it. While a decision is pending,
//!   `next` returns `None` and pushed bytes stay buffered.
//! - A non-synchronizing literal other than a message that is over the limits (or `{n-}` over
//!   4096, RFC 7888 §4) is refused by the framer itself: [`FrameEvent::TooLarge`], then the
//!   discard, then [`FrameEvent::Dropped`]; the connection lives on.
//! - Anything dropped (too long line, refused literal) is dropped without buffering; the
//!   framer keeps scanning the dropped bytes only to find where that command ends, so that a
//!   non-synchronizing literal inside it is not mistaken for new commands.

/// Size bounds for [`Framer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramerLimits {
    /// One line without its literals (default 64 KiB).
    pub max_line: usize,
    /// Largest literal other than an APPEND message (default 1 MiB).
    pub max_literal: u64,
    /// A whole command with its literals, APPEND's messages not counted (default 2 MiB).
    pub max_command: usize,
}

impl Default for FramerLimits {
    fn default() -> Self {
        FramerLimits {
            max_line: 64 * 1024,
            max_literal: 1024 * 1024,
            max_command: 2 * 1024 * 1024,
        }
    }
}

/// What the framer found; see the variants for the answer the session owes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameEvent {
    /// A complete command (or a bare continuation line such as IDLE's "DONE" or an
    /// AUTHENTICATE response): all its lines and literal bytes, CRLFs included; streamed
    /// message literals appear as empty literals.
    Frame(Vec<u8>),
    /// A synchronizing literal `{n}` / `~{n}` (not an APPEND message) ended the current line:
    /// the framer waits. The session answers with `accept_literal()` + "+ Ready for literal
    /// data" or `reject_literal()` + a tagged NO/BAD (see [`Framer::literal_fits`]).
    LiteralAnnounced {
        tag: Option<String>,
        size: u64,
        /// The command name so far, uppercase ("LOGIN", "UID SEARCH"); empty if unknown.
        command: String,
    },
    /// An APPEND message literal of any kind was announced: the framer waits. The session
    /// answers `accept_literal()` (and "+ Ready…" when `synchronizing`) to receive it as
    /// [`FrameEvent::LiteralData`], or `reject_literal()` (see there).
    MessageLiteral {
        tag: Option<String>,
        size: u64,
        synchronizing: bool,
        /// `~{n}` (RFC 3516): NUL allowed.
        binary: bool,
    },
    /// The next piece of an accepted message literal (never empty).
    LiteralData(Vec<u8>),
    /// The message literal's last byte has come.
    LiteralEnd,
    /// A line over `max_line` (outside literals): its bytes up to the next line end are
    /// discarded without buffering, with the rest of the command. Answer `tag BAD` now.
    LineTooLong { tag: Option<String> },
    /// A non-synchronizing literal too large (or `{n-}` over 4096, RFC 7888 §4), or a command
    /// over `max_command`: the client sends the bytes anyway; the framer discards them and
    /// the rest of the command, then reports [`FrameEvent::Dropped`].
    TooLarge { tag: Option<String>, size: u64 },
    /// A command refused while the client was still sending it (after `TooLarge`, or a
    /// rejected message literal) has ended: its tagged answer is due now.
    Dropped { tag: Option<String> },
}

/// LITERAL- (RFC 7888 §4): non-synchronizing literals of at most 4096 octets.
const LITERAL_MINUS_MAX: u64 = 4096;
/// Bytes kept from a dropped line to recognise a literal announcement at its end.
const TAIL: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a line of the command in `cmd`.
    Line,
    /// Copying literal bytes into `cmd`.
    Literal { remaining: u64 },
    /// A literal was announced; the session decides.
    AwaitingDecision {
        size: u64,
        fits: bool,
        message: bool,
        sync: bool,
    },
    /// Handing out an accepted message literal.
    Stream { remaining: u64 },
    /// Dropping the rest of a command: first `skip` literal bytes, then lines; `notify`:
    /// report `Dropped` at its end.
    Discard { skip: u64, notify: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LiteralKind {
    Sync,
    Plus,
    Minus,
}

/// Quoted-string state of the line being scanned.
#[derive(Debug, Clone, Copy, Default)]
struct Quote {
    inside: bool,
    escaped: bool,
}

impl Quote {
    fn step(&mut self, b: u8) {
        if self.inside {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.inside = false;
            }
        } else if b == b'"' {
            self.inside = true;
        }
    }
}

/// The incremental command framer; see the module notes.
#[derive(Debug)]
pub struct Framer {
    limits: FramerLimits,
    /// Bytes pushed but not yet scanned (from `pos`).
    input: Vec<u8>,
    pos: usize,
    /// The command so far.
    cmd: Vec<u8>,
    /// Where the current line starts in `cmd`.
    line_start: usize,
    quote: Quote,
    /// While discarding: the last bytes of the dropped line.
    tail: Vec<u8>,
    /// The tag of the command being discarded, for `Dropped`.
    dropped_tag: Option<String>,
    /// An event to hand out before scanning on (TooLarge after an unwise accept).
    queued: Option<FrameEvent>,
    state: State,
}

impl Framer {
    pub fn new(limits: FramerLimits) -> Framer {
        Framer {
            limits,
            input: Vec::new(),
            pos: 0,
            cmd: Vec::new(),
            line_start: 0,
            quote: Quote::default(),
            tail: Vec::new(),
            dropped_tag: None,
            queued: None,
            state: State::Line,
        }
    }

    /// New limits, from the next check on (e.g. after authentication).
    pub fn set_limits(&mut self, limits: FramerLimits) {
        self.limits = limits;
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, input: &[u8]) {
        if self.pos > 0 {
            self.input.drain(..self.pos);
            self.pos = 0;
        }
        self.input.extend_from_slice(input);
    }

    /// Takes the input not scanned yet, between commands: after COMPRESS it is compressed
    /// data for the shell to inflate (RFC 4978).
    pub fn take_unscanned(&mut self) -> Vec<u8> {
        let rest = self.input.split_off(self.pos);
        self.input.clear();
        self.pos = 0;
        rest
    }

    /// Bytes held: unscanned input plus the command being assembled.
    pub fn buffered(&self) -> usize {
        self.input.len() - self.pos + self.cmd.len()
    }

    /// While a message literal streams: its bytes not yet pushed (the shell reads in bigger
    /// pieces then). `None` otherwise.
    pub fn streaming(&self) -> Option<u64> {
        match self.state {
            State::Stream { remaining } => {
                Some(remaining.saturating_sub((self.input.len() - self.pos) as u64))
            }
            _ => None,
        }
    }

    /// Whether literal bytes are owed: a literal is being read, streamed or skipped. The
    /// shell gives the whole literal one deadline (`[imap] literal_timeout`).
    pub fn in_literal(&self) -> bool {
        match self.state {
            State::Literal { .. } | State::Stream { .. } => true,
            State::Discard { skip, .. } => skip > 0,
            State::Line | State::AwaitingDecision { .. } => false,
        }
    }

    /// Whether a command has begun and is not yet whole: bytes of it have arrived (or
    /// literal bytes are owed). The shell gives an authenticated client's command one
    /// deadline from its first byte, as it gives a literal.
    pub fn mid_command(&self) -> bool {
        !self.cmd.is_empty() || self.pos < self.input.len() || self.in_literal()
    }

    /// Whether the synchronizing literal now awaiting a decision is within the limits (if
    /// not, answer `NO [TOOBIG]` and `reject_literal`; accepting it anyway yields
    /// [`FrameEvent::TooLarge`]). Message literals always "fit": the session judges their
    /// size. `false` when no literal awaits a decision.
    pub fn literal_fits(&self) -> bool {
        matches!(self.state, State::AwaitingDecision { fits: true, .. })
    }

    /// The session accepted the literal (and sent "+ …" if it was synchronizing). No effect
    /// unless a literal was announced.
    pub fn accept_literal(&mut self) {
        if let State::AwaitingDecision {
            size,
            fits,
            message,
            ..
        } = self.state
        {
            if message {
                self.state = State::Stream { remaining: size };
            } else if fits {
                self.state = State::Literal { remaining: size };
            } else {
                let (tag, _) = head(&self.cmd);
                self.queued = Some(FrameEvent::TooLarge {
                    tag: tag.clone(),
                    size,
                });
                self.start_discard(size, tag.map(Some));
            }
        }
    }

    /// The session refused the literal. Synchronizing: the client drops the command (RFC
    /// 9051 §7.5) and the session answers at once. A non-synchronizing message literal is
    /// on its way regardless: it and the rest of its command are discarded, then
    /// [`FrameEvent::Dropped`] comes for the session's answer.
    pub fn reject_literal(&mut self) {
        if let State::AwaitingDecision { size, sync, .. } = self.state {
            if sync {
                self.reset();
            } else {
                let (tag, _) = head(&self.cmd);
                self.start_discard(size, Some(tag));
            }
        }
    }

    /// The next event, or `None` when more input is needed (or a literal awaits a decision).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<FrameEvent> {
        if let Some(ev) = self.queued.take() {
            return Some(ev);
        }
        loop {
            if let Some(ev) = match self.state {
                State::AwaitingDecision { .. } => return None,
                State::Line => self.scan_line()?,
                State::Literal { remaining } => self.copy_literal(remaining)?,
                State::Stream { remaining } => self.stream_literal(remaining)?,
                State::Discard { skip, notify } => self.discard(skip, notify)?,
            } {
                return Some(ev);
            }
        }
    }

    fn reset(&mut self) {
        self.cmd = Vec::new();
        self.line_start = 0;
        self.quote = Quote::default();
        self.state = State::Line;
    }

    /// Drops the command: `skip` literal bytes first. `notify`: the tag to report in
    /// `Dropped` when the command ends (`None`: report nothing).
    fn start_discard(&mut self, skip: u64, notify: Option<Option<String>>) {
        self.cmd = Vec::new();
        self.line_start = 0;
        self.tail.clear();
        self.quote = Quote::default();
        self.state = State::Discard {
            skip,
            notify: notify.is_some(),
        };
        self.dropped_tag = notify.flatten();
    }

    /// `None`: input exhausted. `Some(None)`: state changed, go on. `Some(Some(ev))`: event.
    fn scan_line(&mut self) -> Option<Option<FrameEvent>> {
        while self.pos < self.input.len() {
            let b = self.input[self.pos];
            self.pos += 1;
            self.cmd.push(b);
            if b == b'\n' {
                return Some(self.line_end());
            }
            if self.cmd.len() - self.line_start > self.limits.max_line {
                let (tag, _) = head(&self.cmd);
                let quote = self.quote;
                self.start_discard(0, None);
                self.quote = quote;
                self.quote.step(b);
                return Some(Some(FrameEvent::LineTooLong { tag }));
            }
            self.quote.step(b);
        }
        None
    }

    fn line_end(&mut self) -> Option<FrameEvent> {
        let line = strip_eol(&self.cmd[self.line_start..]);
        let marker = if self.quote.inside {
            None
        } else {
            literal_marker(line)
        };
        self.quote = Quote::default();
        let Some((size, kind)) = marker else {
            let frame = std::mem::take(&mut self.cmd);
            self.reset();
            return Some(FrameEvent::Frame(frame));
        };
        let (tag, command) = head(&self.cmd);
        let sync = kind == LiteralKind::Sync;
        let message_command = matches!(command.as_str(), "APPEND" | "REPLACE" | "UID REPLACE");
        if message_command && !self.mailbox_literal(&command) {
            if self.cmd.len() > self.limits.max_command {
                // Thousands of messages in one MULTIAPPEND: the lines alone are too many.
                return Some(self.too_large(tag, size, sync));
            }
            self.state = State::AwaitingDecision {
                size,
                fits: true,
                message: true,
                sync,
            };
            let binary = self.elide_literal();
            return Some(FrameEvent::MessageLiteral {
                tag,
                size,
                synchronizing: sync,
                binary,
            });
        }
        let fits = size <= self.limits.max_literal
            && (self.cmd.len() as u64).saturating_add(size) <= self.limits.max_command as u64
            && !(kind == LiteralKind::Minus && size > LITERAL_MINUS_MAX);
        if sync {
            self.state = State::AwaitingDecision {
                size,
                fits,
                message: false,
                sync,
            };
            Some(FrameEvent::LiteralAnnounced { tag, size, command })
        } else if fits {
            self.state = State::Literal { remaining: size };
            None
        } else {
            Some(self.too_large(tag, size, sync))
        }
    }

    /// Refuses the literal just announced: a synchronizing one is simply never read.
    fn too_large(&mut self, tag: Option<String>, size: u64, sync: bool) -> FrameEvent {
        if sync {
            self.queued = Some(FrameEvent::Dropped { tag: tag.clone() });
            self.reset();
        } else {
            self.start_discard(size, Some(tag.clone()));
        }
        FrameEvent::TooLarge { tag, size }
    }

    /// The literal ending the current (first) line is the mailbox name of APPEND (nothing
    /// stands between "APPEND" and it) or of REPLACE (only the message number does).
    fn mailbox_literal(&self, command: &str) -> bool {
        if self.line_start != 0 {
            return false;
        }
        let line = strip_eol(&self.cmd);
        let Some(open) = line.iter().rposition(|&b| b == b'{') else {
            return false;
        };
        line[..open]
            .split(|&b| b == b' ')
            .filter(|w| !w.is_empty())
            .count()
            == command.split(' ').count() + 1 + usize::from(command.ends_with("REPLACE"))
    }

    /// Replaces the message literal's announcement at the end of `cmd` by an empty literal of
    /// the same type: its bytes go out as `LiteralData`, not into the frame. Returns whether
    /// it is a literal8.
    fn elide_literal(&mut self) -> bool {
        let line = strip_eol(&self.cmd[self.line_start..]);
        let Some(open) = line.iter().rposition(|&b| b == b'{') else {
            return false;
        };
        let binary = open > 0 && line[open - 1] == b'~';
        let cut = self.line_start + open - usize::from(binary);
        self.cmd.truncate(cut);
        self.cmd
            .extend_from_slice(if binary { b"~{0}\r\n" } else { b"{0}\r\n" });
        binary
    }

    fn copy_literal(&mut self, remaining: u64) -> Option<Option<FrameEvent>> {
        if remaining == 0 {
            self.line_start = self.cmd.len();
            self.state = State::Line;
            return Some(None);
        }
        let avail = self.input.len() - self.pos;
        if avail == 0 {
            return None;
        }
        let n = usize::try_from(remaining).map_or(avail, |r| r.min(avail));
        self.cmd
            .extend_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        self.state = State::Literal {
            remaining: remaining - n as u64,
        };
        Some(None)
    }

    fn stream_literal(&mut self, remaining: u64) -> Option<Option<FrameEvent>> {
        if remaining == 0 {
            self.line_start = self.cmd.len();
            self.state = State::Line;
            return Some(Some(FrameEvent::LiteralEnd));
        }
        let avail = self.input.len() - self.pos;
        if avail == 0 {
            return None;
        }
        let n = usize::try_from(remaining).map_or(avail, |r| r.min(avail));
        let piece = if self.pos == 0 && n == self.input.len() {
            // The usual case while streaming: the whole read is literal; no copy.
            std::mem::take(&mut self.input)
        } else {
            self.input[self.pos..self.pos + n].to_vec()
        };
        self.pos += n;
        if self.input.is_empty() {
            self.pos = 0;
        }
        self.state = State::Stream {
            remaining: remaining - n as u64,
        };
        Some(Some(FrameEvent::LiteralData(piece)))
    }

    fn discard(&mut self, skip: u64, notify: bool) -> Option<Option<FrameEvent>> {
        let avail = self.input.len() - self.pos;
        if avail == 0 {
            return None;
        }
        if skip > 0 {
            let n = usize::try_from(skip).map_or(avail, |s| s.min(avail));
            self.pos += n;
            self.state = State::Discard {
                skip: skip - n as u64,
                notify,
            };
            return Some(None);
        }
        while self.pos < self.input.len() {
            let b = self.input[self.pos];
            self.pos += 1;
            if b == b'\n' {
                let marker = if self.quote.inside {
                    None
                } else {
                    literal_marker(strip_eol(&self.tail))
                };
                self.tail.clear();
                self.quote = Quote::default();
                match marker {
                    Some((size, LiteralKind::Plus | LiteralKind::Minus)) => {
                        self.state = State::Discard { skip: size, notify };
                        return Some(None);
                    }
                    // A synchronizing literal in a dropped command: the client waits for a
                    // continuation that never comes, gets the error, and drops the command.
                    _ => {
                        self.reset();
                        let tag = self.dropped_tag.take();
                        return Some(notify.then_some(FrameEvent::Dropped { tag }));
                    }
                }
            }
            if self.tail.len() >= TAIL {
                self.tail.remove(0);
            }
            self.tail.push(b);
            self.quote.step(b);
        }
        None
    }
}

fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `literal = "{" number64 ["+"] "}" CRLF`, `literal8 = "~{" number64 "}"`, LITERAL-'s
/// `{n-}`: the announcement at the end of `line` (without its line end), if any. A size too
/// big for u64 is `u64::MAX` (too large for any limit).
fn literal_marker(line: &[u8]) -> Option<(u64, LiteralKind)> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let mut digits = &inner[open + 1..];
    let kind = match digits.last() {
        Some(b'+') => LiteralKind::Plus,
        Some(b'-') => LiteralKind::Minus,
        _ => LiteralKind::Sync,
    };
    if kind != LiteralKind::Sync {
        digits = &digits[..digits.len() - 1];
    }
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // A "~" before "{" (literal8) changes nothing here: the bytes are opaque either way.
    let size = digits.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    });
    Some((size.unwrap_or(u64::MAX), kind))
}

/// The tag and uppercase command name at the start of a command, as far as readable.
fn head(cmd: &[u8]) -> (Option<String>, String) {
    let mut words = cmd
        .split(|&b| b == b' ' || b == b'\r' || b == b'\n')
        .take(3);
    let tag = words
        .next()
        .filter(|t| !t.is_empty() && t.iter().all(|&b| is_tag_char(b)))
        .and_then(|t| String::from_utf8(t.to_vec()).ok());
    let word = |w: Option<&[u8]>| -> String {
        w.filter(|w| w.iter().all(u8::is_ascii_alphanumeric))
            .map(|w| String::from_utf8_lossy(w).to_ascii_uppercase())
            .unwrap_or_default()
    };
    let mut command = word(words.next());
    if command == "UID" {
        let sub = word(words.next());
        if !sub.is_empty() {
            command = format!("UID {sub}");
        }
    }
    (tag, command)
}

/// `tag = 1*<any ASTRING-CHAR except "+">`.
pub(crate) fn is_tag_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !b"(){%*\"\\+".contains(&b)
}

#[cfg(test)]
mod tests;
