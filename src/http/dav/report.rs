//! REPORT on calendars and address books (issue 15): calendar-query, calendar-multiget and
//! free-busy-query (RFC 4791 §7.8-§7.10), addressbook-query and addressbook-multiget (RFC
//! 6352 §8.6, §8.7) and sync-collection (RFC 6578), answered from `storage::DavStore`.
//!
//! Implementation notes:
//!
//! - Bodies are parsed by `protocols::davreport`; matching is `protocols::caldav::filter`
//!   and `protocols::carddav::filter`; calendar-data and address-data are cut and written
//!   by `caldav::caldata` and `carddav::addrdata` (calcard), the XML by
//!   `protocols::webdav::multistatus`. This file decides which objects and streams.
//! - Owner only: another account's calendars answer 404 (as the file store does).
//! - Which report goes where: calendar-query and free-busy-query on a calendar or one of
//!   its objects, addressbook-query on an address book or a card, the multigets also on
//!   the home, sync-collection on a calendar or address book (Depth 0; 1, which the python
//!   caldav library sends, is taken as 0). Anything else
//!   fails `DAV:supported-report` (403).
//! - Memory: what is decided before the answer starts (the collection, the candidates, the
//!   changes since a token, every precondition) runs on the blocking pool and can still
//!   fail with a status; the multistatus is then written a response at a time by a blocking
//!   task into a bounded channel of 64 KiB chunks, each candidate object dropped once
//!   written. A REPORT over a whole collection holds the candidate list (one copy of the
//!   objects, shrinking as it is written) and at most a few chunks, never the whole answer.
//!   Where every member is a candidate (a calendar-query without a top-level time range,
//!   the first sync-collection without a limit) there is no list: [`Pages`] reads the
//!   collection a page at a time as the answer is written, so memory is one page. A store
//!   error then can only end the body early, without its closing tag ([`Sink::abort`]).
//!   The writers ([`calendar_query`], [`multiget`], [`addressbook_query`], [`sync`]) take a
//!   [`Sink`], so they run without HTTP (tests, benchmarks).
//! - Sync tokens are URIs (RFC 6578 §3.2): [`sync_token_uri`] of the collection's change
//!   counter; [`parse_sync_token`] reads them back. The continuation of an initial sync cut
//!   by a limit also carries the counter its first page read (`…/<token>-<floor>`,
//!   [`sync_point_uri`]; the store's "floor", module `storage::davstore`), so pruned
//!   tombstones do not end it half-way. An unknown form, a token older than the kept
//!   tombstones or newer than the counter is 403 `DAV:valid-sync-token`.
//! - sync-collection's `limit` (§3.7) is honoured by truncation (§3.6): the oldest changes
//!   and deletions up to the limit, read in counter order from the store's change log and
//!   no further (`DavStore::dav_changes_page`: memory bounded by the limit, whatever the
//!   collection's size), a 507 `number-of-matches-within-limits` response for the
//!   collection when more remain, and a token that resumes after the last change reported
//!   (none is lost). A limit of 0 makes the whole REPORT 507 with that condition.
//! - addressbook-query's `limit` (RFC 6352 §8.6.1): the first `nresults` matches, then a
//!   507 response with `number-of-matches-within-limits` when there were more.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use calcard::common::timezone::Tz;
use calcard::icalendar::{ICalendar, ICalendarComponentType, ICalendarProperty};
use calcard::vcard::VCard;
use quick_xml::escape::escape;

use super::{
    blocking, collection_href, header_str, now, object_href, target_of, xml_body, Ctx, DavError,
    Target,
};
use crate::protocols::caldav::caldata;
use crate::protocols::caldav::filter::{CompFilter, CompTest, Evaluator, TimeRange};
use crate::protocols::caldav::freebusy;
use crate::protocols::caldav::report::{CalendarData, CalendarQuery, QueryZone};
use crate::protocols::caldav::validate::parse_calendar;
use crate::protocols::carddav::addrdata;
use crate::protocols::carddav::report::{AddressData, AddressbookQuery};
use crate::protocols::carddav::validate::parse_card;
use crate::protocols::davreport::{self, Report};
use crate::protocols::webdav::headers::{self, Depth};
use crate::protocols::webdav::multistatus::{
    multistatus_close, multistatus_open, write_response, write_status_error, Prop, Response,
};
use crate::protocols::webdav::report::{ReportError, SyncCollection, CALDAV, CARDDAV};
use crate::protocols::webdav::request::Propfind;
use crate::protocols::webdav::xml::DAV;
use crate::protocols::webdav::PropName;
use crate::storage::davstore::{ChangePage, Changes, CollectionKind, DavCollection, DavObject};
use crate::storage::{StorageError, Store};

/// What every sync token starts with; the collection's change counter follows.
const SYNC_PREFIX: &str = "http://ferrymail.invalid/sync/";

/// Output is sent in chunks of about this many bytes.
const CHUNK: usize = 64 * 1024;

/// Chunks waiting for the client at most (the writer blocks beyond).
const CHUNKS_QUEUED: usize = 4;

/// How long the writer of a streamed answer waits for the client to take a chunk.
const STALL: std::time::Duration = std::time::Duration::from_secs(120);

/// The sync-token URI of change counter `n` (RFC 6578 §3.2; `DAV:sync-token` property
/// and report answer alike).
pub(crate) fn sync_token_uri(n: u64) -> String {
    format!("{SYNC_PREFIX}{n}")
}

/// The change counter of a token [`sync_token_uri`] made; `None` for any other text.
pub(crate) fn parse_sync_token(token: &str) -> Option<u64> {
    counter(token.trim().strip_prefix(SYNC_PREFIX)?)
}

/// The sync-token URI of a change page's continuation: [`sync_token_uri`] of `token` when
/// `floor` is not above it, `…/<token>-<floor>` otherwise.
pub(crate) fn sync_point_uri(token: u64, floor: u64) -> String {
    if floor > token {
        format!("{SYNC_PREFIX}{token}-{floor}")
    } else {
        sync_token_uri(token)
    }
}

/// The (token, floor) of a token [`sync_point_uri`] made (floor = token for a plain one);
/// `None` for any other text.
pub(crate) fn parse_sync_point(token: &str) -> Option<(u64, u64)> {
    let rest = token.trim().strip_prefix(SYNC_PREFIX)?;
    match rest.split_once('-') {
        None => parse_sync_token(token).map(|n| (n, n)),
        Some((t, f)) => {
            let (t, f) = (counter(t)?, counter(f)?);
            (f > t).then_some((t, f))
        }
    }
}

/// A decimal counter, digits only.
fn counter(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// REPORT on a calendar or address book resource (module documentation).
pub(crate) async fn report(
    ctx: &Ctx,
    req: &HttpRequest,
    payload: web::Payload,
    me: &str,
    target: &Target,
) -> Result<HttpResponse, DavError> {
    let scope = Scope::of(target).ok_or_else(unsupported)?;
    // `cal::access` decided who reaches the collection; a sharee reports on a shared
    // collection only, never across the owner's home (which holds what is not shared).
    if scope.owner != me && scope.collection.is_none() {
        return Err(DavError::not_found());
    }
    let body = xml_body(payload).await?;
    let report = davreport::parse(&body).map_err(report_error)?;
    let depth = header_str(req, "Depth");
    let store = ctx.store.clone();
    match report {
        Report::CalendarQuery(q) => {
            scope.require(CollectionKind::Calendar, false)?;
            if let Some(sel) = &q.calendar_data {
                check_calendar_data(sel)?;
            }
            let zone = query_zone(q.timezone.as_ref())?;
            let depth = headers::depth(depth, Depth::One)?;
            let prefilter = top_range(&q.filter);
            let s = scope.clone();
            // Without a time range to prefilter by, every member is a candidate: they are
            // read page by page while the answer is written (bounded memory), not at once.
            let paged = prefilter.is_none() && scope.object.is_none() && depth != Depth::Zero;
            let st = store.clone();
            let (coll, objects) = blocking(move || {
                let coll = s.collection(&st)?;
                let objects = if paged {
                    Vec::new()
                } else {
                    s.candidates(&st, &coll, depth, prefilter)?
                };
                Ok((coll, objects))
            })
            .await?;
            let base = (scope.owner.clone(), coll.kind, coll.name.clone());
            Ok(stream(move |sink| {
                if paged {
                    let pages = Pages::new(&store, coll.id);
                    calendar_query(&base, pages, &q, zone, sink)
                } else {
                    calendar_query(&base, objects.into_iter().map(Ok), &q, zone, sink)
                }
            }))
        }
        Report::CalendarMultiget(m) => {
            scope.require(CollectionKind::Calendar, true)?;
            if let Some(sel) = &m.calendar_data {
                check_calendar_data(sel)?;
            }
            let shaping = Shaping {
                calendar: m.calendar_data.clone(),
                card: None,
                zone: Tz::UTC,
            };
            Ok(stream(move |sink| {
                multiget(&store, &scope, &m.hrefs, m.props.as_ref(), &shaping, sink)
            }))
        }
        Report::FreeBusyQuery(range) => {
            scope.require(CollectionKind::Calendar, false)?;
            let (start, end) = freebusy::bounds(&range).ok_or_else(|| {
                DavError::condition_in(StatusCode::FORBIDDEN, CALDAV, "valid-filter")
            })?;
            let stamp = i64::try_from(now(ctx)).unwrap_or(0);
            let text = blocking(move || {
                let coll = scope.collection(&store)?;
                let objects = scope.candidates(&store, &coll, Depth::One, Some(range))?;
                Ok(free_busy(objects, start, end, stamp))
            })
            .await?;
            Ok(HttpResponse::Ok()
                .content_type("text/calendar; charset=utf-8")
                .body(text))
        }
        Report::AddressbookQuery(q) => {
            scope.require(CollectionKind::AddressBook, false)?;
            if let Some(sel) = &q.address_data {
                check_address_data(sel)?;
            }
            let depth = headers::depth(depth, Depth::One)?;
            let s = scope.clone();
            let (coll, objects) = blocking(move || {
                let coll = s.collection(&store)?;
                let objects = s.candidates(&store, &coll, depth, None)?;
                Ok((coll, objects))
            })
            .await?;
            let base = (scope.owner.clone(), coll.kind, coll.name.clone());
            Ok(stream(move |sink| {
                addressbook_query(&base, objects, &q, sink)
            }))
        }
        Report::AddressbookMultiget(m) => {
            scope.require(CollectionKind::AddressBook, true)?;
            if let Some(sel) = &m.address_data {
                check_address_data(sel)?;
            }
            let shaping = Shaping {
                calendar: None,
                card: m.address_data.clone(),
                zone: Tz::UTC,
            };
            Ok(stream(move |sink| {
                multiget(&store, &scope, &m.hrefs, m.props.as_ref(), &shaping, sink)
            }))
        }
        Report::SyncCollection(s) => {
            if scope.object.is_some() || scope.collection.is_none() {
                return Err(unsupported());
            }
            // RFC 6578 §3.2 asks for Depth 0; the python caldav library sends 1 (how deep
            // is the body's sync-level), so 1 is taken as 0.
            if headers::depth(depth, Depth::Zero)? == Depth::Infinity {
                return Err(DavError::new(
                    StatusCode::BAD_REQUEST,
                    "sync-collection takes Depth: 0",
                ));
            }
            let plan = blocking(move || {
                let coll = scope.collection(&store)?;
                let plan = sync_plan(&store, &scope.owner, coll, &s)?;
                Ok((plan, s, store))
            })
            .await?;
            let (plan, s, store) = plan;
            Ok(stream(move |sink| sync(&store, plan, &s, sink)))
        }
    }
}

/// What a REPORT is addressed to, from its [`Target`].
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    pub owner: String,
    pub kind: CollectionKind,
    /// `None`: the home.
    pub collection: Option<String>,
    /// One object of the collection.
    pub object: Option<String>,
}

impl Scope {
    fn of(target: &Target) -> Option<Scope> {
        Some(match target {
            Target::Home { owner, kind } => Scope {
                owner: owner.clone(),
                kind: *kind,
                collection: None,
                object: None,
            },
            Target::Collection { owner, kind, name } => Scope {
                owner: owner.clone(),
                kind: *kind,
                collection: Some(name.clone()),
                object: None,
            },
            Target::Object {
                owner,
                kind,
                collection,
                name,
            } => Scope {
                owner: owner.clone(),
                kind: *kind,
                collection: Some(collection.clone()),
                object: Some(name.clone()),
            },
            _ => return None,
        })
    }

    /// The report is for collections of `kind`; on the home only when `home_ok`.
    fn require(&self, kind: CollectionKind, home_ok: bool) -> Result<(), DavError> {
        if self.kind != kind || (self.collection.is_none() && !home_ok) {
            return Err(unsupported());
        }
        Ok(())
    }

    /// The addressed collection (404 when it does not exist).
    fn collection(&self, store: &Store) -> Result<DavCollection, DavError> {
        let name = self.collection.as_deref().ok_or_else(DavError::not_found)?;
        super::calcommon::find_collection(store, &self.owner, self.kind, name)?
            .ok_or_else(DavError::not_found)
    }

    /// The objects a query looks at: the one addressed, none for Depth 0 on the
    /// collection, else the members, prefiltered by `range` when given.
    fn candidates(
        &self,
        store: &Store,
        coll: &DavCollection,
        depth: Depth,
        range: Option<TimeRange>,
    ) -> Result<Vec<DavObject>, DavError> {
        if let Some(name) = &self.object {
            let obj = store
                .dav_get(coll.id, name)?
                .ok_or_else(DavError::not_found)?;
            return Ok(vec![obj]);
        }
        if depth == Depth::Zero {
            return Ok(Vec::new());
        }
        Ok(match range {
            Some(r) => store.dav_objects_in_range(
                coll.id,
                r.start.unwrap_or(i64::MIN),
                r.end.unwrap_or(i64::MAX),
            )?,
            None => store.dav_objects(coll.id)?,
        })
    }
}

fn unsupported() -> DavError {
    DavError::condition(StatusCode::FORBIDDEN, "supported-report")
}

/// A body that failed to parse: 400, or 403 with its precondition.
fn report_error(e: ReportError) -> DavError {
    let message = e.to_string();
    match e.precondition() {
        None => DavError::new(StatusCode::BAD_REQUEST, message),
        Some((ns, local)) => DavError {
            message,
            ..DavError::condition_in(StatusCode::FORBIDDEN, ns, local)
        },
    }
}

fn check_calendar_data(sel: &CalendarData) -> Result<(), DavError> {
    if caldata::supported(sel) {
        Ok(())
    } else {
        Err(DavError::condition_in(
            StatusCode::FORBIDDEN,
            CALDAV,
            "supported-calendar-data",
        ))
    }
}

fn check_address_data(sel: &AddressData) -> Result<(), DavError> {
    addrdata::version_of(sel).map(|_| ()).map_err(|()| {
        DavError::condition_in(StatusCode::FORBIDDEN, CARDDAV, "supported-address-data")
    })
}

/// The zone floating times take: the query's CALDAV:timezone or timezone-id, else UTC.
fn query_zone(zone: Option<&QueryZone>) -> Result<Tz, DavError> {
    match zone {
        None => Ok(Tz::UTC),
        Some(QueryZone::Id(id)) => id
            .parse::<Tz>()
            .map_err(|()| DavError::condition_in(StatusCode::FORBIDDEN, CALDAV, "valid-timezone")),
        Some(QueryZone::Calendar(text)) => {
            let bad =
                || DavError::condition_in(StatusCode::FORBIDDEN, CALDAV, "valid-calendar-data");
            let cal = parse_calendar(text).map_err(|_| bad())?;
            let tzid = cal
                .components
                .iter()
                .find(|c| c.component_type == ICalendarComponentType::VTimezone)
                .and_then(|c| c.property(&ICalendarProperty::Tzid))
                .and_then(|e| e.values.first())
                .and_then(|v| v.as_text())
                .ok_or_else(bad)?;
            cal.build_tz_resolver().resolve(tzid).ok_or_else(bad)
        }
    }
}

/// A time-range on a component directly under VCALENDAR: every match lies in it, so the
/// store's span index can prefilter by it.
fn top_range(filter: &CompFilter) -> Option<TimeRange> {
    let CompTest::Match { comps, .. } = &filter.test else {
        return None;
    };
    comps.iter().find_map(|c| match &c.test {
        CompTest::Match { time_range, .. } => *time_range,
        CompTest::IsNotDefined => None,
    })
}

/// Where output goes: whole responses are appended and handed on in chunks.
pub(crate) struct Sink<'a> {
    buf: String,
    emit: &'a mut dyn FnMut(String) -> bool,
    /// The receiver went away: writers stop.
    closed: bool,
}

impl<'a> Sink<'a> {
    /// A sink that hands chunks to `emit` (false from it: stop writing).
    pub(crate) fn new(emit: &'a mut dyn FnMut(String) -> bool) -> Sink<'a> {
        Sink {
            buf: String::with_capacity(CHUNK + 4096),
            emit,
            closed: false,
        }
    }

    fn raw(&mut self, s: &str) {
        self.buf.push_str(s);
        self.flush(false);
    }

    fn response(&mut self, r: &Response) {
        write_response(&mut self.buf, r);
        self.flush(false);
    }

    fn flush(&mut self, all: bool) {
        if self.closed || (self.buf.len() < CHUNK && !all) || self.buf.is_empty() {
            return;
        }
        let chunk = std::mem::replace(&mut self.buf, String::with_capacity(CHUNK + 4096));
        if !(self.emit)(chunk) {
            self.closed = true;
        }
    }

    /// Ends the answer broken: what is buffered is dropped and nothing more is written (the
    /// closing tag never comes, so a client cannot take a short answer for a whole one).
    pub(crate) fn abort(&mut self) {
        self.buf.clear();
        self.closed = true;
    }

    /// Whether the writer should go on.
    fn open(&self) -> bool {
        !self.closed
    }

    /// Hands on what is left.
    pub(crate) fn finish(mut self) {
        self.flush(true);
    }
}

/// A 207 whose body `write` produces on the blocking pool, a chunk at a time.
fn stream(write: impl FnOnce(&mut Sink<'_>) + Send + 'static) -> HttpResponse {
    let (tx, rx) = tokio::sync::mpsc::channel::<web::Bytes>(CHUNKS_QUEUED);
    let rt = tokio::runtime::Handle::current();
    actix_web::rt::task::spawn_blocking(move || {
        // A client that stops reading holds no pool thread for long: after STALL without
        // room for the next chunk the answer is cut off (its connection then closes).
        let mut emit = |s: String| {
            let send = tokio::time::timeout(STALL, tx.send(web::Bytes::from(s)));
            matches!(rt.block_on(send), Ok(Ok(())))
        };
        let mut sink = Sink::new(&mut emit);
        write(&mut sink);
        sink.finish();
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        let chunk = rx.recv().await?;
        Some((Ok::<_, actix_web::Error>(chunk), rx))
    });
    HttpResponse::build(StatusCode::MULTI_STATUS)
        .content_type("application/xml; charset=utf-8")
        .streaming(body)
}

/// How calendar-data and address-data are cut (`None`: the stored text).
#[derive(Debug, Clone)]
pub(crate) struct Shaping {
    pub calendar: Option<CalendarData>,
    pub card: Option<AddressData>,
    pub zone: Tz,
}

/// The parsed object when the caller already has it.
enum Parsed<'a> {
    None,
    Calendar(&'a ICalendar),
    Card(&'a VCard),
}

/// The `response` for `obj` with the properties `ask` names.
fn object_response(
    href: String,
    obj: &DavObject,
    kind: CollectionKind,
    ask: Option<&Propfind>,
    shaping: &Shaping,
    parsed: Parsed<'_>,
) -> Response {
    let Some(ask) = ask else {
        return Response::Status { href, status: 200 };
    };
    let data_name = match kind {
        CollectionKind::Calendar => PropName {
            ns: CALDAV.into(),
            local: "calendar-data".into(),
        },
        CollectionKind::AddressBook => PropName {
            ns: CARDDAV.into(),
            local: "address-data".into(),
        },
    };
    let standard = [
        "getetag",
        "getcontenttype",
        "getcontentlength",
        "resourcetype",
    ];
    let names: Vec<PropName> = match ask {
        Propfind::Prop(list) => list.clone(),
        Propfind::AllProp { include } => standard
            .iter()
            .map(|l| PropName::dav(l))
            .chain(include.iter().cloned())
            .collect(),
        Propfind::PropName => {
            let props = standard
                .iter()
                .map(|l| PropName::dav(l))
                .chain([data_name])
                .map(|name| Prop { name, value: None })
                .collect();
            return Response::Props {
                href,
                propstats: vec![(200, props)],
            };
        }
    };
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for name in names {
        let value = if name.ns == DAV {
            match name.local.as_str() {
                "getetag" => Some(escape(obj.etag.as_str()).into_owned()),
                "getcontenttype" => Some(super::calobjects::content_type(kind, &obj.component)),
                "getcontentlength" => Some(obj.data.len().to_string()),
                "resourcetype" => Some(String::new()),
                _ => None,
            }
        } else if name == data_name {
            Some(escape(data_of(obj, kind, shaping, &parsed).as_str()).into_owned())
        } else {
            None
        };
        match value {
            Some(v) => found.push(Prop {
                name,
                value: Some(v),
            }),
            None => missing.push(Prop { name, value: None }),
        }
    }
    Response::Props {
        href,
        propstats: vec![(200, found), (404, missing)],
    }
}

/// The calendar-data or address-data of `obj`: the stored text unless a selection, a
/// range or another version was asked for; then parsed (unless `parsed`), cut and
/// written by calcard. An object that no longer parses is given as stored.
fn data_of(obj: &DavObject, kind: CollectionKind, shaping: &Shaping, parsed: &Parsed) -> String {
    match kind {
        CollectionKind::Calendar => {
            let Some(sel) = shaping.calendar.as_ref().filter(|s| {
                s.comp.is_some()
                    || s.expand.is_some()
                    || s.limit_recurrence_set.is_some()
                    || s.limit_freebusy_set.is_some()
            }) else {
                return obj.data.clone();
            };
            let own;
            let cal = match parsed {
                Parsed::Calendar(c) => *c,
                _ => match parse_calendar(&obj.data) {
                    Ok(c) => {
                        own = c;
                        &own
                    }
                    Err(_) => return obj.data.clone(),
                },
            };
            caldata::shape(cal, sel, shaping.zone).unwrap_or_else(|e| {
                tracing::warn!(object = %obj.name, error = %e, "calendar-data left whole");
                obj.data.clone()
            })
        }
        CollectionKind::AddressBook => {
            let Some(sel) = shaping
                .card
                .as_ref()
                .filter(|s| s.props.is_some() || s.version.is_some())
            else {
                return obj.data.clone();
            };
            let own;
            let card = match parsed {
                Parsed::Card(c) => *c,
                _ => match parse_card(&obj.data) {
                    Ok(c) => {
                        own = c;
                        &own
                    }
                    Err(_) => return obj.data.clone(),
                },
            };
            addrdata::shape(card, sel)
        }
    }
}

/// (owner, kind, collection name): what object hrefs are made of.
pub(crate) type Base = (String, CollectionKind, String);

fn href_of(base: &Base, name: &str) -> String {
    object_href(&base.0, base.1, &base.2, name)
}

/// calendar-query (RFC 4791 §7.8) over `objects` (the candidates), as a multistatus.
pub(crate) fn calendar_query(
    base: &Base,
    objects: impl Iterator<Item = Result<DavObject, StorageError>>,
    q: &CalendarQuery,
    zone: Tz,
    sink: &mut Sink<'_>,
) {
    let shaping = Shaping {
        calendar: q.calendar_data.clone(),
        card: None,
        zone,
    };
    sink.raw(&multistatus_open());
    for obj in objects {
        if !sink.open() {
            return;
        }
        let obj = match obj {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(error = %e, "calendar-query listing failed");
                sink.abort();
                return;
            }
        };
        let Ok(cal) = parse_calendar(&obj.data) else {
            tracing::warn!(object = %obj.name, "stored calendar object does not parse");
            continue;
        };
        let matched = match Evaluator::for_filter(&cal, zone, Some(&q.filter)) {
            Ok(ev) => ev.matches(&q.filter),
            Err(e) => {
                tracing::warn!(object = %obj.name, error = %e, "instances not expanded");
                false
            }
        };
        if matched {
            let r = object_response(
                href_of(base, &obj.name),
                &obj,
                base.1,
                q.props.as_ref(),
                &shaping,
                Parsed::Calendar(&cal),
            );
            sink.response(&r);
        }
    }
    let mut end = String::new();
    multistatus_close(&mut end, None);
    sink.raw(&end);
}

/// addressbook-query (RFC 6352 §8.6) over `objects`, honouring its limit (§8.6.1).
pub(crate) fn addressbook_query(
    base: &Base,
    objects: Vec<DavObject>,
    q: &AddressbookQuery,
    sink: &mut Sink<'_>,
) {
    let shaping = Shaping {
        calendar: None,
        card: q.address_data.clone(),
        zone: Tz::UTC,
    };
    sink.raw(&multistatus_open());
    let limit = q.limit.map(|n| n as usize);
    let mut matched = 0usize;
    let mut end = String::new();
    for obj in objects {
        if !sink.open() {
            return;
        }
        let Ok(card) = parse_card(&obj.data) else {
            tracing::warn!(object = %obj.name, "stored vCard does not parse");
            continue;
        };
        if !q.filter.matches(&card) {
            continue;
        }
        if limit.is_some_and(|l| matched >= l) {
            let href = collection_href(&base.0, base.1, &base.2);
            write_status_error(&mut end, &href, 507, "number-of-matches-within-limits");
            break;
        }
        matched += 1;
        let r = object_response(
            href_of(base, &obj.name),
            &obj,
            base.1,
            q.props.as_ref(),
            &shaping,
            Parsed::Card(&card),
        );
        sink.response(&r);
    }
    multistatus_close(&mut end, None);
    sink.raw(&end);
}

/// The path of an href (an absolute URL's scheme and authority left out).
fn href_path(href: &str) -> &str {
    for scheme in ["http://", "https://"] {
        if href.len() > scheme.len()
            && href
                .get(..scheme.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
        {
            let rest = &href[scheme.len()..];
            return rest.find('/').map_or("/", |i| &rest[i..]);
        }
    }
    href
}

/// calendar-multiget / addressbook-multiget (RFC 4791 §7.9, RFC 6352 §8.7): each href
/// answered as the client wrote it; one that is not an object of `scope` (another
/// collection, another account, a collection) or does not exist is 404.
pub(crate) fn multiget(
    store: &Store,
    scope: &Scope,
    hrefs: &[String],
    ask: Option<&Propfind>,
    shaping: &Shaping,
    sink: &mut Sink<'_>,
) {
    sink.raw(&multistatus_open());
    let mut collections: HashMap<String, Option<DavCollection>> = HashMap::new();
    for href in hrefs {
        if !sink.open() {
            return;
        }
        let found = (|| -> Result<Option<(DavObject, CollectionKind)>, DavError> {
            let Ok(Some(Target::Object {
                owner,
                kind,
                collection,
                name,
            })) = target_of(href_path(href))
            else {
                return Ok(None);
            };
            if owner != scope.owner
                || kind != scope.kind
                || scope.collection.as_ref().is_some_and(|c| *c != collection)
            {
                return Ok(None);
            }
            if !collections.contains_key(&collection) {
                let s = Scope {
                    collection: Some(collection.clone()),
                    object: None,
                    ..scope.clone()
                };
                let c = match s.collection(store) {
                    Ok(c) => Some(c),
                    Err(e) if e.status == StatusCode::NOT_FOUND => None,
                    Err(e) => return Err(e),
                };
                collections.insert(collection.clone(), c);
            }
            let Some(Some(coll)) = collections.get(&collection) else {
                return Ok(None);
            };
            Ok(store.dav_get(coll.id, &name)?.map(|o| (o, kind)))
        })();
        let r = match found {
            Ok(Some((obj, kind))) => {
                object_response(href.clone(), &obj, kind, ask, shaping, Parsed::None)
            }
            Ok(None) => Response::Status {
                href: href.clone(),
                status: 404,
            },
            Err(e) => {
                tracing::error!(href = %href, error = %e.message, "multiget lookup failed");
                Response::Status {
                    href: href.clone(),
                    status: e.status.as_u16(),
                }
            }
        };
        sink.response(&r);
    }
    let mut end = String::new();
    multistatus_close(&mut end, None);
    sink.raw(&end);
}

/// The free-busy answer (RFC 4791 §7.10) over `objects` in `[start, end)`.
pub(crate) fn free_busy(objects: Vec<DavObject>, start: i64, end: i64, stamp: i64) -> String {
    let mut periods = Vec::new();
    for obj in objects {
        let Ok(cal) = parse_calendar(&obj.data) else {
            continue;
        };
        match freebusy::busy_periods(&cal, Tz::UTC, start, end) {
            Ok(p) => periods.extend(p),
            Err(e) => tracing::warn!(object = %obj.name, error = %e, "no busy time"),
        }
    }
    caldata::vfreebusy(&freebusy::merge(periods), start, end, stamp)
}

/// Objects read from the store per page of a [`Pages`] listing.
const PER_PAGE: usize = 256;

/// Every object of a collection, read [`PER_PAGE`] at a time as it is iterated
/// (`DavStore::dav_objects_page`), for answers written while they are read (on the
/// blocking pool). A store error is the last item; the writer then ends the body without
/// its closing tag ([`Sink::abort`]), so the client sees a broken answer, never a short
/// one that looks whole.
pub(crate) struct Pages<'a> {
    store: &'a Store,
    collection: u64,
    page: std::vec::IntoIter<DavObject>,
    after: Option<String>,
    more: bool,
}

impl<'a> Pages<'a> {
    pub(crate) fn new(store: &'a Store, collection: u64) -> Pages<'a> {
        Pages {
            store,
            collection,
            page: Vec::new().into_iter(),
            after: None,
            more: true,
        }
    }
}

impl Iterator for Pages<'_> {
    type Item = Result<DavObject, StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.page.len() == 0 && self.more {
            match self
                .store
                .dav_objects_page(self.collection, self.after.as_deref(), PER_PAGE)
            {
                Ok(page) => {
                    self.more = page.len() == PER_PAGE;
                    self.after = page.last().map(|o| o.name.clone());
                    self.page = page.into_iter();
                }
                Err(e) => {
                    self.more = false;
                    return Some(Err(e));
                }
            }
        }
        self.page.next().map(Ok)
    }
}

/// What a sync-collection answers, decided before the answer starts.
pub(crate) struct SyncPlan {
    base: Base,
    coll_id: u64,
    /// Names to report as changed (looked up while writing), in change order.
    changed: Vec<String>,
    deleted: Vec<String>,
    /// The token the answer ends with, and its floor ([`sync_point_uri`]).
    token: u64,
    floor: u64,
    truncated: bool,
    /// The first sync without a limit: every member, read page by page while the answer is
    /// written ([`Pages`]) instead of `changed`.
    listing: bool,
}

/// Reads the changes since the request's token (403 `valid-sync-token` when it is not
/// one of ours or has expired) and applies its limit (module documentation).
pub(crate) fn sync_plan(
    store: &Store,
    owner: &str,
    coll: DavCollection,
    s: &SyncCollection,
) -> Result<SyncPlan, DavError> {
    let invalid = || DavError::condition(StatusCode::FORBIDDEN, "valid-sync-token");
    let (since, floor) = match &s.sync_token {
        None => (0, 0),
        Some(t) => parse_sync_point(t).ok_or_else(invalid)?,
    };
    if s.sync_token.is_none() && s.limit.is_none() {
        // The token is the counter before the listing is read: what changes while it is
        // read is reported again by the next sync, never missed.
        return Ok(SyncPlan {
            base: (owner.to_string(), coll.kind, coll.name.clone()),
            coll_id: coll.id,
            changed: Vec::new(),
            deleted: Vec::new(),
            token: coll.sync,
            floor: coll.sync,
            truncated: false,
            listing: true,
        });
    }
    let base = (owner.to_string(), coll.kind, coll.name.clone());
    // The continuation of a paged initial sync without a limit now: the rest in one page
    // (what `dav_changes` would hold), read past its floor.
    let limit = s
        .limit
        .map(|n| n as usize)
        .or((floor > since).then_some(usize::MAX));
    let Some(limit) = limit else {
        let Changes::Since {
            token,
            changed,
            deleted,
        } = store.dav_changes(coll.id, since)?
        else {
            return Err(invalid());
        };
        return Ok(SyncPlan {
            base,
            coll_id: coll.id,
            changed,
            deleted,
            token,
            floor: token,
            truncated: false,
            listing: false,
        });
    };
    if limit == 0 {
        // Nothing can be answered within it (RFC 6578 §3.7).
        return Err(DavError::condition(
            StatusCode::INSUFFICIENT_STORAGE,
            "number-of-matches-within-limits",
        ));
    }
    // The oldest `limit` changes by their counter, read from the store's change log and
    // no further: the token after the last one reported covers every change below it.
    let ChangePage::Page {
        changes,
        token,
        more,
        floor,
    } = store.dav_changes_page(coll.id, since, floor, limit)?
    else {
        return Err(invalid());
    };
    let (deleted, changed): (Vec<_>, Vec<_>) = changes.into_iter().partition(|c| c.deleted);
    Ok(SyncPlan {
        base,
        coll_id: coll.id,
        changed: changed.into_iter().map(|c| c.name).collect(),
        deleted: deleted.into_iter().map(|c| c.name).collect(),
        token,
        floor,
        truncated: more,
        listing: false,
    })
}

/// sync-collection (RFC 6578 §3.2): changed members with their properties, deleted ones
/// as 404, the new token at the end.
pub(crate) fn sync(store: &Store, plan: SyncPlan, s: &SyncCollection, sink: &mut Sink<'_>) {
    // calendar-data / address-data in a sync-collection's prop: the whole object.
    let shaping = Shaping {
        calendar: None,
        card: None,
        zone: Tz::UTC,
    };
    sink.raw(&multistatus_open());
    if plan.listing {
        for obj in Pages::new(store, plan.coll_id) {
            if !sink.open() {
                return;
            }
            let obj = match obj {
                Ok(o) => o,
                Err(e) => {
                    tracing::warn!(error = %e, "sync-collection listing failed");
                    sink.abort();
                    return;
                }
            };
            let href = href_of(&plan.base, &obj.name);
            let r = object_response(
                href,
                &obj,
                plan.base.1,
                s.props.as_ref(),
                &shaping,
                Parsed::None,
            );
            sink.response(&r);
        }
    }
    for name in &plan.changed {
        if !sink.open() {
            return;
        }
        let href = href_of(&plan.base, name);
        let r = match store.dav_get(plan.coll_id, name) {
            Ok(Some(obj)) => object_response(
                href,
                &obj,
                plan.base.1,
                s.props.as_ref(),
                &shaping,
                Parsed::None,
            ),
            Ok(None) => Response::Status { href, status: 404 },
            Err(e) => {
                tracing::error!(error = %e, "sync-collection lookup failed");
                Response::Status { href, status: 500 }
            }
        };
        sink.response(&r);
    }
    for name in &plan.deleted {
        sink.response(&Response::Status {
            href: href_of(&plan.base, name),
            status: 404,
        });
    }
    let mut end = String::new();
    if plan.truncated {
        let href = collection_href(&plan.base.0, plan.base.1, &plan.base.2);
        write_status_error(&mut end, &href, 507, "number-of-matches-within-limits");
    }
    multistatus_close(&mut end, Some(&sync_point_uri(plan.token, plan.floor)));
    sink.raw(&end);
}
