//! Command lines → [`Command`] (RFC 5321 §4.1), with the ESMTP parameters of MAIL and RCPT.
//!
//! The parser is pure and stateless: checks that need the session (sequence, SMTPUTF8 of the
//! transaction, limits) are in `handlers.rs`.

use std::net::{Ipv4Addr, Ipv6Addr};

/// RFC 1652 / RFC 6152 / RFC 3030 `BODY=` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyType {
    #[default]
    SevenBit,
    EightBitMime,
    /// Never accepted (BINARYMIME is not advertised); present so the queue can carry it later.
    BinaryMime,
}

/// RFC 3461 §4.3 `RET=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsnRet {
    Full,
    Hdrs,
}

impl DsnRet {
    /// The keyword as sent on the wire.
    pub fn keyword(self) -> &'static str {
        match self {
            DsnRet::Full => "FULL",
            DsnRet::Hdrs => "HDRS",
        }
    }
}

/// RFC 3461 §4.1 `NOTIFY=` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsnNotify {
    Never,
    Success,
    Failure,
    Delay,
}

impl DsnNotify {
    /// The keyword as sent on the wire.
    pub fn keyword(self) -> &'static str {
        match self {
            DsnNotify::Never => "NEVER",
            DsnNotify::Success => "SUCCESS",
            DsnNotify::Failure => "FAILURE",
            DsnNotify::Delay => "DELAY",
        }
    }
}

/// Parameters of MAIL FROM (RFC 5321 §4.1.1.2 `Mail-parameters`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailParams {
    /// RFC 1870 SIZE=.
    pub size: Option<u64>,
    /// BODY=; `None` when absent (7BIT then).
    pub body: Option<BodyType>,
    /// RFC 6531 SMTPUTF8.
    pub smtputf8: bool,
    pub ret: Option<DsnRet>,
    /// ENVID=, xtext-decoded.
    pub envid: Option<String>,
    /// RFC 4954 §5 AUTH=, xtext-decoded; accepted and otherwise ignored.
    pub auth: Option<String>,
    /// RFC 8689 §3 REQUIRETLS: the message goes on only over validated TLS.
    pub requiretls: bool,
}

/// Parameters of RCPT TO (RFC 3461 §4.1, §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RcptParams {
    pub notify: Option<Vec<DsnNotify>>,
    /// "addr-type;address", the address xtext-decoded.
    pub orcpt: Option<String>,
}

/// One parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ehlo(String),
    Helo(String),
    /// `from` is the reverse-path without <>, "" for the null sender.
    Mail {
        from: String,
        params: MailParams,
    },
    /// `to` is a mailbox, or the bare "postmaster" (RFC 5321 §4.1.1.3).
    Rcpt {
        to: String,
        params: RcptParams,
    },
    Data,
    /// RFC 3030: `BDAT chunk-size [LAST]`.
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Noop,
    Quit,
    Vrfy(String),
    Expn(String),
    Help(Option<String>),
    StartTls,
    /// RFC 4954: `AUTH mechanism [initial-response]`, mechanism upper-cased.
    Auth {
        mechanism: String,
        initial: Option<String>,
    },
}

/// Why a line is not a valid command; mapped to a reply in `reply.rs`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// 500 5.5.2
    #[error("empty command line")]
    Empty,
    /// 500 5.5.2
    #[error("unrecognized command")]
    Unknown,
    /// 501 5.5.4 with the message.
    #[error("syntax error: {0}")]
    Syntax(&'static str),
    /// 501 5.1.7
    #[error("bad sender address syntax")]
    BadSender,
    /// 553 5.1.3
    #[error("bad recipient address syntax")]
    BadRecipient,
    /// 555 5.5.4: a MAIL/RCPT parameter or value we do not implement.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
}

use CommandError::{BadRecipient, BadSender, Syntax, Unsupported};

/// Parse one command line, without its CRLF.
///
/// ```text
/// command = verb [SP argument]      ; verbs case-insensitive (RFC 5321 §2.4)
/// ```
pub fn parse_command(line: &[u8]) -> Result<Command, CommandError> {
    let line = trim_end(line);
    if line.iter().all(|&b| b == b' ' || b == b'\t') {
        return Err(CommandError::Empty);
    }
    let (verb, arg) = match line.iter().position(|&b| b == b' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &line[line.len()..]),
    };
    let verb = verb.to_ascii_uppercase();
    let known: &[&[u8]] = &[
        b"EHLO",
        b"HELO",
        b"MAIL",
        b"RCPT",
        b"DATA",
        b"BDAT",
        b"RSET",
        b"NOOP",
        b"QUIT",
        b"VRFY",
        b"EXPN",
        b"HELP",
        b"STARTTLS",
        b"AUTH",
    ];
    if !known.contains(&verb.as_slice()) {
        return Err(CommandError::Unknown);
    }
    let arg = std::str::from_utf8(arg).map_err(|_| Syntax("Invalid UTF-8 in command"))?;
    let arg = arg.trim_start_matches(' ');
    match verb.as_slice() {
        b"EHLO" => Ok(Command::Ehlo(parse_helo(arg, "Syntax: EHLO hostname")?)),
        b"HELO" => Ok(Command::Helo(parse_helo(arg, "Syntax: HELO hostname")?)),
        b"MAIL" => parse_mail(arg),
        b"RCPT" => parse_rcpt(arg),
        b"DATA" => no_arg(arg, Command::Data, "Syntax: DATA"),
        b"BDAT" => parse_bdat(arg),
        b"RSET" => no_arg(arg, Command::Rset, "Syntax: RSET"),
        b"NOOP" => Ok(Command::Noop),
        b"QUIT" => no_arg(arg, Command::Quit, "Syntax: QUIT"),
        b"VRFY" => some_arg(arg, "Syntax: VRFY address").map(Command::Vrfy),
        b"EXPN" => some_arg(arg, "Syntax: EXPN list").map(Command::Expn),
        b"HELP" => Ok(Command::Help((!arg.is_empty()).then(|| arg.to_string()))),
        b"STARTTLS" => no_arg(arg, Command::StartTls, "Syntax: STARTTLS"),
        _ => parse_auth(arg),
    }
}

fn trim_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn no_arg(arg: &str, cmd: Command, msg: &'static str) -> Result<Command, CommandError> {
    if arg.is_empty() {
        Ok(cmd)
    } else {
        Err(Syntax(msg))
    }
}

fn some_arg(arg: &str, msg: &'static str) -> Result<String, CommandError> {
    if arg.is_empty() {
        Err(Syntax(msg))
    } else {
        Ok(arg.to_string())
    }
}

/// `"EHLO" SP ( Domain / address-literal )`, read liberally: any one word of visible
/// characters, since many clients send names that are not domains. It ends up in `Received:`,
/// so no spaces, controls, parentheses or brackets other than an address literal's.
fn parse_helo(arg: &str, msg: &'static str) -> Result<String, CommandError> {
    let ok_char = |c: char| !c.is_control() && !c.is_whitespace() && !"()\\;".contains(c);
    if arg.is_empty() || arg.len() > 255 || !arg.chars().all(ok_char) {
        return Err(Syntax(msg));
    }
    Ok(arg.to_string())
}

/// `"MAIL FROM:" Reverse-path [SP Mail-parameters]` (RFC 5321 §4.1.1.2).
fn parse_mail(arg: &str) -> Result<Command, CommandError> {
    let rest = strip_prefix_ci(arg, "FROM:").ok_or(Syntax("Syntax: MAIL FROM:<address>"))?;
    let (path, params) = split_path(rest, "Syntax: MAIL FROM:<address>")?;
    let from = if path.is_empty() {
        String::new()
    } else {
        reverse_path(path).ok_or(BadSender)?
    };
    let mut p = MailParams::default();
    for (key, value) in esmtp_params(params)? {
        match key.as_str() {
            "SIZE" => set_once(&mut p.size, parse_size(value)?)?,
            "BODY" => set_once(&mut p.body, parse_body(value)?)?,
            "SMTPUTF8" if value.is_none() && !p.smtputf8 => p.smtputf8 = true,
            "SMTPUTF8" => return Err(Syntax("SMTPUTF8 takes no value")),
            "RET" => set_once(&mut p.ret, parse_ret(value)?)?,
            "ENVID" => set_once(&mut p.envid, parse_envid(value)?)?,
            "AUTH" => set_once(&mut p.auth, parse_auth_param(value)?)?,
            "REQUIRETLS" if value.is_none() && !p.requiretls => p.requiretls = true,
            "REQUIRETLS" => return Err(Syntax("REQUIRETLS takes no value")),
            _ => return Err(Unsupported("Unsupported MAIL parameter")),
        }
    }
    Ok(Command::Mail { from, params: p })
}

/// `"RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path ) [SP Rcpt-parameters]`
fn parse_rcpt(arg: &str) -> Result<Command, CommandError> {
    let rest = strip_prefix_ci(arg, "TO:").ok_or(Syntax("Syntax: RCPT TO:<address>"))?;
    let (path, params) = split_path(rest, "Syntax: RCPT TO:<address>")?;
    let to = if path.eq_ignore_ascii_case("postmaster") {
        "postmaster".to_string()
    } else {
        reverse_path(path).ok_or(BadRecipient)?
    };
    let mut p = RcptParams::default();
    for (key, value) in esmtp_params(params)? {
        match key.as_str() {
            "NOTIFY" => set_once(&mut p.notify, parse_notify(value)?)?,
            "ORCPT" => set_once(&mut p.orcpt, parse_orcpt(value)?)?,
            _ => return Err(Unsupported("Unsupported RCPT parameter")),
        }
    }
    Ok(Command::Rcpt { to, params: p })
}

/// `"BDAT" SP chunk-size [SP end-marker]` (RFC 3030 §3).
fn parse_bdat(arg: &str) -> Result<Command, CommandError> {
    const MSG: &str = "Syntax: BDAT size [LAST]";
    let mut words = arg.split(' ').filter(|w| !w.is_empty());
    let size = words.next().ok_or(Syntax(MSG))?;
    if size.is_empty() || size.len() > 19 || !size.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Syntax(MSG));
    }
    let size = size.parse::<u64>().map_err(|_| Syntax(MSG))?;
    let last = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return Err(Syntax(MSG)),
    };
    if words.next().is_some() {
        return Err(Syntax(MSG));
    }
    Ok(Command::Bdat { size, last })
}

/// `"AUTH" SP sasl-mech [SP initial-response]` (RFC 4954 §4).
fn parse_auth(arg: &str) -> Result<Command, CommandError> {
    const MSG: &str = "Syntax: AUTH mechanism [initial-response]";
    let mut words = arg.split(' ').filter(|w| !w.is_empty());
    let mechanism = words.next().ok_or(Syntax(MSG))?.to_ascii_uppercase();
    let initial = words.next().map(str::to_string);
    if words.next().is_some() {
        return Err(Syntax(MSG));
    }
    Ok(Command::Auth { mechanism, initial })
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    // A space after the colon is a common client bug; accept it.
    head.eq_ignore_ascii_case(prefix)
        .then(|| s[prefix.len()..].trim_start_matches(' '))
}

/// Split `<path> params` into the text inside the brackets and the parameters. A `>` inside a
/// quoted local part does not end the path.
fn split_path<'a>(s: &'a str, msg: &'static str) -> Result<(&'a str, &'a str), CommandError> {
    let inner = s.strip_prefix('<').ok_or(Syntax(msg))?;
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in inner.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => {
                let rest = &inner[i + 1..];
                if !rest.is_empty() && !rest.starts_with(' ') {
                    return Err(Syntax(msg));
                }
                return Ok((&inner[..i], rest));
            }
            _ => {}
        }
    }
    Err(Syntax(msg))
}

/// `Path = "<" [ A-d-l ":" ] Mailbox ">"`: the source route is dropped (RFC 5321 §4.1.2,
/// "MUST accept … and ignore").
fn reverse_path(path: &str) -> Option<String> {
    let mailbox = if path.starts_with('@') {
        let (adl, mailbox) = path.split_once(':')?;
        for hop in adl.split(',') {
            if !is_domain(hop.strip_prefix('@')?) {
                return None;
            }
        }
        mailbox
    } else {
        path
    };
    is_mailbox(mailbox).then(|| mailbox.to_string())
}

/// `Mailbox = Local-part "@" ( Domain / address-literal )`, with RFC 6531 UTF-8 allowed
/// (whether it is permitted in this transaction is the session's call). At most 254 octets,
/// so the path fits in RFC 5321's 256 (§4.5.3.1.3).
pub(crate) fn is_mailbox(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    s.len() <= 254 && is_local_part(local) && (is_domain(domain) || is_address_literal(domain))
}

/// `Local-part = Dot-string / Quoted-string`
fn is_local_part(s: &str) -> bool {
    if let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        // qtextSMTP = %d32-33 / %d35-91 / %d93-126 / UTF8-non-ascii; quoted-pairSMTP = "\" %d32-126
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(' '..='~') => {}
                    _ => return false,
                },
                '"' => return false,
                ' '..='~' => {}
                _ if !c.is_ascii() && !c.is_control() => {}
                _ => return false,
            }
        }
        true
    } else {
        !s.is_empty()
            && s.split('.')
                .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
    }
}

/// RFC 5322 atext, plus UTF8-non-ascii (RFC 6531 §3.3).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "!#$%&'*+-/=?^_`{|}~".contains(c)
        || (!c.is_ascii() && !c.is_control())
}

/// `Domain = sub-domain *("." sub-domain)`; `sub-domain = Let-dig [Ldh-str]` or a U-label.
pub(crate) fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| {
                    c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && !c.is_control())
                })
        })
}

/// `address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
/// General-address-literal ) "]"` (RFC 5321 §4.1.3).
fn is_address_literal(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else {
        return false;
    };
    if inner.parse::<Ipv4Addr>().is_ok() {
        return true;
    }
    if let Some(v6) = strip_prefix_ci(inner, "IPv6:") {
        return v6.parse::<Ipv6Addr>().is_ok();
    }
    // General-address-literal = Standardized-tag ":" 1*dcontent
    match inner.split_once(':') {
        Some((tag, content)) => {
            is_domain(tag)
                && !content.is_empty()
                && content
                    .bytes()
                    .all(|b| (33..=90).contains(&b) || (94..=126).contains(&b))
        }
        None => false,
    }
}

/// `esmtp-param = esmtp-keyword ["=" esmtp-value]`, keywords upper-cased.
fn esmtp_params(s: &str) -> Result<Vec<(String, Option<&str>)>, CommandError> {
    let mut out = Vec::new();
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (word, None),
        };
        // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
        let key_ok = key
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        // esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 under SMTPUTF8
        let value_ok = match value {
            None => true,
            Some(v) => {
                !v.is_empty()
                    && v.chars()
                        .all(|c| c != '=' && !c.is_control() && !c.is_whitespace())
            }
        };
        if !key_ok || !value_ok {
            return Err(Syntax("Invalid parameter syntax"));
        }
        out.push((key.to_ascii_uppercase(), value));
    }
    Ok(out)
}

fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), CommandError> {
    if slot.is_some() {
        return Err(Syntax("Duplicate parameter"));
    }
    *slot = Some(value);
    Ok(())
}

/// RFC 1870: `SIZE=1*20DIGIT`. A value too large for u64 is kept as u64::MAX (then refused
/// as too big, which is what it is).
fn parse_size(v: Option<&str>) -> Result<u64, CommandError> {
    let v = v.ok_or(Syntax("SIZE requires a value"))?;
    if v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Syntax("Invalid SIZE value"));
    }
    Ok(v.parse::<u64>().unwrap_or(u64::MAX))
}

fn parse_body(v: Option<&str>) -> Result<BodyType, CommandError> {
    match v.map(str::to_ascii_uppercase).as_deref() {
        Some("7BIT") => Ok(BodyType::SevenBit),
        Some("8BITMIME") => Ok(BodyType::EightBitMime),
        Some("BINARYMIME") => Err(Unsupported("BODY=BINARYMIME not supported")),
        _ => Err(Syntax("Invalid BODY value")),
    }
}

fn parse_ret(v: Option<&str>) -> Result<DsnRet, CommandError> {
    match v.map(str::to_ascii_uppercase).as_deref() {
        Some("FULL") => Ok(DsnRet::Full),
        Some("HDRS") => Ok(DsnRet::Hdrs),
        _ => Err(Syntax("Invalid RET value")),
    }
}

/// RFC 3461 §4.4: `ENVID=xtext`, at most 100 characters.
fn parse_envid(v: Option<&str>) -> Result<String, CommandError> {
    let v = v.ok_or(Syntax("ENVID requires a value"))?;
    if v.len() > 100 {
        return Err(Syntax("ENVID too long"));
    }
    xtext_decode(v).ok_or(Syntax("Invalid ENVID value"))
}

/// RFC 4954 §5: `AUTH=xtext` or `AUTH=<>`.
fn parse_auth_param(v: Option<&str>) -> Result<String, CommandError> {
    match v {
        Some("<>") => Ok(String::new()),
        Some(v) => xtext_decode(v).ok_or(Syntax("Invalid AUTH value")),
        None => Err(Syntax("AUTH requires a value")),
    }
}

/// RFC 3461 §4.1: `NOTIFY="NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" )`.
fn parse_notify(v: Option<&str>) -> Result<Vec<DsnNotify>, CommandError> {
    const MSG: &str = "Invalid NOTIFY value";
    let v = v.ok_or(Syntax(MSG))?;
    let mut out = Vec::new();
    for item in v.split(',') {
        let n = match item.to_ascii_uppercase().as_str() {
            "NEVER" => DsnNotify::Never,
            "SUCCESS" => DsnNotify::Success,
            "FAILURE" => DsnNotify::Failure,
            "DELAY" => DsnNotify::Delay,
            _ => return Err(Syntax(MSG)),
        };
        if out.contains(&n) {
            return Err(Syntax(MSG));
        }
        out.push(n);
    }
    if out.len() > 1 && out.contains(&DsnNotify::Never) {
        return Err(Syntax(MSG));
    }
    Ok(out)
}

/// RFC 3461 §4.2: `ORCPT=addr-type ";" xtext`, stored as "addr-type;decoded".
fn parse_orcpt(v: Option<&str>) -> Result<String, CommandError> {
    const MSG: &str = "Invalid ORCPT value";
    let (kind, addr) = v.and_then(|v| v.split_once(';')).ok_or(Syntax(MSG))?;
    let kind_ok = !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !kind_ok || addr.is_empty() {
        return Err(Syntax(MSG));
    }
    let addr = xtext_decode(addr).ok_or(Syntax(MSG))?;
    Ok(format!("{kind};{addr}"))
}

/// RFC 3461 §4: `xtext = *( xchar / hexchar )`, `hexchar = "+" 2HEXDIG` (lower-case hex
/// digits are accepted too). `None` for malformed input or a result that is not UTF-8.
pub fn xtext_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'=' => return None,
            b @ 33..=126 => {
                out.push(b);
                i += 1;
            }
            // UTF-8 in esmtp-value is allowed under SMTPUTF8; keep it as is.
            b if b >= 0x80 => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

/// Encode as xtext: "+", "=" and anything outside "!".."~" become `+XX`.
pub fn xtext_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if (33..=126).contains(&b) && b != b'+' && b != b'=' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}
