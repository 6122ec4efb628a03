//! Test messages: unique headers and a printable body of an exact size.
//!
//! Invariants the tests hold:
//! - the message (before dot-stuffing) is exactly the requested size, unless
//!   the size is smaller than the headers, which are then sent alone;
//! - every line ends with CRLF, is printable ASCII and is at most 78
//!   characters (RFC 5322 §2.1.1), so no server rewrites it;
//! - some body lines start with "." and some are a lone ".", so the server's
//!   handling of dot-stuffing (RFC 5321 §4.5.2) is part of what is measured.

use std::time::{SystemTime, UNIX_EPOCH};

/// What makes one message unique.
#[derive(Debug, Clone, Copy)]
pub struct MessageSpec<'a> {
    pub from: &'a str,
    pub to: &'a str,
    /// Number of the connection (task) sending it.
    pub conn: usize,
    /// Global sequence number of the message in this run.
    pub seq: u64,
    /// Random per run, so Message-IDs differ between runs.
    pub run_id: u64,
    /// Seconds since the Unix epoch, for the Date header.
    pub unix_time: u64,
}

/// Longest body line content (RFC 5322 §2.1.1 SHOULD).
const MAX_LINE: usize = 78;

/// Builds the message, exactly `size` bytes when `size` leaves room for the headers.
pub fn build_message(spec: &MessageSpec<'_>, size: usize) -> Vec<u8> {
    let mut msg = headers(spec, false);
    // The blank line that separates headers from body.
    let mut remaining = size.saturating_sub(msg.len() + 2);
    if remaining == 1 {
        // One byte cannot form a CRLF-terminated line; grow a header instead.
        msg = headers(spec, true);
        remaining = 0;
    }
    msg.extend_from_slice(b"\r\n");
    msg.reserve(remaining);
    let mut rng = XorShift::new(spec.run_id ^ spec.seq.rotate_left(17) ^ spec.conn as u64);
    let mut line_no = 0usize;
    // Lines are planned so that the last one or two exactly use up the size,
    // each ending in CRLF and holding at most MAX_LINE characters.
    while remaining > 0 {
        let line_len = if remaining <= MAX_LINE + 2 {
            remaining
        } else if remaining <= 2 * (MAX_LINE + 2) {
            remaining / 2
        } else if line_no % 32 == 9 {
            3 // a lone "." line
        } else {
            42 + rng.below(MAX_LINE as u64 - 40 + 1) as usize
        };
        push_line(&mut msg, &mut rng, line_len - 2, line_no);
        remaining -= line_len;
        line_no += 1;
    }
    msg
}

/// What every Message-ID of run `run_id` contains.
pub fn run_marker(run_id: u64) -> String {
    format!("<bench.{run_id:016x}.")
}

fn headers(spec: &MessageSpec<'_>, pad: bool) -> Vec<u8> {
    let domain = spec
        .from
        .rsplit_once('@')
        .map_or("bench.invalid", |(_, d)| d);
    let pad = if pad { "x" } else { "" };
    format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: bench {conn}-{seq}\r\n\
         Message-ID: <bench.{run:016x}.{conn}.{seq}{pad}@{domain}>\r\nDate: {date}\r\n",
        from = spec.from,
        to = spec.to,
        conn = spec.conn,
        seq = spec.seq,
        run = spec.run_id,
        date = rfc5322_date(spec.unix_time),
    )
    .into_bytes()
}

/// Appends `len` printable characters and CRLF. Some lines start with a dot.
fn push_line(out: &mut Vec<u8>, rng: &mut XorShift, len: usize, line_no: usize) {
    for i in 0..len {
        let c = if i == 0 && (len == 1 || line_no % 16 == 5) {
            b'.'
        } else {
            // Printable ASCII 0x21..=0x7E; spaces only inside the line.
            let c = 0x21 + rng.below(0x7E - 0x21 + 1) as u8;
            if i > 0 && i + 1 < len && c % 9 == 0 {
                b' '
            } else {
                c
            }
        };
        out.push(c);
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `msg` in DATA form: lines starting with "." get another "."
/// (RFC 5321 §4.5.2), then the terminating ".\r\n". `msg` must end in CRLF.
pub fn dot_stuff_into(msg: &[u8], out: &mut Vec<u8>) {
    out.reserve(msg.len() + msg.len() / 64 + 3);
    let mut at_line_start = true;
    for &b in msg {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

/// `Date` header value, RFC 5322 §3.3, always in UTC (the server's own formatter).
pub fn rfc5322_date(unix_time: u64) -> String {
    ferrymail::protocols::smtp::rfc5322_date(i64::try_from(unix_time).unwrap_or(i64::MAX))
}

/// Seconds since the Unix epoch now (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Fast deterministic filler; quality is irrelevant, client CPU is not.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(seq: u64) -> MessageSpec<'static> {
        MessageSpec {
            from: "bench@example.com",
            to: "postmaster@localhost",
            conn: 3,
            seq,
            run_id: 0xfeed,
            unix_time: 1_700_000_000,
        }
    }

    /// The lines without their CRLF; fails on a bare CR or LF.
    fn lines(msg: &[u8]) -> Vec<&[u8]> {
        msg.split_inclusive(|&b| b == b'\n')
            .map(|l| {
                let l = l.strip_suffix(b"\r\n").expect("every line ends in CRLF");
                assert!(!l.contains(&b'\r') && !l.contains(&b'\n'));
                l
            })
            .collect()
    }

    fn unstuff(wire: &[u8]) -> Vec<u8> {
        let body = wire.strip_suffix(b".\r\n").expect("terminator");
        let mut out = Vec::new();
        for line in body.split_inclusive(|&b| b == b'\n') {
            out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        }
        out
    }

    #[test]
    fn size_is_exact_for_every_size() {
        let min = build_message(&spec(1), 0).len();
        for size in (min..min + 700).chain([4096, 65_536, 1_000_000]) {
            let msg = build_message(&spec(1), size);
            assert_eq!(msg.len(), size, "size {size}");
        }
    }

    #[test]
    fn size_below_headers_sends_headers_only() {
        let msg = build_message(&spec(1), 10);
        assert!(msg.len() > 10);
        assert!(msg.ends_with(b"\r\n\r\n"));
    }

    #[test]
    fn lines_are_short_printable_and_crlf() {
        for size in [300, 1000, 4096, 20_000] {
            let msg = build_message(&spec(7), size);
            for line in lines(&msg) {
                assert!(line.len() <= 78, "line of {} chars", line.len());
                assert!(line.iter().all(|b| (0x20..0x7f).contains(b)));
            }
        }
    }

    #[test]
    fn headers_are_unique_per_message() {
        let a = String::from_utf8(build_message(&spec(1), 2000)).expect("ascii");
        let b = String::from_utf8(build_message(&spec(2), 2000)).expect("ascii");
        assert!(a.starts_with("From: <bench@example.com>\r\nTo: <postmaster@localhost>\r\n"));
        assert!(a.contains("\r\nSubject: bench 3-1\r\n"));
        assert!(b.contains("\r\nSubject: bench 3-2\r\n"));
        assert!(a.contains("\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"));
        let id = |s: &str| {
            s.lines()
                .find(|l| l.starts_with("Message-ID:"))
                .map(String::from)
        };
        assert_ne!(id(&a), id(&b));
        assert!(id(&a).expect("has id").ends_with("@example.com>"));
    }

    #[test]
    fn body_exercises_dot_stuffing() {
        let msg = build_message(&spec(9), 4096);
        let ls = lines(&msg);
        assert!(ls.iter().any(|l| *l == b"."), "a lone dot line");
        assert!(
            ls.iter().any(|l| l.len() > 1 && l[0] == b'.'),
            "a dotted line"
        );
    }

    #[test]
    fn dot_stuffing_doubles_leading_dots_and_terminates() {
        let mut wire = Vec::new();
        dot_stuff_into(b"a\r\n.\r\n..b\r\nc.d\r\n", &mut wire);
        assert_eq!(wire, b"a\r\n..\r\n...b\r\nc.d\r\n.\r\n");
        let mut wire = Vec::new();
        dot_stuff_into(b".first\r\n", &mut wire);
        assert_eq!(wire, b"..first\r\n.\r\n");
    }

    #[test]
    fn dot_stuffing_round_trips_generated_messages() {
        for size in [500, 4096, 12_345] {
            let msg = build_message(&spec(size as u64), size);
            let mut wire = Vec::new();
            dot_stuff_into(&msg, &mut wire);
            assert!(!wire[..wire.len() - 3].windows(5).any(|w| w == b"\r\n.\r\n"));
            assert_eq!(unstuff(&wire), msg);
        }
    }

    #[test]
    fn dates_are_rfc5322() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(4_102_444_799),
            "Thu, 31 Dec 2099 23:59:59 +0000"
        );
    }
}
