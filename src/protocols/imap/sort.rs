//! SORT (RFC 5256 §3, RFC 5957 DISPLAYFROM/DISPLAYTO) and the base subject of RFC 5256
//! §2.1, shared with THREAD.
//!
//! Implementation notes:
//! - Address keys compare the first address's `addr-mailbox` as ENVELOPE shows it (for a
//!   group, the group name), DISPLAY* the decoded display name or else `mailbox@host`
//!   (RFC 5957 §2).
//! - Text keys compare upper-cased: i;unicode-casemap (RFC 5051) compares titlecased
//!   strings, and upper case is its stand-in here. It matters beyond case: "[" and "_" sort
//!   after the letters, as they do in Dovecot.
//! - DATE is the `Date:` header, the internal date when that is missing or invalid
//!   (RFC 5256 §3). Every tie, and the end of the criteria, falls back to the sequence
//!   number (or UID) so the order is total.

use std::cmp::Ordering;

use super::message::{decode_header_value, parse_addresses, AddressItem, ParsedMessage};
use super::types::{SortCriterion, SortKey};

/// What SORT and THREAD need of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SortInput {
    pub seq_or_uid: u32,
    /// Internal date, unix time.
    pub arrival: i64,
    pub size: u64,
    /// Raw header values (RFC 2047 words undecoded); empty when missing.
    pub subject: String,
    pub from: String,
    pub to: String,
    pub cc: String,
    /// `Date:` as unix time.
    pub date: Option<i64>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    /// The msg-ids of `References:`, in order.
    pub references: Vec<String>,
    /// RFC 5957 sort keys; when empty, derived from `from` / `to`.
    pub display_from: String,
    pub display_to: String,
}

impl SortInput {
    /// Fills everything from a parsed message.
    pub fn from_message(seq_or_uid: u32, arrival: i64, size: u64, msg: &ParsedMessage<'_>) -> Self {
        let first = |name: &str| {
            msg.header(name)
                .first()
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        let text = |name: &str| first(name).unwrap_or_default();
        let from = text("from");
        let to = text("to");
        SortInput {
            seq_or_uid,
            arrival,
            size,
            subject: text("subject"),
            display_from: display(&from),
            display_to: display(&to),
            from,
            to,
            cc: text("cc"),
            date: msg.sent_date(),
            message_id: first("message-id").and_then(|v| msg_ids(&v).into_iter().next()),
            in_reply_to: first("in-reply-to"),
            references: first("references").map(|v| msg_ids(&v)).unwrap_or_default(),
        }
    }
}

/// The `<...>` message ids in a header value; a value without brackets counts as one id.
pub(crate) fn msg_ids(value: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest.get(start..).and_then(|r| r.find('>')) else {
            break;
        };
        if let Some(id) = rest.get(start..start + len + 1) {
            ids.push(id.split_whitespace().collect());
        }
        rest = rest.get(start + len + 1..).unwrap_or_default();
    }
    if ids.is_empty() && !value.trim().is_empty() {
        ids.push(value.trim().to_string());
    }
    ids
}

/// (display name, addr-mailbox, addr-host) of an address.
type Mailbox = (Option<Vec<u8>>, Vec<u8>, Option<Vec<u8>>);

fn first_mailbox(value: &str) -> Option<Mailbox> {
    parse_addresses(value.as_bytes())
        .into_iter()
        .find_map(|item| match item {
            AddressItem::Mailbox {
                name,
                mailbox,
                host,
                ..
            } => Some((name, mailbox, host)),
            _ => None,
        })
}

/// RFC 5256 §3: the `addr-mailbox` of the first address as ENVELOPE has it, where a group
/// is `(NIL NIL group-name NIL)`; upper-cased (see the implementation notes).
fn local_part(value: &str) -> String {
    parse_addresses(value.as_bytes())
        .into_iter()
        .find_map(|item| match item {
            AddressItem::Mailbox { mailbox, .. } => Some(mailbox),
            AddressItem::GroupStart(name) => Some(name),
            AddressItem::GroupEnd => None,
        })
        .map(|m| String::from_utf8_lossy(&m).to_uppercase())
        .unwrap_or_default()
}

/// RFC 5957 §2: the decoded display name of the first address, else its addr-spec; when
/// the list starts with a group, the group's name (its display name, as Dovecot sorts it).
fn display(value: &str) -> String {
    if let Some(AddressItem::GroupStart(name)) = parse_addresses(value.as_bytes()).first() {
        return decode_header_value(name);
    }
    match first_mailbox(value) {
        Some((Some(name), _, _)) if !name.is_empty() => decode_header_value(&name),
        Some((_, mailbox, host)) => {
            let mut s = String::from_utf8_lossy(&mailbox).into_owned();
            if let Some(h) = host.filter(|h| !h.is_empty()) {
                s.push('@');
                s.push_str(&String::from_utf8_lossy(&h));
            }
            s
        }
        None => String::new(),
    }
}

fn strip_ci<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

fn skip_wsp(s: &str) -> &str {
    s.trim_start_matches([' ', '\t'])
}

/// `subj-blob = "[" *BLOBCHAR "]" *WSP`: the rest after it.
fn blob(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('[')?;
    let end = inner.find([']', '['])?;
    let rest = inner.get(end..)?.strip_prefix(']')?;
    Some(skip_wsp(rest))
}

/// `subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"`: the rest after it.
fn refwd(s: &str) -> Option<&str> {
    let rest = strip_ci(s, "re")
        .or_else(|| strip_ci(s, "fwd"))
        .or_else(|| strip_ci(s, "fw"))?;
    let rest = skip_wsp(rest);
    let rest = blob(rest).unwrap_or(rest);
    rest.strip_prefix(':')
}

/// `*subj-blob subj-refwd`: the rest after it.
fn leader(s: &str) -> Option<&str> {
    let mut rest = s;
    loop {
        if let Some(after) = refwd(rest) {
            return Some(after);
        }
        rest = blob(rest)?;
    }
}

/// RFC 5256 §2.1 base subject, and whether a reply/forward marker was removed
/// (THREAD=REFERENCES step 6 needs that).
pub(crate) fn extract_base_subject(subject: &str) -> (String, bool) {
    // (1) decode, tabs and continuations to space, runs of spaces to one.
    let decoded = decode_header_value(subject.as_bytes());
    let mut s: String = decoded
        .replace(['\t', '\r', '\n'], " ")
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let mut reply = false;
    loop {
        // (2) trailers: "(fwd)" and WSP.
        loop {
            let t = s.trim_end_matches([' ', '\t']);
            let len = t.len();
            match t.len().checked_sub(5).and_then(|p| t.get(p..)) {
                Some(tail) if tail.eq_ignore_ascii_case("(fwd)") => {
                    reply = true;
                    s.truncate(len - 5);
                }
                _ => {
                    s.truncate(len);
                    break;
                }
            }
        }
        // (3)-(5) leaders and blobs.
        loop {
            let before = s.len();
            let t = skip_wsp(&s);
            let t = match leader(t) {
                Some(rest) => {
                    reply = true;
                    rest
                }
                None => t,
            };
            let t = match blob(t) {
                Some(rest) if !rest.trim_matches([' ', '\t']).is_empty() => rest,
                _ => t,
            };
            s = t.to_string();
            if s.len() == before {
                break;
            }
        }
        // (6) "[fwd:" ... "]".
        match strip_ci(&s, "[fwd:").and_then(|r| r.strip_suffix(']')) {
            Some(inner) => {
                reply = true;
                s = inner.to_string();
            }
            None => break,
        }
    }
    (s.to_lowercase(), reply)
}

/// RFC 5256 §2.1 base subject, case-folded.
pub fn base_subject(subject: &str) -> String {
    extract_base_subject(subject).0
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Int(i128),
    Text(String),
}

fn key(item: &SortInput, k: SortKey) -> Key {
    match k {
        SortKey::Arrival => Key::Int(i128::from(item.arrival)),
        SortKey::Size => Key::Int(i128::from(item.size)),
        SortKey::Date => Key::Int(i128::from(item.date.unwrap_or(item.arrival))),
        SortKey::Cc => Key::Text(local_part(&item.cc)),
        SortKey::From => Key::Text(local_part(&item.from)),
        SortKey::To => Key::Text(local_part(&item.to)),
        SortKey::Subject => Key::Text(base_subject(&item.subject).to_uppercase()),
        SortKey::DisplayFrom => Key::Text(
            if item.display_from.is_empty() {
                display(&item.from)
            } else {
                item.display_from.clone()
            }
            .to_uppercase(),
        ),
        SortKey::DisplayTo => Key::Text(
            if item.display_to.is_empty() {
                display(&item.to)
            } else {
                item.display_to.clone()
            }
            .to_uppercase(),
        ),
    }
}

/// SORT: the messages' numbers in the order the criteria give.
pub fn sort(items: &[SortInput], criteria: &[SortCriterion]) -> Vec<u32> {
    let mut keyed: Vec<(Vec<Key>, &SortInput)> = items
        .iter()
        .map(|item| (criteria.iter().map(|c| key(item, c.key)).collect(), item))
        .collect();
    keyed.sort_by(|(ka, a), (kb, b)| {
        for (c, (x, y)) in criteria.iter().zip(ka.iter().zip(kb.iter())) {
            let o = x.cmp(y);
            let o = if c.reverse { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.seq_or_uid.cmp(&b.seq_or_uid)
    });
    keyed.into_iter().map(|(_, i)| i.seq_or_uid).collect()
}

/// What SORT and THREAD read of a message's header section `raw` (RFC 5256): raw Subject,
/// From, To and Cc, the Date: as unix time and the message ids; `seq_or_uid`, `arrival`
/// and `size` are left 0 for the caller, the RFC 5957 display keys empty (the sort derives
/// them).
pub fn sort_fields_of(raw: &[u8]) -> SortInput {
    let p = super::message::parse(raw);
    let header = |n: &str| {
        p.header(n)
            .first()
            .map(|v| String::from_utf8_lossy(v).trim().to_string())
            .unwrap_or_default()
    };
    let ids = |n: &str| -> Vec<String> {
        header(n)
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| s.starts_with('<') && s.ends_with('>'))
            .map(|s| s.to_string())
            .collect()
    };
    SortInput {
        subject: header("Subject"),
        from: header("From"),
        to: header("To"),
        cc: header("Cc"),
        date: p.sent_date(),
        message_id: ids("Message-ID").into_iter().next(),
        in_reply_to: ids("In-Reply-To").into_iter().next(),
        references: ids("References"),
        ..SortInput::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::message::parse;
    use super::*;

    #[test]
    fn base_subjects() {
        for (raw, base, reply) in [
            ("Hello", "hello", false),
            ("Re: Hello", "hello", true),
            ("RE:   re: Hello  ", "hello", true),
            ("Fwd: Re: [list] Hello (fwd)", "hello", true),
            ("[list] Re: Hello", "hello", true),
            ("[list]  [other] Hello", "hello", false),
            ("[only a blob]", "[only a blob]", false),
            ("Re[2]: Hello", "hello", true),
            ("[Fwd: Re: Hello]", "hello", true),
            ("fw:Hello\tworld", "hello world", true),
            ("Reply to this", "reply to this", false),
            ("=?utf-8?q?Re=3A_Gr=C3=BC=C3=9Fe?=", "grüße", true),
            ("", "", false),
            ("Re:", "", true),
            ("(fwd)", "", true),
        ] {
            assert_eq!(
                extract_base_subject(raw),
                (base.to_string(), reply),
                "{raw:?}"
            );
        }
    }

    fn item(seq: u32, subject: &str, from: &str, date: Option<i64>, size: u64) -> SortInput {
        SortInput {
            seq_or_uid: seq,
            arrival: 1000 - i64::from(seq),
            size,
            subject: subject.into(),
            from: from.into(),
            to: "Zed <zed@x>".into(),
            date,
            ..Default::default()
        }
    }

    fn crit(key: SortKey, reverse: bool) -> SortCriterion {
        SortCriterion { reverse, key }
    }

    #[test]
    fn sorts_with_ties_by_sequence() {
        let items = vec![
            item(1, "Re: beta", "\"Zoe\" <alice@x>", Some(30), 10),
            item(2, "alpha", "bob@x", None, 20),
            item(3, "Beta", "Carol <Carol@x>", Some(10), 10),
            item(
                4,
                "[x] Alpha",
                "=?utf-8?q?Andr=C3=A9?= <dave@x>",
                Some(20),
                5,
            ),
        ];
        assert_eq!(
            sort(&items, &[crit(SortKey::Subject, false)]),
            vec![2, 4, 1, 3]
        );
        assert_eq!(
            sort(&items, &[crit(SortKey::Subject, true)]),
            vec![1, 3, 2, 4]
        );
        assert_eq!(
            sort(&items, &[crit(SortKey::From, false)]),
            vec![1, 2, 3, 4]
        );
        assert_eq!(
            sort(&items, &[crit(SortKey::DisplayFrom, false)]),
            vec![4, 2, 3, 1]
        );
        // DATE falls back to arrival (998 for message 2).
        assert_eq!(
            sort(&items, &[crit(SortKey::Date, false)]),
            vec![3, 4, 1, 2]
        );
        assert_eq!(
            sort(&items, &[crit(SortKey::Arrival, false)]),
            vec![4, 3, 2, 1]
        );
        assert_eq!(
            sort(
                &items,
                &[crit(SortKey::Size, true), crit(SortKey::Date, true)]
            ),
            vec![2, 1, 3, 4]
        );
        assert_eq!(
            sort(&items, &[crit(SortKey::Size, false)]),
            vec![4, 1, 3, 2]
        );
        assert_eq!(sort(&items, &[crit(SortKey::To, false)]), vec![1, 2, 3, 4]);
        assert_eq!(sort(&items, &[crit(SortKey::Cc, true)]), vec![1, 2, 3, 4]);
        assert_eq!(sort(&items, &[]), vec![1, 2, 3, 4]);
    }

    /// imaptest's sort-subject and sort-addresses: upper-cased comparison puts "[" and "_"
    /// after the letters; a group's name is its first address's mailbox.
    #[test]
    fn casemap_order_and_group_addresses() {
        let subjects = ["_", "[xyz]", "b", "Ad: x", "a", "Re: [FWD: C]", ""];
        let items: Vec<SortInput> = subjects
            .iter()
            .zip(1..)
            .map(|(s, n)| item(n, s, "x@y", None, 1))
            .collect();
        assert_eq!(
            sort(&items, &[crit(SortKey::Subject, false)]),
            vec![7, 5, 4, 3, 6, 2, 1]
        );
        let cc = |seq, cc: &str| SortInput {
            seq_or_uid: seq,
            cc: cc.into(),
            ..Default::default()
        };
        let items = vec![
            cc(1, "user2@domain2.org (foo bar)"),
            cc(2, "user2: blah@domain1.org;"),
            cc(3, "user1@domain1.org"),
        ];
        assert_eq!(sort(&items, &[crit(SortKey::Cc, false)]), vec![3, 1, 2]);
        assert_eq!(sort(&items, &[crit(SortKey::Cc, true)]), vec![1, 2, 3]);
    }

    /// imaptest's sort-display-to: decoded names, addr-specs, and group names compare
    /// together.
    #[test]
    fn display_keys_use_names_addresses_and_groups() {
        let tos = [
            "foo bar <a@b.c>",
            "b@c.d",
            "d",
            "=?iso-8859-1?q?foo_aar?= <e@f.g>",
            "=?iso-8859-1?q?foo_car?= <f@g.h>",
            "a: xx@xx.org, yy@yy.org;",
            "z: aa@aa.org, bb@bb.org;",
            "empty:;",
        ];
        let items: Vec<SortInput> = tos
            .iter()
            .zip(1..)
            .map(|(to, n)| SortInput {
                seq_or_uid: n,
                to: to.to_string(),
                ..Default::default()
            })
            .collect();
        assert_eq!(
            sort(&items, &[crit(SortKey::DisplayTo, false)]),
            vec![6, 2, 3, 8, 4, 1, 5, 7]
        );
        assert_eq!(
            sort(&items, &[crit(SortKey::DisplayTo, true)]),
            vec![7, 5, 1, 4, 8, 3, 2, 6]
        );
    }

    #[test]
    fn input_from_message() {
        let raw = b"From: \"Doe, Jane\" <jane@x>\r\nTo: bob@y\r\nSubject: Re: hi\r\n\
Message-ID: <a@b>\r\nIn-Reply-To: <z@b> (comment)\r\nReferences: <y@b>\r\n <z@b>\r\n\
Date: Thu, 1 Jan 1970 00:01:00 +0000\r\n\r\n";
        let i = SortInput::from_message(7, 5, 99, &parse(raw));
        assert_eq!(i.display_from, "Doe, Jane");
        assert_eq!(i.display_to, "bob@y");
        assert_eq!(i.message_id.as_deref(), Some("<a@b>"));
        assert_eq!(i.references, vec!["<y@b>".to_string(), "<z@b>".into()]);
        assert_eq!(i.date, Some(60));
        assert_eq!(i.subject, "Re: hi");
    }

    proptest::proptest! {
        #[test]
        fn base_subject_is_total_and_idempotent(s in "[ \\[\\]:(a-zA-Z=?\\t]{0,40}|\\PC{0,40}") {
            let b = base_subject(&s);
            proptest::prop_assert_eq!(base_subject(&b), b.clone());
        }
    }
}
