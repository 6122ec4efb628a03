//! `[http]`: the web front's logins and sessions (issue 13) — whether passwords may cross
//! plain HTTP from other machines, how long a browser session lasts, how many failed
//! web logins one address may make before it is told to wait, and how long webmail's
//! "remember this device" lasts (issue 14).

use std::time::Duration;

use super::schema::{Problems, Section};

/// The longest `remember_device_days` accepted (ten years): a token that outlives that is
/// a mistake in the file.
pub const MAX_REMEMBER_DAYS: u32 = 3650;

/// What `http::session`, `http::login` and `http::security` read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Accept credentials on the plain `http` listener from any address (otherwise only
    /// from loopback; others are sent to the `https` listener).
    pub allow_plaintext_login: bool,
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after its login, used or not.
    pub session_max: Duration,
    /// Failed web logins from one address within 15 minutes before it gets 429.
    pub login_failures: u32,
    /// Days a "remember this device" token of a webmail login lets the browser skip the
    /// two-factor code; 0 turns the feature off (`http::webmail::remember`).
    pub remember_device_days: u32,
    /// The largest WebDAV resource a PUT may store, in bytes (`http::dav`; 413 past it).
    pub dav_max_resource_size: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            allow_plaintext_login: false,
            session_idle: Duration::from_secs(1800),
            session_max: Duration::from_secs(43_200),
            login_failures: 10,
            remember_device_days: 30,
            dav_max_resource_size: 100 * 1024 * 1024,
        }
    }
}

pub(super) fn read_http(s: &mut Section, p: &mut Problems) -> HttpConfig {
    let d = HttpConfig::default();
    let one = Duration::from_secs(1);
    let failures = s.uint("login_failures", u64::from(d.login_failures), 1, p);
    let days = s.uint(
        "remember_device_days",
        u64::from(d.remember_device_days),
        0,
        p,
    );
    let c = HttpConfig {
        allow_plaintext_login: s.boolean("allow_plaintext_login", d.allow_plaintext_login, p),
        session_idle: s.duration("session_idle", d.session_idle, one, p),
        session_max: s.duration("session_max", d.session_max, one, p),
        dav_max_resource_size: s.uint("dav_max_resource_size", d.dav_max_resource_size, 1, p),
        login_failures: u32::try_from(failures).unwrap_or_else(|_| {
            p.add(
                &s.path("login_failures"),
                format!("{failures} is too large"),
            );
            d.login_failures
        }),
        remember_device_days: match u32::try_from(days) {
            Ok(n) if n <= MAX_REMEMBER_DAYS => n,
            _ => {
                p.add(
                    &s.path("remember_device_days"),
                    format!("{days} is too large (at most {MAX_REMEMBER_DAYS})"),
                );
                d.remember_device_days
            }
        },
    };
    if c.session_max < c.session_idle {
        p.add(
            &s.path("session_max"),
            format!(
                "{}s is shorter than session_idle ({}s)",
                c.session_max.as_secs(),
                c.session_idle.as_secs()
            ),
        );
    }
    c
}
