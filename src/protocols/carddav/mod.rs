//! CardDAV's pure parts (RFC 6352): what an address book collection accepts (vCard 3.0 of
//! RFC 2426 and 4.0 of RFC 6350, parsed by calcard) and which cards an addressbook-query
//! selects; the text-match collations shared with CalDAV.
//!
//! # Implementation notes
//!
//! | RFC 6352 | what | where | status |
//! |---|---|---|---|
//! | §5.1, §6.3.2.3 | one vCard per resource, versions 3.0/4.0, UID unique | `validate` | full (UID required) |
//! | §10.5 | filter (anyof/allof), prop-filter, param-filter, is-not-defined | `filter` | full |
//! | §10.5.4 | text-match: equals, contains, starts-with, ends-with, negate | `text` | full |
//! | §8.6, §8.7, §10.3-§10.7 | REPORT bodies: addressbook-query (address-data, filter, limit), addressbook-multiget | `report` | parsed |
//! | RFC 4790 | i;ascii-casemap, i;unicode-casemap, i;octet | `text` | unicode-casemap approximated (see `text`) |

pub mod addrdata;
pub mod bundle;
pub mod filter;
pub mod report;
pub mod text;
pub mod validate;

#[cfg(test)]
mod tests;
