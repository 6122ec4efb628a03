//! APPEND with CATENATE (RFC 4469): a new message made of literal text and of messages or
//! parts already on this server, named by IMAP URLs (RFC 5092).
//!
//! Implementation notes:
//! - URL forms accepted: absolute `imap://[user[;AUTH=…]@]host[:port]/mailbox…`, with the
//!   host this server's name and the user (if given) the logged-in one; path-absolute
//!   `/mailbox;UIDVALIDITY=n/;UID=n…` (this server, this user); and, with a mailbox selected,
//!   `;UID=n…` relative to it. After the UID come `/;SECTION=…` (a FETCH section-spec,
//!   percent-encoded) and `/;PARTIAL=offset[.length]`.
//! - The user needs the "r" right on the mailbox named, as for FETCH; a stated UIDVALIDITY
//!   must be the mailbox's. A URL with `;URLAUTH=` (RFC 4467) is judged by its token and
//!   access identifier instead (see `urlauth.rs`), as URLFETCH would, so another user's
//!   message can be included. Anything that does not resolve — another server or user, a URL
//!   without a UID, a missing message or section, a URLAUTH URL that does not authorize —
//!   is `NO [BADURL url]`, and nothing is appended (RFC 4469 §5).
//! - Mailbox names in URLs are percent-encoded UTF-8 (RFC 5092 §3.2), in the client's view
//!   of the namespaces ("Other Users/…", "Public Folders/…").
//! - The whole message must stay within APPENDLIMIT (`NO [TOOBIG]`), checked as parts are
//!   added, so a URL list cannot build something larger in memory.

use super::backend::Backend;
use super::message;
use super::parser::{parse_command, ParseOptions};
use super::session::{Done, Session, State};
use super::types::{CatPart, CommandBody, FetchAttr, Section};

/// A message or part named by an IMAP URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageUrl {
    /// The mailbox as the client names it; `None`: the selected one.
    pub mailbox: Option<String>,
    pub uidvalidity: Option<u32>,
    pub uid: u32,
    /// `section-spec` text (e.g. "1.2", "HEADER.FIELDS (TO)"), decoded.
    pub section: Option<String>,
    /// Offset and optional length.
    pub partial: Option<(u32, Option<u32>)>,
}

/// `%XX` escapes decoded; None for a bad escape or non-UTF-8 result.
pub(super) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `key` (case-insensitive, with its "=") at the start of `s`: the rest.
fn strip_param<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let head = s.get(..key.len())?;
    head.eq_ignore_ascii_case(key).then(|| &s[key.len()..])
}

/// The authority of an absolute URL: the user (decoded, `;AUTH=…` dropped; `None` when
/// absent) and the host (without port).
pub(super) type Authority = (Option<String>, String);

/// Parses a URL naming a message on this server (`hostname`) for `user`.
pub fn parse_url(url: &str, hostname: &str, user: &str) -> Option<MessageUrl> {
    if path_has_urlauth(url) {
        return None;
    }
    let (authority, parsed) = split_url(url)?;
    if let Some((name, host)) = authority {
        if !host.eq_ignore_ascii_case(hostname) {
            return None;
        }
        if name.is_some_and(|n| !n.is_empty() && !n.eq_ignore_ascii_case(user)) {
            return None;
        }
    }
    Some(parsed)
}

/// Whether a URL carries `;URLAUTH=` (RFC 4467), which [`parse_url`] does not take.
pub(super) fn path_has_urlauth(url: &str) -> bool {
    url.to_ascii_uppercase().contains(";URLAUTH=")
}

/// A URL's authority (for absolute URLs) and the message it names, checking nothing about
/// whose it is.
pub(super) fn split_url(url: &str) -> Option<(Option<Authority>, MessageUrl)> {
    let (authority, path) = match strip_param(url, "imap://") {
        Some(rest) => {
            let (authority, path) = rest.split_at(rest.find('/')?);
            let (userinfo, hostport) = match authority.rsplit_once('@') {
                Some((u, h)) => (Some(u), h),
                None => (None, authority),
            };
            let host = hostport.split(':').next().unwrap_or_default().to_string();
            let name = match userinfo {
                Some(u) => Some(percent_decode(u.split(';').next().unwrap_or_default())?),
                None => None,
            };
            (Some((name, host)), path)
        }
        None => (None, url),
    };
    // "/mailbox[;UIDVALIDITY=n]/;UID=n…" or ";UID=n…" (relative to the selected mailbox).
    let (mailbox, uidvalidity, rest) = if let Some(rest) = strip_param(path, ";UID=") {
        (None, None, rest)
    } else {
        let path = path.strip_prefix('/')?;
        let at = path.to_ascii_uppercase().find("/;UID=")?;
        let (mbox, rest) = (&path[..at], &path[at + "/;UID=".len()..]);
        let (name, uidvalidity) = match mbox.to_ascii_uppercase().find(";UIDVALIDITY=") {
            Some(v) => (
                &mbox[..v],
                Some(mbox[v + ";UIDVALIDITY=".len()..].parse().ok()?),
            ),
            None => (mbox, None),
        };
        let name = percent_decode(name)?;
        if name.is_empty() {
            return None;
        }
        (Some(name), uidvalidity, rest)
    };
    let mut segments = rest.split("/;");
    let uid: u32 = segments.next()?.parse().ok().filter(|u| *u > 0)?;
    let mut out = MessageUrl {
        mailbox,
        uidvalidity,
        uid,
        section: None,
        partial: None,
    };
    for seg in segments {
        if let Some(s) = strip_param(seg, "SECTION=") {
            out.section = Some(percent_decode(s)?);
        } else if let Some(p) = strip_param(seg, "PARTIAL=") {
            let (o, l) = match p.split_once('.') {
                Some((o, l)) => (o, Some(l.parse().ok().filter(|n| *n > 0)?)),
                None => (p, None),
            };
            out.partial = Some((o.parse().ok()?, l));
        } else {
            return None;
        }
    }
    Some((authority, out))
}

/// A section-spec, parsed by the FETCH grammar itself (RFC 5092 `isection` is one).
pub(super) fn parse_section(spec: &str) -> Option<Section> {
    let frame = format!("x FETCH 1 BODY.PEEK[{spec}]\r\n");
    match parse_command(frame.as_bytes(), &ParseOptions::default())
        .ok()?
        .body
    {
        CommandBody::Fetch { mut attrs, .. } if attrs.len() == 1 => match attrs.pop()? {
            FetchAttr::BodySection {
                section,
                partial: None,
                ..
            } => Some(section),
            _ => None,
        },
        _ => None,
    }
}

/// `NO [BADURL url]`: the URL as `url-resp-text` allows (no "]" or controls).
pub(super) fn bad_url(url: &str, why: &str) -> Done {
    let clean: String = url
        .chars()
        .filter(|c| *c != ']' && !c.is_control())
        .collect();
    Done::No(format!("[BADURL {clean}] {why}"))
}

impl Session {
    /// The message a CATENATE list describes (RFC 4469 §5), within APPENDLIMIT.
    pub(super) fn catenate(
        &self,
        parts: Vec<CatPart>,
        backend: &dyn Backend,
    ) -> Result<Vec<u8>, Done> {
        let limit = self.config.append_limit;
        let mut out: Vec<u8> = Vec::new();
        for part in parts {
            match part {
                CatPart::Text(t) => out.extend_from_slice(&t),
                CatPart::Url(url) => {
                    let data = self.resolve_url(&url, backend)?;
                    out.extend_from_slice(&data);
                }
            }
            if out.len() as u64 > limit {
                return Err(Done::No("[TOOBIG] Message exceeds APPENDLIMIT".into()));
            }
        }
        Ok(out)
    }

    /// The bytes an IMAP URL names, if the user may read them.
    fn resolve_url(&self, url: &str, backend: &dyn Backend) -> Result<Vec<u8>, Done> {
        if path_has_urlauth(url) {
            // RFC 4469 §5 with RFC 4467: the URL's own authorization, not the user's rights.
            return self
                .urlauth_part(url, backend)
                .map(|(content, parsed)| part_bytes(content, &parsed))
                .ok_or_else(|| bad_url(url, "URLAUTH does not authorize this URL"))?
                .map_err(|why| bad_url(url, why));
        }
        let me = self.me();
        let parsed = parse_url(url, &self.config.hostname, &me)
            .ok_or_else(|| bad_url(url, "Not a URL of a message on this server"))?;
        let folder = match &parsed.mailbox {
            Some(name) => {
                let (folder, rights) = self
                    .open_folder(backend, name)
                    .map_err(|_| bad_url(url, "No such mailbox"))?;
                if !rights.contains('r') {
                    return Err(bad_url(url, "No read access"));
                }
                folder
            }
            None => match &self.state {
                State::Selected(sel) => sel.folder.clone(),
                _ => return Err(bad_url(url, "A relative URL needs a selected mailbox")),
            },
        };
        if parsed.uidvalidity.is_some_and(|v| v != folder.uidvalidity) {
            return Err(bad_url(url, "UIDVALIDITY differs"));
        }
        let content = backend
            .message_content(folder.id, parsed.uid)
            .map_err(|_| bad_url(url, "No such message"))?;
        part_bytes(content, &parsed).map_err(|why| bad_url(url, why))
    }
}

/// The section and partial range a URL names, out of the whole message.
pub(super) fn part_bytes(content: Vec<u8>, url: &MessageUrl) -> Result<Vec<u8>, &'static str> {
    let mut data = match &url.section {
        None => content,
        Some(spec) => {
            let section = parse_section(spec).ok_or("Invalid section")?;
            message::parse(&content)
                .section(&section.part, section.text.as_ref())
                .ok_or("No such section")?
        }
    };
    if let Some((offset, len)) = url.partial {
        data = message::partial(&data, offset, len.unwrap_or(u32::MAX)).to_vec();
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "mx.example.com";
    const ME: &str = "bob@example.com";

    fn url(s: &str) -> Option<MessageUrl> {
        parse_url(s, HOST, ME)
    }

    #[test]
    fn url_forms() {
        assert_eq!(
            url("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER"),
            Some(MessageUrl {
                mailbox: Some("Drafts".into()),
                uidvalidity: Some(385_759_045),
                uid: 20,
                section: Some("HEADER".into()),
                partial: None,
            })
        );
        assert_eq!(
            url("imap://bob%40example.com;AUTH=*@MX.example.com:143/Other%20Users/alice%40example.com/Caf%C3%A9/;UID=3/;SECTION=1.2/;PARTIAL=10.20"),
            Some(MessageUrl {
                mailbox: Some("Other Users/alice@example.com/Café".into()),
                uidvalidity: None,
                uid: 3,
                section: Some("1.2".into()),
                partial: Some((10, Some(20))),
            })
        );
        assert_eq!(
            url(";UID=7/;SECTION=HEADER.FIELDS%20(TO%20FROM)/;partial=5"),
            Some(MessageUrl {
                mailbox: None,
                uidvalidity: None,
                uid: 7,
                section: Some("HEADER.FIELDS (TO FROM)".into()),
                partial: Some((5, None)),
            })
        );
        assert_eq!(url("imap://mx.example.com/INBOX/;UID=1").unwrap().uid, 1);
    }

    #[test]
    fn urls_that_do_not_resolve_here() {
        for bad in [
            "imap://other.example.net/INBOX/;UID=1",
            "imap://alice@mx.example.com/INBOX/;UID=1",
            "imap://mx.example.com",
            "/INBOX",
            "/INBOX;UIDVALIDITY=x/;UID=1",
            "/INBOX/;UID=0",
            "/INBOX/;UID=1/;SECTION=%ZZ",
            "/INBOX/;UID=1/;PARTIAL=1.0",
            "/INBOX/;UID=1/;BOGUS=1",
            "/INBOX/;UID=1;URLAUTH=anonymous:internal:abc",
            "//;UID=1",
            "INBOX/;UID=1",
        ] {
            assert_eq!(url(bad), None, "{bad}");
        }
    }

    #[test]
    fn sections_use_the_fetch_grammar() {
        assert_eq!(parse_section("").unwrap().part, Vec::<u32>::new());
        assert_eq!(parse_section("1.2.MIME").unwrap().part, vec![1, 2]);
        assert!(parse_section("HEADER.FIELDS (TO)").is_some());
        assert!(parse_section("BOGUS").is_none());
        assert!(parse_section("1]<0.1").is_none());
    }

    #[test]
    fn bad_url_text_has_no_bracket() {
        let Done::No(t) = bad_url("/a]b\r\n", "x") else {
            panic!()
        };
        assert_eq!(t, "[BADURL /ab] x");
    }
}

#[cfg(test)]
mod session_tests {
    //! Through a whole session over the in-memory backend (see `metadata::session_tests`).

    use super::super::fuzz::{MemBackend, OTHER, USER};
    use super::super::metadata::session_tests::{login_with_limit, run};

    #[test]
    fn rights_and_the_size_limit() {
        let b = MemBackend::new();
        let mut alice = login_with_limit(USER, &b, 3000);
        // Another user's folder shared with "lrsw": readable.
        let r = run(
            &mut alice,
            &b,
            "a APPEND Drafts CATENATE (URL \"/Other%20Users/bob%40fuzz.test/Team/;UID=1/;SECTION=HEADER\")\r\n",
        );
        assert!(r.starts_with("a OK [APPENDUID"), "{r}");
        // Without "r" the message cannot be read through a URL either.
        let mut bob = login_with_limit(OTHER, &b, 3000);
        assert!(run(&mut bob, &b, "s SETACL Team alice@fuzz.test l\r\n").contains("s OK"));
        let r = run(
            &mut alice,
            &b,
            "b APPEND Drafts CATENATE (URL \"/Other%20Users/bob%40fuzz.test/Team/;UID=1\")\r\n",
        );
        assert_eq!(
            r,
            "b NO [BADURL /Other%20Users/bob%40fuzz.test/Team/;UID=1] No read access\r\n"
        );
        // Bob's INBOX is not shared: it does not exist for alice.
        let r = run(
            &mut alice,
            &b,
            "c APPEND Drafts CATENATE (URL \"/Other%20Users/bob%40fuzz.test/INBOX/;UID=1\")\r\n",
        );
        assert!(r.starts_with("c NO [BADURL"), "{r}");
        assert!(r.ends_with("No such mailbox\r\n"), "{r}");
        // The parts together may not pass APPENDLIMIT (the sample messages are ~600-1500
        // octets: three copies of the multipart pass 3000).
        let url = "URL \"/INBOX/;UID=3\"";
        let r = run(
            &mut alice,
            &b,
            &format!("d APPEND Drafts CATENATE ({url} {url} {url} {url})\r\n"),
        );
        assert_eq!(r, "d NO [TOOBIG] Message exceeds APPENDLIMIT\r\n");
        let r = run(&mut alice, &b, "e STATUS Drafts (MESSAGES)\r\n");
        assert!(r.starts_with("* STATUS Drafts (MESSAGES 1)"), "{r}");
    }
}
