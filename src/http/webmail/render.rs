//! Turning a message into what the browser may see: its HTML sanitised with ammonia, its
//! plain text escaped with links made clickable, and the names of its attachments made
//! safe for a `Content-Disposition` header.
//!
//! The HTML is cleaned by ammonia's allow-list (no script, style, event handler, form,
//! `javascript:` or `data:` URL, SVG or MathML survives) and then shown in a sandboxed
//! frame whose own CSP forbids scripts anyway: two independent walls. Links keep only
//! `http`, `https` and `mailto` targets and get `rel="noopener noreferrer"` and
//! `target="_blank"`; a link whose shown text names another host than its target is marked
//! ([`super::links`]). An `<img>` that points at one of the message's own parts (`cid:`,
//! RFC 2392) is inlined as a `data:` URL of an image type. Remote images (`http`/`https`)
//! are dropped and counted unless the user allowed them for this message or its sender
//! ([`super::images`]); any other source is dropped.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use mail_parser::{Message, MessagePart, MimeHeaders};

use super::links::escape;

/// The message's inline images by Content-ID (without the angle brackets), as `data:`
/// URLs. Only image types: a `data:` URL of anything else is never made.
pub fn inline_images(message: &Message<'_>) -> HashMap<String, String> {
    image_parts(message)
        .map(|(cid, sub, part)| {
            let url = format!(
                "data:image/{sub};base64,{}",
                STANDARD.encode(part.contents())
            );
            (cid, url)
        })
        .collect()
}

/// The Content-IDs [`inline_images`] would give, each with an empty URL: enough for the
/// reader page to learn which parts the HTML shows without encoding them.
pub fn inline_image_ids(message: &Message<'_>) -> HashMap<String, String> {
    image_parts(message)
        .map(|(cid, _, _)| (cid, String::new()))
        .collect()
}

/// The parts with a Content-ID and a safe image type: (id, lower-case subtype, part).
fn image_parts<'m, 'x>(
    message: &'m Message<'x>,
) -> impl Iterator<Item = (String, String, &'m MessagePart<'x>)> + 'm {
    message.parts.iter().filter_map(|part| {
        let ct = part.content_type()?;
        let sub = ct.subtype().unwrap_or("");
        let safe_sub = !sub.is_empty()
            && sub
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'+');
        if !ct.ctype().eq_ignore_ascii_case("image")
            || !safe_sub
            || sub.eq_ignore_ascii_case("svg+xml")
        {
            return None;
        }
        Some((content_id(part)?, sub.to_ascii_lowercase(), part))
    })
}

/// The Content-ID of a part as [`inline_images`] keys it.
pub fn content_id(part: &MessagePart<'_>) -> Option<String> {
    part.content_id().map(|c| {
        c.trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string()
    })
}

/// A message's HTML after [`sanitize_html`], with what the reader tells about it.
pub struct Cleaned {
    /// The markup for the frame's document.
    pub html: String,
    /// Remote (`http`/`https`) image sources dropped because remote images were not allowed.
    pub blocked_images: usize,
    /// The Content-IDs of the inline images the HTML shows (not listed again as attachments).
    pub shown_cids: HashSet<String>,
    /// Links whose shown text names another host than they go to ([`super::links`]).
    pub suspicious: Vec<super::links::Suspicious>,
}

/// `html` cleaned for the message frame (module comment); `images` from [`inline_images`].
/// With `remote_images`, `http(s)` image sources are kept (the frame's CSP then allows
/// `img-src https:` for that response); without, they are dropped and counted.
pub fn sanitize_html(html: &str, images: HashMap<String, String>, remote_images: bool) -> Cleaned {
    let schemes: HashSet<&str> = ["http", "https", "mailto", "cid"].into_iter().collect();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = Arc::clone(&seen);
    let clean = ammonia::Builder::default()
        .url_schemes(schemes)
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer"))
        .set_tag_attribute_value("a", "target", "_blank")
        .attribute_filter(move |element, attribute, value| {
            filter_url(&images, remote_images, &record, element, attribute, value)
        })
        .clean(html)
        .to_string();
    let (html, suspicious) = super::links::mark(&clean);
    let seen = match seen.lock() {
        Ok(mut s) => std::mem::take(&mut *s),
        Err(_) => Seen::default(),
    };
    Cleaned {
        html,
        blocked_images: seen.blocked,
        shown_cids: seen.cids,
        suspicious,
    }
}

/// What the attribute filter saw while cleaning (it runs inside ammonia, so it reports
/// through shared state).
#[derive(Default)]
struct Seen {
    blocked: usize,
    cids: HashSet<String>,
}

/// The attribute filter of [`sanitize_html`], run after ammonia's scheme check: `cid:`
/// images become their `data:` URL, remote images stay only when allowed, every other
/// image source and every other `cid:` goes.
fn filter_url<'a>(
    images: &HashMap<String, String>,
    remote_images: bool,
    seen: &Mutex<Seen>,
    element: &str,
    attribute: &str,
    value: &'a str,
) -> Option<Cow<'a, str>> {
    let v = value.trim_start();
    let has_scheme = |scheme: &str| {
        v.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    };
    let is_cid = has_scheme("cid:");
    if element == "img" && attribute == "src" {
        if has_scheme("http://") || has_scheme("https://") {
            if remote_images {
                return Some(Cow::Borrowed(value));
            }
            if let Ok(mut s) = seen.lock() {
                s.blocked += 1;
            }
            return None;
        }
        let id = v.get(4..).filter(|_| is_cid)?;
        let id = percent_decode(id.trim());
        let url = images.get(&id)?;
        if let Ok(mut s) = seen.lock() {
            s.cids.insert(id);
        }
        return Some(Cow::Owned(url.clone()));
    }
    if is_cid {
        return None;
    }
    Some(Cow::Borrowed(value))
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The page that holds a sanitised body: a document of its own for the frame.
pub fn frame_document(clean: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\
         <meta name=\"referrer\" content=\"no-referrer\"></head><body>{clean}</body></html>\n"
    )
}

/// Plain text as HTML: escaped, with `http://` and `https://` links made clickable (each
/// opened in a new tab, without opener or referrer). Trailing punctuation is left out of
/// a link, as in "see https://example.com/x."; a closing parenthesis only when the link
/// has no opening one.
pub fn linkify(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut rest = text;
    while let Some(start) = find_link(rest) {
        out.push_str(&escape(&rest[..start]));
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\''))
            .unwrap_or(tail.len());
        let mut link = &tail[..end];
        loop {
            let trimmed = link.trim_end_matches(['.', ',', ';', ':', '!', '?']);
            let trimmed = if trimmed.ends_with(')') && !trimmed.contains('(') {
                &trimmed[..trimmed.len() - 1]
            } else {
                trimmed
            };
            if trimmed.len() == link.len() {
                break;
            }
            link = trimmed;
        }
        if link.len() <= "https://".len() {
            out.push_str(&escape(link));
        } else {
            let e = escape(link);
            out.push_str(&format!(
                "<a href=\"{e}\" rel=\"noopener noreferrer\" target=\"_blank\">{e}</a>"
            ));
        }
        rest = &tail[link.len()..];
    }
    out.push_str(&escape(rest));
    out
}

/// Where the next `http://` or `https://` starts (case-insensitive), at a word start.
fn find_link(s: &str) -> Option<usize> {
    let lower = s.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("http").map(|i| i + from) {
        let after = &lower[i..];
        let boundary = i == 0 || !lower.as_bytes()[i - 1].is_ascii_alphanumeric();
        if boundary && (after.starts_with("http://") || after.starts_with("https://")) {
            return Some(i);
        }
        from = i + 4;
    }
    None
}

/// A `Content-Disposition: attachment` value for `name` (RFC 6266): an ASCII fallback
/// without quotes, backslashes or controls, and the exact name as `filename*` (RFC 8187).
pub fn attachment_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let fallback = if fallback.trim().is_empty() {
        "attachment".to_string()
    } else {
        fallback
    };
    let exact: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(html: &str) -> String {
        sanitize_html(html, HashMap::new(), false).html
    }

    #[test]
    fn scripts_and_handlers_do_not_survive() {
        let hostile = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
            "<a href=\"data:text/html,<script>alert(1)</script>\">x</a>",
            "<svg><script>alert(1)</script></svg>",
            "<svg onload=alert(1)>",
            "<math><mtext><script>alert(1)</script></mtext></math>",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
            "<style>body{background:url(https://evil.test/x)}</style>",
            "<iframe src=\"https://evil.test\"></iframe>",
            "<object data=\"x\"></object><embed src=\"x\">",
            "<form action=\"https://evil.test\"><input></form>",
            "<scr<script>ipt>alert(1)</script>",
            "<body onload=alert(1)>",
            "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
            "<a href=\"&#106;avascript:alert(1)\">x</a>",
        ];
        for h in hostile {
            let out = clean(h).to_ascii_lowercase();
            for bad in [
                "<script",
                "onerror",
                "onload",
                "javascript:",
                "<style",
                "<iframe",
                "<object",
                "<embed",
                "<form",
                "<svg",
                "<math",
                "style=",
                "data:",
                "<meta",
                "evil.test",
            ] {
                assert!(!out.contains(bad), "{h:?} -> {out:?} contains {bad:?}");
            }
        }
    }

    #[test]
    fn remote_images_are_dropped_and_cid_images_inlined() {
        let mut images = HashMap::new();
        images.insert(
            "logo@x".to_string(),
            "data:image/png;base64,AAAA".to_string(),
        );
        let c = sanitize_html(
            "<img src=\"https://tracker.test/p.gif\"><img src=\"cid:logo@x\" alt=\"l\"><img src=\"cid:none\">",
            images,
            false,
        );
        let out = c.html;
        assert_eq!(c.blocked_images, 1);
        assert_eq!(c.shown_cids.into_iter().collect::<Vec<_>>(), ["logo@x"]);
        assert!(!out.contains("tracker.test"), "{out}");
        assert!(out.contains("src=\"data:image/png;base64,AAAA\""), "{out}");
        assert_eq!(out.matches("src=").count(), 1, "{out}");
    }

    #[test]
    fn remote_images_stay_only_when_allowed() {
        let html = "<img src=\"https://img.test/a.png\"><img src=\"http://img.test/b.png\">\
                    <img src=\"javascript:alert(1)\"><img src=\"data:image/png;base64,AAAA\">";
        let shown = sanitize_html(html, HashMap::new(), true);
        assert!(
            shown.html.contains("src=\"https://img.test/a.png\""),
            "{}",
            shown.html
        );
        assert!(
            shown.html.contains("src=\"http://img.test/b.png\""),
            "{}",
            shown.html
        );
        assert_eq!(shown.html.matches("src=").count(), 2, "{}", shown.html);
        assert_eq!(shown.blocked_images, 0);
        let blocked = sanitize_html(html, HashMap::new(), false);
        assert_eq!(blocked.html.matches("src=").count(), 0, "{}", blocked.html);
        assert_eq!(blocked.blocked_images, 2);
    }

    #[test]
    fn links_open_without_opener_or_referrer() {
        let out = clean("<a href=\"https://example.com/\">x</a><a href=\"/relative\">r</a>");
        assert!(out.contains("rel=\"noopener noreferrer\""), "{out}");
        assert!(out.contains("target=\"_blank\""), "{out}");
        assert!(!out.contains("/relative"), "{out}");
    }

    #[test]
    fn plain_text_is_escaped_and_linked() {
        let out = linkify("see https://example.com/a?b=1&c=2. <b>hi</b> (http://x.test/y)");
        assert_eq!(
            out,
            "see <a href=\"https://example.com/a?b=1&amp;c=2\" rel=\"noopener noreferrer\" \
             target=\"_blank\">https://example.com/a?b=1&amp;c=2</a>. &lt;b&gt;hi&lt;/b&gt; \
             (<a href=\"http://x.test/y\" rel=\"noopener noreferrer\" target=\"_blank\">\
             http://x.test/y</a>)"
        );
        assert_eq!(
            linkify("javascript:alert(1) https://"),
            "javascript:alert(1) https://"
        );
        assert_eq!(
            linkify("x\"https://a.test/\"onmouseover=alert(1)"),
            "x&quot;<a href=\"https://a.test/\" rel=\"noopener noreferrer\" target=\"_blank\">\
             https://a.test/</a>&quot;onmouseover=alert(1)"
        );
    }

    #[test]
    fn attachment_names_are_safe_in_the_header() {
        assert_eq!(
            attachment_disposition("r\u{e9}sum\u{e9} \"x\".pdf"),
            "attachment; filename=\"r_sum_ _x_.pdf\"; \
             filename*=UTF-8''r%C3%A9sum%C3%A9%20%22x%22.pdf"
        );
        assert_eq!(
            attachment_disposition("a\r\nSet-Cookie: x"),
            "attachment; filename=\"a__Set-Cookie: x\"; filename*=UTF-8''a%0D%0ASet-Cookie%3A%20x"
        );
        assert_eq!(
            attachment_disposition(""),
            "attachment; filename=\"attachment\"; filename*=UTF-8''"
        );
    }
}
