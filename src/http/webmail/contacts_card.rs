//! The webmail's vCard side of a contact, through calcard's types: what the contact form
//! shows of a card, a new card (vCard 4.0, RFC 6350) and an edited one.
//!
//! Implementation notes:
//!
//! - An edit is parse-modify-write on the card as stored, in its own version: a vCard 3.0
//!   card (RFC 2426) from another client stays 3.0, so that client reads it as before.
//!   Only the properties the form owns change: FN, EMAIL, TEL, ORG, NOTE (and REV). An
//!   address or number still in the form keeps its entry with its parameters (TYPE,
//!   PREF, group); an ORG equal to what was shown is left as it was (its units).
//!   Everything else (N, ADR, PHOTO, X- properties, …) is kept untouched.
//! - Search matches the name, the addresses and the numbers with CardDAV's
//!   `i;unicode-casemap` contains (`protocols::carddav::text`); a number also matches by
//!   its digits alone.

use calcard::common::PartialDateTime;
use calcard::vcard::{VCard, VCardEntry, VCardProperty, VCardValue, VCardVersion};

use super::MailError;
use crate::protocols::carddav::text::{Collation, MatchType, TextMatch};
use crate::protocols::carddav::validate::parse_card;

/// Longest name, organisation (characters) and note (bytes) accepted.
pub const MAX_NAME: usize = 500;
pub const MAX_NOTE: usize = 64 * 1024;
/// Most addresses or numbers one contact takes from the form.
pub const MAX_VALUES: usize = 50;

/// A contact as the form shows and submits it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactFields {
    pub name: String,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub org: String,
    pub note: String,
}

fn texts(e: &VCardEntry) -> Vec<String> {
    e.values
        .iter()
        .filter_map(|v| match v {
            VCardValue::Text(t) => Some(t.clone()),
            VCardValue::Component(parts) => Some(parts.join(", ")),
            _ => None,
        })
        .filter(|t| !t.trim().is_empty())
        .collect()
}

fn text_of(e: &VCardEntry) -> String {
    texts(e).join(", ")
}

fn strip_tel(s: &str) -> String {
    s.strip_prefix("tel:").unwrap_or(s).trim().to_string()
}

fn strip_mailto(s: &str) -> String {
    s.strip_prefix("mailto:").unwrap_or(s).trim().to_string()
}

/// The form's view of `card`.
pub fn fields_of(card: &VCard) -> ContactFields {
    let all = |p: VCardProperty| card.properties(&p).map(text_of).collect::<Vec<_>>();
    ContactFields {
        name: card
            .property(&VCardProperty::Fn)
            .map(text_of)
            .unwrap_or_default(),
        emails: all(VCardProperty::Email)
            .iter()
            .map(|s| strip_mailto(s))
            .filter(|s| !s.is_empty())
            .collect(),
        phones: all(VCardProperty::Tel)
            .iter()
            .map(|s| strip_tel(s))
            .filter(|s| !s.is_empty())
            .collect(),
        org: card
            .property(&VCardProperty::Org)
            .map(text_of)
            .unwrap_or_default(),
        note: card
            .property(&VCardProperty::Note)
            .map(text_of)
            .unwrap_or_default(),
    }
}

/// The form's view of stored card text, and its version (`3.0`, `4.0`).
pub fn read_card(data: &str) -> Result<(ContactFields, String), MailError> {
    let card = parse_card(data).map_err(|e| MailError::Invalid(e.to_string()))?;
    let version = card.version().unwrap_or_default().to_string();
    Ok((fields_of(&card), version))
}

/// The list of a textarea: one value a line (commas too for addresses), trimmed, each once.
pub fn lines(text: &str, commas: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in text.split(|c| c == '\n' || (commas && c == ',')) {
        let v = v.trim();
        if !v.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(v)) {
            out.push(v.to_string());
        }
    }
    out
}

impl ContactFields {
    /// Checks the form (`MailError::Invalid` says what is wrong).
    pub fn check(&self) -> Result<(), MailError> {
        if self.name.trim().is_empty() {
            return Err(MailError::Invalid("give the contact a name".into()));
        }
        if self.name.chars().count() > MAX_NAME || self.org.chars().count() > MAX_NAME {
            return Err(MailError::Invalid(format!(
                "a name or organisation has at most {MAX_NAME} characters"
            )));
        }
        if self.note.len() > MAX_NOTE {
            return Err(MailError::Invalid(format!(
                "a note has at most {MAX_NOTE} bytes"
            )));
        }
        if self.emails.len() > MAX_VALUES || self.phones.len() > MAX_VALUES {
            return Err(MailError::Invalid(format!(
                "at most {MAX_VALUES} addresses and {MAX_VALUES} numbers"
            )));
        }
        for e in &self.emails {
            if !super::calendar_ical::plain_address(e) {
                return Err(MailError::Invalid(format!(
                    "{e:?} is not an e-mail address"
                )));
            }
        }
        for p in &self.phones {
            if p.chars().any(char::is_control) || p.chars().count() > 64 {
                return Err(MailError::Invalid(format!("{p:?} is not a phone number")));
            }
        }
        Ok(())
    }
}

fn text_entry(name: VCardProperty, t: &str) -> VCardEntry {
    VCardEntry::new(name).with_value(VCardValue::Text(t.to_string()))
}

fn rev(now: i64) -> VCardEntry {
    VCardEntry::new(VCardProperty::Rev).with_value(VCardValue::PartialDateTime(
        PartialDateTime::from_utc_timestamp(now),
    ))
}

/// Applies `f` to `card` (module notes).
fn apply(card: &mut VCard, f: &ContactFields, now: i64) {
    let old = std::mem::take(&mut card.entries);
    let old_org = old
        .iter()
        .find(|e| e.name == VCardProperty::Org)
        .map(|e| (text_of(e), e.clone()));
    let mut kept_emails = Vec::new();
    let mut kept_phones = Vec::new();
    for e in old {
        match &e.name {
            VCardProperty::Fn | VCardProperty::Note | VCardProperty::Rev | VCardProperty::Org => {}
            VCardProperty::Email => kept_emails.push(e),
            VCardProperty::Tel => kept_phones.push(e),
            _ => card.entries.push(e),
        }
    }
    card.entries
        .push(text_entry(VCardProperty::Fn, f.name.trim()));
    for addr in &f.emails {
        match kept_emails
            .iter()
            .find(|e| strip_mailto(&text_of(e)).eq_ignore_ascii_case(addr))
        {
            Some(e) => card.entries.push(e.clone()),
            None => card.entries.push(text_entry(VCardProperty::Email, addr)),
        }
    }
    for tel in &f.phones {
        match kept_phones.iter().find(|e| strip_tel(&text_of(e)) == *tel) {
            Some(e) => card.entries.push(e.clone()),
            None => card.entries.push(text_entry(VCardProperty::Tel, tel)),
        }
    }
    let org = f.org.trim();
    match old_org {
        Some((shown, entry)) if shown == org => card.entries.push(entry),
        _ if !org.is_empty() => card.entries.push(text_entry(VCardProperty::Org, org)),
        _ => {}
    }
    let note = f.note.replace("\r\n", "\n");
    if !note.trim().is_empty() {
        card.entries
            .push(text_entry(VCardProperty::Note, note.trim_end()));
    }
    card.entries.push(rev(now));
}

/// A new vCard 4.0 of `f` with `uid`.
pub fn new_card(f: &ContactFields, uid: &str, now: i64) -> Result<String, MailError> {
    f.check()?;
    let mut card = VCard {
        entries: vec![
            text_entry(VCardProperty::Version, "4.0"),
            text_entry(VCardProperty::Uid, uid),
            text_entry(VCardProperty::Prodid, "-//Ferrymail//Webmail//EN"),
        ],
    };
    apply(&mut card, f, now);
    Ok(card.to_string())
}

/// The stored card `data` with `f` applied, in its own version.
pub fn edit_card(data: &str, f: &ContactFields, now: i64) -> Result<String, MailError> {
    f.check()?;
    let mut card = parse_card(data).map_err(|e| MailError::Invalid(e.to_string()))?;
    apply(&mut card, f, now);
    let version = card.version().unwrap_or(VCardVersion::V4_0);
    let mut out = String::new();
    card.write_to(&mut out, version)
        .map_err(|_| MailError::Invalid("the card cannot be written".into()))?;
    Ok(out)
}

/// Whether `f` matches the search `q` (module notes); an empty query matches all.
pub fn matches(f: &ContactFields, q: &str) -> bool {
    let q = q.trim();
    if q.is_empty() {
        return true;
    }
    let m = TextMatch {
        value: q.to_string(),
        collation: Collation::UnicodeCasemap,
        match_type: MatchType::Contains,
        negate: false,
    };
    let texts = std::iter::once(f.name.as_str())
        .chain(f.emails.iter().map(String::as_str))
        .chain(f.phones.iter().map(String::as_str))
        .chain(std::iter::once(f.org.as_str()));
    if m.matches_any(texts) {
        return true;
    }
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let dq = digits(q);
    dq.len() >= 3
        && dq.len()
            == q.chars()
                .filter(|c| !c.is_whitespace() && !"+-().".contains(*c))
                .count()
        && f.phones.iter().any(|p| digits(p).contains(&dq))
}

/// `Name <addr>` as a recipient field takes it (the name quoted when it needs it).
pub fn recipient(name: &str, addr: &str) -> String {
    let name = name.trim();
    if name.is_empty() || name.eq_ignore_ascii_case(addr) {
        return addr.to_string();
    }
    let plain = name
        .chars()
        .all(|c| c.is_alphanumeric() || " .'-_".contains(c));
    if plain {
        format!("{name} <{addr}>")
    } else {
        let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{escaped}\" <{addr}>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::carddav::validate::validate_card;

    const V3: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:v3-1\r\nFN:Old Name\r\n\
N:Name;Old;;;\r\nitem1.EMAIL;TYPE=INTERNET,WORK:old@example.org\r\nitem1.X-ABLabel:Work\r\n\
EMAIL;TYPE=HOME:gone@example.org\r\nTEL;TYPE=CELL:+1 555 0100\r\nORG:Acme;Sales\r\n\
ADR;TYPE=WORK:;;1 Main St;Springfield;;12345;USA\r\nX-SOCIALPROFILE;TYPE=twitter:@old\r\n\
PHOTO;ENCODING=b;TYPE=JPEG:AAECAw==\r\nEND:VCARD\r\n";

    #[test]
    fn a_new_card_is_vcard_4_and_valid() {
        let f = ContactFields {
            name: "Zoë O'Neil, PhD".into(),
            emails: vec!["zoe@example.org".into()],
            phones: vec!["+33 1 23 45 67 89".into()],
            org: "Widgets; Inc".into(),
            note: "met at\nthe fair".into(),
        };
        let data = new_card(&f, "c-1", 1_800_000_000).unwrap();
        assert!(data.contains("VERSION:4.0"), "{data}");
        let obj = validate_card(&data, 1 << 20).unwrap();
        assert_eq!(obj.uid, "c-1");
        let (back, version) = read_card(&data).unwrap();
        assert_eq!(version, "4.0");
        assert_eq!(back, f);
    }

    #[test]
    fn editing_a_vcard_3_keeps_its_version_and_other_properties() {
        let (mut f, version) = read_card(V3).unwrap();
        assert_eq!(version, "3.0");
        assert_eq!(f.emails, vec!["old@example.org", "gone@example.org"]);
        f.name = "New Name".into();
        f.emails = vec!["old@example.org".into(), "new@example.org".into()];
        let data = edit_card(V3, &f, 1_800_000_000).unwrap();
        validate_card(&data, 1 << 20).unwrap();
        for kept in [
            "VERSION:3.0",
            "N:Name;Old",
            "item1.EMAIL;TYPE=INTERNET,WORK:old@example.org",
            "item1.X-ABLabel:Work",
            "TEL;TYPE=CELL:+1 555 0100",
            "ORG:Acme;Sales",
            "1 Main St",
            "X-SOCIALPROFILE",
            "PHOTO",
            "FN:New Name",
            "new@example.org",
        ] {
            assert!(data.contains(kept), "{kept} lost: {data}");
        }
        assert!(!data.contains("gone@example.org"), "{data}");
    }

    #[test]
    fn search_and_recipients() {
        let f = ContactFields {
            name: "Émile Zola".into(),
            emails: vec!["emile@example.org".into()],
            phones: vec!["+33 (1) 23-45".into()],
            ..ContactFields::default()
        };
        assert!(matches(&f, "émi"));
        assert!(matches(&f, "ZOLA"));
        assert!(matches(&f, "example.org"));
        assert!(matches(&f, "12345"));
        assert!(!matches(&f, "hugo"));
        assert_eq!(recipient("Émile Zola", "e@x.org"), "Émile Zola <e@x.org>");
        assert_eq!(
            recipient("Zola, Émile", "e@x.org"),
            "\"Zola, Émile\" <e@x.org>"
        );
        assert_eq!(recipient("", "e@x.org"), "e@x.org");
    }
}
