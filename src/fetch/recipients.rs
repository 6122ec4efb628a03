//! DomainPOP: who a message fetched from a domain's shared mailbox is for, and the loop
//! stamp on fetched mail.
//!
//! A message in such a mailbox has lost its envelope, so recipients are read back from
//! headers, in a configured order of *kinds*. An entry of the order is one header name, or
//! several joined with `/` that count as one kind ("To/Cc/Bcc": a letter to Bob copied to
//! Frank must reach both). `Received` means the `for <address>` clause of Received headers
//! (RFC 5321 §4.4).
//!
//! The rule, as MDaemon applies it: go through the entries in order; the **first entry
//! whose headers name at least one address in a local domain wins**, and only its
//! addresses count. Of those, the ones that resolve (accounts, aliases, plus-addressing)
//! get a copy; the others in a local domain are "unknown" and go to the configured target.
//! Addresses in other domains are never delivered to. When no entry names a local-domain
//! address, the whole message is unknown.

/// The default order (MDaemon's, plus the headers of today's providers).
pub const DEFAULT_HEADERS: [&str; 6] = [
    "X-Rcpt-To",
    "X-Original-To",
    "X-Delivered-To",
    "Delivered-To",
    "Received",
    "To/Cc/Bcc",
];

/// The header put on every fetched message; one carrying our host name is never delivered
/// again (a loop through the outside mailbox).
pub const STAMP_HEADER: &str = "X-Ferrymail-Fetched";

/// Checks one entry of the order: header field names (RFC 5322 §3.6.8: printable ASCII but
/// the colon) joined by `/`.
pub fn check_entry(entry: &str) -> Result<(), String> {
    for name in entry.split('/') {
        let ok = !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':');
        if !ok {
            return Err(format!(
                "'{entry}' is not a header name (or names joined by '/')"
            ));
        }
    }
    Ok(())
}

/// The header section of `raw`, unfolded: `(name, value)` in order.
pub fn headers(raw: &[u8]) -> Vec<(String, String)> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|p| p + 1))
        .unwrap_or(raw.len());
    let text = String::from_utf8_lossy(&raw[..end]);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            out.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    out
}

/// The addresses in an address-list value: `<a@b>` parts, else bare words with an `@`.
/// Commas inside quotes or angle brackets do not split.
pub fn addresses(value: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let (mut quoted, mut angle, mut start) = (false, false, 0);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' | ';' if !quoted && !angle => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
        .into_iter()
        .filter_map(|p| {
            let addr = match (p.rfind('<'), p.rfind('>')) {
                (Some(a), Some(b)) if a < b => &p[a + 1..b],
                _ => p.split_whitespace().find(|w| w.contains('@')).unwrap_or(""),
            };
            let addr = addr.trim().trim_matches(|c| c == '"' || c == '\'');
            clean_address(addr)
        })
        .collect()
}

fn clean_address(a: &str) -> Option<String> {
    let (local, domain) = a.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() || a.contains(char::is_whitespace) {
        return None;
    }
    Some(a.to_ascii_lowercase())
}

/// The `for <address>` of a Received header value.
pub fn received_for(value: &str) -> Option<String> {
    let lower = value.to_ascii_lowercase();
    let mut words = lower.split_whitespace();
    while let Some(w) = words.next() {
        if w == "for" {
            let next = words.next()?;
            let addr = next
                .trim_end_matches(';')
                .trim_start_matches('<')
                .trim_end_matches('>');
            return clean_address(addr);
        }
    }
    None
}

/// The addresses named by one entry of the order, in header order, without repeats.
pub fn entry_addresses(headers: &[(String, String)], entry: &str) -> Vec<String> {
    let names: Vec<&str> = entry.split('/').collect();
    let mut out: Vec<String> = Vec::new();
    for (name, value) in headers {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            continue;
        }
        let found = if name.eq_ignore_ascii_case("Received") {
            received_for(value).into_iter().collect()
        } else {
            addresses(value)
        };
        for a in found {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// Who a message is for, by the rule in the module notes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipients {
    /// Addresses that resolve locally.
    pub local: Vec<String>,
    /// Addresses in a local domain that resolve to nothing.
    pub unknown: Vec<String>,
    /// The entry that decided, if any.
    pub entry: Option<String>,
}

/// Applies the rule. `in_local_domain` and `resolves` ask the directory.
pub fn find_recipients(
    raw: &[u8],
    order: &[String],
    in_local_domain: impl Fn(&str) -> bool,
    resolves: impl Fn(&str) -> bool,
) -> Recipients {
    let hs = headers(raw);
    for entry in order {
        let local: Vec<String> = entry_addresses(&hs, entry)
            .into_iter()
            .filter(|a| in_local_domain(a))
            .collect();
        if local.is_empty() {
            continue;
        }
        let (known, unknown) = local.into_iter().partition(|a| resolves(a));
        return Recipients {
            local: known,
            unknown,
            entry: Some(entry.clone()),
        };
    }
    Recipients::default()
}

/// Whether `raw` carries our stamp (fetched by this host before).
pub fn has_stamp(raw: &[u8], hostname: &str) -> bool {
    headers(raw)
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case(STAMP_HEADER) && v.eq_ignore_ascii_case(hostname))
}

/// The Message-ID, for duplicate suppression.
pub fn message_id(raw: &[u8]) -> Option<String> {
    headers(raw)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Message-ID"))
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: [&str; 3] = ["bob@example.com", "frank@example.com", "henry@example.com"];

    fn order() -> Vec<String> {
        DEFAULT_HEADERS.iter().map(|s| s.to_string()).collect()
    }

    fn find(raw: &str) -> Recipients {
        find_recipients(
            raw.as_bytes(),
            &order(),
            |a| a.ends_with("@example.com"),
            |a| LOCAL.contains(&a),
        )
    }

    #[test]
    fn address_lists() {
        let cases: &[(&str, &[&str])] = &[
            ("bob@example.com", &["bob@example.com"]),
            (
                "Bob <Bob@Example.com>, \"Doe, Frank\" <frank@example.com>",
                &["bob@example.com", "frank@example.com"],
            ),
            ("undisclosed-recipients:;", &[]),
            ("a@x, , <b@y>", &["a@x", "b@y"]),
            ("\"x@y\" <real@z>", &["real@z"]),
            ("no address here", &[]),
        ];
        for (value, want) in cases {
            assert_eq!(addresses(value), *want, "{value:?}");
        }
        assert_eq!(
            received_for("from a by b with ESMTP id 1 for <Bob@example.com>; Sun, 1 Jan 2026"),
            Some("bob@example.com".into())
        );
        assert_eq!(received_for("from a by b; date"), None);
    }

    #[test]
    fn first_entry_with_a_local_address_wins() {
        // An envelope header beats To/Cc: the provider's copy for frank only.
        let raw = "Delivered-To: frank@example.com\r\nTo: bob@example.com\r\nCc: henry@example.com\r\n\r\nx\r\n";
        let r = find(raw);
        assert_eq!(r.local, vec!["frank@example.com"]);
        assert_eq!(r.entry.as_deref(), Some("Delivered-To"));

        // Without one, To/Cc/Bcc count together.
        let raw = "To: Bob <bob@example.com>\r\nCc: frank@example.com,\r\n henry@example.com, joe@elsewhere.net\r\n\r\nhi\r\n";
        let r = find(raw);
        assert_eq!(r.local, LOCAL.to_vec());
        assert!(r.unknown.is_empty());

        // A Delivered-To for another domain does not win; a Received for <…> does.
        let raw = "Delivered-To: catchall@provider.net\r\nReceived: from x by y for <henry@example.com>; now\r\nTo: bob@example.com\r\n\r\n";
        assert_eq!(find(raw).local, vec!["henry@example.com"]);

        // Local domain, no such user: unknown. Nothing local at all: everything unknown.
        let raw = "X-Original-To: nobody@example.com\r\n\r\n";
        let r = find(raw);
        assert_eq!(
            (r.local.len(), r.unknown),
            (0, vec!["nobody@example.com".to_string()])
        );
        assert_eq!(find("To: a@elsewhere.net\r\n\r\n"), Recipients::default());
        // The body is not headers.
        assert_eq!(
            find("Subject: x\r\n\r\nTo: bob@example.com\r\n"),
            Recipients::default()
        );
    }

    #[test]
    fn stamp_message_id_and_entries() {
        let raw = b"X-Ferrymail-Fetched: MX.example.com\r\nMessage-ID: <m1@x>\r\n\r\n";
        assert!(has_stamp(raw, "mx.example.com"));
        assert!(!has_stamp(raw, "other.example.com"));
        assert_eq!(message_id(raw).as_deref(), Some("<m1@x>"));
        assert_eq!(message_id(b"Subject: x\r\n\r\n"), None);
        assert!(check_entry("To/Cc/Bcc").is_ok());
        assert!(check_entry("X-Rcpt-To").is_ok());
        assert!(check_entry("To//Cc").is_err());
        assert!(check_entry("Bad Name").is_err());
        assert!(check_entry("a:b").is_err());
    }
}
