//! Splits the client's byte stream into lines (RFC 1939 §3: commands are lines ending in
//! CRLF; a bare LF is accepted too, see the module notes).
//!
//! Bytes may arrive split anywhere; `push` stores them and `next` hands out complete lines.
//! "Need more input" is `None`, not an error. A line longer than the bound is never
//! buffered whole: once the buffer passes the bound without a line end, the bytes are
//! dropped until the next LF, and that line is reported once as [`LineEvent::TooLong`].

/// What the framer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineEvent {
    /// A complete line, without its CRLF (or LF).
    Line(Vec<u8>),
    /// A line longer than the bound (CRLF included) was dropped.
    TooLong,
}

#[derive(Debug)]
pub struct LineFramer {
    buf: Vec<u8>,
    /// Bytes of `buf` known to hold no LF.
    scanned: usize,
    /// Longest line accepted, CRLF included.
    max: usize,
    /// Dropping the rest of a too-long line.
    discarding: bool,
}

impl LineFramer {
    pub fn new(max: usize) -> LineFramer {
        LineFramer {
            buf: Vec::new(),
            scanned: 0,
            max,
            discarding: false,
        }
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Input bytes held, not yet handed out.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Forgets everything buffered (RFC 2595 §4: input sent before the TLS handshake must
    /// not be used after it).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.scanned = 0;
        self.discarding = false;
    }

    /// The next line, or `None` until more input comes.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<LineEvent> {
        match self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                let end = self.scanned + i;
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                self.scanned = 0;
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if std::mem::take(&mut self.discarding) || line.len() + 2 > self.max {
                    return Some(LineEvent::TooLong);
                }
                Some(LineEvent::Line(line))
            }
            None => {
                // One byte of slack for the CR of a CRLF split across reads.
                if self.buf.len() > self.max {
                    self.discarding = true;
                    self.buf.clear();
                }
                self.scanned = self.buf.len();
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(f: &mut LineFramer) -> Vec<LineEvent> {
        std::iter::from_fn(|| f.next()).collect()
    }

    /// Feeds `input` whole and split at every byte; both must give `expected`.
    fn check(max: usize, input: &[u8], expected: &[LineEvent]) {
        let mut f = LineFramer::new(max);
        f.push(input);
        assert_eq!(all(&mut f), expected, "whole: {input:?}");
        for split in 0..=input.len() {
            let mut f = LineFramer::new(max);
            f.push(&input[..split]);
            let mut got = all(&mut f);
            f.push(&input[split..]);
            got.extend(all(&mut f));
            assert_eq!(got, expected, "split at {split}: {input:?}");
        }
        let mut f = LineFramer::new(max);
        let mut got = Vec::new();
        for b in input {
            f.push(&[*b]);
            got.extend(all(&mut f));
        }
        assert_eq!(got, expected, "byte by byte: {input:?}");
    }

    fn line(s: &str) -> LineEvent {
        LineEvent::Line(s.as_bytes().to_vec())
    }

    #[test]
    fn lines_split_anywhere() {
        let cases: &[(&[u8], Vec<LineEvent>)] = &[
            (b"STAT\r\n", vec![line("STAT")]),
            (b"STAT\n", vec![line("STAT")]),
            (
                b"USER a\r\nPASS b c\r\nSTAT",
                vec![line("USER a"), line("PASS b c")],
            ),
            (b"\r\n\n", vec![line(""), line("")]),
            (b"A\rB\r\n", vec![line("A\rB")]),
            (b"123456789\r\nOK\r\n", vec![line("123456789"), line("OK")]),
            (
                b"1234567890\r\nOK\r\n",
                vec![LineEvent::TooLong, line("OK")],
            ),
            (
                b"12345678901234567890123\r\nOK\r\n",
                vec![LineEvent::TooLong, line("OK")],
            ),
        ];
        for (input, expected) in cases {
            check(11, input, expected);
        }
    }

    #[test]
    fn a_long_line_is_never_buffered_whole() {
        let mut f = LineFramer::new(100);
        for _ in 0..1000 {
            f.push(&[b'x'; 64]);
            assert_eq!(f.next(), None);
            assert!(f.buffered() <= 164);
        }
        f.push(b"\r\nNOOP\r\n");
        assert_eq!(f.next(), Some(LineEvent::TooLong));
        assert_eq!(f.next(), Some(line("NOOP")));
    }

    #[test]
    fn clear_drops_pipelined_input() {
        let mut f = LineFramer::new(100);
        f.push(b"STLS\r\nUSER evil\r\n");
        assert_eq!(f.next(), Some(line("STLS")));
        f.clear();
        assert_eq!(f.next(), None);
    }
}
