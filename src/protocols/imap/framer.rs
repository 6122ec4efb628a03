//! Splits the client's byte stream into complete IMAP commands (RFC 9051 §2.2, §4.3 literals,
//! §7.5 continuation requests; RFC 7888 LITERAL+/LITERAL-; RFC 3516 literal8 `~{n}`).
//!
//! A command is one or more lines: a line that ends in a literal announcement `{n}`, `{n+}`,
//! `{n-}` or `~{n}` (outside a quoted string) is followed by exactly `n` opaque bytes and then
//! the rest of the command. The framer hands out the whole command, CRLFs and literal bytes
//! included, as one [`FrameEvent::Frame`] for [`super::parser::parse_command`].
//!
//! Implementation notes:
//! - Pure and incremental: bytes may arrive split anywhere; `push` stores them, `next` scans
//!   each byte once. "Need more input" is `None`, not an error.
//! - Line ends: CRLF, and a bare LF is accepted too (deliberate deviation from RFC 9051 §2.2,
//!   which requires CRLF: hand-typed telnet/netcat sessions and some scripts send LF; nothing
//!   is ambiguous about it). The frame keeps the bytes as they came; the parser accepts both.
//! - Bounds, checked before anything is stored: a line segment (outside literals) is at most
//!   `max_line` bytes, a literal at most `max_literal`, a whole command at most `max_command`
//!   (for APPEND, which carries messages: `max_command + max_literal`, so one message of
//!   APPENDLIMIT size fits; a MULTIAPPEND must fit in the same total).
//! - Synchronizing literals wait for the session: it answers the continuation request
//!   (`accept_literal`) or a tagged NO/BAD (`reject_literal`, after which the client sends
//!   nothing more of that command, RFC 9051 §7.5). While waiting, `next` returns `None` and
//!   pushed bytes stay buffered: the actor should stop reading while `buffered()` is large.
//! - Anything dropped (too long line, too large literal) is dropped without buffering; the
//!   framer keeps scanning the dropped bytes only to find where that command ends, so that a
//!   non-synchronizing literal inside it is not mistaken for new commands.

/// Size bounds for [`Framer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramerLimits {
    /// One line without its literals (default 64 KiB).
    pub max_line: usize,
    /// Largest literal accepted (APPENDLIMIT; default 64 MiB).
    pub max_literal: u64,
    /// A whole command with its literals, except APPEND (default 1 MiB).
    pub max_command: usize,
}

impl Default for FramerLimits {
    fn default() -> Self {
        FramerLimits {
            max_line: 64 * 1024,
            max_literal: 64 * 1024 * 1024,
            max_command: 1024 * 1024,
        }
    }
}

/// What the framer found; see the variants for the answer the session owes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameEvent {
    /// A complete command (or a bare continuation line such as IDLE's "DONE" or an
    /// AUTHENTICATE response): all its lines and literal bytes, CRLFs included.
    Frame(Vec<u8>),
    /// A synchronizing literal `{n}` / `~{n}` ended the current line: the framer waits. The
    /// session answers with `accept_literal()` + "+ Ready for literal data" or
    /// `reject_literal()` + a tagged NO/BAD (see [`Framer::literal_fits`]).
    LiteralAnnounced {
        tag: Option<String>,
        size: u64,
        /// The command name so far, uppercase ("APPEND", "UID FETCH"); empty if unknown.
        command: String,
    },
    /// A line over `max_line` (outside literals): its bytes up to the next line end are
    /// discarded without buffering, with the rest of the command. Answer `tag BAD`.
    LineTooLong { tag: Option<String> },
    /// A non-synchronizing literal too large (or `{n-}` over 4096, RFC 7888 §4), or a
    /// command over `max_command`: the client sends the bytes anyway; answer "* BYE" and
    /// close. (The framer skips those bytes if the session carries on regardless.)
    TooLarge { tag: Option<String>, size: u64 },
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
    /// A synchronizing literal was announced; the session decides.
    AwaitingDecision { size: u64, fits: bool },
    /// Dropping the rest of a command: first `skip` literal bytes, then lines.
    Discard { skip: u64 },
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

    /// Whether the synchronizing literal now awaiting a decision is within the limits (if
    /// not, answer `NO [TOOBIG]` and `reject_literal`; accepting it anyway yields
    /// [`FrameEvent::TooLarge`]). `false` when no literal awaits a decision.
    pub fn literal_fits(&self) -> bool {
        matches!(self.state, State::AwaitingDecision { fits: true, .. })
    }

    /// The session sent "+ …": read the literal. No effect unless a literal was announced.
    pub fn accept_literal(&mut self) {
        if let State::AwaitingDecision { size, fits } = self.state {
            if fits {
                self.state = State::Literal { remaining: size };
            } else {
                let (tag, _) = head(&self.cmd);
                self.queued = Some(FrameEvent::TooLarge { tag, size });
                self.start_discard(size);
            }
        }
    }

    /// The session refused the literal: the client drops the command (RFC 9051 §7.5).
    pub fn reject_literal(&mut self) {
        if let State::AwaitingDecision { .. } = self.state {
            self.reset();
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
                State::Discard { skip } => self.discard(skip)?,
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

    fn start_discard(&mut self, skip: u64) {
        self.cmd = Vec::new();
        self.line_start = 0;
        self.tail.clear();
        self.quote = Quote::default();
        self.state = State::Discard { skip };
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
                self.start_discard(0);
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
        let max_total = if command == "APPEND" || command.ends_with("REPLACE") {
            (self.limits.max_command as u64).saturating_add(self.limits.max_literal)
        } else {
            self.limits.max_command as u64
        };
        let mut fits = size <= self.limits.max_literal
            && (self.cmd.len() as u64).saturating_add(size) <= max_total;
        match kind {
            LiteralKind::Sync => {
                self.state = State::AwaitingDecision { size, fits };
                Some(FrameEvent::LiteralAnnounced { tag, size, command })
            }
            LiteralKind::Plus | LiteralKind::Minus => {
                if kind == LiteralKind::Minus && size > LITERAL_MINUS_MAX {
                    fits = false;
                }
                if fits {
                    self.state = State::Literal { remaining: size };
                    None
                } else {
                    self.start_discard(size);
                    Some(FrameEvent::TooLarge { tag, size })
                }
            }
        }
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

    fn discard(&mut self, skip: u64) -> Option<Option<FrameEvent>> {
        let avail = self.input.len() - self.pos;
        if avail == 0 {
            return None;
        }
        if skip > 0 {
            let n = usize::try_from(skip).map_or(avail, |s| s.min(avail));
            self.pos += n;
            self.state = State::Discard {
                skip: skip - n as u64,
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
                        self.state = State::Discard { skip: size };
                    }
                    // A synchronizing literal in a dropped command: the client waits for a
                    // continuation that never comes, gets the error, and drops the command.
                    _ => self.reset(),
                }
                return Some(None);
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
