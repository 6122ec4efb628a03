//! Which REPORT a body asks for (RFC 3253 §3.6), from its root element, parsed into the
//! typed request of its RFC: CalDAV's three (RFC 4791 §7.8-§7.10), CardDAV's two (RFC 6352
//! §8.6, §8.7) and collection synchronisation (RFC 6578 §3.2). The HTTP layer reads the
//! body, calls [`parse`] and dispatches on the variant; whether a report is allowed on the
//! resource addressed (a calendar-query on an address book) is its check, not this one's.
//!
//! Implementation note: this module sits above `webdav`, `caldav` and `carddav` (they
//! hold the parsers and the shared error, [`ReportError`]) so none of them depends on
//! another's report code.

use super::caldav::filter::TimeRange;
use super::caldav::report::{self as cal, CalendarMultiget, CalendarQuery};
use super::carddav::report::{self as card, AddressbookMultiget, AddressbookQuery};
use super::webdav::report::{self as dav, ReportError, SyncCollection, CALDAV, CARDDAV};
use super::webdav::xml::{self, DAV};
use super::webdav::PropName;

/// A parsed REPORT body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    CalendarQuery(CalendarQuery),
    CalendarMultiget(CalendarMultiget),
    /// free-busy-query's time-range, both ends set.
    FreeBusyQuery(TimeRange),
    AddressbookQuery(AddressbookQuery),
    AddressbookMultiget(AddressbookMultiget),
    SyncCollection(SyncCollection),
}

/// The reports [`parse`] reads, as (namespace, local name): what a server lists in
/// `DAV:supported-report-set` (RFC 3253 §3.1.5), filtered by collection type.
pub const SUPPORTED: &[(&str, &str)] = &[
    (CALDAV, "calendar-query"),
    (CALDAV, "calendar-multiget"),
    (CALDAV, "free-busy-query"),
    (CARDDAV, "addressbook-query"),
    (CARDDAV, "addressbook-multiget"),
    (DAV, "sync-collection"),
];

/// Parses a REPORT body. An empty body is malformed (every report has one); a root
/// element naming another report fails `DAV:supported-report`.
pub fn parse(body: &[u8]) -> Result<Report, ReportError> {
    let root =
        xml::parse(body)?.ok_or_else(|| ReportError::BadXml("REPORT needs a body".into()))?;
    match (root.ns.as_str(), root.local.as_str()) {
        (CALDAV, "calendar-query") => cal::calendar_query(&root).map(Report::CalendarQuery),
        (CALDAV, "calendar-multiget") => {
            cal::calendar_multiget(&root).map(Report::CalendarMultiget)
        }
        (CALDAV, "free-busy-query") => cal::free_busy_query(&root).map(Report::FreeBusyQuery),
        (CARDDAV, "addressbook-query") => {
            card::addressbook_query(&root).map(Report::AddressbookQuery)
        }
        (CARDDAV, "addressbook-multiget") => {
            card::addressbook_multiget(&root).map(Report::AddressbookMultiget)
        }
        (DAV, "sync-collection") => dav::sync_collection(&root).map(Report::SyncCollection),
        _ => Err(ReportError::UnsupportedReport(PropName::of(&root))),
    }
}

#[cfg(test)]
mod card_tests;
#[cfg(test)]
mod tests;
