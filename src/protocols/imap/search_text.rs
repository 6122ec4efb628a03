//! The content keys of SEARCH (RFC 9051 §6.4.4): BCC, BODY, CC, FROM, HEADER, SUBJECT,
//! TEXT, TO and SENTBEFORE/SENTON/SENTSINCE, evaluated against a parsed message.
//!
//! Implementation notes:
//! - Matching is a case-insensitive substring test (Unicode lower-casing) on decoded
//!   values: RFC 2047 words in headers, transfer encodings and charsets of text bodies, as
//!   far as mail-parser's charset tables go. Non-text parts are not searched.
//! - FROM, TO, CC and BCC also match each parsed address as `mailbox@host`, its display
//!   name and group names, so that comments and folding inside an address
//!   (`<user (c)@ (c) domain.org>`) do not hide it from a search for `user@domain.org`.
//! - Keys that the mailbox index answers (flags, sizes, internal dates, UIDs, sequence
//!   sets, MODSEQ, OLDER/YOUNGER) give `None`. NOT, OR and lists combine in three-valued
//!   logic, so `None` comes back only when the content keys alone cannot decide.
//! - SENT* use the date in the `Date:` header's own zone, ignoring time (RFC 9051); a
//!   message without a valid `Date:` matches none of them.

use super::message::{decode_header_value, parse_addresses, AddressItem, ParsedMessage};
use super::types::{Date, SearchKey, SectionText};

fn contains(hay: &str, needle: &str) -> bool {
    hay.to_lowercase().contains(&needle.to_lowercase())
}

fn header_matches(msg: &ParsedMessage<'_>, name: &str, needle: &str) -> bool {
    msg.header(name)
        .iter()
        .any(|v| needle.is_empty() || contains(&decode_header_value(v), needle))
}

/// An address header: its decoded text, or one of its addresses in normal form.
fn address_matches(msg: &ParsedMessage<'_>, name: &str, needle: &str) -> bool {
    header_matches(msg, name, needle)
        || msg.header(name).iter().any(|v| {
            parse_addresses(v).iter().any(|item| match item {
                AddressItem::Mailbox {
                    name,
                    mailbox,
                    host,
                    ..
                } => {
                    let mut addr = String::from_utf8_lossy(mailbox).into_owned();
                    if let Some(h) = host {
                        addr.push('@');
                        addr.push_str(&String::from_utf8_lossy(h));
                    }
                    contains(&addr, needle)
                        || name
                            .as_ref()
                            .is_some_and(|n| contains(&decode_header_value(n), needle))
                }
                AddressItem::GroupStart(g) => contains(&decode_header_value(g), needle),
                AddressItem::GroupEnd => false,
            })
        })
}

fn body_matches(msg: &ParsedMessage<'_>, needle: &str) -> bool {
    msg.text_leaves()
        .into_iter()
        .any(|e| contains(&msg.decoded_text(e), needle))
}

fn sent_date(msg: &ParsedMessage<'_>) -> Option<Date> {
    let d = msg.sent_date_parts()?;
    Some(Date {
        year: d.year,
        month: d.month,
        day: d.day,
    })
}

/// Evaluates a content key; `None` for keys the session answers from the index.
/// `raw` is the message as stored (the one `msg` was parsed from); `msg` already holds
/// it, the parameter stays because the session codes against this signature.
#[allow(clippy::only_used_in_recursion)]
pub fn matches(key: &SearchKey, msg: &ParsedMessage<'_>, raw: &[u8]) -> Option<bool> {
    Some(match key {
        SearchKey::Bcc(s) => address_matches(msg, "bcc", s),
        SearchKey::Cc(s) => address_matches(msg, "cc", s),
        SearchKey::From(s) => address_matches(msg, "from", s),
        SearchKey::To(s) => address_matches(msg, "to", s),
        SearchKey::Subject(s) => header_matches(msg, "subject", s),
        SearchKey::Header(name, s) => header_matches(msg, name, s),
        SearchKey::Body(s) => body_matches(msg, s),
        SearchKey::Text(s) => {
            let header = msg
                .section(&[], Some(&SectionText::Header))
                .unwrap_or_default();
            contains(&decode_header_value(&header), s)
                || contains(&String::from_utf8_lossy(&header), s)
                || body_matches(msg, s)
        }
        SearchKey::SentBefore(d) => sent_date(msg).is_some_and(|m| m < *d),
        SearchKey::SentOn(d) => sent_date(msg).is_some_and(|m| m == *d),
        SearchKey::SentSince(d) => sent_date(msg).is_some_and(|m| m >= *d),
        SearchKey::Not(k) => return matches(k, msg, raw).map(|b| !b),
        SearchKey::Or(a, b) => {
            return match (matches(a, msg, raw), matches(b, msg, raw)) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            }
        }
        SearchKey::And(keys) => {
            let mut undecided = false;
            for k in keys {
                match matches(k, msg, raw) {
                    Some(false) => return Some(false),
                    None => undecided = true,
                    Some(true) => {}
                }
            }
            return (!undecided).then_some(true);
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::message::parse;
    use super::*;

    const RAW: &[u8] = b"From: =?iso-8859-1?q?J=FCrgen?= <jm@example.DE>\r\n\
To: Team <team@example.org>\r\nSubject: =?utf-8?b?R3LDvMOfZQ==?= aus Berlin\r\n\
X-Priority: 1\r\nDate: Mon, 03 Jan 2022 23:30:00 -0500\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
Sch=C3=B6ne Gr=C3=BC=C3=9Fe\r\n\
--b\r\nContent-Type: application/octet-stream\r\n\r\nsecretword\r\n--b--\r\n";

    fn m(key: SearchKey) -> Option<bool> {
        matches(&key, &parse(RAW), RAW)
    }

    fn date(year: u16, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    #[test]
    fn header_keys_match_decoded_values() {
        assert_eq!(m(SearchKey::From("jürgen".into())), Some(true));
        assert_eq!(m(SearchKey::From("EXAMPLE.de".into())), Some(true));
        assert_eq!(m(SearchKey::From("team".into())), Some(false));
        assert_eq!(m(SearchKey::To("team@".into())), Some(true));
        assert_eq!(m(SearchKey::Cc("".into())), Some(false));
        assert_eq!(m(SearchKey::Bcc("x".into())), Some(false));
        assert_eq!(m(SearchKey::Subject("GRÜSSE".into())), Some(false));
        assert_eq!(m(SearchKey::Subject("grüße aus".into())), Some(true));
        assert_eq!(
            m(SearchKey::Header("x-priority".into(), "".into())),
            Some(true)
        );
        assert_eq!(
            m(SearchKey::Header("X-Priority".into(), "2".into())),
            Some(false)
        );
        assert_eq!(
            m(SearchKey::Header("X-Missing".into(), "".into())),
            Some(false)
        );
    }

    /// imaptest's search-addresses: comments inside an address, a name in a comment,
    /// group names.
    #[test]
    fn address_keys_match_normalised_addresses() {
        let raw = b"From: <user-from (comment)@ (comment) domain.org>\r\n\
To: user-to@domain.org (RealTo)\r\nCc: groupname: g1@x.org;\r\n\r\n";
        let msg = parse(raw);
        let m = |k: SearchKey| matches(&k, &msg, raw);
        assert_eq!(
            m(SearchKey::From("user-from@domain.org".into())),
            Some(true)
        );
        assert_eq!(m(SearchKey::From("ser-from@dom".into())), Some(true));
        assert_eq!(m(SearchKey::From("comment".into())), Some(true));
        assert_eq!(m(SearchKey::From("realto".into())), Some(false));
        assert_eq!(m(SearchKey::To("realto".into())), Some(true));
        assert_eq!(m(SearchKey::Cc("groupname".into())), Some(true));
        assert_eq!(m(SearchKey::Cc("g1@x.org".into())), Some(true));
        assert_eq!(m(SearchKey::Cc("g2".into())), Some(false));
        assert_eq!(m(SearchKey::Bcc("".into())), Some(false));
    }

    #[test]
    fn body_and_text() {
        assert_eq!(m(SearchKey::Body("schöne".into())), Some(true));
        assert_eq!(m(SearchKey::Body("SCHÖNE GRÜßE".into())), Some(true));
        assert_eq!(m(SearchKey::Body("secretword".into())), Some(false));
        assert_eq!(m(SearchKey::Body("berlin".into())), Some(false));
        assert_eq!(m(SearchKey::Text("berlin".into())), Some(true));
        assert_eq!(m(SearchKey::Text("x-priority".into())), Some(true));
        assert_eq!(m(SearchKey::Text("grüße".into())), Some(true));
    }

    #[test]
    fn sent_dates_ignore_time_and_zone() {
        assert_eq!(m(SearchKey::SentOn(date(2022, 1, 3))), Some(true));
        assert_eq!(m(SearchKey::SentOn(date(2022, 1, 4))), Some(false));
        assert_eq!(m(SearchKey::SentBefore(date(2022, 1, 3))), Some(false));
        assert_eq!(m(SearchKey::SentBefore(date(2022, 1, 4))), Some(true));
        assert_eq!(m(SearchKey::SentSince(date(2022, 1, 3))), Some(true));
        assert_eq!(m(SearchKey::SentSince(date(2022, 1, 4))), Some(false));
        let raw = b"Subject: no date\r\n\r\n";
        let k = SearchKey::SentSince(date(1970, 1, 1));
        assert_eq!(matches(&k, &parse(raw), raw), Some(false));
    }

    #[test]
    fn non_content_keys_and_logic() {
        assert_eq!(m(SearchKey::Seen), None);
        assert_eq!(m(SearchKey::Larger(10)), None);
        assert_eq!(m(SearchKey::Not(Box::new(SearchKey::Seen))), None);
        let yes = || Box::new(SearchKey::Subject("berlin".into()));
        let no = || Box::new(SearchKey::Subject("paris".into()));
        assert_eq!(m(SearchKey::Not(no())), Some(true));
        assert_eq!(m(SearchKey::Or(no(), Box::new(SearchKey::Seen))), None);
        assert_eq!(
            m(SearchKey::Or(yes(), Box::new(SearchKey::Seen))),
            Some(true)
        );
        assert_eq!(m(SearchKey::And(vec![*yes(), SearchKey::Seen])), None);
        assert_eq!(m(SearchKey::And(vec![*no(), SearchKey::Seen])), Some(false));
        assert_eq!(m(SearchKey::And(vec![*yes(), *yes()])), Some(true));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_messages_never_panic(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
                                          needle in "\\PC{0,5}") {
            let msg = parse(&raw);
            for key in [SearchKey::From(needle.clone()), SearchKey::Subject(needle.clone()),
                        SearchKey::Body(needle.clone()), SearchKey::Text(needle.clone()),
                        SearchKey::Header("x".into(), needle.clone()),
                        SearchKey::SentOn(date(2000, 1, 1))] {
                proptest::prop_assert!(matches(&key, &msg, &raw).is_some());
            }
        }
    }
}
