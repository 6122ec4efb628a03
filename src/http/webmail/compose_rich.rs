//! Rich-text compose: what the editor (`web/static/compose-rich.js`) may send, the plain
//! text derived from it, the quote of an HTML original, and the remembered plain/rich
//! choice.
//!
//! - The browser sends the editor's HTML in the hidden `html` field and `mode=rich`. The
//!   server never trusts it: [`sanitize`] keeps only what the toolbar can make (bold,
//!   italic, underline, lists, quotes, links, paragraphs and line breaks) with ammonia, the
//!   reader's sanitiser (`super::render`) with a narrower allow-list: no images, no
//!   styles, no attributes but a link's `href` (`http`, `https`, `mailto`).
//! - The message is then multipart/alternative (RFC 2046 §5.1.4): the text/plain part
//!   first ([`to_text`], derived from the sanitised HTML: lists as `- ` and `1. `, quotes
//!   as `> ` as RFC 3676 quoting, a link's target after its text), the text/html part
//!   last, as the preferred one.
//! - Without a script the `mode` field stays empty: the form sends its textarea as before
//!   and the hidden HTML (a quote prefilled for the editor) is ignored.
//! - Replying to or forwarding an HTML message quotes its HTML (sanitised the same way) in
//!   a `<blockquote>`, and such a compose opens in rich mode whatever the remembered
//!   choice; so does a draft that holds HTML.
//! - The choice between plain and rich is a preference like the others of `super::prefs`:
//!   an RFC 5464 metadata entry of the account (`compose-mode` below `prefs::ENTRY_PREFIX`),
//!   written when the user flips the switch (`POST /compose` with `action=mode`).
//!
//! Implementation notes: [`to_text`] reads ammonia's output only, which html5ever
//! serialises in a known shape (every attribute double-quoted, `&`, `<`, `>` and the
//! no-break space escaped in text, no comments), so a small scanner is enough; it is never
//! given a message's raw HTML.

use std::collections::{HashMap, HashSet};

use mail_parser::{Message, PartType};

use super::links::escape;
use super::prefs::ENTRY_PREFIX;
use super::MailError;
use crate::protocols::imap::backend::Backend;

/// The metadata entry (below `prefs::ENTRY_PREFIX`) holding `rich` or nothing (plain).
pub const MODE_ENTRY: &str = "compose-mode";
/// The largest HTML body the form accepts (bytes), as a message body would be bounded anyway.
pub const MAX_HTML: usize = 4 * 1024 * 1024;

/// The tags the editor's toolbar makes, and the blocks a browser's editor wraps lines in.
const TAGS: &[&str] = &[
    "a",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ul",
    "ol",
    "li",
    "blockquote",
    "p",
    "div",
    "br",
    "span",
];

/// `html` cleaned to what the editor may hold (module comment).
pub fn sanitize(html: &str) -> String {
    let tags: HashSet<&str> = TAGS.iter().copied().collect();
    let attrs: HashMap<&str, HashSet<&str>> = [("a", ["href"].into_iter().collect())]
        .into_iter()
        .collect();
    ammonia::Builder::empty()
        .tags(tags)
        .tag_attributes(attrs)
        .generic_attributes(HashSet::new())
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer"))
        .clean(html)
        .to_string()
}

/// Plain text as editor HTML: escaped, a `<div>` a line (as the browser's editor writes
/// them), an empty line as `<div><br></div>`.
pub fn from_text(text: &str) -> String {
    text.replace("\r\n", "\n")
        .split('\n')
        .map(|l| {
            if l.is_empty() {
                "<div><br></div>".to_string()
            } else {
                format!("<div>{}</div>", escape(l))
            }
        })
        .collect()
}

/// The message's own HTML body, when it has one (not mail-parser's rendering of a
/// text-only message).
pub fn html_of(m: &Message<'_>) -> Option<String> {
    m.html_body
        .iter()
        .find_map(|&i| match &m.parts.get(i as usize)?.body {
            PartType::Html(h) => Some(h.to_string()),
            _ => None,
        })
}

/// A reply's rich body: room to write, the attribution line, the original quoted.
pub fn quote(attribution: &str, original_html: &str) -> String {
    format!(
        "<div><br></div><div>{}</div><blockquote>{}</blockquote>",
        escape(attribution),
        sanitize(original_html)
    )
}

/// Whether `user` chose rich text for new messages.
pub fn load_rich(b: &impl Backend, user: &str) -> Result<bool, MailError> {
    let name = format!("{ENTRY_PREFIX}{MODE_ENTRY}");
    Ok(b.metadata(None, user)?
        .into_iter()
        .any(|(k, v)| k == name && v == b"rich"))
}

/// Remembers `user`'s choice; plain is stored as no entry (as `prefs` stores empty values).
pub fn save_rich(b: &impl Backend, user: &str, rich: bool) -> Result<(), MailError> {
    let value = rich.then(|| b"rich".to_vec());
    b.set_metadata(
        None,
        user,
        &[(format!("{ENTRY_PREFIX}{MODE_ENTRY}"), value)],
    )?;
    Ok(())
}

/// One piece of sanitised HTML.
enum Token<'a> {
    Text(&'a str),
    Open(String, &'a str),
    Close(String),
}

/// The tokens of sanitised HTML (module notes: only ammonia's output).
fn tokens(html: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut rest = html;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            out.push(Token::Text(rest));
            break;
        };
        if lt > 0 {
            out.push(Token::Text(&rest[..lt]));
        }
        // The tag ends at the first `>` outside a double-quoted attribute value.
        let tag = &rest[lt..];
        let mut quoted = false;
        let mut end = tag.len();
        for (i, c) in tag.char_indices() {
            match c {
                '"' => quoted = !quoted,
                '>' if !quoted => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let inner = &tag[1..end];
        let (closing, inner) = match inner.strip_prefix('/') {
            Some(i) => (true, i),
            None => (false, inner),
        };
        let name_end = inner
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(inner.len());
        let name = inner[..name_end].to_ascii_lowercase();
        out.push(if closing {
            Token::Close(name)
        } else {
            Token::Open(name, &inner[name_end..])
        });
        rest = tag.get(end + 1..).unwrap_or("");
    }
    out
}

/// The value of attribute `name` in a tag's attribute text, unescaped.
fn attribute(attrs: &str, name: &str) -> Option<String> {
    let at = attrs.find(&format!("{name}=\""))? + name.len() + 2;
    let value = &attrs[at..];
    Some(unescape(&value[..value.find('"')?]))
}

fn unescape(s: &str) -> String {
    s.replace("&nbsp;", "\u{a0}")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// The plain text being written.
#[derive(Default)]
struct Text {
    lines: Vec<String>,
    line: String,
    /// Blockquote depth.
    depth: usize,
    /// Open lists: `None` for `<ul>`, the next number for `<ol>`.
    lists: Vec<Option<u32>>,
    /// Open links: the target and the text shown so far.
    links: Vec<(Option<String>, String)>,
}

impl Text {
    fn push(&mut self, s: &str) {
        if self.line.is_empty() {
            self.line = "> ".repeat(self.depth);
        }
        self.line.push_str(s);
        if let Some((_, shown)) = self.links.last_mut() {
            shown.push_str(s);
        }
    }

    /// Ends the current line (an empty one too).
    fn newline(&mut self) {
        if self.line.is_empty() {
            self.line = "> ".repeat(self.depth).trim_end().to_string();
        }
        self.lines.push(std::mem::take(&mut self.line));
    }

    /// Ends the current line unless it is empty: a block starts or ends.
    fn block(&mut self) {
        if !self.line.is_empty() {
            self.newline();
        }
    }

    fn text(&mut self, raw: &str) {
        // HTML collapses white space; a line never starts with it.
        let mut collapsed = String::with_capacity(raw.len());
        for c in raw.chars() {
            if c.is_ascii_whitespace() {
                if !collapsed.ends_with(' ') {
                    collapsed.push(' ');
                }
            } else {
                collapsed.push(c);
            }
        }
        let at_start = self.line.is_empty() || self.line.ends_with(' ');
        let s = if at_start {
            collapsed.trim_start()
        } else {
            &collapsed
        };
        if !s.is_empty() {
            self.push(&unescape(s).replace('\u{a0}', " "));
        }
    }
}

/// The text/plain alternative of sanitised `html` (module comment).
pub fn to_text(html: &str) -> String {
    let mut t = Text::default();
    for token in tokens(html) {
        match token {
            Token::Text(s) => t.text(s),
            Token::Open(name, attrs) => match name.as_str() {
                "br" => t.newline(),
                "p" | "div" => t.block(),
                "blockquote" => {
                    t.block();
                    t.depth += 1;
                }
                "ul" => {
                    t.block();
                    t.lists.push(None);
                }
                "ol" => {
                    t.block();
                    t.lists.push(Some(1));
                }
                "li" => {
                    t.block();
                    let indent = "  ".repeat(t.lists.len().saturating_sub(1));
                    let marker = match t.lists.last_mut() {
                        Some(Some(n)) => {
                            *n += 1;
                            format!("{}. ", *n - 1)
                        }
                        _ => "- ".to_string(),
                    };
                    t.push(&format!("{indent}{marker}"));
                }
                "a" => t.links.push((attribute(attrs, "href"), String::new())),
                _ => {}
            },
            Token::Close(name) => match name.as_str() {
                "p" => {
                    t.block();
                    t.newline();
                }
                "div" | "li" => t.block(),
                "blockquote" => {
                    t.block();
                    t.depth = t.depth.saturating_sub(1);
                }
                "ul" | "ol" => {
                    t.block();
                    t.lists.pop();
                }
                "a" => {
                    if let Some((Some(href), shown)) = t.links.pop() {
                        let bare = href.strip_prefix("mailto:").unwrap_or(&href);
                        if shown.trim() != href && shown.trim() != bare {
                            t.push(&format!(" <{href}>"));
                        }
                    }
                }
                _ => {}
            },
        }
    }
    t.block();
    while t
        .lines
        .last()
        .is_some_and(|l| l.trim_start_matches(['>', ' ']).is_empty())
    {
        t.lines.pop();
    }
    let mut out = t.lines.join("\n");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_toolbar_makes_survives() {
        let dirty = "<p onclick=\"x()\" style=\"color:red\"><b>B</b><i>I</i><u>U</u>\
                     <img src=\"https://t.example/x.gif\"><script>alert(1)</script>\
                     <a href=\"javascript:alert(1)\">j</a><a href=\"https://e.example/\" target=\"_top\">e</a></p>";
        assert_eq!(
            sanitize(dirty),
            "<p><b>B</b><i>I</i><u>U</u><a rel=\"noopener noreferrer\">j</a>\
             <a href=\"https://e.example/\" rel=\"noopener noreferrer\">e</a></p>"
        );
    }

    #[test]
    fn plain_text_follows_the_structure() {
        let html = sanitize(
            "<div>Hello <b>bold</b>&nbsp; &amp; <i>more</i></div><div><br></div>\
             <ul><li>one</li><li>two</li></ul><ol><li>first</li><li>second</li></ol>\
             <blockquote><div>quoted</div><div>again</div></blockquote>\
             <div>see <a href=\"https://example.com/a?b=1&amp;c=2\">the page</a> or \
             <a href=\"https://example.com/\">https://example.com/</a></div><p>para</p><div>-- </div><div>Al</div>",
        );
        assert_eq!(
            to_text(&html),
            "Hello bold  & more\n\n- one\n- two\n1. first\n2. second\n> quoted\n> again\n\
             see the page <https://example.com/a?b=1&c=2> or https://example.com/\npara\n\n-- \nAl\n"
        );
    }

    #[test]
    fn text_becomes_editor_lines_and_back() {
        let text = "a <b> & c\n\nsecond\n";
        let html = from_text(text);
        assert_eq!(
            html,
            "<div>a &lt;b&gt; &amp; c</div><div><br></div><div>second</div><div><br></div>"
        );
        assert_eq!(to_text(&sanitize(&html)), "a <b> & c\n\nsecond\n");
    }

    #[test]
    fn a_quote_holds_the_sanitised_original() {
        let q = quote("On x, <a@b> wrote:", "<p>hi<script>x</script></p>");
        assert_eq!(
            q,
            "<div><br></div><div>On x, &lt;a@b&gt; wrote:</div><blockquote><p>hi</p></blockquote>"
        );
        assert_eq!(to_text(&sanitize(&q)), "\nOn x, <a@b> wrote:\n> hi\n");
    }
}
