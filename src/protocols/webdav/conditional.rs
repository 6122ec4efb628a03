//! Conditional GET/HEAD (RFC 9110 §13): the four precondition headers evaluated against a
//! resource's ETag and modification time, in the order of §13.2.2, without I/O.
//!
//! - If-Match (strong comparison) fails with 412; without it, If-Unmodified-Since fails
//!   with 412 when the resource changed after the date.
//! - If-None-Match (weak comparison, `*` for any current representation) answers 304 on a
//!   read; without it, If-Modified-Since answers 304 when the resource has not changed
//!   after the date. If-None-Match wins over If-Modified-Since (§13.1.3: the latter is
//!   then ignored, whatever it says).
//! - HTTP dates are whole seconds: the resource's time is truncated to the second before
//!   it is compared (a time of 12:00:00.9 has not changed since "12:00:00 GMT").
//! - A date that does not parse (any of the three formats of §5.6.7) is ignored, as is a
//!   time comparison on a resource whose time is not known. A stored time later than the
//!   server's clock (a clock set back, a node behind the database's clock) is not known
//!   either: the resource may change again within that second, so it never earns a 304
//!   (§8.8.2.1: an origin server must not send a Last-Modified later than its clock).
//! - `*` in If-Match or If-None-Match matches any existing resource, ETag or none (§13.1.1,
//!   §13.1.2): a read is always of an existing one.

/// What a read's preconditions say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answer normally.
    Proceed,
    /// 304 Not Modified: no body, with the ETag and Last-Modified a 200 would carry.
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// The precondition headers of a request, as sent (absent: `None`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Headers<'a> {
    pub if_match: Option<&'a str>,
    pub if_none_match: Option<&'a str>,
    pub if_modified_since: Option<&'a str>,
    pub if_unmodified_since: Option<&'a str>,
}

/// The validators of the resource read: its ETag (quoted; `None`: none) and its
/// modification time in Unix milliseconds (`None`: not known).
#[derive(Clone, Copy, Debug, Default)]
pub struct Validators<'a> {
    pub etag: Option<&'a str>,
    pub modified_ms: Option<i64>,
}

/// Evaluates `h` for a GET or HEAD of an existing resource at `now_ms` (the server's
/// clock, Unix milliseconds) (module comment).
pub fn evaluate_read(h: &Headers<'_>, v: &Validators<'_>, now_ms: i64) -> Outcome {
    let secs = v
        .modified_ms
        .filter(|ms| *ms <= now_ms)
        .map(|ms| ms.div_euclid(1000));
    if let Some(m) = h.if_match {
        if !matches(m, v.etag, false, true) {
            return Outcome::Failed;
        }
    } else if let (Some(d), Some(t)) = (h.if_unmodified_since.and_then(parse_http_date), secs) {
        if t > d {
            return Outcome::Failed;
        }
    }
    if let Some(m) = h.if_none_match {
        if matches(m, v.etag, true, true) {
            return Outcome::NotModified;
        }
    } else if let (Some(d), Some(t)) = (h.if_modified_since.and_then(parse_http_date), secs) {
        if t <= d {
            return Outcome::NotModified;
        }
    }
    Outcome::Proceed
}

/// Whether a list of entity tags (or `*`) names `etag`: strong comparison, or weak
/// (`W/` ignored on both sides) when `weak` (§8.8.3.2). `*` matches whenever the resource
/// `exists`, whether or not it has an ETag.
pub fn matches(value: &str, etag: Option<&str>, weak: bool, exists: bool) -> bool {
    if exists && value.split(',').any(|t| t.trim() == "*") {
        return true;
    }
    let Some(etag) = etag else { return false };
    let bare = |t: &str| -> Option<String> {
        match t.strip_prefix("W/") {
            Some(rest) if weak => Some(rest.to_string()),
            Some(_) => None,
            None => Some(t.to_string()),
        }
    };
    let Some(mine) = bare(etag.trim()) else {
        return false;
    };
    value
        .split(',')
        .map(str::trim)
        .any(|t| bare(t).as_deref() == Some(mine.as_str()))
}

/// An HTTP date (§5.6.7: IMF-fixdate, or the obsolete RFC 850 and asctime forms a
/// recipient must accept) in Unix seconds; `None` when it is none of them.
pub fn parse_http_date(v: &str) -> Option<i64> {
    let v = v.trim();
    const FORMATS: [&str; 3] = [
        "%a, %d %b %Y %H:%M:%S GMT",
        "%A, %d-%b-%y %H:%M:%S GMT",
        "%a %b %e %H:%M:%S %Y",
    ];
    FORMATS.iter().find_map(|f| {
        chrono::NaiveDateTime::parse_from_str(v, f)
            .ok()
            .map(|d| d.and_utc().timestamp())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAMP: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const AT: i64 = 784_111_777;
    /// The server's clock in these tests: well after every stored time.
    const NOW_MS: i64 = (AT + 86_400) * 1000;

    fn read(h: Headers<'_>, etag: &str, modified_ms: i64) -> Outcome {
        evaluate_read(
            &h,
            &Validators {
                etag: Some(etag),
                modified_ms: Some(modified_ms),
            },
            NOW_MS,
        )
    }

    #[test]
    fn a_stored_time_after_the_clock_is_not_known() {
        let since = Headers {
            if_modified_since: Some(STAMP),
            ..Headers::default()
        };
        let unmodified = Headers {
            if_unmodified_since: Some(STAMP),
            ..Headers::default()
        };
        let v = Validators {
            etag: Some("\"a\""),
            modified_ms: Some(AT * 1000 + 500),
        };
        // The clock is behind the stored time (set back): no 304, no 412.
        let behind = AT * 1000 - 60_000;
        assert_eq!(evaluate_read(&since, &v, behind), Outcome::Proceed);
        assert_eq!(evaluate_read(&unmodified, &v, behind), Outcome::Proceed);
        // At or after it, the time counts.
        assert_eq!(
            evaluate_read(&since, &v, AT * 1000 + 500),
            Outcome::NotModified
        );
        assert_eq!(evaluate_read(&since, &v, NOW_MS), Outcome::NotModified);
    }

    #[test]
    fn star_matches_an_existing_resource_without_an_etag() {
        // A directory of the file store: no ETag, a known time.
        let dir = Validators {
            etag: None,
            modified_ms: Some(AT * 1000),
        };
        let if_match = Headers {
            if_match: Some("*"),
            ..Headers::default()
        };
        assert_eq!(evaluate_read(&if_match, &dir, NOW_MS), Outcome::Proceed);
        let if_none_match = Headers {
            if_none_match: Some("*"),
            ..Headers::default()
        };
        assert_eq!(
            evaluate_read(&if_none_match, &dir, NOW_MS),
            Outcome::NotModified
        );
        // A tag never matches a resource without one; `*` matches nothing absent.
        let tagged = Headers {
            if_match: Some("\"a\""),
            ..Headers::default()
        };
        assert_eq!(evaluate_read(&tagged, &dir, NOW_MS), Outcome::Failed);
        assert!(!matches("*", None, false, false));
        assert!(!matches("*", Some("\"a\""), false, false));
        assert!(matches("\"b\", *", None, true, true));
    }

    #[test]
    fn the_three_date_formats_parse_and_others_do_not() {
        assert_eq!(parse_http_date(STAMP), Some(AT));
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(AT));
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), Some(AT));
        assert_eq!(parse_http_date("yesterday"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 +0200"), None);
    }

    #[test]
    fn if_modified_since_truncates_the_stored_time_to_the_second() {
        let h = Headers {
            if_modified_since: Some(STAMP),
            ..Headers::default()
        };
        // 08:49:37.999 is "not modified since 08:49:37".
        assert_eq!(read(h, "\"a\"", AT * 1000 + 999), Outcome::NotModified);
        assert_eq!(read(h, "\"a\"", AT * 1000), Outcome::NotModified);
        assert_eq!(read(h, "\"a\"", (AT + 1) * 1000), Outcome::Proceed);
        // A date that does not parse, or an unknown time: ignored.
        let bad = Headers {
            if_modified_since: Some("soon"),
            ..Headers::default()
        };
        assert_eq!(read(bad, "\"a\"", 0), Outcome::Proceed);
        let unknown = Validators {
            etag: Some("\"a\""),
            modified_ms: None,
        };
        assert_eq!(evaluate_read(&h, &unknown, NOW_MS), Outcome::Proceed);
    }

    #[test]
    fn if_none_match_wins_over_if_modified_since() {
        // The ETag differs: 200 although the date says "not modified".
        let h = Headers {
            if_none_match: Some("\"other\""),
            if_modified_since: Some(STAMP),
            ..Headers::default()
        };
        assert_eq!(read(h, "\"a\"", AT * 1000), Outcome::Proceed);
        // The ETag matches (weakly): 304 although the date says "modified".
        let h = Headers {
            if_none_match: Some("W/\"a\""),
            if_modified_since: Some("Sat, 01 Jan 1994 00:00:00 GMT"),
            ..Headers::default()
        };
        assert_eq!(read(h, "\"a\"", AT * 1000), Outcome::NotModified);
        let star = Headers {
            if_none_match: Some("*"),
            ..Headers::default()
        };
        assert_eq!(read(star, "\"a\"", AT * 1000), Outcome::NotModified);
    }

    #[test]
    fn if_match_and_if_unmodified_since_come_first() {
        // If-Match fails: 412 even though If-None-Match would say 304.
        let h = Headers {
            if_match: Some("\"b\""),
            if_none_match: Some("\"a\""),
            ..Headers::default()
        };
        assert_eq!(read(h, "\"a\"", AT * 1000), Outcome::Failed);
        // A weak tag never matches If-Match (strong comparison).
        let weak = Headers {
            if_match: Some("W/\"a\""),
            ..Headers::default()
        };
        assert_eq!(read(weak, "\"a\"", AT * 1000), Outcome::Failed);
        // If-Unmodified-Since: changed after the date fails; ignored under If-Match.
        let h = Headers {
            if_unmodified_since: Some(STAMP),
            ..Headers::default()
        };
        assert_eq!(read(h, "\"a\"", (AT + 5) * 1000), Outcome::Failed);
        assert_eq!(read(h, "\"a\"", AT * 1000 + 500), Outcome::Proceed);
        let both = Headers {
            if_match: Some("\"a\""),
            if_unmodified_since: Some(STAMP),
            ..Headers::default()
        };
        assert_eq!(read(both, "\"a\"", (AT + 5) * 1000), Outcome::Proceed);
    }
}
