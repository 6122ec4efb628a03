//! `/calendar`: the month, week and day views of every calendar of the account
//! (`storage::davstore`, the collections CalDAV serves) and of those shared with it or
//! public that it may read (`super::shared`: listed with their owner, read-only ones
//! marked), server-rendered and navigated by links; events are opened, made and changed
//! in [`super::calendar_event`].
//!
//! Implementation notes:
//!
//! - `GET /calendar?view=month|week|day&date=YYYY-MM-DD` (defaults: month, today in the
//!   user's webmail time zone, `prefs`; UTC when none is set). Weeks start on Monday; a
//!   month shows the whole weeks that hold its days.
//! - Candidates come from the store's indexed instance span (`dav_objects_in_range`);
//!   each object's instances are expanded by `protocols::caldav::timerange::instances`
//!   (calcard's RRULE engine, bounded by its `EXPAND_LIMIT` per object) with floating
//!   times and dates in the user's zone, and only VEVENT instances overlapping the
//!   visible range are shown, at most [`MAX_SHOWN`] per page (then a note says more are
//!   hidden).
//! - A calendar's colour is its collection property (`#RRGGBB[AA]`, checked before use);
//!   the strict CSP forbids inline styles, so it is drawn as an SVG swatch's `fill`.

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{Datelike, Duration, Months, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;

use super::calendar_ical::{is_all_day, is_event, title_of};
use super::shared::{visible, Visible};
use super::{call, to_login, user, MailError};
use crate::actors::imap_backend::StoreBackend;
use crate::http::dashboard::{render, Chrome, Ctx};
use crate::protocols::caldav::timerange;
use crate::protocols::caldav::validate::parse_calendar;
use crate::protocols::imap::backend::Backend;
use crate::storage::davstore::{CollectionKind, DavCollection};

/// Most event instances one page shows.
pub const MAX_SHOWN: usize = 2_000;

pub(crate) use super::shared::store_err;

/// A query string value, percent-encoded.
pub(crate) fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `#RRGGBB` or `#RRGGBBAA`, else empty.
pub(crate) fn checked_color(c: &str) -> String {
    let ok = c.starts_with('#')
        && matches!(c.len(), 7 | 9)
        && c[1..].chars().all(|ch| ch.is_ascii_hexdigit());
    if ok {
        c.to_string()
    } else {
        String::new()
    }
}

/// The calendars holding events the account may read (not the scheduling inbox or
/// outbox): its own, then those shared with it and public ones (`super::shared`).
pub(crate) fn event_calendars(b: &StoreBackend, me: &str) -> Result<Vec<Visible>, MailError> {
    Ok(visible(b, me, CollectionKind::Calendar)?
        .into_iter()
        .filter(|v| is_event_calendar(&v.coll))
        .collect())
}

/// A calendar that holds events (not the scheduling inbox or outbox).
pub(crate) fn is_event_calendar(c: &DavCollection) -> bool {
    c.kind == CollectionKind::Calendar
        && (c.components.is_empty() || c.components.iter().any(|k| k == "VEVENT"))
        && !crate::scheduling::reserved(&c.name)
}

/// Which view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Month,
    Week,
    Day,
}

impl View {
    fn parse(s: &str) -> View {
        match s {
            "week" => View::Week,
            "day" => View::Day,
            _ => View::Month,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            View::Month => "month",
            View::Week => "week",
            View::Day => "day",
        }
    }

    /// The first day shown, the number of days, and the previous and next anchors.
    fn range(self, anchor: NaiveDate) -> (NaiveDate, i64, NaiveDate, NaiveDate) {
        let monday =
            |d: NaiveDate| d - Duration::days(i64::from(d.weekday().num_days_from_monday()));
        match self {
            View::Month => {
                let first = anchor.with_day(1).unwrap_or(anchor);
                let next = first + Months::new(1);
                let start = monday(first);
                let last = next - Duration::days(1);
                let end = monday(last) + Duration::days(7);
                (
                    start,
                    (end - start).num_days(),
                    first - Months::new(1),
                    next,
                )
            }
            View::Week => (
                monday(anchor),
                7,
                anchor - Duration::days(7),
                anchor + Duration::days(7),
            ),
            View::Day => (
                anchor,
                1,
                anchor - Duration::days(1),
                anchor + Duration::days(1),
            ),
        }
    }
}

/// One event instance on a day.
pub struct Item {
    pub title: String,
    /// `09:30–10:45`, `all day`, or `… 10:45` when it began before this day.
    pub time: String,
    pub href: String,
    pub color: String,
    pub calendar: String,
}

pub struct Day {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// The day of the month, or `Monday 4 January` in the day view.
    pub label: String,
    pub today: bool,
    /// Outside the month shown (month view).
    pub other_month: bool,
    pub items: Vec<Item>,
}

pub struct CalendarLink {
    pub display: String,
    pub color: String,
    /// Another account's (or a public) calendar: its owner as shown; empty for one's own.
    pub owner: String,
    /// The account may not add or change events there.
    pub read_only: bool,
}

#[derive(Template)]
#[template(path = "mail/calendar.html")]
struct CalendarPage {
    chrome: Chrome,
    css: String,
    cal_css: String,
    view: &'static str,
    title: String,
    weeks: Vec<Vec<Day>>,
    prev: String,
    next: String,
    today: String,
    anchor: String,
    zone: String,
    calendars: Vec<CalendarLink>,
    hidden: usize,
    weekdays: Vec<&'static str>,
}

impl CalendarPage {
    fn view_href(&self, v: &str) -> String {
        format!("/calendar?view={v}&date={}", self.anchor)
    }
}

struct Shown {
    start: i64,
    end: i64,
    item: Item,
}

fn local_midnight(zone: Tz, d: NaiveDate) -> i64 {
    zone.from_local_datetime(&d.and_time(NaiveTime::MIN))
        .earliest()
        // A zone whose midnight is skipped (a few historic DST rules): one hour later.
        .or_else(|| {
            zone.from_local_datetime(&(d.and_time(NaiveTime::MIN) + Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.timestamp())
        .unwrap_or_else(|| d.and_time(NaiveTime::MIN).and_utc().timestamp())
}

fn hhmm(zone: Tz, t: i64) -> String {
    zone.timestamp_opt(t, 0)
        .single()
        .map(|t| t.format("%H:%M").to_string())
        .unwrap_or_default()
}

/// Every VEVENT instance of `me`'s calendars overlapping `[start, end)`, by start, at
/// most [`MAX_SHOWN`], and how many more there were.
fn instances_in(
    b: &StoreBackend,
    me: &str,
    zone: Tz,
    start: i64,
    end: i64,
) -> Result<(Vec<Shown>, usize, Vec<CalendarLink>), MailError> {
    let mut out = Vec::new();
    let mut links = Vec::new();
    for v in event_calendars(b, me)? {
        let color = checked_color(&v.coll.props.color);
        let display = v.display();
        links.push(CalendarLink {
            display: if v.coll.props.display_name.is_empty() {
                v.coll.name.clone()
            } else {
                v.coll.props.display_name.clone()
            },
            color: color.clone(),
            owner: v.owner_label.clone(),
            read_only: !v.may.write,
        });
        let coll = &v.coll;
        let objects = b
            .ctx
            .store
            .dav_objects_in_range(coll.id, start, end)
            .map_err(store_err)?;
        for obj in objects {
            if obj.component != "VEVENT" {
                continue;
            }
            let Ok(cal) = parse_calendar(&obj.data) else {
                continue;
            };
            let Ok((list, _)) = timerange::instances(&cal, zone.into()) else {
                continue;
            };
            let href = format!(
                "/calendar/event?cal={}&name={}",
                enc(&v.key()),
                enc(&obj.name)
            );
            for i in list {
                if !is_event(&cal, i.comp_id) || !i.overlaps(Some(start), Some(end)) {
                    continue;
                }
                let all_day = is_all_day(&cal, i.comp_id);
                out.push(Shown {
                    start: i.start,
                    end: i.end.max(i.start),
                    item: Item {
                        title: title_of(&cal, i.comp_id),
                        time: if all_day {
                            "all day".into()
                        } else {
                            String::new()
                        },
                        href: href.clone(),
                        color: color.clone(),
                        calendar: display.clone(),
                    },
                });
            }
        }
    }
    out.sort_by_key(|s| (s.start, s.end));
    let hidden = out.len().saturating_sub(MAX_SHOWN);
    out.truncate(MAX_SHOWN);
    Ok((out, hidden, links))
}

/// `GET /calendar`.
pub async fn view(
    ctx: Ctx,
    req: HttpRequest,
    q: web::Query<BTreeMap<String, String>>,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let view = View::parse(q.get("view").map(String::as_str).unwrap_or(""));
    let asked = q.get("date").cloned().unwrap_or_default();
    let who = me.clone();
    let page = call(&ctx, move |b| {
        let zone = super::prefs::load(b, &who)?.zone();
        let now = b.now();
        let today = zone
            .timestamp_opt(now, 0)
            .single()
            .map(|t| t.date_naive())
            .unwrap_or_default();
        let anchor = if asked.is_empty() {
            today
        } else {
            NaiveDate::parse_from_str(&asked, "%Y-%m-%d")
                .map_err(|_| MailError::Invalid("give the date as YYYY-MM-DD".into()))?
        };
        let (first, days, prev, next) = view.range(anchor);
        let start = local_midnight(zone, first);
        let end = local_midnight(zone, first + Duration::days(days));
        let (shown, hidden, calendars) = instances_in(b, &who, zone, start, end)?;
        let mut all = Vec::new();
        for n in 0..days {
            let d = first + Duration::days(n);
            let (ds, de) = (
                local_midnight(zone, d),
                local_midnight(zone, d + Duration::days(1)),
            );
            let items = shown
                .iter()
                .filter(|s| s.start < de && (s.end > ds || (s.end == s.start && s.start >= ds)))
                .map(|s| {
                    let time = if !s.item.time.is_empty() {
                        s.item.time.clone()
                    } else if s.start < ds {
                        format!("… {}", hhmm(zone, s.end))
                    } else if s.end > s.start {
                        format!("{}–{}", hhmm(zone, s.start), hhmm(zone, s.end))
                    } else {
                        hhmm(zone, s.start)
                    };
                    Item {
                        title: s.item.title.clone(),
                        time,
                        href: s.item.href.clone(),
                        color: s.item.color.clone(),
                        calendar: s.item.calendar.clone(),
                    }
                })
                .collect();
            all.push(Day {
                date: d.format("%Y-%m-%d").to_string(),
                label: match view {
                    View::Month => d.day().to_string(),
                    _ => d.format("%a %-d %b").to_string(),
                },
                today: d == today,
                other_month: view == View::Month && d.month() != anchor.month(),
                items,
            });
        }
        let mut weeks = Vec::new();
        let mut it = all.into_iter().peekable();
        while it.peek().is_some() {
            weeks.push(it.by_ref().take(7).collect());
        }
        let title = match view {
            View::Month => anchor.format("%B %Y").to_string(),
            View::Week => format!("Week of {}", first.format("%-d %B %Y")),
            View::Day => anchor.format("%A %-d %B %Y").to_string(),
        };
        Ok((
            weeks,
            hidden,
            calendars,
            title,
            anchor.format("%Y-%m-%d").to_string(),
            prev.format("%Y-%m-%d").to_string(),
            next.format("%Y-%m-%d").to_string(),
            today.format("%Y-%m-%d").to_string(),
            zone.name().to_string(),
        ))
    })
    .await?;
    let (weeks, hidden, calendars, title, anchor, prev, next, today, zone) = page;
    let mut chrome = Chrome::anonymous(&req, "/calendar");
    chrome.who = me;
    let v = view.as_str();
    let t = CalendarPage {
        chrome,
        css: crate::http::dashboard::asset_url("mail.css"),
        cal_css: crate::http::dashboard::asset_url("calendar.css"),
        view: v,
        title,
        weeks,
        prev: format!("/calendar?view={v}&date={prev}"),
        next: format!("/calendar?view={v}&date={next}"),
        today: format!("/calendar?view={v}&date={today}"),
        anchor,
        zone,
        calendars,
        hidden,
        weekdays: vec!["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    };
    Ok(render(&req, &t.chrome, &t))
}
