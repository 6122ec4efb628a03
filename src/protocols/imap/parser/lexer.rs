//! The lexical layer of the command grammar (RFC 9051 §9): atoms, strings, literals,
//! numbers, sequence sets, flags, dates. Every method either consumes what it names or
//! returns an error text without the command prefix (the caller adds "FETCH: ").

use super::super::mutf7;
use super::super::types::{Date, DateTime, Flag, MailboxName, SeqNum, SeqRange, SequenceSet};

pub(super) type PResult<T> = Result<T, String>;

/// `mod-sequence-value` and `number64` are at most 2^63 - 1 (RFC 7162 §7, RFC 9051 §9).
pub(super) const MAX_NUMBER64: u64 = i64::MAX as u64;

/// Nesting allowed in search keys (parentheses, NOT, OR) before the command is refused.
pub(super) const MAX_DEPTH: usize = 64;

/// `ATOM-CHAR = <any CHAR except atom-specials>`.
pub(super) fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !b"(){%*\"\\]".contains(&b)
}

/// `ASTRING-CHAR = ATOM-CHAR / resp-specials`.
pub(super) fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// `list-char = ATOM-CHAR / list-wildcards / resp-specials`.
fn is_list_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

/// A cursor over one frame.
pub(super) struct P<'a> {
    s: &'a [u8],
    pos: usize,
    /// UTF8=ACCEPT is on: mailbox names are UTF-8, not modified UTF-7.
    pub(super) utf8: bool,
    /// Current nesting of search keys.
    pub(super) depth: usize,
    /// A mailbox name was well-formed but not valid modified UTF-7: the command fails with
    /// NO, not BAD (no mailbox can have that name; the syntax was fine).
    pub(super) invalid_name: bool,
}

impl<'a> P<'a> {
    pub(super) fn new(s: &'a [u8], utf8: bool) -> Self {
        P {
            s,
            pos: 0,
            utf8,
            depth: 0,
            invalid_name: false,
        }
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    pub(super) fn peek_at(&self, n: usize) -> Option<u8> {
        self.s.get(self.pos + n).copied()
    }

    pub(super) fn rest(&self) -> &'a [u8] {
        self.s.get(self.pos..).unwrap_or_default()
    }

    pub(super) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(super) fn expect(&mut self, b: u8, what: &str) -> PResult<()> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(format!("expected {what}"))
        }
    }

    pub(super) fn sp(&mut self) -> PResult<()> {
        self.expect(b' ', "a space")
    }

    pub(super) fn open(&mut self) -> PResult<()> {
        self.expect(b'(', "\"(\"")
    }

    pub(super) fn close(&mut self) -> PResult<()> {
        self.expect(b')', "\")\"")
    }

    /// At the line end that finishes the command (CRLF, or a bare LF, see framer.rs).
    pub(super) fn at_end(&self) -> bool {
        matches!(self.rest(), b"\r\n" | b"\n" | b"")
    }

    /// The command must end here.
    pub(super) fn end(&mut self) -> PResult<()> {
        match self.rest() {
            b"\r\n" | b"\n" => {
                self.pos = self.s.len();
                Ok(())
            }
            b"" => Err("missing CRLF at end of command".into()),
            rest => {
                let shown: String = String::from_utf8_lossy(rest)
                    .chars()
                    .take(20)
                    .filter(|c| !c.is_control())
                    .collect();
                Err(format!("unexpected \"{shown}\" at end of command"))
            }
        }
    }

    /// Whether the next byte starts another list element (`SP`) rather than ending it.
    pub(super) fn more(&mut self) -> bool {
        self.eat(b' ')
    }

    pub(super) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    /// `atom`.
    pub(super) fn atom(&mut self, what: &str) -> PResult<&'a [u8]> {
        let a = self.take_while(is_atom_char);
        if a.is_empty() {
            Err(format!("expected {what}"))
        } else {
            Ok(a)
        }
    }

    /// An atom as an uppercase keyword (command names, search keys, options).
    pub(super) fn keyword(&mut self, what: &str) -> PResult<String> {
        Ok(String::from_utf8_lossy(self.atom(what)?).to_ascii_uppercase())
    }

    /// A keyword made of letters, digits, "." and "-" only (stops before "[" or "<").
    pub(super) fn word(&mut self, what: &str) -> PResult<String> {
        let w = self.take_while(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if w.is_empty() {
            Err(format!("expected {what}"))
        } else {
            Ok(String::from_utf8_lossy(w).to_ascii_uppercase())
        }
    }

    /// Consumes `kw` (case-insensitive) if it is next as a whole word.
    pub(super) fn eat_keyword(&mut self, kw: &str) -> bool {
        let rest = self.rest();
        let n = kw.len();
        if rest.len() >= n
            && rest[..n].eq_ignore_ascii_case(kw.as_bytes())
            && !rest.get(n).copied().is_some_and(is_atom_char)
        {
            self.pos += n;
            true
        } else {
            false
        }
    }

    fn digits(&mut self, what: &str) -> PResult<u64> {
        let d = self.take_while(|b| b.is_ascii_digit());
        if d.is_empty() {
            return Err(format!("expected {what}"));
        }
        d.iter()
            .try_fold(0u64, |acc, &c| {
                acc.checked_mul(10)?.checked_add(u64::from(c - b'0'))
            })
            .filter(|&n| n <= MAX_NUMBER64)
            .ok_or_else(|| format!("{what} is too large"))
    }

    /// `number` (32 bits).
    pub(super) fn number(&mut self, what: &str) -> PResult<u32> {
        u32::try_from(self.digits(what)?).map_err(|_| format!("{what} is too large"))
    }

    /// `nz-number`.
    pub(super) fn nz_number(&mut self, what: &str) -> PResult<u32> {
        match self.number(what)? {
            0 => Err(format!("{what} must not be 0")),
            n => Ok(n),
        }
    }

    /// `number64` / `mod-sequence-valzer` (0 to 2^63 - 1).
    pub(super) fn number64(&mut self, what: &str) -> PResult<u64> {
        self.digits(what)
    }

    /// `quoted`: the unescaped bytes.
    pub(super) fn quoted(&mut self) -> PResult<Vec<u8>> {
        self.expect(b'"', "a quoted string")?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => match self.peek_at(1) {
                    Some(c @ (b'"' | b'\\')) => {
                        out.push(c);
                        self.pos += 2;
                    }
                    _ => return Err("bad escape in quoted string".into()),
                },
                None | Some(b'\r' | b'\n') => return Err("unterminated quoted string".into()),
                Some(0) => return Err("NUL in quoted string".into()),
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `literal` (`{n}`, `{n+}`, `{n-}`) and, if `binary`, `literal8` (`~{n}`).
    pub(super) fn literal(&mut self, binary: bool) -> PResult<&'a [u8]> {
        let is8 = self.eat(b'~');
        if is8 && !binary {
            return Err("literal8 is not allowed here".into());
        }
        self.expect(b'{', "a literal")?;
        let n = self.number64("literal size")?;
        if !self.eat(b'+') {
            self.eat(b'-');
        }
        self.expect(b'}', "\"}\"")?;
        let crlf = self.eat(b'\n') || (self.eat(b'\r') && self.eat(b'\n'));
        if !crlf {
            return Err("expected CRLF after literal size".into());
        }
        let len = usize::try_from(n).unwrap_or(usize::MAX);
        if self.s.len() - self.pos < len {
            return Err("literal is truncated".into());
        }
        let data = &self.s[self.pos..self.pos + len];
        self.pos += len;
        if !is8 && data.contains(&0) {
            return Err("NUL in literal (use literal8 ~{n} for binary data)".into());
        }
        Ok(data)
    }

    /// `string = quoted / literal`.
    pub(super) fn string(&mut self) -> PResult<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => Ok(self.literal(false)?.to_vec()),
            _ => Err("expected a string".into()),
        }
    }

    /// `astring = 1*ASTRING-CHAR / string`.
    pub(super) fn astring(&mut self, what: &str) -> PResult<Vec<u8>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let a = self.take_while(is_astring_char);
                if a.is_empty() {
                    Err(format!("expected {what}"))
                } else {
                    Ok(a.to_vec())
                }
            }
        }
    }

    /// An astring that must be UTF-8.
    pub(super) fn astring_utf8(&mut self, what: &str) -> PResult<String> {
        String::from_utf8(self.astring(what)?).map_err(|_| format!("{what} is not UTF-8"))
    }

    /// `nstring = string / nil`.
    pub(super) fn nstring(&mut self, what: &str) -> PResult<Option<Vec<u8>>> {
        if self.eat_keyword("NIL") {
            Ok(None)
        } else {
            self.string()
                .map(Some)
                .map_err(|_| format!("expected {what}"))
        }
    }

    /// A name as UTF-8: `None` when it is not valid modified UTF-7 (without UTF8=ACCEPT).
    fn decode_name(&self, raw: Vec<u8>) -> PResult<Option<String>> {
        let s = String::from_utf8(raw).map_err(|_| "mailbox name is not UTF-8".to_string())?;
        Ok(if self.utf8 {
            Some(s)
        } else {
            mutf7::decode(&s)
        })
    }

    /// `mailbox = "INBOX" / astring`, decoded; INBOX in any case (also as the first level
    /// of "inbox/sub") is normalised to "INBOX" (RFC 3501 §5.1).
    pub(super) fn mailbox(&mut self) -> PResult<MailboxName> {
        let raw = self.astring("a mailbox name")?;
        let Some(name) = self.decode_name(raw)? else {
            self.invalid_name = true;
            return Err("mailbox name is not valid modified UTF-7".into());
        };
        Ok(MailboxName(normalise_inbox(name)))
    }

    /// The reference of LIST: a mailbox name, decoded but not normalised; `None` when it is
    /// not valid modified UTF-7 (then nothing can match).
    pub(super) fn reference(&mut self) -> PResult<Option<String>> {
        let raw = self.astring("a reference name")?;
        self.decode_name(raw)
    }

    /// `list-mailbox = 1*list-char / string`, decoded; `None` when it is not valid modified
    /// UTF-7: every name is shown to the client in valid modified UTF-7, so such a pattern
    /// matches none (short of a wildcard inside a broken shift, which no client means).
    pub(super) fn list_mailbox(&mut self) -> PResult<Option<String>> {
        let raw = match self.peek() {
            Some(b'"' | b'{') => self.string()?,
            _ => {
                let a = self.take_while(is_list_char);
                if a.is_empty() {
                    return Err("expected a mailbox pattern".into());
                }
                a.to_vec()
            }
        };
        self.decode_name(raw)
    }

    /// `sequence-set` (or `$`), up to the next space, ")" or line end.
    pub(super) fn sequence_set(&mut self) -> PResult<SequenceSet> {
        let raw = self.take_while(|b| b.is_ascii_digit() || b":,*$".contains(&b));
        parse_sequence_set(raw).ok_or_else(|| "expected a sequence set".to_string())
    }

    /// `flag`.
    pub(super) fn flag(&mut self) -> PResult<Flag> {
        if self.eat(b'\\') {
            let name = self.atom("a flag name after \"\\\"")?;
            let name = String::from_utf8_lossy(name).into_owned();
            Ok(match name.to_ascii_lowercase().as_str() {
                "seen" => Flag::Seen,
                "answered" => Flag::Answered,
                "flagged" => Flag::Flagged,
                "deleted" => Flag::Deleted,
                "draft" => Flag::Draft,
                "recent" => Flag::Recent,
                _ => Flag::Extension(format!("\\{name}")),
            })
        } else {
            let kw = self.atom("a flag")?;
            Ok(Flag::Keyword(String::from_utf8_lossy(kw).into_owned()))
        }
    }

    /// `flag-list = "(" [flag *(SP flag)] ")"`.
    pub(super) fn flag_list(&mut self) -> PResult<Vec<Flag>> {
        self.open()?;
        let mut flags = Vec::new();
        if self.eat(b')') {
            return Ok(flags);
        }
        loop {
            flags.push(self.flag()?);
            if !self.more() {
                break;
            }
        }
        self.close()?;
        Ok(flags)
    }

    fn month(&mut self) -> PResult<u8> {
        const MONTHS: [&str; 12] = [
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ];
        let m = self
            .rest()
            .get(..3)
            .unwrap_or_default()
            .to_ascii_uppercase();
        let i = MONTHS
            .iter()
            .position(|name| name.as_bytes() == m.as_slice())
            .ok_or_else(|| "expected a month name (Jan ... Dec)".to_string())?;
        self.pos += 3;
        Ok(i as u8 + 1)
    }

    fn fixed_digits(&mut self, n: usize, what: &str) -> PResult<u32> {
        let d = self.rest().get(..n).unwrap_or_default();
        if d.len() != n || !d.iter().all(u8::is_ascii_digit) {
            return Err(format!("expected {what}"));
        }
        self.pos += n;
        Ok(d.iter().fold(0, |acc, &c| acc * 10 + u32::from(c - b'0')))
    }

    /// `date-text = date-day "-" date-month "-" date-year`.
    fn date_text(&mut self) -> PResult<Date> {
        let d = self.take_while(|b| b.is_ascii_digit());
        if d.is_empty() || d.len() > 2 {
            return Err("expected a date like 1-Feb-1994".into());
        }
        let day = d.iter().fold(0u8, |acc, &c| acc * 10 + (c - b'0'));
        self.expect(b'-', "\"-\" in date")?;
        let month = self.month()?;
        self.expect(b'-', "\"-\" in date")?;
        let year = self.fixed_digits(4, "a four-digit year")? as u16;
        check_date(year, month, day)?;
        Ok(Date { year, month, day })
    }

    /// `date = date-text / DQUOTE date-text DQUOTE`.
    pub(super) fn date(&mut self) -> PResult<Date> {
        if self.eat(b'"') {
            let d = self.date_text()?;
            self.expect(b'"', "closing quote after date")?;
            Ok(d)
        } else {
            self.date_text()
        }
    }

    /// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone
    /// DQUOTE` (a one-digit day without the leading space is accepted too).
    pub(super) fn date_time(&mut self) -> PResult<DateTime> {
        self.expect(b'"', "a date-time")?;
        self.eat(b' ');
        let date = self.date_text()?;
        self.sp()?;
        let h = self.fixed_digits(2, "hours")?;
        self.expect(b':', "\":\" in time")?;
        let m = self.fixed_digits(2, "minutes")?;
        self.expect(b':', "\":\" in time")?;
        let s = self.fixed_digits(2, "seconds")?;
        self.sp()?;
        let sign: i32 = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return Err("expected a zone like +0100".into());
        };
        let zh = self.fixed_digits(2, "zone hours")?;
        let zm = self.fixed_digits(2, "zone minutes")?;
        self.expect(b'"', "closing quote after date-time")?;
        if h > 23 || m > 59 || s > 60 || zm > 59 {
            return Err("time out of range".into());
        }
        let offset_minutes = sign * (zh * 60 + zm) as i32;
        let days = crate::protocols::date::days_from_civil(
            i64::from(date.year),
            u32::from(date.month),
            u32::from(date.day),
        );
        let local = days * 86_400 + i64::from(h * 3600 + m * 60 + s);
        Ok(DateTime {
            unix: local - i64::from(offset_minutes) * 60,
            offset_minutes,
        })
    }
}

fn check_date(year: u16, month: u8, day: u8) -> PResult<()> {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let max = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day == 0 || day > max {
        Err("day out of range for its month".into())
    } else {
        Ok(())
    }
}

/// "INBOX" in any case becomes "INBOX", also as the first level of "inbox/…".
pub(super) fn normalise_inbox(name: String) -> String {
    let b = name.as_bytes();
    if b.len() >= 5 && b[..5].eq_ignore_ascii_case(b"INBOX") && (b.len() == 5 || b[5] == b'/') {
        format!("INBOX{}", &name[5..])
    } else {
        name
    }
}

/// `sequence-set = (seq-number / seq-range) ["," sequence-set]` / `"$"` (RFC 5182), from
/// its bytes alone. `None` if they are not one.
pub fn parse_sequence_set(s: &[u8]) -> Option<SequenceSet> {
    if s == b"$" {
        return Some(SequenceSet::Saved);
    }
    let num = |p: &[u8]| -> Option<SeqNum> {
        if p == b"*" {
            return Some(SeqNum::Largest);
        }
        if p.is_empty() || p.len() > 10 || !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = p
            .iter()
            .fold(0u64, |acc, &c| acc * 10 + u64::from(c - b'0'));
        u32::try_from(n).ok().filter(|&n| n > 0).map(SeqNum::Value)
    };
    let ranges = s
        .split(|&b| b == b',')
        .map(|item| {
            let mut parts = item.split(|&b| b == b':');
            let a = num(parts.next()?)?;
            match (parts.next(), parts.next()) {
                (None, _) => Some(SeqRange::Single(a)),
                (Some(b), None) => Some(SeqRange::Range(a, num(b)?)),
                _ => None,
            }
        })
        .collect::<Option<Vec<_>>>()?;
    Some(SequenceSet::Ranges(ranges))
}
