//! Links whose shown text is a web or mail address of another host than the one they go
//! to: the phishing pattern `<a href="https://evil.test/">https://bank.example/</a>`.
//!
//! Implementation notes:
//!
//! - [`mark`] reads ammonia's output, not the message: that is html5ever's serialisation,
//!   where `<` in text is always `&lt;`, attribute values are double-quoted with `"` as
//!   `&quot;` (but `<` and `>` left as they are), and `<a>` never nests. So a tag ends at
//!   the first `>` outside quotes and ` href="` inside a tag can only start the attribute.
//! - The shown text counts as an address when, trimmed, it has no inner space and is a
//!   `http(s)://` or `mailto:` URL, `user@host`, or a bare `host[/path]` whose last label
//!   is letters. Hosts compare case-insensitively, without a trailing dot or a leading
//!   `www.`; user info (`https://bank.example@evil.test/`) is not the host.
//! - A marked link gets `class="fm-suspicious"`, a `title` when it has none, and a visible
//!   `[⚠ goes to host]` after it: the frame has no style sheet, so the warning is text.

/// A link whose shown text names another host than its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspicious {
    /// What the message shows.
    pub text: String,
    /// Where the link really goes.
    pub host: String,
}

/// `clean` (ammonia's output) with suspicious links marked, and the list of them.
pub fn mark(clean: &str) -> (String, Vec<Suspicious>) {
    let mut out = String::with_capacity(clean.len());
    let mut found = Vec::new();
    let mut rest = clean;
    while let Some(start) = rest.find("<a ") {
        let Some(open_len) = tag_len(&rest[start..]) else {
            break;
        };
        let open = &rest[start..start + open_len];
        let after = &rest[start + open_len..];
        let (text, inner_len) = inner_text(after);
        out.push_str(&rest[..start]);
        let target = attr(open, "href").and_then(|h| target_host(&h));
        let shown = shown_host(&text);
        match (target, shown) {
            (Some(host), Some(named)) if norm(&host) != norm(&named) => {
                let warning = format!("This link goes to {host}, not {}", text.trim());
                out.push_str(&open[..open.len() - 1]);
                out.push_str(" class=\"fm-suspicious\"");
                if attr(open, "title").is_none() {
                    out.push_str(&format!(" title=\"{}\"", escape(&warning)));
                }
                out.push('>');
                out.push_str(&after[..inner_len]);
                out.push_str(&format!(
                    " <strong>[\u{26a0} goes to {}]</strong>",
                    escape(&host)
                ));
                found.push(Suspicious {
                    text: text.trim().to_string(),
                    host,
                });
            }
            _ => {
                out.push_str(open);
                out.push_str(&after[..inner_len]);
            }
        }
        rest = &after[inner_len..];
    }
    out.push_str(rest);
    (out, found)
}

/// The length of the tag at the start of `s` (up to its first `>` outside quotes).
fn tag_len(s: &str) -> Option<usize> {
    let mut quoted = false;
    for (i, b) in s.bytes().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'>' if !quoted => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// The text inside a link (tags left out, entities decoded) and the length of the markup
/// up to and including its `</a>` (or to the end when there is none).
fn inner_text(s: &str) -> (String, usize) {
    let mut text = String::new();
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        if rest.starts_with('<') {
            let Some(n) = tag_len(rest) else {
                return (unescape(&text), s.len());
            };
            if rest[..n].eq_ignore_ascii_case("</a>") {
                return (unescape(&text), i + n);
            }
            i += n;
        } else {
            let n = rest.find('<').unwrap_or(rest.len());
            text.push_str(&rest[..n]);
            i += n;
        }
    }
    (unescape(&text), s.len())
}

/// The value of attribute `name` in a serialised start tag, decoded.
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(unescape(&tag[start..start + len]))
}

/// The entities html5ever's serialiser writes.
fn unescape(s: &str) -> String {
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .map(|_| &s[prefix.len()..])
}

/// The host of a `http(s)://` URL (without user info and port).
fn url_host(rest_after_scheme: &str) -> Option<String> {
    let authority = rest_after_scheme
        .split(['/', '?', '#', '\\'])
        .next()
        .unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let host = if host.starts_with('[') {
        host.split(']').next().map(|h| format!("{h}]"))?
    } else {
        host.split(':').next().unwrap_or("").to_string()
    };
    (!host.is_empty()).then_some(host)
}

/// The domain of an address (`user@domain`, maybe with `?headers` after it).
fn mail_domain(address: &str) -> Option<String> {
    let domain = address.rsplit('@').next()?;
    let domain = domain.split('?').next().unwrap_or("");
    (address.contains('@') && !domain.is_empty()).then(|| domain.to_string())
}

/// Where an `href` goes.
fn target_host(href: &str) -> Option<String> {
    let h = href.trim();
    if let Some(r) = strip_prefix_ci(h, "https://").or_else(|| strip_prefix_ci(h, "http://")) {
        return url_host(r);
    }
    strip_prefix_ci(h, "mailto:").and_then(mail_domain)
}

/// The host the shown text names, when it is an address (module comment).
fn shown_host(text: &str) -> Option<String> {
    let t = text.trim();
    if t.is_empty() || t.contains(char::is_whitespace) {
        return None;
    }
    if let Some(h) = target_host(t) {
        return Some(h);
    }
    if t.contains('@') && !t.contains('/') && !t.contains(':') {
        return mail_domain(t).filter(|d| looks_like_host(d));
    }
    let host = t.split(['/', '?', '#']).next().unwrap_or("");
    looks_like_host(host).then(|| host.to_string())
}

/// `label.label…` with letters for the last label.
fn looks_like_host(h: &str) -> bool {
    let h = h.trim_end_matches('.');
    let labels: Vec<&str> = h.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        })
        && labels
            .last()
            .is_some_and(|l| l.len() >= 2 && l.chars().all(char::is_alphabetic))
}

/// A host as compared: lower case, no trailing dot, no leading `www.`.
fn norm(host: &str) -> String {
    let h = host.trim_end_matches('.').to_lowercase();
    h.strip_prefix("www.").map(str::to_string).unwrap_or(h)
}

/// HTML-escapes `s` (text and attribute values).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
