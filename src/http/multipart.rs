//! `multipart/form-data` (RFC 7578, the body syntax of RFC 2046 §5.1.1) read as a stream:
//! a sans-IO parser fed the body in whatever pieces the connection gives, handing out each
//! part's head and its bytes as they come, so a file upload never has to sit in memory.
//! Used by the CSRF check (`http::csrf`, which reads only the first parts for the token)
//! and by the webmail's compose form (its attachments written to disk as they arrive).
//!
//! Implementation notes:
//!
//! - The parser keeps at most one delimiter's length of body bytes (a possible delimiter
//!   cut by a piece boundary) and one part head ([`MAX_HEAD`]); anything else is handed out.
//! - The body is treated as if it started with CRLF, so the first delimiter (`--boundary`,
//!   RFC 2046 §5.1.1: it may open the body) is found like every later one (`CRLF--boundary`).
//!   The preamble and epilogue are ignored; transport padding after a delimiter is skipped.
//! - Of a part's head only `Content-Disposition` (`name`, `filename`) and `Content-Type`
//!   are read. Browsers send names and file names as UTF-8 with `"` as `%22` (RFC 7578
//!   §4.2 leaves the encoding to them); backslash escapes of quoted strings are undone.

/// The largest part head accepted (bytes).
pub const MAX_HEAD: usize = 8 * 1024;

/// Why a body is not `multipart/form-data` as announced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed multipart body: {0}")]
pub struct MultipartError(pub &'static str);

/// A part's head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartHead {
    /// The form field's name.
    pub name: String,
    /// The file name of a file input (`Some("")` when none was chosen).
    pub filename: Option<String>,
    /// The part's Content-Type, when given.
    pub content_type: Option<String>,
}

/// What one piece of the body brought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A part begins.
    Part(PartHead),
    /// Bytes of the current part's body.
    Data(Vec<u8>),
    /// The current part ended.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Preamble,
    /// After a delimiter: `--` closes, else padding and CRLF open a part.
    Delimited,
    Head,
    Body,
    Done,
}

/// The parser (module notes).
#[derive(Debug)]
pub struct Parser {
    /// `CRLF--boundary`.
    delimiter: Vec<u8>,
    buf: Vec<u8>,
    state: State,
}

/// The `boundary` parameter of a `multipart/form-data` Content-Type.
pub fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let b = param(params, "boundary")?;
    // RFC 2046 §5.1.1: 1 to 70 characters.
    (!b.is_empty() && b.len() <= 70).then_some(b)
}

/// Parameter `name` of a header value's `; a=b; c="d"` list.
fn param(params: &str, name: &str) -> Option<String> {
    let mut rest = params;
    loop {
        rest = rest.trim_start_matches([';', ' ', '\t']);
        if rest.is_empty() {
            return None;
        }
        let eq = rest.find('=')?;
        let key = rest[..eq].trim();
        rest = &rest[eq + 1..];
        let value = if let Some(q) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            rest = &q[end.min(q.len())..];
            v
        } else {
            let end = rest.find(';').unwrap_or(rest.len());
            let v = rest[..end].trim().to_string();
            rest = &rest[end..];
            v
        };
        if key.eq_ignore_ascii_case(name) {
            return Some(value);
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Parser {
    /// A parser for parts separated by `boundary`.
    pub fn new(boundary: &str) -> Parser {
        Parser {
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            buf: b"\r\n".to_vec(),
            state: State::Preamble,
        }
    }

    /// Whether the closing delimiter was seen.
    pub fn done(&self) -> bool {
        self.state == State::Done
    }

    /// Feeds the next piece of the body; what it completes.
    pub fn feed(&mut self, piece: &[u8]) -> Result<Vec<Event>, MultipartError> {
        if self.state == State::Done {
            return Ok(Vec::new());
        }
        self.buf.extend_from_slice(piece);
        let mut out = Vec::new();
        loop {
            match self.state {
                State::Done => {
                    self.buf.clear();
                    return Ok(out);
                }
                State::Preamble => match find(&self.buf, &self.delimiter) {
                    Some(i) => {
                        self.buf.drain(..i + self.delimiter.len());
                        self.state = State::Delimited;
                    }
                    None => {
                        let keep = self.buf.len().min(self.delimiter.len() - 1);
                        self.buf.drain(..self.buf.len() - keep);
                        return Ok(out);
                    }
                },
                State::Delimited => {
                    if self.buf.len() < 2 {
                        return Ok(out);
                    }
                    if self.buf.starts_with(b"--") {
                        self.state = State::Done;
                        continue;
                    }
                    let Some(i) = find(&self.buf, b"\r\n") else {
                        if self.buf.len() > MAX_HEAD {
                            return Err(MultipartError("no line end after a delimiter"));
                        }
                        return Ok(out);
                    };
                    if self.buf[..i].iter().any(|b| *b != b' ' && *b != b'\t') {
                        return Err(MultipartError("text after a delimiter"));
                    }
                    self.buf.drain(..i + 2);
                    self.state = State::Head;
                }
                State::Head => {
                    let end = if self.buf.starts_with(b"\r\n") {
                        Some((0, 2))
                    } else {
                        find(&self.buf, b"\r\n\r\n").map(|i| (i, i + 4))
                    };
                    let Some((head_end, body_start)) = end else {
                        if self.buf.len() > MAX_HEAD {
                            return Err(MultipartError("part head too long"));
                        }
                        return Ok(out);
                    };
                    if head_end > MAX_HEAD {
                        return Err(MultipartError("part head too long"));
                    }
                    let head = parse_head(&self.buf[..head_end])?;
                    self.buf.drain(..body_start);
                    out.push(Event::Part(head));
                    self.state = State::Body;
                }
                State::Body => match find(&self.buf, &self.delimiter) {
                    Some(i) => {
                        if i > 0 {
                            out.push(Event::Data(self.buf[..i].to_vec()));
                        }
                        out.push(Event::End);
                        self.buf.drain(..i + self.delimiter.len());
                        self.state = State::Delimited;
                    }
                    None => {
                        let safe = self.buf.len().saturating_sub(self.delimiter.len() - 1);
                        if safe > 0 {
                            out.push(Event::Data(self.buf.drain(..safe).collect()));
                        }
                        return Ok(out);
                    }
                },
            }
        }
    }
}

/// A part's head lines.
fn parse_head(head: &[u8]) -> Result<PartHead, MultipartError> {
    let text = std::str::from_utf8(head).map_err(|_| MultipartError("part head not UTF-8"))?;
    let mut part = PartHead::default();
    let mut named = false;
    for line in text.split("\r\n") {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if key.trim().eq_ignore_ascii_case("content-disposition") {
            let (kind, params) = value.split_once(';').unwrap_or((value, ""));
            if !kind.trim().eq_ignore_ascii_case("form-data") {
                return Err(MultipartError("a part that is not form-data"));
            }
            if let Some(n) = param(params, "name") {
                part.name = n;
                named = true;
            }
            part.filename = param(params, "filename");
        } else if key.trim().eq_ignore_ascii_case("content-type") {
            part.content_type = Some(value.trim().to_string());
        }
    }
    if !named {
        return Err(MultipartError("a part without a field name"));
    }
    Ok(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each part's head and bytes.
    type Parts = Vec<(PartHead, Vec<u8>)>;

    /// The parts of `body`, fed in pieces cut at `cuts`, and whether it was closed.
    fn parts(body: &[u8], cuts: &[usize]) -> Result<(Parts, bool), MultipartError> {
        let mut p = Parser::new("XyZ");
        let mut events = Vec::new();
        let mut at = 0;
        for &c in cuts.iter().chain([body.len()].iter()) {
            events.extend(p.feed(&body[at..c])?);
            at = c;
        }
        let mut out: Parts = Vec::new();
        for e in events {
            match e {
                Event::Part(h) => out.push((h, Vec::new())),
                Event::Data(d) => out.last_mut().expect("a part").1.extend(d),
                Event::End => {}
            }
        }
        Ok((out, p.done()))
    }

    const BODY: &[u8] = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n\
--XyZ  \r\nContent-Disposition: form-data; name=\"attach\"; filename=\"a \\\"q\\\".bin\"\r\nContent-Type: application/octet-stream\r\n\r\n\
\r\n--Xy\r\n-XyZ\r\n\r\n--XyZ\r\ncontent-disposition: form-data; name=\"empty\"\r\n\r\n\r\n--XyZ--\r\nepilogue --XyZ\r\n";

    #[test]
    fn parts_arrive_whole_whatever_the_pieces() {
        let want = vec![
            (
                PartHead {
                    name: "csrf".into(),
                    ..PartHead::default()
                },
                b"abc".to_vec(),
            ),
            (
                PartHead {
                    name: "attach".into(),
                    filename: Some("a \"q\".bin".into()),
                    content_type: Some("application/octet-stream".into()),
                },
                b"\r\n--Xy\r\n-XyZ\r\n".to_vec(),
            ),
            (
                PartHead {
                    name: "empty".into(),
                    ..PartHead::default()
                },
                Vec::new(),
            ),
        ];
        assert_eq!(parts(BODY, &[]).unwrap(), (want.clone(), true));
        for i in 0..=BODY.len() {
            assert_eq!(
                parts(BODY, &[i]).unwrap(),
                (want.clone(), true),
                "cut at {i}"
            );
        }
        let every: Vec<usize> = (1..BODY.len()).collect();
        assert_eq!(parts(BODY, &every).unwrap(), (want, true));
    }

    #[test]
    fn a_body_may_open_with_its_delimiter_and_may_be_cut_short() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ--";
        let (got, done) = parts(body, &[]).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].0.name.as_str(), got[0].1.as_slice()),
            ("a", &b"1"[..])
        );
        assert!(done);
        let (_, done) = parts(&body[..body.len() - 2], &[]).unwrap();
        assert!(!done, "no closing delimiter yet");
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let nameless = b"--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--";
        assert!(parts(nameless, &[]).is_err());
        let junk = b"--XyZjunk\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--XyZ--";
        assert!(parts(junk, &[]).is_err());
        let mut long = b"--XyZ\r\nContent-Disposition: form-data; name=a\r\nX: ".to_vec();
        long.extend(vec![b'x'; MAX_HEAD + 1]);
        assert!(parts(&long, &[]).is_err());
    }

    #[test]
    fn the_boundary_comes_from_the_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=----WebKitFormBoundaryAbC").as_deref(),
            Some("----WebKitFormBoundaryAbC")
        );
        assert_eq!(
            boundary("Multipart/Form-Data; charset=x; boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary("multipart/mixed; boundary=x"), None);
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(
            boundary(&format!("multipart/form-data; boundary={}", "b".repeat(71))),
            None
        );
    }
}
