//! CalDAV's pure parts (RFC 4791): what a calendar collection accepts, and which objects a
//! calendar-query or free-busy-query selects. No HTTP, no XML writing and no storage here:
//! the DAV layer parses a request, asks the store for candidates (prefiltered by the
//! indexed instance span, see `storage::davstore`) and runs these on each.
//!
//! iCalendar (RFC 5545) is parsed by calcard, never by hand; recurrences are expanded by
//! calcard's own RRULE engine (RDATE, EXDATE and overridden instances included), and
//! TZIDs resolve through the object's VTIMEZONEs or the IANA database.
//!
//! # Implementation notes
//!
//! | RFC 4791 | what | where | status |
//! |---|---|---|---|
//! | §4.1, §5.3.2.1 | one object per resource, one UID, one component type, no METHOD | `validate` | full |
//! | §5.2.3 | supported-calendar-component-set | `validate::ComponentKind` | full |
//! | §9.7 | comp-filter, prop-filter, param-filter, text-match, is-not-defined | `filter` | full (text-match on text values) |
//! | §9.9 | time-range on VEVENT, VTODO, VJOURNAL, VALARM, date properties | `timerange`, `filter` | full but VTODO COMPLETED/CREATED (see `timerange`) |
//! | §7.10 | free-busy-query | `freebusy` | VEVENT and VFREEBUSY |
//! | §7.8-§7.10, §9.5-§9.10 | REPORT bodies: calendar-query, calendar-multiget, free-busy-query | `report` | parsed (calendar-data selection kept for the caller to apply) |
//!
//! # Invariants for maintainers
//!
//! - A refusal always names an RFC precondition ([`validate::CalendarPrecondition::element`]).
//! - Expansion is bounded ([`timerange::EXPAND_LIMIT`] instances per object): an unbounded
//!   rule can never make a query loop.

pub mod bundle;
pub mod caldata;
pub mod error;
pub mod filter;
pub mod freebusy;
pub mod report;
pub mod timerange;
pub mod validate;

#[cfg(test)]
mod tests;
