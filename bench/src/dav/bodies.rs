//! What `bench dav` sends and how it reads the answers, as plain functions (tested
//! without a network): the seeded events, the REPORT and PROPFIND bodies, and the few
//! things read back from a multistatus (responses counted, the sync-token).
//!
//! The events are built as calcard `ICalendar` values and written by its writer, never
//! by formatting properties. Event `i` is a pure function of `i` and the recurring share,
//! and [`EventSpec::overlaps`] knows its instances, so the bench knows how many objects
//! a time-range query must answer and checks the server against it.

use calcard::common::PartialDateTime;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarFrequency,
    ICalendarParameter, ICalendarProperty, ICalendarRecurrenceRule, ICalendarValue,
    ICalendarValueType,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// 2026-01-01T00:00:00Z: the seeded events spread over the year from here.
pub const YEAR_START: i64 = 1_767_225_600;
const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// How an event repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Once,
    /// `FREQ=DAILY;COUNT=n`.
    Daily(u32),
    /// `FREQ=WEEKLY`, with a COUNT or (`None`) without end.
    Weekly(Option<u32>),
}

/// One seeded event: what its iCalendar text says, in numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpec {
    pub index: u64,
    /// First instance's start (UTC; midnight for all-day events).
    pub start: i64,
    /// Length of every instance, seconds (whole days for all-day events).
    pub duration: i64,
    pub all_day: bool,
    pub rule: Rule,
    /// The second instance is overridden (RECURRENCE-ID) and moved by this many seconds.
    pub moved_second: Option<i64>,
    pub summary: String,
    pub location: Option<String>,
    pub description: Option<String>,
}

const TOPICS: [&str; 8] = [
    "Planning",
    "Review",
    "1:1",
    "Standup",
    "Lunch",
    "Customer call",
    "Workshop",
    "Dentist",
];
const PLACES: [&str; 4] = ["Room 101", "Main office", "Video call", "Café Nord"];

/// The object name (and UID) of event `i`.
pub fn uid(i: u64) -> String {
    format!("bench-{i:07}")
}

impl EventSpec {
    /// Event `i` of the mix: `recurring_share` of them repeat (half weekly, a third of
    /// those without end, half daily), a quarter of the repeating ones with an overridden
    /// second instance; 5 % of the others all-day; all spread over 2026.
    pub fn generate(i: u64, recurring_share: f64) -> EventSpec {
        let mut rng = StdRng::seed_from_u64(seed_of(i));
        let day = rng.gen_range(0..365i64);
        let recurring = rng.gen::<f64>() < recurring_share;
        let all_day = !recurring && rng.gen::<f64>() < 0.05;
        let (start, duration) = if all_day {
            (YEAR_START + day * DAY, rng.gen_range(1..=3i64) * DAY)
        } else {
            let hour = rng.gen_range(7..19i64);
            let half = rng.gen_range(0..2i64);
            (
                YEAR_START + day * DAY + hour * HOUR + half * 1800,
                rng.gen_range(1..=4i64) * 1800,
            )
        };
        let rule = if !recurring {
            Rule::Once
        } else if rng.gen_bool(0.5) {
            if rng.gen_range(0..3) == 0 {
                Rule::Weekly(None)
            } else {
                Rule::Weekly(Some(rng.gen_range(4..=52)))
            }
        } else {
            Rule::Daily(rng.gen_range(5..=60))
        };
        let moved_second = (recurring && rng.gen_range(0..4) == 0).then_some(HOUR);
        let topic = TOPICS[rng.gen_range(0..TOPICS.len())];
        let location = rng
            .gen_bool(0.5)
            .then(|| PLACES[rng.gen_range(0..PLACES.len())].to_string());
        let description = rng.gen_bool(0.3).then(|| {
            format!(
                "Agenda for {topic} #{i}: review of last week's notes, open points, \
                 decisions to take, next steps and who does what. Bring the figures."
            )
        });
        EventSpec {
            index: i,
            start,
            duration,
            all_day,
            rule,
            moved_second,
            summary: format!("{topic} {i}"),
            location,
            description,
        }
    }

    /// Start of instance `k` (0-based) before any override.
    fn nth_start(&self, k: u32) -> i64 {
        match self.rule {
            Rule::Once => self.start,
            Rule::Daily(_) => self.start + k as i64 * DAY,
            Rule::Weekly(_) => self.start + k as i64 * 7 * DAY,
        }
    }

    /// Instances in all (`None`: no end).
    fn count(&self) -> Option<u32> {
        match self.rule {
            Rule::Once => Some(1),
            Rule::Daily(n) => Some(n),
            Rule::Weekly(n) => n,
        }
    }

    /// Whether an instance overlaps `[from, to)` (RFC 4791 §9.9: start < to, end > from).
    pub fn overlaps(&self, from: i64, to: i64) -> bool {
        let hits = |s: i64| s < to && s + self.duration > from;
        if self
            .moved_second
            .is_some_and(|m| self.count().is_none_or(|c| c > 1) && hits(self.nth_start(1) + m))
        {
            return true;
        }
        let step = match self.rule {
            Rule::Once => return hits(self.start),
            Rule::Daily(_) => DAY,
            Rule::Weekly(_) => 7 * DAY,
        };
        // The first instance that does not end before `from`.
        let first = if self.start + self.duration > from {
            0
        } else {
            ((from - self.start - self.duration) / step + 1) as u32
        };
        // Instances first, first + 1 (enough: every instance is shorter than a step).
        (first..first + 2)
            .filter(|k| self.count().is_none_or(|c| *k < c))
            .filter(|k| !(self.moved_second.is_some() && *k == 1))
            .any(|k| hits(self.nth_start(k)))
    }

    /// The iCalendar object, written by calcard; `stamp` is DTSTAMP (Unix seconds) and
    /// `summary_suffix` is appended to the SUMMARY (the one change of a run).
    pub fn to_ical(&self, stamp: i64, summary_suffix: &str) -> String {
        let mut root = ICalendarComponent::new(ICalendarComponentType::VCalendar);
        root.add_property(
            ICalendarProperty::Version,
            ICalendarValue::Text("2.0".into()),
        );
        root.add_property(
            ICalendarProperty::Prodid,
            ICalendarValue::Text("-//Ferrymail//bench dav//EN".into()),
        );
        let mut components = vec![root];
        let mut master = self.vevent(
            stamp,
            self.start,
            &format!("{}{summary_suffix}", self.summary),
        );
        match self.rule {
            Rule::Once => {}
            Rule::Daily(n) => master.entries.push(self.rrule(Some(n))),
            Rule::Weekly(n) => master.entries.push(self.rrule(n)),
        }
        components.push(master);
        if let Some(shift) = self.moved_second {
            let original = self.nth_start(1);
            let mut over = self.vevent(
                stamp,
                original + shift,
                &format!("{} (moved)", self.summary),
            );
            over.entries.push(
                ICalendarEntry::new(ICalendarProperty::RecurrenceId)
                    .with_value(PartialDateTime::from_utc_timestamp(original)),
            );
            components.push(over);
        }
        for id in 1..components.len() {
            components[0].component_ids.push(id as u32);
        }
        ICalendar { components }.to_string()
    }

    fn rrule(&self, count: Option<u32>) -> ICalendarEntry {
        let freq = match self.rule {
            Rule::Daily(_) => ICalendarFrequency::Daily,
            _ => ICalendarFrequency::Weekly,
        };
        let rule = ICalendarRecurrenceRule {
            freq,
            count,
            ..ICalendarRecurrenceRule::default()
        };
        ICalendarEntry::new(ICalendarProperty::Rrule)
            .with_value(ICalendarValue::RecurrenceRule(Box::new(rule)))
    }

    fn vevent(&self, stamp: i64, start: i64, summary: &str) -> ICalendarComponent {
        let mut ev = ICalendarComponent::new(ICalendarComponentType::VEvent);
        ev.add_uid(&uid(self.index));
        ev.add_dtstamp(PartialDateTime::from_utc_timestamp(stamp));
        let time = |name: ICalendarProperty, t: i64| {
            if self.all_day {
                ICalendarEntry::new(name)
                    .with_param(ICalendarParameter::value(ICalendarValueType::Date))
                    .with_value(PartialDateTime::from_date_timestamp(t))
            } else {
                ICalendarEntry::new(name).with_value(PartialDateTime::from_utc_timestamp(t))
            }
        };
        ev.entries.push(time(ICalendarProperty::Dtstart, start));
        ev.entries
            .push(time(ICalendarProperty::Dtend, start + self.duration));
        ev.add_property(
            ICalendarProperty::Summary,
            ICalendarValue::Text(summary.to_string()),
        );
        if let Some(l) = &self.location {
            ev.add_property(ICalendarProperty::Location, ICalendarValue::Text(l.clone()));
        }
        if let Some(d) = &self.description {
            ev.add_property(
                ICalendarProperty::Description,
                ICalendarValue::Text(d.clone()),
            );
        }
        ev
    }
}

/// A per-event seed that differs in many bits between neighbours.
fn seed_of(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xDA5E_ED00
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// `YYYYMMDDTHHMMSSZ` of Unix time `t` (RFC 5545 §3.3.5, UTC form).
pub fn utc_stamp(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(DAY));
    let s = t.rem_euclid(DAY);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// `[start, end)` of month `YYYY-MM` in UTC.
pub fn month_range(month: &str) -> Result<(i64, i64), String> {
    let bad = || format!("--month: expected YYYY-MM, got {month:?}");
    let (y, m) = month.split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let y: i64 = y.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if !(1..=12).contains(&m) || !(1971..=9998).contains(&y) {
        return Err(bad());
    }
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    Ok((
        days_from_civil(y, m, 1) * DAY,
        days_from_civil(ny, nm, 1) * DAY,
    ))
}

const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";

/// PROPFIND for the collection's current `DAV:sync-token` (Depth 0).
pub fn propfind_sync_token() -> String {
    format!("{XML_DECL}<D:propfind xmlns:D=\"DAV:\"><D:prop><D:sync-token/></D:prop></D:propfind>")
}

/// PROPFIND of getetag and getcontenttype (Depth 1: every member), what a client's
/// first look at a calendar asks.
pub fn propfind_members() -> String {
    format!(
        "{XML_DECL}<D:propfind xmlns:D=\"DAV:\"><D:prop><D:getetag/><D:getcontenttype/>\
         </D:prop></D:propfind>"
    )
}

/// sync-collection (RFC 6578 §3.2) from `token`, asking getetag, as DAVx⁵ and vdirsyncer do.
pub fn sync_collection(token: &str) -> String {
    format!(
        "{XML_DECL}<D:sync-collection xmlns:D=\"DAV:\"><D:sync-token>{}</D:sync-token>\
         <D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>",
        xml_escape(token)
    )
}

/// calendar-query (RFC 4791 §7.8) for VEVENTs with an instance in `[start, end)`, with
/// getetag and calendar-data, the latter expanded over the range when `expand`.
pub fn calendar_query(start: i64, end: i64, expand: bool) -> String {
    let (s, e) = (utc_stamp(start), utc_stamp(end));
    let data = if expand {
        format!("<C:calendar-data><C:expand start=\"{s}\" end=\"{e}\"/></C:calendar-data>")
    } else {
        "<C:calendar-data/>".to_string()
    };
    format!(
        "{XML_DECL}<C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">\
         <D:prop><D:getetag/>{data}</D:prop><C:filter><C:comp-filter name=\"VCALENDAR\">\
         <C:comp-filter name=\"VEVENT\"><C:time-range start=\"{s}\" end=\"{e}\"/>\
         </C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
    )
}

/// MKCALENDAR (RFC 4791 §5.3.1) with a display name.
pub fn mkcalendar(display_name: &str) -> String {
    format!(
        "{XML_DECL}<C:mkcalendar xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">\
         <D:set><D:prop><D:displayname>{}</D:displayname></D:prop></D:set></C:mkcalendar>",
        xml_escape(display_name)
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The local name of an element tag's name (`D:response` → `response`).
fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// How many `DAV:response` elements a multistatus holds (their end tags, whatever the
/// prefix; a self-closing `<response/>` counts too).
pub fn count_responses(body: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(body);
    let mut n = 0;
    let mut rest = text.as_ref();
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        if let Some(name) = tag.strip_prefix('/') {
            if local(name.trim()) == "response" {
                n += 1;
            }
        } else if let Some(name) = tag.strip_suffix('/') {
            if local(name.split_whitespace().next().unwrap_or("")) == "response" {
                n += 1;
            }
        }
        rest = &rest[end..];
    }
    n
}

/// The text of the first non-empty `sync-token` element (PROPFIND answer or the end of a
/// sync-collection answer), unescaped.
pub fn sync_token_of(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let mut rest = text.as_ref();
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>')?;
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        let name = tag.split_whitespace().next().unwrap_or("");
        if tag.ends_with('/') || name.starts_with('/') || local(name) != "sync-token" {
            continue;
        }
        let close = rest.find('<')?;
        let value = rest[..close].trim();
        if !value.is_empty() {
            return Some(xml_unescape(value));
        }
    }
    None
}
