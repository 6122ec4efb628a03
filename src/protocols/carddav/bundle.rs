//! Whole address books as one file (`.vcf`): one vCard per address object resource on
//! import, every card one after the other on export. Parsing and writing are calcard's.
//!
//! Each vCard of the file is one [`Item`] written back by calcard (so a card is stored as
//! calcard writes it, as a PUT of it would be read); a part of the file that is no vCard is
//! an item with an error. Whether a card is acceptable (version, FN, UID) is decided
//! afterwards by `validate::validate_card` on each item.

use calcard::vcard::VCard;
use calcard::{Entry, Parser};

pub use crate::protocols::caldav::bundle::Item;

/// Splits an import file into its cards.
pub fn split(text: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut parser = Parser::new(text);
    // Each entry consumes input; the parser ends with Eof.
    loop {
        let item = match parser.entry() {
            Entry::Eof => break,
            Entry::VCard(card) => Item {
                uid: card.uid().map(|u| u.trim().to_string()),
                data: Ok(card.to_string()),
            },
            Entry::ICalendar(_) => Item {
                uid: None,
                data: Err("an iCalendar object in an address book file".into()),
            },
            Entry::InvalidLine(l) => Item {
                uid: None,
                data: Err(format!("not a vCard: {l:?}")),
            },
            Entry::UnterminatedComponent(c) => Item {
                uid: None,
                data: Err(format!("BEGIN:{c} without its END")),
            },
            Entry::UnexpectedComponentEnd { found, .. } => Item {
                uid: None,
                data: Err(format!("unexpected END:{}", found.as_str())),
            },
            Entry::TooManyComponents => {
                items.push(Item {
                    uid: None,
                    data: Err("too many components".into()),
                });
                break;
            }
            other => Item {
                uid: None,
                data: Err(format!("not a vCard: {other:?}")),
            },
        };
        items.push(item);
    }
    items
}

/// Every card of `objects` in one file; the positions of objects that do not parse.
pub fn merge<'a>(objects: impl IntoIterator<Item = &'a str>) -> (String, Vec<usize>) {
    let mut out = String::new();
    let mut bad = Vec::new();
    for (n, text) in objects.into_iter().enumerate() {
        match Parser::new(text).entry() {
            Entry::VCard(card) => write_card(&card, &mut out),
            _ => bad.push(n),
        }
    }
    (out, bad)
}

fn write_card(card: &VCard, out: &mut String) {
    use std::fmt::Write as _;
    let _ = write!(out, "{card}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::carddav::validate::validate_card;

    const FILE: &str = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:1\r\nFN:Ann Example\r\n\
EMAIL:ann@example.test\r\nEND:VCARD\r\n\
BEGIN:VCARD\r\nVERSION:3.0\r\nUID:two\r\nFN:Bob\r\nN:Bob;;;;\r\nTEL;TYPE=CELL:+1 555 0100\r\nEND:VCARD\r\n\
BEGIN:VCARD\r\nVERSION:4.0\r\nUID:no-fn\r\nEND:VCARD\r\n";

    #[test]
    fn one_item_per_card_and_the_checks_decide() {
        let items = split(FILE);
        assert_eq!(items.len(), 3);
        let uids: Vec<_> = items.iter().map(|i| i.uid.clone().unwrap()).collect();
        assert_eq!(uids, ["urn:uuid:1", "two", "no-fn"]);
        let ok: Vec<bool> = items
            .iter()
            .map(|i| validate_card(i.data.as_ref().unwrap(), 1 << 20).is_ok())
            .collect();
        assert_eq!(ok, [true, true, false]);
    }

    #[test]
    fn merge_then_split_keeps_every_card() {
        let items = split(FILE);
        let texts: Vec<&str> = items
            .iter()
            .map(|i| i.data.as_ref().unwrap().as_str())
            .collect();
        let (merged, bad) = merge(texts.iter().copied());
        assert!(bad.is_empty());
        let again = split(&merged);
        assert_eq!(again, items);
    }

    #[test]
    fn garbage_is_an_item_with_an_error() {
        let items = split("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n");
        assert_eq!(items.len(), 1);
        assert!(items[0].data.is_err());
    }
}
