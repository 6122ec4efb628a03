//! The `Received:` trace header (RFC 5321 §4.4, RFC 3848 protocol names) and RFC 5322 §3.3
//! dates, without a clock: the caller supplies the time.
//!
//! ```text
//! Time-stamp-line = "Received:" FWS Stamp CRLF
//! Stamp = From-domain By-domain Opt-info [CFWS] ";" FWS date-time
//! From-domain = "FROM" FWS Extended-Domain     ; helo (ip [ip])
//! Opt-info = [Via] [With] [ID] [For] [Additional-Registered-Clauses]
//! ```

use std::net::IpAddr;

use super::Envelope;

/// Lines are folded to stay within this many columns when the words allow it.
const FOLD_AT: usize = 78;

/// Build the Received trace header, CRLF-terminated, folded under 78 columns. `for` only when
/// there is exactly one recipient (more would disclose Bcc recipients to each other).
pub fn received_header(env: &Envelope, hostname: &str, queue_id: &str, date: &str) -> String {
    let ip = env.peer.ip;
    let literal = match ip {
        IpAddr::V4(v4) => format!("[{v4}]"),
        IpAddr::V6(v6) => format!("[IPv6:{v6}]"),
    };
    let helo = if env.helo.is_empty() {
        ip.to_string()
    } else {
        clean(&env.helo)
    };
    let mut clauses: Vec<Vec<String>> = vec![
        vec![
            "Received:".into(),
            "from".into(),
            helo,
            format!("({ip}"),
            format!("{literal})"),
        ],
        vec![
            "by".into(),
            clean(hostname),
            "(Ferrymail)".into(),
            "with".into(),
            env.protocol.into(),
            "id".into(),
            clean(queue_id),
        ],
    ];
    if let [rcpt] = env.recipients.as_slice() {
        clauses.push(vec!["for".into(), format!("<{}>", clean(&rcpt.address))]);
    }
    if let Some(last) = clauses.last_mut().and_then(|c| c.last_mut()) {
        last.push(';');
    }
    if let Some(last) = clauses.last_mut() {
        last.push(
            date.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        );
    }
    fold(&clauses)
}

/// Each clause on its own line, words wrapped greedily inside a clause; continuation lines
/// start with a tab. A single word longer than a line stays whole (RFC 5322 allows 998).
fn fold(clauses: &[Vec<String>]) -> String {
    let mut out = String::new();
    let mut col = 0;
    for (i, clause) in clauses.iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n\t");
            col = 1;
        }
        for (j, word) in clause.iter().enumerate() {
            if j > 0 {
                let width = word.chars().count();
                if col + 1 + width > FOLD_AT {
                    out.push_str("\r\n\t");
                    col = 1;
                } else {
                    out.push(' ');
                    col += 1;
                }
            }
            out.push_str(word);
            col += word.chars().count();
        }
    }
    out.push_str("\r\n");
    out
}

/// A value inside the header: no controls, no whitespace (it would break the folding).
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || c.is_whitespace() {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// A unix timestamp as an RFC 5322 date in UTC: "Sun, 22 Nov 2026 00:00:00 +0000".
pub fn rfc5322_date(unix_secs: i64) -> String {
    use crate::protocols::date::{civil_from_days, MONTHS, WEEKDAYS_FROM_EPOCH as DAYS};
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let month = MONTHS[(month - 1) as usize % 12];
    format!(
        "{weekday}, {day:02} {month} {year:04} {:02}:{:02}:{:02} +0000",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}
