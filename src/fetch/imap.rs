//! A small IMAP client (RFC 9051, and IMAP4rev1 servers, RFC 3501), enough to collect an
//! INBOX: CAPABILITY, STARTTLS, AUTHENTICATE PLAIN (with SASL-IR, RFC 4959, when offered)
//! or LOGIN, SELECT INBOX with its UIDVALIDITY, UID FETCH of UIDs and sizes, UID FETCH
//! BODY.PEEK[] (so \Seen is not set), UID STORE +FLAGS.SILENT (\Deleted), then UID EXPUNGE
//! (UIDPLUS, RFC 4315; a plain EXPUNGE otherwise), LOGOUT.
//!
//! Notes:
//! - A message is identified by UIDVALIDITY and UID (RFC 9051 §2.3.1.1): when UIDVALIDITY
//!   changes, every earlier mark is void and the mailbox is fetched as new.
//! - Responses are read as a line plus the literals it announces (`{n}` at a line end);
//!   every literal is checked against a bound before it is read.
//! - Untagged responses that are not asked for (EXISTS, FLAGS, RECENT …) are skipped.

use std::sync::Arc;

use base64::Engine;

use super::conn::LineConn;
use super::{Budget, FetchError, MAX_LISTING_BYTES};

/// One response: its text with each literal replaced by `{n}`, and the literals in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub text: Vec<u8>,
    pub literals: Vec<Vec<u8>>,
}

/// `{n}` or `{n+}` at the end of a line: the size of the literal that follows.
pub fn literal_at_end(line: &[u8]) -> Option<u64> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A token of FETCH data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Open,
    Close,
    Atom(String),
    /// A quoted string or a literal.
    Bytes(Vec<u8>),
}

/// Splits a response into tokens; `{n}` markers take the next literal.
pub fn tokens(resp: &Response) -> Result<Vec<Token>, FetchError> {
    let t = &resp.text;
    let mut out = Vec::new();
    let mut literals = resp.literals.iter();
    let mut i = 0;
    while i < t.len() {
        match t[i] {
            b' ' => i += 1,
            b'(' => {
                out.push(Token::Open);
                i += 1;
            }
            b')' => {
                out.push(Token::Close);
                i += 1;
            }
            b'"' => {
                let mut s = Vec::new();
                i += 1;
                while i < t.len() && t[i] != b'"' {
                    if t[i] == b'\\' && i + 1 < t.len() {
                        i += 1;
                    }
                    s.push(t[i]);
                    i += 1;
                }
                i += 1;
                out.push(Token::Bytes(s));
            }
            b'{' => {
                let end = t[i..].iter().position(|&b| b == b'}').map(|p| i + p);
                let Some(lit) = end.and(literals.next()) else {
                    return Err(FetchError::Protocol("unmatched literal".into()));
                };
                out.push(Token::Bytes(lit.clone()));
                i = end.map_or(t.len(), |e| e + 1);
            }
            _ => {
                let start = i;
                let mut depth = 0;
                while i < t.len() {
                    match t[i] {
                        b'[' => depth += 1,
                        b']' => depth -= 1,
                        b' ' | b'(' | b')' if depth <= 0 => break,
                        _ => {}
                    }
                    i += 1;
                }
                out.push(Token::Atom(
                    String::from_utf8_lossy(&t[start..i]).into_owned(),
                ));
            }
        }
    }
    Ok(out)
}

/// What a `* n FETCH (…)` response says about one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchData {
    pub uid: Option<u32>,
    pub size: Option<u64>,
    pub body: Option<Vec<u8>>,
}

/// Parses `* n FETCH (UID u RFC822.SIZE s BODY[] {…})`; `None` for other responses.
pub fn parse_fetch(resp: &Response) -> Result<Option<FetchData>, FetchError> {
    let toks = tokens(resp)?;
    let is_fetch = matches!(toks.as_slice(),
        [Token::Atom(star), Token::Atom(_), Token::Atom(kw), Token::Open, ..]
            if star == "*" && kw.eq_ignore_ascii_case("FETCH"));
    if !is_fetch {
        return Ok(None);
    }
    let mut data = FetchData::default();
    let mut it = toks[4..].iter();
    while let Some(tok) = it.next() {
        let Token::Atom(name) = tok else { continue };
        let value = it.next();
        match (name.to_ascii_uppercase().as_str(), value) {
            ("UID", Some(Token::Atom(v))) => data.uid = v.parse().ok(),
            ("RFC822.SIZE", Some(Token::Atom(v))) => data.size = v.parse().ok(),
            ("BODY[]", Some(Token::Bytes(b))) => data.body = Some(b.clone()),
            // FLAGS and other lists: skip to the matching parenthesis.
            (_, Some(Token::Open)) => {
                let mut depth = 1;
                for t in it.by_ref() {
                    match t {
                        Token::Open => depth += 1,
                        Token::Close if depth == 1 => break,
                        Token::Close => depth -= 1,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(Some(data))
}

/// The number in `[CODE n]` in a response's text, e.g. UIDVALIDITY.
pub fn response_code(resp: &Response, code: &str) -> Option<u32> {
    let text = String::from_utf8_lossy(&resp.text).to_ascii_uppercase();
    let at = text.find(&format!("[{code} "))? + code.len() + 2;
    text[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// A quoted string (RFC 9051 §4.3); CR and LF cannot be quoted.
pub fn quote(s: &str) -> Result<String, FetchError> {
    if s.contains(['\r', '\n', '\0']) {
        return Err(FetchError::Protocol(
            "a user name or password with a line break cannot be sent".into(),
        ));
    }
    Ok(format!(
        "\"{}\"",
        s.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// A message in the selected INBOX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImapMessage {
    pub uid: u32,
    pub size: u64,
}

pub struct ImapClient {
    conn: LineConn,
    next_tag: u32,
    pub capabilities: Vec<String>,
    /// Bound on one literal.
    pub max_literal: u64,
    exists: u32,
}

fn caps_from(text: &str) -> Vec<String> {
    let upper = text.to_ascii_uppercase();
    let list = match upper.find("[CAPABILITY ") {
        Some(at) => upper[at + 12..].split(']').next().unwrap_or("").to_string(),
        None => match upper.strip_prefix("* CAPABILITY ") {
            Some(rest) => rest.to_string(),
            None => return Vec::new(),
        },
    };
    list.split_ascii_whitespace().map(String::from).collect()
}

impl ImapClient {
    /// Reads the greeting (`* OK`, possibly with capabilities; `* BYE` is a refusal).
    pub async fn start(conn: LineConn, max_literal: u64) -> Result<ImapClient, FetchError> {
        let mut c = ImapClient {
            conn,
            next_tag: 1,
            capabilities: Vec::new(),
            max_literal,
            exists: 0,
        };
        let g = c.read_response(&mut Budget::bytes(max_literal)).await?;
        let text = String::from_utf8_lossy(&g.text).into_owned();
        if !text.starts_with("* OK") && !text.starts_with("* PREAUTH") {
            return Err(FetchError::Server(format!("greeting: {text}")));
        }
        c.capabilities = caps_from(&text);
        Ok(c)
    }

    /// One response (a line and the literals it announces), taken from `budget`.
    async fn read_response(&mut self, budget: &mut Budget) -> Result<Response, FetchError> {
        let mut resp = Response {
            text: self.conn.read_line().await?,
            literals: Vec::new(),
        };
        budget.take(resp.text.len())?;
        while let Some(n) = literal_at_end(&resp.text) {
            if n > self.max_literal {
                return Err(FetchError::TooBig(self.max_literal));
            }
            let n = usize::try_from(n).map_err(|_| FetchError::TooBig(self.max_literal))?;
            budget.take(n)?;
            resp.literals.push(self.conn.read_exact(n).await?);
            let more = self.conn.read_line().await?;
            resp.text.extend_from_slice(&more);
            if resp.text.len() > self.conn.max_line {
                return Err(FetchError::Protocol("response line too long".into()));
            }
        }
        Ok(resp)
    }

    /// Sends `tag command`; returns the untagged responses, or the server's NO/BAD.
    async fn command(&mut self, command: &str) -> Result<Vec<Response>, FetchError> {
        let tag = format!("f{}", self.next_tag);
        self.next_tag += 1;
        self.conn
            .send(format!("{tag} {command}\r\n").as_bytes())
            .await?;
        self.until_tagged(&tag, command).await
    }

    async fn until_tagged(
        &mut self,
        tag: &str,
        command: &str,
    ) -> Result<Vec<Response>, FetchError> {
        let mut untagged = Vec::new();
        // What one command's untagged responses may hold: a listing of every message, or
        // one message literal and its neighbours; a server sending more is refused.
        let max = self.max_literal.saturating_add(MAX_LISTING_BYTES);
        let mut budget = Budget::listing("an IMAP command", max);
        loop {
            let r = self.read_response(&mut budget).await?;
            let text = String::from_utf8_lossy(&r.text).into_owned();
            if let Some(rest) = text.strip_prefix(tag).and_then(|t| t.strip_prefix(' ')) {
                // Bytes, not `rest[..2]`: the status may start with a non-ASCII character
                // (a lossy-decoded byte is 3 bytes long), and slicing a str inside one panics.
                if rest
                    .as_bytes()
                    .get(..2)
                    .is_some_and(|s| s.eq_ignore_ascii_case(b"OK"))
                {
                    if let Some(caps) = Some(caps_from(rest)).filter(|c| !c.is_empty()) {
                        self.capabilities = caps;
                    }
                    return Ok(untagged);
                }
                let verb = command.split(' ').next().unwrap_or(command);
                return Err(FetchError::Server(format!("{verb}: {rest}")));
            }
            // RFC 9051 §7.1.5: BYE precedes the tagged OK of LOGOUT; elsewhere the server
            // is hanging up.
            if text.starts_with("* BYE") && command != "LOGOUT" {
                return Err(FetchError::Server(text));
            }
            if text.starts_with("+") {
                return Err(FetchError::Protocol(format!(
                    "unexpected continuation request: {text}"
                )));
            }
            let upper = text.to_ascii_uppercase();
            if upper.starts_with("* CAPABILITY ") {
                self.capabilities = caps_from(&text);
            } else if upper.ends_with(" EXISTS") {
                if let Some(n) = upper.split(' ').nth(1).and_then(|n| n.parse().ok()) {
                    self.exists = n;
                }
            }
            untagged.push(r);
        }
    }

    pub fn has_capability(&self, cap: &str) -> bool {
        self.capabilities
            .iter()
            .any(|c| c.eq_ignore_ascii_case(cap))
    }

    /// CAPABILITY, when the greeting did not list them.
    pub async fn capability(&mut self) -> Result<(), FetchError> {
        self.command("CAPABILITY").await.map(|_| ())
    }

    /// STARTTLS (RFC 9051 §6.2.1), then CAPABILITY again (it changes after TLS).
    pub async fn starttls(
        mut self,
        config: Arc<rustls::ClientConfig>,
        host: &str,
    ) -> Result<ImapClient, FetchError> {
        if !self.has_capability("STARTTLS") {
            return Err(FetchError::Tls("the server does not offer STARTTLS".into()));
        }
        self.command("STARTTLS").await?;
        let conn = self.conn.start_tls(config, host).await?;
        let mut c = ImapClient {
            conn,
            next_tag: self.next_tag,
            capabilities: Vec::new(),
            max_literal: self.max_literal,
            exists: 0,
        };
        c.capability().await?;
        Ok(c)
    }

    /// AUTHENTICATE PLAIN if offered (with SASL-IR in one round), else LOGIN. A refusal is
    /// [`FetchError::Auth`].
    pub async fn login(&mut self, user: &str, password: &str) -> Result<(), FetchError> {
        if self.has_capability("LOGINDISABLED") {
            return Err(FetchError::Auth(
                "the server refuses to log in without TLS (LOGINDISABLED)".into(),
            ));
        }
        if !self.has_capability("AUTH=PLAIN") {
            let cmd = format!("LOGIN {} {}", quote(user)?, quote(password)?);
            return self
                .command(&cmd)
                .await
                .map(|_| ())
                .map_err(FetchError::refused);
        }
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
        if self.has_capability("SASL-IR") {
            let cmd = format!("AUTHENTICATE PLAIN {token}");
            return self
                .command(&cmd)
                .await
                .map(|_| ())
                .map_err(FetchError::refused);
        }
        let tag = format!("f{}", self.next_tag);
        self.next_tag += 1;
        self.conn
            .send(format!("{tag} AUTHENTICATE PLAIN\r\n").as_bytes())
            .await?;
        let cont = self.conn.read_line().await?;
        if !cont.starts_with(b"+") {
            let text = String::from_utf8_lossy(&cont).into_owned();
            return Err(FetchError::Auth(text));
        }
        self.conn.send(format!("{token}\r\n").as_bytes()).await?;
        self.until_tagged(&tag, "AUTHENTICATE")
            .await
            .map(|_| ())
            .map_err(FetchError::refused)
    }

    /// SELECT INBOX; returns its UIDVALIDITY.
    pub async fn select_inbox(&mut self) -> Result<u32, FetchError> {
        self.exists = 0;
        let untagged = self.command("SELECT INBOX").await?;
        untagged
            .iter()
            .find_map(|r| response_code(r, "UIDVALIDITY"))
            .ok_or_else(|| FetchError::Protocol("SELECT gave no UIDVALIDITY".into()))
    }

    /// Every message's UID and size.
    pub async fn list(&mut self) -> Result<Vec<ImapMessage>, FetchError> {
        if self.exists == 0 {
            return Ok(Vec::new());
        }
        let untagged = self.command("UID FETCH 1:* (UID RFC822.SIZE)").await?;
        let mut out = Vec::new();
        for r in &untagged {
            if let Some(FetchData {
                uid: Some(uid),
                size,
                ..
            }) = parse_fetch(r)?
            {
                out.push(ImapMessage {
                    uid,
                    size: size.unwrap_or(0),
                });
            }
        }
        out.sort_by_key(|m| m.uid);
        out.dedup_by_key(|m| m.uid);
        Ok(out)
    }

    /// The whole message, without setting \Seen. `None` if it is gone (expunged meanwhile).
    pub async fn fetch_body(&mut self, uid: u32) -> Result<Option<Vec<u8>>, FetchError> {
        let untagged = self
            .command(&format!("UID FETCH {uid} (UID BODY.PEEK[])"))
            .await?;
        for r in &untagged {
            if let Some(d) = parse_fetch(r)? {
                if d.uid == Some(uid) {
                    if let Some(body) = d.body {
                        return Ok(Some(body));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Marks `uids` \Deleted.
    pub async fn delete(&mut self, uids: &[u32]) -> Result<(), FetchError> {
        if uids.is_empty() {
            return Ok(());
        }
        let set = uid_set(uids);
        self.command(&format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)"))
            .await
            .map(|_| ())
    }

    /// Removes the messages marked by [`ImapClient::delete`]: only those with UIDPLUS,
    /// every \Deleted one without.
    pub async fn expunge(&mut self, uids: &[u32]) -> Result<(), FetchError> {
        if uids.is_empty() {
            return Ok(());
        }
        let cmd = if self.has_capability("UIDPLUS") {
            format!("UID EXPUNGE {}", uid_set(uids))
        } else {
            "EXPUNGE".to_string()
        };
        self.command(&cmd).await.map(|_| ())
    }

    pub async fn logout(mut self) -> Result<(), FetchError> {
        let r = self.command("LOGOUT").await.map(|_| ());
        self.conn.shutdown().await;
        r
    }
}

/// `1:3,7,9:10` from sorted or unsorted UIDs.
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
#[path = "imap_tests.rs"]
mod tests;
