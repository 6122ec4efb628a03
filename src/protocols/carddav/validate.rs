//! What an address book collection accepts (RFC 6352 §5.1, §6.3.2.3): one vCard per
//! resource, version 3.0 (RFC 2426) or 4.0 (RFC 6350), with FN and a UID.
//!
//! Parsing is calcard's (strict mode). Preconditions named as RFC 6352 names them:
//! `valid-address-data` (does not parse, more than one vCard, no FN, no UID),
//! `supported-address-data` (a version other than 3.0 or 4.0), `max-resource-size`, and
//! `no-uid-conflict` (decided by the store, named here so a PUT maps every precondition in
//! one place).
//!
//! Deviation: a UID is required although vCard 3 makes it optional; the store keys
//! uniqueness on it, and every CardDAV client sends one.

use calcard::vcard::{VCard, VCardProperty, VCardVersion};
use calcard::{Entry, Parser};

/// Why an address object resource is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressPrecondition {
    #[error("valid-address-data: {0}")]
    ValidAddressData(String),
    #[error("supported-address-data: {0}")]
    SupportedAddressData(String),
    #[error("max-resource-size: {size} bytes is over the limit of {limit}")]
    MaxResourceSize { size: usize, limit: usize },
    #[error("no-uid-conflict: the UID is used by {0}")]
    NoUidConflict(String),
}

impl AddressPrecondition {
    /// The element name in the CardDAV namespace (`urn:ietf:params:xml:ns:carddav`).
    pub fn element(&self) -> &'static str {
        match self {
            AddressPrecondition::ValidAddressData(_) => "valid-address-data",
            AddressPrecondition::SupportedAddressData(_) => "supported-address-data",
            AddressPrecondition::MaxResourceSize { .. } => "max-resource-size",
            AddressPrecondition::NoUidConflict(_) => "no-uid-conflict",
        }
    }
}

/// An address object resource that passed every check.
#[derive(Clone, Debug)]
pub struct AddressObject {
    pub card: VCard,
    pub uid: String,
    pub version: VCardVersion,
}

/// Parses one vCard and nothing else (strict).
pub fn parse_card(data: &str) -> Result<VCard, AddressPrecondition> {
    let mut parser = Parser::new(data).strict();
    let card = match parser.entry() {
        Entry::VCard(c) => c,
        Entry::Eof => return Err(invalid("the body is empty")),
        Entry::ICalendar(_) => return Err(invalid("an iCalendar object is not a vCard")),
        other => return Err(invalid(&format!("not a vCard: {other:?}"))),
    };
    match parser.entry() {
        Entry::Eof => Ok(card),
        _ => Err(invalid("more than one vCard in the resource")),
    }
}

/// Every check of the module documentation, for `data` going into an address book that
/// takes at most `max_size` bytes.
pub fn validate_card(data: &str, max_size: usize) -> Result<AddressObject, AddressPrecondition> {
    if data.len() > max_size {
        return Err(AddressPrecondition::MaxResourceSize {
            size: data.len(),
            limit: max_size,
        });
    }
    let card = parse_card(data)?;
    let version = match card.version() {
        Some(v @ (VCardVersion::V3_0 | VCardVersion::V4_0)) => v,
        Some(other) => {
            return Err(AddressPrecondition::SupportedAddressData(format!(
                "vCard version {other:?} (3.0 and 4.0 are accepted)"
            )))
        }
        None => return Err(invalid("VERSION is missing")),
    };
    if card.property(&VCardProperty::Fn).is_none() {
        return Err(invalid("FN is required"));
    }
    let uid = card.uid().map(str::trim).unwrap_or("").to_string();
    if uid.is_empty() {
        return Err(invalid("UID is required"));
    }
    Ok(AddressObject { card, uid, version })
}

fn invalid(why: &str) -> AddressPrecondition {
    AddressPrecondition::ValidAddressData(why.to_string())
}
