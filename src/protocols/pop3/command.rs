//! POP3 command lines → [`Command`] (RFC 1939 §3, §9; RFC 2449 §4-5; RFC 5034 §4;
//! RFC 2595 §4; RFC 6856 §2).
//!
//! ```text
//! command  = keyword *(SP argument)        ; keyword: 3-4 letters, any case
//! msg      = 1*DIGIT                       ; a message number, 1-based
//! USER name | PASS string (rest of line, spaces included: RFC 1939 §7)
//! STAT | LIST [msg] | RETR msg | DELE msg | NOOP | RSET | QUIT | TOP msg n | UIDL [msg]
//! CAPA | STLS | UTF8 | AUTH [mechanism [initial-response]]
//! ```
//!
//! Bounds (RFC 2449 §4): a command line is at most 255 octets with its CRLF, an argument at
//! most 40 characters — except the user name (addresses run longer), the password, and AUTH's
//! initial response (RFC 5034 §4), which are bounded by the line alone.

use std::fmt;

/// RFC 2449 §4: "The maximum length of a command is ... 255 octets, including the
/// terminating CRLF."
pub const MAX_COMMAND_LINE: usize = 255;
/// Lines carrying SASL data (AUTH with an initial response, and the responses of an
/// exchange): the bound RFC 4954 §4 sets for SMTP AUTH, enough for any PLAIN or LOGIN data.
pub const MAX_SASL_LINE: usize = 12_288;
/// RFC 1939 §3: "each argument may be up to 40 characters long".
pub const MAX_ARGUMENT: usize = 40;

/// A password (or other secret) that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    User(String),
    Pass(Secret),
    Quit,
    Stat,
    List(Option<u32>),
    Retr(u32),
    Dele(u32),
    Noop,
    Rset,
    Top {
        msg: u32,
        lines: u32,
    },
    Uidl(Option<u32>),
    Capa,
    Stls,
    Utf8,
    /// `AUTH` alone lists the mechanisms (RFC 1734 clients still ask).
    Auth {
        mechanism: Option<String>,
        initial: Option<Secret>,
    },
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Quit => "QUIT",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Retr(_) => "RETR",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Top { .. } => "TOP",
            Command::Uidl(_) => "UIDL",
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
            Command::Utf8 => "UTF8",
            Command::Auth { .. } => "AUTH",
        }
    }

    /// The command as a client writes it (without CRLF); `parse` reads it back.
    pub fn to_line(&self) -> String {
        let n = |m: &Option<u32>| m.map(|m| format!(" {m}")).unwrap_or_default();
        match self {
            Command::User(u) => format!("USER {u}"),
            Command::Pass(p) => format!("PASS {}", p.0),
            Command::List(m) => format!("LIST{}", n(m)),
            Command::Uidl(m) => format!("UIDL{}", n(m)),
            Command::Retr(m) => format!("RETR {m}"),
            Command::Dele(m) => format!("DELE {m}"),
            Command::Top { msg, lines } => format!("TOP {msg} {lines}"),
            Command::Auth { mechanism, initial } => {
                let mut s = "AUTH".to_string();
                if let Some(m) = mechanism {
                    s.push(' ');
                    s.push_str(m);
                }
                if let Some(i) = initial {
                    s.push(' ');
                    s.push_str(&i.0);
                }
                s
            }
            other => other.name().to_string(),
        }
    }
}

/// Why a line is not a command; the text goes after `-ERR `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

fn err<T>(m: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError(m.into()))
}

/// Parses one command line (without its CRLF).
pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
    let Ok(text) = std::str::from_utf8(line) else {
        return err("Command line is not valid UTF-8");
    };
    if text.is_empty() {
        return err("Empty command line");
    }
    let (keyword, rest) = match text.split_once(' ') {
        Some((k, r)) => (k, Some(r)),
        None => (text, None),
    };
    let kw = keyword.to_ascii_uppercase();
    let is_auth = kw == "AUTH";
    if line.len() + 2 > MAX_COMMAND_LINE && !is_auth {
        return err(format!(
            "Command line too long ({MAX_COMMAND_LINE} octets at most)"
        ));
    }
    if text.chars().any(|c| c.is_control()) {
        return err("Control characters in command line");
    }
    match kw.as_str() {
        // RFC 1939 §7: the password is everything after "PASS ", spaces included.
        "PASS" => match rest {
            Some(p) if !p.is_empty() => Ok(Command::Pass(Secret(p.to_string()))),
            _ => err("PASS needs a password"),
        },
        "USER" => match *args(rest)? {
            [u] => Ok(Command::User(u.to_string())),
            _ => err("USER takes one argument: a user name"),
        },
        "AUTH" => auth(rest),
        _ => {
            let a: Vec<&str> = match rest {
                None => Vec::new(),
                Some(_) => args(rest)?.to_vec(),
            };
            if a.iter().any(|a| a.len() > MAX_ARGUMENT) {
                return err(format!(
                    "Argument too long ({MAX_ARGUMENT} characters at most)"
                ));
            }
            simple(&kw, &a)
        }
    }
}

/// Splits arguments on single spaces (RFC 1939 §3: "separated by a single SPACE").
fn args(rest: Option<&str>) -> Result<Box<[&str]>, ParseError> {
    let Some(rest) = rest else {
        return Ok(Box::new([]));
    };
    let parts: Vec<&str> = rest.split(' ').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return err("Arguments are separated by single spaces");
    }
    Ok(parts.into_boxed_slice())
}

/// A message number (RFC 1939 §3: decimal, 1-based) or a line count.
fn number(s: &str, what: &str) -> Result<u32, ParseError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return err(format!("Invalid {what}: {s:?} is not a number"));
    }
    s.parse()
        .or_else(|_| err(format!("Invalid {what}: {s} is too large")))
}

fn msg(s: &str) -> Result<u32, ParseError> {
    number(s, "message number")
}

fn simple(kw: &str, a: &[&str]) -> Result<Command, ParseError> {
    let none = |c: Command| {
        if a.is_empty() {
            Ok(c)
        } else {
            err(format!("{kw} takes no arguments"))
        }
    };
    let one = |f: fn(u32) -> Command| match a {
        [m] => Ok(f(msg(m)?)),
        _ => err(format!("{kw} takes one argument: a message number")),
    };
    let optional = |f: fn(Option<u32>) -> Command| match a {
        [] => Ok(f(None)),
        [m] => Ok(f(Some(msg(m)?))),
        _ => err(format!("{kw} takes at most one argument: a message number")),
    };
    match kw {
        "QUIT" => none(Command::Quit),
        "STAT" => none(Command::Stat),
        "NOOP" => none(Command::Noop),
        "RSET" => none(Command::Rset),
        "CAPA" => none(Command::Capa),
        "STLS" => none(Command::Stls),
        "UTF8" => none(Command::Utf8),
        "RETR" => one(Command::Retr),
        "DELE" => one(Command::Dele),
        "LIST" => optional(Command::List),
        "UIDL" => optional(Command::Uidl),
        "TOP" => match a {
            [m, n] => Ok(Command::Top {
                msg: msg(m)?,
                lines: number(n, "line count")?,
            }),
            _ => err("TOP takes two arguments: a message number and a line count"),
        },
        "APOP" => err("APOP is not supported; use USER/PASS or AUTH"),
        _ => {
            let shown: String = kw.chars().take(MAX_ARGUMENT).collect();
            err(format!("Unknown command: {shown}"))
        }
    }
}

/// RFC 5034 §4: `AUTH mechanism [initial-response]`.
fn auth(rest: Option<&str>) -> Result<Command, ParseError> {
    let Some(rest) = rest else {
        return Ok(Command::Auth {
            mechanism: None,
            initial: None,
        });
    };
    let (mech, initial) = match rest.split_once(' ') {
        Some((m, i)) => (m, Some(i)),
        None => (rest, None),
    };
    if mech.is_empty() || mech.len() > 20 {
        return err("AUTH needs a mechanism name");
    }
    match initial {
        Some(i) if i.is_empty() || i.contains(' ') => {
            err("AUTH takes a mechanism and one initial response")
        }
        _ => Ok(Command::Auth {
            mechanism: Some(mech.to_ascii_uppercase()),
            initial: initial.map(|i| Secret(i.to_string())),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::pop3::framer::{LineEvent, LineFramer};

    fn ok(line: &str, expected: Command) {
        assert_eq!(parse(line.as_bytes()), Ok(expected), "{line:?}");
    }

    fn bad(line: &str, message: &str) {
        match parse(line.as_bytes()) {
            Err(ParseError(m)) => assert_eq!(m, message, "{line:?}"),
            Ok(c) => panic!("{line:?} parsed as {c:?}"),
        }
    }

    #[test]
    fn commands() {
        ok(
            "USER bob@example.com",
            Command::User("bob@example.com".into()),
        );
        ok("user bob", Command::User("bob".into()));
        ok(
            "PASS correct horse",
            Command::Pass(Secret("correct horse".into())),
        );
        ok("PASS  lead", Command::Pass(Secret(" lead".into())));
        ok("STAT", Command::Stat);
        ok("list", Command::List(None));
        ok("LIST 2", Command::List(Some(2)));
        ok("RETR 1", Command::Retr(1));
        ok("DELE 10", Command::Dele(10));
        ok("NOOP", Command::Noop);
        ok("RSET", Command::Rset);
        ok("QUIT", Command::Quit);
        ok("TOP 1 0", Command::Top { msg: 1, lines: 0 });
        ok("UIDL", Command::Uidl(None));
        ok("UIDL 3", Command::Uidl(Some(3)));
        ok("CAPA", Command::Capa);
        ok("STLS", Command::Stls);
        ok("UTF8", Command::Utf8);
        ok(
            "AUTH",
            Command::Auth {
                mechanism: None,
                initial: None,
            },
        );
        ok(
            "AUTH plain AGJvYgB4",
            Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial: Some(Secret("AGJvYgB4".into())),
            },
        );
        ok(
            "AUTH PLAIN =",
            Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial: Some(Secret("=".into())),
            },
        );
        ok(
            "USER jos\u{e9}@example.com",
            Command::User("jos\u{e9}@example.com".into()),
        );
    }

    #[test]
    fn errors() {
        bad("", "Empty command line");
        bad("XYZZY", "Unknown command: XYZZY");
        bad(
            "APOP bob 1234",
            "APOP is not supported; use USER/PASS or AUTH",
        );
        bad("STAT 1", "STAT takes no arguments");
        bad("RETR", "RETR takes one argument: a message number");
        bad("RETR 1 2", "RETR takes one argument: a message number");
        bad("RETR x", "Invalid message number: \"x\" is not a number");
        bad("RETR -1", "Invalid message number: \"-1\" is not a number");
        bad("RETR +1", "Invalid message number: \"+1\" is not a number");
        bad(
            "RETR 99999999999",
            "Invalid message number: 99999999999 is too large",
        );
        bad(
            "LIST 1 2",
            "LIST takes at most one argument: a message number",
        );
        bad("LIST  1", "Arguments are separated by single spaces");
        bad("STAT ", "Arguments are separated by single spaces");
        bad(
            "TOP 1",
            "TOP takes two arguments: a message number and a line count",
        );
        bad("TOP 1 x", "Invalid line count: \"x\" is not a number");
        bad("USER", "USER takes one argument: a user name");
        bad("USER a b", "USER takes one argument: a user name");
        bad("PASS", "PASS needs a password");
        bad("PASS ", "PASS needs a password");
        bad("AUTH ", "AUTH needs a mechanism name");
        bad(
            "AUTH PLAIN a b",
            "AUTH takes a mechanism and one initial response",
        );
        bad("NOOP\u{1}", "Control characters in command line");
        bad(
            &format!("RETR {}", "1".repeat(41)),
            "Argument too long (40 characters at most)",
        );
        bad(
            &format!("USER {}", "a".repeat(249)),
            "Command line too long (255 octets at most)",
        );
        assert_eq!(
            parse(b"USER \xff"),
            Err(ParseError("Command line is not valid UTF-8".into()))
        );
    }

    #[test]
    fn bounds_are_exact() {
        // 255 octets with CRLF fit; 256 do not.
        let fits = format!("USER {}", "a".repeat(MAX_COMMAND_LINE - 2 - 5));
        assert!(matches!(parse(fits.as_bytes()), Ok(Command::User(_))));
        let over = format!("USER {}", "a".repeat(MAX_COMMAND_LINE - 1 - 5));
        assert!(parse(over.as_bytes()).is_err());
        // AUTH's initial response is bounded by the SASL line instead.
        let long_ir = format!("AUTH PLAIN {}", "A".repeat(1000));
        assert!(matches!(
            parse(long_ir.as_bytes()),
            Ok(Command::Auth { .. })
        ));
    }

    /// Every case through the framer, split at every byte, parses the same.
    #[test]
    fn split_at_every_byte() {
        let lines = [
            "USER bob@example.com",
            "PASS correct horse",
            "LIST 2",
            "TOP 1 10",
            "UIDL",
            "AUTH PLAIN AGJvYgB4",
            "XYZZY",
            "RETR x",
        ];
        for l in lines {
            let wire = format!("{l}\r\n");
            let expected = parse(l.as_bytes());
            for split in 0..=wire.len() {
                let mut f = LineFramer::new(MAX_SASL_LINE);
                f.push(&wire.as_bytes()[..split]);
                let mut got = Vec::new();
                got.extend(std::iter::from_fn(|| f.next()));
                f.push(&wire.as_bytes()[split..]);
                got.extend(std::iter::from_fn(|| f.next()));
                let parsed: Vec<_> = got
                    .into_iter()
                    .map(|e| match e {
                        LineEvent::Line(b) => parse(&b),
                        LineEvent::TooLong => panic!("too long"),
                    })
                    .collect();
                assert_eq!(parsed, vec![expected.clone()], "{l:?} split at {split}");
            }
        }
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        fn command() -> impl Strategy<Value = Command> {
            let user = "[a-z0-9._@-]{1,40}";
            let num = 1u32..100_000;
            prop_oneof![
                user.prop_map(Command::User),
                "[ -~]{1,60}".prop_map(|p| Command::Pass(Secret(p))),
                Just(Command::Quit),
                Just(Command::Stat),
                proptest::option::of(num.clone()).prop_map(Command::List),
                num.clone().prop_map(Command::Retr),
                num.clone().prop_map(Command::Dele),
                Just(Command::Noop),
                Just(Command::Rset),
                (num.clone(), 0u32..1000).prop_map(|(msg, lines)| Command::Top { msg, lines }),
                proptest::option::of(num).prop_map(Command::Uidl),
                Just(Command::Capa),
                Just(Command::Stls),
                Just(Command::Utf8),
                ("PLAIN|LOGIN", proptest::option::of("[A-Za-z0-9+/=]{1,80}")).prop_map(|(m, i)| {
                    Command::Auth {
                        mechanism: Some(m),
                        initial: i.map(Secret),
                    }
                }),
            ]
        }

        proptest! {
            #[test]
            fn print_then_parse_round_trips(c in command()) {
                prop_assert_eq!(parse(c.to_line().as_bytes()), Ok(c));
            }

            #[test]
            fn arbitrary_lines_never_panic(line in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = parse(&line);
            }
        }
    }
}
