//! The preconditions a calendar object resource can fail (RFC 4791 §5.3.2.1, §4.1), shared
//! by validation and by the time-range code that finds a bad date while expanding.

/// Why a calendar object resource is refused, named as RFC 4791 names the precondition
/// (§5.3.2.1, §4.1). The text says what was wrong, for the error body's description.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarPrecondition {
    #[error("valid-calendar-data: {0}")]
    ValidCalendarData(String),
    #[error("valid-calendar-object-resource: {0}")]
    ValidCalendarObjectResource(String),
    #[error("supported-calendar-component: {0} is not accepted here")]
    SupportedCalendarComponent(String),
    #[error("max-resource-size: {size} bytes is over the limit of {limit}")]
    MaxResourceSize { size: usize, limit: usize },
    /// Another resource of the collection (`href`: its name) holds this UID.
    #[error("no-uid-conflict: the UID is used by {0}")]
    NoUidConflict(String),
}

impl CalendarPrecondition {
    /// The element name in the CalDAV namespace (`urn:ietf:params:xml:ns:caldav`).
    pub fn element(&self) -> &'static str {
        match self {
            CalendarPrecondition::ValidCalendarData(_) => "valid-calendar-data",
            CalendarPrecondition::ValidCalendarObjectResource(_) => {
                "valid-calendar-object-resource"
            }
            CalendarPrecondition::SupportedCalendarComponent(_) => "supported-calendar-component",
            CalendarPrecondition::MaxResourceSize { .. } => "max-resource-size",
            CalendarPrecondition::NoUidConflict(_) => "no-uid-conflict",
        }
    }
}
