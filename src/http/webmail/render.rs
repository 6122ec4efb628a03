//! Turning a message into what the browser may see: its HTML sanitised with ammonia, its
//! plain text escaped with links made clickable, and the names of its attachments made
//! safe for a `Content-Disposition` header.
//!
//! The HTML is cleaned by ammonia's allow-list (no script, style, event handler, form,
//! `javascript:` or `data:` URL, SVG or MathML survives) and then shown in a sandboxed
//! frame whose own CSP forbids scripts anyway: two independent walls. Links keep only
//! `http`, `https` and `mailto` targets and get `rel="noopener noreferrer"` and
//! `target="_blank"`. Images are never fetched from elsewhere: an `<img>` survives only
//! when it points at one of the message's own parts (`cid:`, RFC 2392), which is inlined
//! as a `data:` URL of an image type; any other source is dropped.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use mail_parser::{Message, MimeHeaders};

/// The message's inline images by Content-ID (without the angle brackets), as `data:`
/// URLs. Only image types: a `data:` URL of anything else is never made.
pub fn inline_images(message: &Message<'_>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for part in &message.parts {
        let (Some(cid), Some(ct)) = (part.content_id(), part.content_type()) else {
            continue;
        };
        let sub = ct.subtype().unwrap_or("");
        let safe_sub = !sub.is_empty()
            && sub
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'+');
        if !ct.ctype().eq_ignore_ascii_case("image")
            || !safe_sub
            || sub.eq_ignore_ascii_case("svg+xml")
        {
            continue;
        }
        let cid = cid.trim().trim_start_matches('<').trim_end_matches('>');
        let url = format!(
            "data:image/{};base64,{}",
            sub.to_ascii_lowercase(),
            STANDARD.encode(part.contents())
        );
        out.insert(cid.to_string(), url);
    }
    out
}

/// `html` cleaned for the message frame (module comment); `images` from [`inline_images`].
pub fn sanitize_html(html: &str, images: HashMap<String, String>) -> String {
    let schemes: HashSet<&str> = ["http", "https", "mailto", "cid"].into_iter().collect();
    ammonia::Builder::default()
        .url_schemes(schemes)
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer"))
        .set_tag_attribute_value("a", "target", "_blank")
        .attribute_filter(move |element, attribute, value| {
            filter_url(&images, element, attribute, value)
        })
        .clean(html)
        .to_string()
}

/// The attribute filter of [`sanitize_html`], run after ammonia's scheme check: `cid:`
/// images become their `data:` URL, every other image source and every other `cid:` goes.
fn filter_url<'a>(
    images: &HashMap<String, String>,
    element: &str,
    attribute: &str,
    value: &'a str,
) -> Option<Cow<'a, str>> {
    let is_cid = value
        .trim_start()
        .get(..4)
        .is_some_and(|s| s.eq_ignore_ascii_case("cid:"));
    if element == "img" && attribute == "src" {
        let id = value.trim_start().get(4..).filter(|_| is_cid)?;
        let id = percent_decode(id.trim());
        return images.get(&id).map(|u| Cow::Owned(u.clone()));
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
        sanitize_html(html, HashMap::new())
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
        let out = sanitize_html(
            "<img src=\"https://tracker.test/p.gif\"><img src=\"cid:logo@x\" alt=\"l\"><img src=\"cid:none\">",
            images,
        );
        assert!(!out.contains("tracker.test"), "{out}");
        assert!(out.contains("src=\"data:image/png;base64,AAAA\""), "{out}");
        assert_eq!(out.matches("src=").count(), 1, "{out}");
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
