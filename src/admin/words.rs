//! Shell-like splitting of a console line into words, and the reverse.
//!
//! Rules (a small subset of POSIX sh, enough for addresses and passwords):
//! - unquoted whitespace separates words;
//! - `'…'` is literal up to the next `'`;
//! - `"…"` groups, and inside it `\` escapes the next character;
//! - outside quotes `\` escapes the next character;
//! - quotes may be adjacent to other text: `pass"word 1"` is one word; `""` is an empty word.

use super::AdminParseError;

/// A word with the byte offset where it starts in the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    pub start: usize,
    pub text: String,
}

/// The result of scanning a whole line, tolerant of incomplete input (for completion).
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub words: Vec<Word>,
    /// The line ends inside a word (no whitespace after the last one).
    pub open_word: bool,
    /// Why the line is not complete, if it is not.
    pub error: Option<AdminParseError>,
}

pub(crate) fn scan(line: &str) -> Scan {
    let mut out = Scan::default();
    let mut current: Option<Word> = None;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_whitespace() {
            if let Some(w) = current.take() {
                out.words.push(w);
            }
            continue;
        }
        let word = current.get_or_insert_with(|| Word {
            start: i,
            text: String::new(),
        });
        match c {
            '\'' => loop {
                match chars.next() {
                    Some((_, '\'')) => break,
                    Some((_, ch)) => word.text.push(ch),
                    None => {
                        out.error = Some(AdminParseError::new("unterminated ' quote"));
                        break;
                    }
                }
            },
            '"' => loop {
                match chars.next() {
                    Some((_, '"')) => break,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, ch)) => word.text.push(ch),
                        None => {
                            out.error = Some(AdminParseError::new("unterminated \" quote"));
                            break;
                        }
                    },
                    Some((_, ch)) => word.text.push(ch),
                    None => {
                        out.error = Some(AdminParseError::new("unterminated \" quote"));
                        break;
                    }
                }
            },
            '\\' => match chars.next() {
                Some((_, ch)) => word.text.push(ch),
                None => out.error = Some(AdminParseError::new("backslash at end of line")),
            },
            _ => word.text.push(c),
        }
    }
    if let Some(w) = current.take() {
        out.words.push(w);
        out.open_word = true;
    }
    out
}

/// Splits a console line into words (see the module doc for the quoting rules).
pub fn split_words(line: &str) -> Result<Vec<String>, AdminParseError> {
    let s = scan(line);
    match s.error {
        Some(e) => Err(e),
        None => Ok(s.words.into_iter().map(|w| w.text).collect()),
    }
}

/// Quotes one word so that [`split_words`] gives it back unchanged.
pub fn quote_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| !c.is_whitespace() && !matches!(c, '\'' | '"' | '\\'));
    if plain {
        return word.to_string();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('"');
    for c in word.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Joins words into one line, quoting where needed; the inverse of [`split_words`].
/// The one-shot CLI uses it to send its arguments over the control socket.
pub fn join_words<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| quote_word(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}
