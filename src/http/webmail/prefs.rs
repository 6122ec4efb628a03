//! Webmail preferences of an account: display name, signature and time zone.
//!
//! Implementation notes:
//!
//! - They are kept as the account's own server metadata entries (RFC 5464, the IMAP
//!   METADATA extension) under `/private/vendor/ferrymail/webmail/` (RFC 5464 §3.2: vendor
//!   entries below `/private/vendor/<vendor>/`), one entry per preference. Both storage
//!   backends already persist them, durably before the write returns, and an IMAP client
//!   with GETMETADATA sees the same values. Writes go through the IMAP backend
//!   ([`Backend::set_metadata`]), which also tells NOTIFY sessions.
//! - An empty preference is stored as no entry (RFC 5464 §4.3: setting NIL removes it),
//!   so "unset" and "empty" are one state.
//! - The time zone is an IANA name, checked against the database compiled into the binary
//!   (`chrono-tz`); a stored name the database no longer knows falls back to UTC.
//! - The signature's macros are expanded when it is used, not when it is saved:
//!   `$NAME$` (display name, else the address), `$EMAIL$` (the address), `$DATE$`
//!   (today in the user's zone, `YYYY-MM-DD`) and `$$` (a literal `$`).

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;

use super::MailError;
use crate::actors::imap_backend::StoreBackend;
use crate::actors::ServerContext;
use crate::protocols::imap::backend::Backend;

/// The entry names' common prefix.
pub const ENTRY_PREFIX: &str = "/private/vendor/ferrymail/webmail/";
/// Longest display name accepted (characters).
pub const MAX_NAME: usize = 200;
/// Longest signature accepted (bytes), as RFC 5464 servers limit entry sizes.
pub const MAX_SIGNATURE: usize = 4096;

/// One account's preferences; empty strings for unset ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prefs {
    pub display_name: String,
    pub signature: String,
    /// An IANA zone name, or empty for UTC.
    pub time_zone: String,
}

const NAME: &str = "display-name";
const SIGNATURE: &str = "signature";
const ZONE: &str = "time-zone";

impl Prefs {
    /// The zone to show dates in (UTC when unset or unknown).
    pub fn zone(&self) -> Tz {
        self.time_zone.parse::<Tz>().unwrap_or(Tz::UTC)
    }

    /// Checks every field; the cleaned preferences (trimmed name and zone, CRLF line ends in
    /// the signature as a message body needs them).
    pub fn validated(self) -> Result<Prefs, MailError> {
        let display_name = self.display_name.trim().to_string();
        if display_name.chars().count() > MAX_NAME || display_name.chars().any(char::is_control) {
            return Err(MailError::Invalid(format!(
                "a display name is one line of at most {MAX_NAME} characters"
            )));
        }
        let signature = self
            .signature
            .replace("\r\n", "\n")
            .trim_end()
            .replace('\n', "\r\n");
        if signature.len() > MAX_SIGNATURE {
            return Err(MailError::Invalid(format!(
                "a signature has at most {MAX_SIGNATURE} bytes"
            )));
        }
        let time_zone = self.time_zone.trim().to_string();
        if !time_zone.is_empty() {
            time_zone.parse::<Tz>().map_err(|_| {
                MailError::Invalid(format!(
                    "{time_zone:?} is not an IANA time zone (like Europe/Paris or America/New_York)"
                ))
            })?;
        }
        Ok(Prefs {
            display_name,
            signature,
            time_zone,
        })
    }
}

/// `user`'s preferences as stored.
pub fn load(b: &impl Backend, user: &str) -> Result<Prefs, MailError> {
    let mut p = Prefs::default();
    for (name, value) in b.metadata(None, user)? {
        let Some(key) = name.strip_prefix(ENTRY_PREFIX) else {
            continue;
        };
        let value = String::from_utf8_lossy(&value).into_owned();
        match key {
            NAME => p.display_name = value,
            SIGNATURE => p.signature = value,
            ZONE => p.time_zone = value,
            _ => {}
        }
    }
    Ok(p)
}

/// Validates and stores `p` for `user`, all entries at once, durably.
pub fn save(b: &impl Backend, user: &str, p: Prefs) -> Result<Prefs, MailError> {
    let p = p.validated()?;
    let entry = |key: &str, v: &str| {
        (
            format!("{ENTRY_PREFIX}{key}"),
            (!v.is_empty()).then(|| v.as_bytes().to_vec()),
        )
    };
    b.set_metadata(
        None,
        user,
        &[
            entry(NAME, &p.display_name),
            entry(SIGNATURE, &p.signature),
            entry(ZONE, &p.time_zone),
        ],
    )?;
    Ok(p)
}

/// `signature` with its macros expanded for `user` at Unix time `now`.
pub fn expand(p: &Prefs, user: &str, now: i64) -> String {
    let name = if p.display_name.is_empty() {
        user
    } else {
        &p.display_name
    };
    let date = format_in(p.zone(), now, "%Y-%m-%d");
    let mut out = String::with_capacity(p.signature.len());
    let mut rest = p.signature.as_str();
    // One pass, so a display name that contains `$EMAIL$` is not expanded again.
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let (with, len) = if tail.starts_with("$NAME$") {
            (name, 6)
        } else if tail.starts_with("$EMAIL$") {
            (user, 7)
        } else if tail.starts_with("$DATE$") {
            (date.as_str(), 6)
        } else if tail.starts_with("$$") {
            ("$", 2)
        } else {
            ("$", 1)
        };
        out.push_str(with);
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

/// The signature a new message of `user` gets (macros expanded, CRLF line ends), or
/// `None` when the user has none or it cannot be read. Blocks on storage: call it on the
/// blocking pool (inside [`super::call`]).
pub fn signature_for(ctx: &std::sync::Arc<ServerContext>, user: &str) -> Option<String> {
    let b = StoreBackend {
        ctx: std::sync::Arc::clone(ctx),
    };
    let p = match load(&b, user) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("webmail: preferences of {user}: {e}");
            return None;
        }
    };
    (!p.signature.is_empty()).then(|| expand(&p, user, b.now()))
}

/// Unix seconds as `2026-12-04 13:27` in the user's zone.
pub fn format_for(p: &Prefs, t: i64) -> String {
    format_in(p.zone(), t, "%Y-%m-%d %H:%M")
}

fn format_in(zone: Tz, t: i64, pattern: &str) -> String {
    match Utc.timestamp_opt(t, 0).single() {
        Some(utc) => utc.with_timezone(&zone).format(pattern).to_string(),
        // Out of chrono's range (a forged INTERNALDATE): the UTC rendering never fails.
        None => format_date(t),
    }
}

/// Unix seconds as `2026-12-04 13:27` (UTC).
pub(super) fn format_date(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil from days (H. Hinnant's algorithm), proleptic Gregorian.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefs(name: &str, sig: &str, zone: &str) -> Prefs {
        Prefs {
            display_name: name.into(),
            signature: sig.into(),
            time_zone: zone.into(),
        }
    }

    #[test]
    fn macros_expand_once_and_unknown_dollars_stay() {
        // 2026-12-04 23:30 UTC is already the 5th in Tokyo.
        let t = 1_796_427_000;
        let p = prefs(
            "Al $EMAIL$",
            "-- \n$NAME$ <$EMAIL$> $DATE$ $$5 $X",
            "Asia/Tokyo",
        );
        assert_eq!(
            expand(&p, "al@example.com", t),
            "-- \nAl $EMAIL$ <al@example.com> 2026-12-05 $5 $X"
        );
        let p = prefs("", "$NAME$ $", "");
        assert_eq!(expand(&p, "al@example.com", t), "al@example.com $");
    }

    #[test]
    fn dates_show_in_the_users_zone_with_daylight_saving() {
        let p = prefs("", "", "Europe/Paris");
        // Winter (UTC+1) and summer (UTC+2).
        assert_eq!(format_for(&p, 1_796_427_000), "2026-12-05 00:30");
        assert_eq!(format_for(&p, 1_782_000_000), "2026-06-21 02:00");
        assert_eq!(
            format_for(&Prefs::default(), 1_796_427_000),
            "2026-12-04 23:30"
        );
    }

    #[test]
    fn validation_refuses_unknown_zones_long_names_and_long_signatures() {
        assert!(prefs("", "", "Mars/Olympus").validated().is_err());
        assert!(prefs("", "", "europe/paris ").validated().is_err());
        assert!(prefs("a\nb", "", "").validated().is_err());
        assert!(prefs(&"x".repeat(MAX_NAME + 1), "", "")
            .validated()
            .is_err());
        assert!(prefs(&"x".repeat(MAX_NAME), "", "").validated().is_ok());
        assert!(prefs("", &"s".repeat(MAX_SIGNATURE + 1), "")
            .validated()
            .is_err());
        let ok = prefs(" Al ", "a\nb\n\n", " America/New_York ")
            .validated()
            .unwrap();
        assert_eq!(ok, prefs("Al", "a\r\nb", "America/New_York"));
    }
}
