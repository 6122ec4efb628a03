//! DATA content (RFC 5321 §4.1.1.4, §4.5.2) and the size-capped message buffer.
//!
//! ```text
//! content     = *line  CRLF "." CRLF     ; the CRLF before "." ends the last line
//! a line beginning with "." has that "." removed (dot-unstuffing)
//! ```
//!
//! Only a real CRLF ends a line. A bare LF is stored as CRLF (so the message has uniform line
//! ends) but does not start a line: `LF . CRLF`, `CRLF . LF` and `LF . LF` are content, not
//! the end of data — the ambiguity SMTP smuggling exploits. A bare CR is stored as is.

/// Where the decoder is, relative to line structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line (after CRLF, or at the start of the content).
    LineStart,
    /// Inside a line.
    Mid,
    /// Saw CR inside a line.
    Cr,
    /// Saw "." at the start of a line (not yet stored: unstuffed or part of the terminator).
    Dot,
    /// Saw "." CR at the start of a line.
    DotCr,
}

/// Streaming decoder for DATA content; feed it bytes as they arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DotDecoder {
    state: State,
}

impl DotDecoder {
    pub(crate) fn new() -> DotDecoder {
        DotDecoder {
            state: State::LineStart,
        }
    }

    /// Decode `input` into `out`. Returns `Some(n)` when the terminator ends at `input[n - 1]`
    /// (the rest of `input` is not content), `None` when all of `input` was content.
    pub(crate) fn feed(&mut self, input: &[u8], out: &mut BodyBuf) -> Option<usize> {
        let mut i = 0;
        while i < input.len() {
            if self.state == State::Mid {
                // Fast path: copy up to the next CR or LF in one go.
                let run = input[i..]
                    .iter()
                    .position(|&b| b == b'\r' || b == b'\n')
                    .unwrap_or(input.len() - i);
                out.push(&input[i..i + run]);
                i += run;
                if i == input.len() {
                    break;
                }
            }
            let b = input[i];
            i += 1;
            match self.state {
                State::LineStart if b == b'.' => self.state = State::Dot,
                State::LineStart | State::Mid => self.byte(b, out),
                State::Cr if b == b'\n' => {
                    out.push(b"\r\n");
                    self.state = State::LineStart;
                }
                State::Cr => {
                    out.push(b"\r");
                    self.byte(b, out);
                }
                State::Dot if b == b'\r' => self.state = State::DotCr,
                // The leading dot is dropped (unstuffed).
                State::Dot => self.byte(b, out),
                State::DotCr if b == b'\n' => return Some(i),
                State::DotCr => {
                    out.push(b"\r");
                    self.byte(b, out);
                }
            }
        }
        None
    }

    /// A byte inside a line.
    fn byte(&mut self, b: u8, out: &mut BodyBuf) {
        match b {
            b'\r' => self.state = State::Cr,
            b'\n' => {
                out.push(b"\r\n");
                self.state = State::Mid;
            }
            _ => {
                out.push(&[b]);
                self.state = State::Mid;
            }
        }
    }
}

/// The message being received: never holds more than `limit` bytes. Once content goes over
/// the limit the buffer is freed and the rest is only counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BodyBuf {
    buf: Vec<u8>,
    limit: usize,
    overflow: bool,
}

impl BodyBuf {
    pub(crate) fn new(limit: u64) -> BodyBuf {
        BodyBuf {
            buf: Vec::new(),
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            overflow: false,
        }
    }

    pub(crate) fn push(&mut self, data: &[u8]) {
        if self.overflow || data.is_empty() {
            return;
        }
        let needed = self.buf.len().saturating_add(data.len());
        if needed > self.limit {
            self.overflow = true;
            self.buf = Vec::new();
            return;
        }
        if needed > self.buf.capacity() {
            // Grow geometrically, but never past the limit.
            let target = needed
                .max(self.buf.capacity().saturating_mul(2))
                .max(4096)
                .min(self.limit);
            self.buf.reserve_exact(target - self.buf.len());
        }
        self.buf.extend_from_slice(data);
    }

    pub(crate) fn overflow(&self) -> bool {
        self.overflow
    }

    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    pub(crate) fn into_inner(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decode `input` fed in one piece and split at every point; all must agree.
    fn decode(input: &[u8]) -> (Vec<u8>, Option<usize>) {
        let whole = {
            let mut d = DotDecoder::new();
            let mut out = BodyBuf::new(1 << 20);
            let end = d.feed(input, &mut out);
            (out.into_inner(), end)
        };
        for split in 0..=input.len() {
            let mut d = DotDecoder::new();
            let mut out = BodyBuf::new(1 << 20);
            let end = match d.feed(&input[..split], &mut out) {
                Some(n) => Some(n),
                None => d.feed(&input[split..], &mut out).map(|n| n + split),
            };
            assert_eq!((out.into_inner(), end), whole, "split at {split}");
        }
        whole
    }

    #[test]
    fn table() {
        let cases: &[(&[u8], &[u8], Option<usize>)] = &[
            (b".\r\n", b"", Some(3)),
            (b"a\r\n.\r\nrest", b"a\r\n", Some(6)),
            (b"..x\r\n.\r\n", b".x\r\n", Some(8)),
            (b"a\r\n..\r\n.\r\n", b"a\r\n.\r\n", Some(10)),
            (b".x\r\n.\r\n", b"x\r\n", Some(7)),
            // bare LF normalised; never a line start
            (b"a\nb\r\n.\r\n", b"a\r\nb\r\n", Some(8)),
            (b"a\n.\r\nb\r\n.\r\n", b"a\r\n.\r\nb\r\n", Some(11)),
            (b"a\r\n.\nb\r\n.\r\n", b"a\r\n\r\nb\r\n", Some(11)),
            (b"a\n.\nb\r\n.\r\n", b"a\r\n.\r\nb\r\n", Some(10)),
            // bare CR kept
            (b"a\rb\r\n.\r\n", b"a\rb\r\n", Some(8)),
            (b"a\r\r\n.\r\n", b"a\r\r\n", Some(7)),
            (b"a\r\n.\rx\r\n.\r\n", b"a\r\n\rx\r\n", Some(11)),
            (b"a\r\n.\r.\r\n.\r\n", b"a\r\n\r.\r\n", Some(11)),
            (b"no end\r\n", b"no end\r\n", None),
            (b"a\r\n.", b"a\r\n", None),
        ];
        for (input, body, end) in cases {
            let (got, got_end) = decode(input);
            assert_eq!(
                (String::from_utf8_lossy(&got), got_end),
                (String::from_utf8_lossy(body), *end),
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn body_buf_caps_allocation() {
        let mut b = BodyBuf::new(10_000);
        for _ in 0..100 {
            b.push(&[b'x'; 99]);
            assert!(b.capacity() <= 10_000);
        }
        assert!(!b.overflow());
        b.push(&[b'x'; 101]);
        assert!(b.overflow());
        assert_eq!(b.capacity(), 0);
        b.push(b"more");
        assert!(b.into_inner().is_empty());
    }
}
