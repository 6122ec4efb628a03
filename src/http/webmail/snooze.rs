//! Snooze in the webmail: `POST /mail/{folder}/snooze` puts the checked messages (the
//! list's bulk form) or the one read (the reader's form) away until later today,
//! tomorrow morning, next week or a date and time the user types, read in the user's
//! time zone (`prefs`); `POST /mail/{folder}/wake` brings one back now (the `Snoozed`
//! folder's list shows each message's wake time and this button). The work is
//! `actors::snooze`'s: records first, then the move through the folder actors, and its
//! waker brings messages back, unread, when due.
//!
//! Implementation notes:
//!
//! - Only the owner's own folders: the `Snoozed` folder and the records are per account,
//!   and a message in someone else's shared folder would come back to the wrong owner.
//!   Rights are MOVE's (RFC 6851 §3.3: `t` and `e` on the folder left).
//! - In `Snoozed` itself, Snooze changes the wake time of the messages' records instead
//!   of moving them again.
//! - Presets, in the user's zone: "later today" is 18:00 when that is three hours off or
//!   more, else three hours from now on the hour; "tomorrow morning" 08:00 tomorrow;
//!   "next week" 08:00 next Monday. A custom time in the past, or one that does not exist
//!   in the zone (a daylight-saving gap), is refused; an ambiguous one (the hour repeated
//!   in autumn) is its earlier instant.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike};
use chrono_tz::Tz;

use super::reader::need;
use super::{call, readable, to_login, user, MailError};
use crate::actors::imap_backend::StoreBackend;
use crate::actors::snooze::{self as snoozing, SNOOZED};
use crate::http::dashboard::{redirect, Ctx};
use crate::protocols::imap::backend::{Backend, FolderInfo, FolderRef};

/// The choices of the Snooze controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    LaterToday,
    TomorrowMorning,
    NextWeek,
    Custom,
}

impl When {
    fn parse(s: &str) -> Result<When, MailError> {
        Ok(match s {
            "later" => When::LaterToday,
            "tomorrow" => When::TomorrowMorning,
            "nextweek" => When::NextWeek,
            "custom" => When::Custom,
            _ => {
                return Err(MailError::Invalid(
                    "choose when the messages come back".into(),
                ))
            }
        })
    }
}

/// Unix seconds of `when` (with `at`, the form's `datetime-local` value, for a custom
/// time) in `zone`, at `now` (module notes).
pub fn wake_time(when: When, at: &str, zone: Tz, now: i64) -> Result<i64, MailError> {
    let local = zone
        .timestamp_opt(now, 0)
        .single()
        .ok_or_else(|| MailError::Invalid("the server's clock is out of range".into()))?
        .naive_local();
    let at_day =
        |day: NaiveDate, hour: u32| day.and_time(NaiveTime::MIN) + Duration::hours(hour.into());
    let target = match when {
        When::LaterToday => {
            let six = at_day(local.date(), 18);
            if six - local >= Duration::hours(3) {
                six
            } else {
                let later = local + Duration::hours(3);
                // Up to the next whole hour (a time the user reads at a glance).
                let rounded =
                    later.date().and_time(NaiveTime::MIN) + Duration::hours(later.hour().into());
                if rounded < later {
                    rounded + Duration::hours(1)
                } else {
                    rounded
                }
            }
        }
        When::TomorrowMorning => at_day(local.date() + Duration::days(1), 8),
        When::NextWeek => {
            let days = 7 - i64::from(local.weekday().num_days_from_monday());
            at_day(local.date() + Duration::days(days), 8)
        }
        When::Custom => parse_local(at)?,
    };
    let wake = local_to_unix(zone, target)?;
    if wake <= now {
        return Err(MailError::Invalid("choose a time in the future".into()));
    }
    Ok(wake)
}

/// A `datetime-local` value: `YYYY-MM-DDTHH:MM`, with `:SS` when the browser sends seconds.
fn parse_local(at: &str) -> Result<NaiveDateTime, MailError> {
    let at = at.trim();
    NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| MailError::Invalid("give the date and time to snooze until".into()))
}

/// The instant `local` names in `zone`: the earlier of two in a repeated hour, an error in
/// a skipped one.
fn local_to_unix(zone: Tz, local: NaiveDateTime) -> Result<i64, MailError> {
    zone.from_local_datetime(&local)
        .earliest()
        .map(|t| t.timestamp())
        .ok_or_else(|| MailError::Invalid("that time does not exist in your time zone".into()))
}

/// The `uid` fields of a form, each once; at least one.
fn uids(body: &[u8]) -> Result<Vec<u32>, MailError> {
    let out = super::bulk::uids(body)?;
    if out.is_empty() {
        return Err(MailError::Invalid("select at least one message".into()));
    }
    Ok(out)
}

/// The folder when `me` owns it and may move messages out of it.
fn own_movable(b: &StoreBackend, me: &str, folder: FolderRef) -> Result<FolderInfo, MailError> {
    let (info, rights) = readable(b, me, folder)?;
    if info.owner != me {
        return Err(MailError::Forbidden("snooze messages of another account"));
    }
    need(&rights, 't', "move messages away")?;
    need(&rights, 'e', "move messages away")?;
    Ok(info)
}

/// Where a post goes back to: the folder's list, at the page and query it came from.
fn back_to(body: &web::Bytes, folder: FolderRef) -> HttpResponse {
    let field = |name: &str| super::login::field(body, name);
    let page = field("page").parse::<usize>().unwrap_or(1).max(1);
    let back = super::list_query::back_tail(&field("list"));
    redirect(&format!("/mail/{folder}?page={page}{back}"))
}

/// `POST /mail/{folder}/snooze`: snoozes the `uid`s until `when` (`at` for a custom time).
pub async fn snooze(
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<FolderRef>,
    body: web::Bytes,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let folder = path.into_inner();
    let field = |name: &str| super::login::field(&body, name);
    let when = When::parse(&field("when"))?;
    let at = field("at");
    let uids = uids(&body)?;
    call(&ctx, move |b| {
        let info = own_movable(b, &me, folder)?;
        let zone = super::prefs::load(b, &me)?.zone();
        let wake = wake_time(when, &at, zone, b.now())?;
        // Each uid looked up by key: a click costs the messages picked, not the folder.
        let mut present = Vec::with_capacity(uids.len());
        for uid in uids {
            if b.ctx
                .store
                .get_message(folder, uid)
                .map_err(unavailable)?
                .is_some()
            {
                present.push(uid);
            }
        }
        let uids = present;
        if uids.is_empty() {
            return Err(MailError::Invalid("select at least one message".into()));
        }
        if info.name == SNOOZED {
            snoozing::reschedule(b, &me, &uids, wake)?;
            return Ok(());
        }
        snoozing::snooze(b, &me, folder, &uids, wake)?;
        Ok(())
    })
    .await?;
    Ok(back_to(&body, folder))
}

/// `POST /mail/{folder}/wake`: in `Snoozed`, brings the `uid`s back now.
pub async fn wake_now(
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<FolderRef>,
    body: web::Bytes,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let folder = path.into_inner();
    let uids = uids(&body)?;
    call(&ctx, move |b| {
        let info = own_movable(b, &me, folder)?;
        if info.name != SNOOZED {
            return Err(MailError::Invalid(
                "only snoozed messages can be woken".into(),
            ));
        }
        for uid in uids {
            let rec = snoozing::record_of(b, &me, uid)?.ok_or(MailError::NotFound)?;
            snoozing::wake(b, &rec)?;
        }
        Ok(())
    })
    .await?;
    Ok(back_to(&body, folder))
}

fn unavailable(e: crate::storage::StorageError) -> MailError {
    tracing::warn!("webmail snooze: {e}");
    MailError::Unavailable
}

/// One snoozed message's wake time, as the `Snoozed` list shows it.
pub struct Waking {
    pub uid: u32,
    /// In the user's zone (`prefs::format_for`).
    pub at: String,
}

/// What a folder's list shows of snoozing: the Snooze control (not in `Snoozed`, where
/// it reschedules: there it is shown as well) and, in `Snoozed`, each message's wake time.
#[derive(Default)]
pub struct Wakes {
    pub in_snoozed: bool,
    pub list: Vec<Waking>,
}

impl Wakes {
    /// The wake time of message `uid` (in `Snoozed`).
    pub fn get(&self, uid: &u32) -> Option<&Waking> {
        self.list.iter().find(|w| w.uid == *uid)
    }
}

/// [`Wakes`] of `info` for `me`: the records of `me`'s `Snoozed` folder when that is it.
pub fn wakes(
    b: &StoreBackend,
    me: &str,
    info: &FolderInfo,
    prefs: &super::prefs::Prefs,
) -> Result<Wakes, MailError> {
    if info.owner != me || info.name != SNOOZED {
        return Ok(Wakes::default());
    }
    let list = b
        .ctx
        .store
        .snooze_of(me)
        .map_err(unavailable)?
        .into_iter()
        .filter_map(|r| {
            r.snoozed_uid.map(|uid| Waking {
                uid,
                at: super::prefs::format_for(prefs, r.wake),
            })
        })
        .collect();
    Ok(Wakes {
        in_snoozed: true,
        list,
    })
}
