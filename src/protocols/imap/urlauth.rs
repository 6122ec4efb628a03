//! URLAUTH (RFC 4467): IMAP URLs that carry their own authorization, made with GENURLAUTH,
//! revoked with RESETKEY and read with URLFETCH (or included by APPEND CATENATE), with
//! URLFETCH's BODYPARTSTRUCTURE / BINARY / BODY parameters from RFC 5524 (URLAUTH=BINARY).
//! All three commands run in the authenticated and selected states.
//!
//! Implementation notes:
//! - A URLAUTH URL is `imap://user@host/mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s]
//!   [/;PARTIAL=o.l][;EXPIRE=date-time];URLAUTH=access:INTERNAL:token`. The "rump" is the
//!   text up to the access identifier; the token is the hex HMAC-SHA256 of the rump under
//!   the mailbox access key of the URL's user (RFC 4467 §3 leaves INTERNAL's algorithm to
//!   the server; 256 bits where the RFC asks for at least 128). Keys are 32 random octets
//!   per (mailbox, user) in storage, made by the first GENURLAUTH and durable before its
//!   answer; RESETKEY forgets them (durably before OK), which revokes every URL made so
//!   far; DELETE takes them with the mailbox. Only INTERNAL is offered (`[URLMECH
//!   INTERNAL]` on RESETKEY's OK). RFC 4467 §6 wants every session of the user with the
//!   mailbox selected to get an untagged `OK [URLMECH …]` on RESETKEY: the session that
//!   ran it does; other sessions are not told (no change broadcast carries it yet).
//! - The user and host: `user@host` names the account `user@host` when it exists (clients
//!   and imaptest write the address split that way); a user that is itself an address
//!   (`bob%40example.com@host`) names that account when the host is this server's name or
//!   the account's domain. Mailbox names are as that user sees them (RFC 4467 §3), so
//!   "Other Users/…" works for folders shared with them.
//! - GENURLAUTH: the URL's user must be the logged-in one, the URL must name a message
//!   that user may read ("r"), carry `;URLAUTH=` with an access identifier and no token,
//!   and may carry `;EXPIRE=`. Every URL of the command is checked before any is answered:
//!   one bad URL is `NO [BADURL …]` and no URL is made. An unknown mechanism is BAD.
//! - URLFETCH and CATENATE: a URL is honoured when its token verifies (in constant time),
//!   it has not expired, the access identifier admits the session's user (`anonymous`:
//!   anyone; `authuser`: any logged-in user of this server; `user+X`: X only), the URL's
//!   user still holds "r" on the mailbox, and the message and section exist; otherwise
//!   URLFETCH answers NIL for it (RFC 4467 §6) and CATENATE `NO [BADURL]`. `submit+X` URLs
//!   can be made but are never honoured here: they are for a submission server acting for
//!   X (BURL, RFC 4468), and Ferrymail's SMTP side does not offer BURL. URLs without
//!   `;URLAUTH=` are not URLFETCH's business (NIL); CATENATE takes them as before.
//! - URLFETCH answers one `* URLFETCH url data` line per URL. With RFC 5524 parameters the
//!   data is a list: `BODYPARTSTRUCTURE` (the extensible structure of the part a URL's
//!   section names; left out for HEADER/TEXT-style sections, which are not MIME parts),
//!   then `BODY` (the bytes) or `BINARY` (the part's content-transfer-encoding undone as
//!   FETCH BINARY does, RFC 3516; NIL when the encoding is unknown; `~{n}` when it holds
//!   NUL).

use ring::hmac;

use super::backend::{Backend, FolderInfo};
use super::catenate::{bad_url, parse_section, part_bytes, split_url, MessageUrl};
use super::message;
use super::names::{self, Resolved};
use super::response;
use super::session::{line, Done, Out, Session, State};
use super::types::{CommandBody, MailboxName, UrlContent, UrlFetchRequest};

/// The one mechanism offered (RFC 4467 §3).
pub const INTERNAL: &str = "INTERNAL";

/// Who may use a URL (RFC 4467 §3 `access`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// `submit+` userid: a submission server acting for that user.
    Submit(String),
    /// `user+` userid.
    User(String),
    AuthUser,
    Anonymous,
}

/// A URL with `;URLAUTH=`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUrl {
    /// The URL up to and including the access identifier: what the token signs.
    pub rump: String,
    /// The URL's user, decoded.
    pub user: String,
    pub host: String,
    pub target: MessageUrl,
    /// Unix seconds.
    pub expire: Option<i64>,
    pub access: Access,
    /// `(mechanism, token)` after the rump.
    pub mech_token: Option<(String, String)>,
}

/// Splits an absolute URL with `;URLAUTH=access[:mech:token]`; None for anything else.
pub fn parse_auth_url(url: &str) -> Option<AuthUrl> {
    const URLAUTH: &str = ";URLAUTH=";
    let at = url.to_ascii_uppercase().find(URLAUTH)?;
    let after = &url[at + URLAUTH.len()..];
    let access_text = after.split(':').next().unwrap_or_default();
    let rump = url[..at + URLAUTH.len() + access_text.len()].to_string();
    let mech_token = match after[access_text.len()..].strip_prefix(':') {
        None if after.len() == access_text.len() => None,
        None => return None,
        Some(rest) => {
            let (mech, token) = rest.split_once(':')?;
            let mech_ok = !mech.is_empty()
                && mech
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            let token_ok = token.len() >= 32 && token.bytes().all(|b| b.is_ascii_hexdigit());
            if !(mech_ok && token_ok) {
                return None;
            }
            Some((mech.to_ascii_uppercase(), token.to_string()))
        }
    };
    let access = parse_access(access_text)?;
    let mut before = &url[..at];
    let mut expire = None;
    if let Some(e) = before.to_ascii_uppercase().find(";EXPIRE=") {
        expire = Some(parse_rfc3339(&before[e + ";EXPIRE=".len()..])?);
        before = &before[..e];
    }
    let (authority, target) = split_url(before)?;
    let (user, host) = authority?;
    let user = user.filter(|u| !u.is_empty())?;
    target.mailbox.as_ref()?;
    Some(AuthUrl {
        rump,
        user,
        host,
        target,
        expire,
        access,
        mech_token,
    })
}

fn parse_access(s: &str) -> Option<Access> {
    let decode = |u: &str| {
        let name = super::catenate::percent_decode(u)?;
        (!name.is_empty()).then_some(name)
    };
    let lower = s.to_ascii_lowercase();
    if lower == "anonymous" {
        Some(Access::Anonymous)
    } else if lower == "authuser" {
        Some(Access::AuthUser)
    } else if lower.starts_with("submit+") {
        Some(Access::Submit(decode(&s["submit+".len()..])?))
    } else if lower.starts_with("user+") {
        Some(Access::User(decode(&s["user+".len()..])?))
    } else {
        None
    }
}

/// RFC 3339 `date-time` (RFC 4467 `expire`) → unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            let m = oh * 60 + om;
            if *sign == b'+' {
                m
            } else {
                -m
            }
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset * 60)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The INTERNAL token of `rump` under `key`: hex HMAC-SHA256.
pub fn token(key: &[u8], rump: &str) -> String {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), rump.as_bytes());
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `token` (hex) is `rump`'s under `key`, compared in constant time.
fn verify(key: &[u8], rump: &str, token: &str) -> bool {
    let Some(bytes) = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    hmac::verify(
        &hmac::Key::new(hmac::HMAC_SHA256, key),
        rump.as_bytes(),
        &bytes,
    )
    .is_ok()
}

/// An access-identifier or URL userid as an account: itself when an address, else
/// `name@host`.
fn account_of(name: &str, host: &str) -> String {
    if name.contains('@') {
        name.to_ascii_lowercase()
    } else {
        format!("{name}@{host}").to_ascii_lowercase()
    }
}

impl Session {
    pub(super) fn urlauth_command(
        &mut self,
        body: CommandBody,
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Done {
        match body {
            CommandBody::ResetKey {
                mailbox,
                mechanisms,
            } => self.reset_key(mailbox.as_ref(), &mechanisms, backend, out),
            CommandBody::GenUrlAuth(pairs) => self
                .gen_url_auth(&pairs, backend, out)
                .unwrap_or_else(|d| d),
            CommandBody::UrlFetch(reqs) => {
                for r in &reqs {
                    self.url_fetch_one(r, backend, out);
                }
                Done::Ok("URLFETCH completed".into())
            }
            _ => Done::Bad("not a URLAUTH command".into()),
        }
    }

    /// The account a URL's user@host names, if it is one here.
    fn url_account(&self, user: &str, host: &str, backend: &dyn Backend) -> Option<String> {
        let account = if user.contains('@') {
            let domain = user.rsplit('@').next().unwrap_or_default();
            let here = host.eq_ignore_ascii_case(&self.config.hostname)
                || host.eq_ignore_ascii_case(domain);
            here.then(|| user.to_ascii_lowercase())?
        } else {
            account_of(user, host)
        };
        backend.account_exists(&account).then_some(account)
    }

    /// The folder a URL names, as `account` sees it, if `account` may read it.
    fn readable_folder(account: &str, name: &str, backend: &dyn Backend) -> Option<FolderInfo> {
        let Resolved::Folder { owner, name } = names::resolve(account, name) else {
            return None;
        };
        let folder = backend.find_folder(&owner, &name).ok()??;
        let rights = backend.rights(folder.id, account).ok()?;
        rights.contains('r').then_some(folder)
    }

    /// RESETKEY (RFC 4467 §6): forgets the user's keys of one mailbox, or of all.
    fn reset_key(
        &self,
        mailbox: Option<&MailboxName>,
        mechanisms: &[String],
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Done {
        if let Some(m) = mechanisms.iter().find(|m| *m != INTERNAL) {
            return Done::Bad(format!("Unknown URLAUTH mechanism {m}"));
        }
        let me = self.me();
        let folders = match mailbox {
            Some(name) => match self.open_folder(backend, &name.0) {
                Ok((folder, _)) => vec![folder],
                Err(done) => return done,
            },
            None => {
                // Keys may also exist on folders others share with the user.
                let mut all = match backend.folders(&me) {
                    Ok(f) => f,
                    Err(e) => return e.into(),
                };
                match backend.shared_folders(&me) {
                    Ok(f) => all.extend(f),
                    Err(e) => return e.into(),
                }
                all
            }
        };
        for f in &folders {
            if let Err(e) = backend.reset_urlauth_key(f.id, &me) {
                return e.into();
            }
        }
        // RFC 4467 §6: a session with the mailbox selected hears the mechanisms again (only
        // this one: other sessions of the user are not told, see the module notes).
        if let State::Selected(sel) = &self.state {
            if folders.iter().any(|f| f.id == sel.folder.id) {
                line(out, &format!("* OK [URLMECH {INTERNAL}] Key reset"));
            }
        }
        Done::Ok(format!("[URLMECH {INTERNAL}] RESETKEY completed"))
    }

    /// GENURLAUTH (RFC 4467 §6): every URL checked, then all answered in one line.
    fn gen_url_auth(
        &self,
        pairs: &[(String, String)],
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Result<Done, Done> {
        if let Some((_, m)) = pairs.iter().find(|(_, m)| m != INTERNAL) {
            return Err(Done::Bad(format!("Unknown URLAUTH mechanism {m}")));
        }
        let me = self.me();
        let mut made = Vec::new();
        for (rump, _) in pairs {
            let url = parse_auth_url(rump).ok_or_else(|| bad_url(rump, "Not a URLAUTH URL"))?;
            if url.mech_token.is_some() {
                return Err(bad_url(rump, "The URL already has a token"));
            }
            if self.url_account(&url.user, &url.host, backend).as_deref() != Some(&me) {
                return Err(bad_url(rump, "The URL is not of this user on this server"));
            }
            let name = url.target.mailbox.as_deref().unwrap_or_default();
            let folder = Self::readable_folder(&me, name, backend)
                .ok_or_else(|| bad_url(rump, "No such mailbox or no read access"))?;
            if url
                .target
                .uidvalidity
                .is_some_and(|v| v != folder.uidvalidity)
            {
                return Err(bad_url(rump, "UIDVALIDITY differs"));
            }
            if !matches!(backend.message_meta(folder.id, url.target.uid), Ok(Some(_))) {
                return Err(bad_url(rump, "No such message"));
            }
            let key = backend
                .urlauth_key(folder.id, &me, true)?
                .ok_or_else(|| Done::No("[UNAVAILABLE] No access key".into()))?;
            made.push(format!(
                "{}:{INTERNAL}:{}",
                url.rump,
                token(&key, &url.rump)
            ));
        }
        let mut resp = b"* GENURLAUTH".to_vec();
        for u in &made {
            resp.push(b' ');
            response::string(&mut resp, u.as_bytes());
        }
        out.extend_from_slice(&resp);
        line(out, "");
        Ok(Done::Ok("GENURLAUTH completed".into()))
    }

    /// The whole message a URLAUTH URL names and the URL's target, when the URL authorizes
    /// this session to read it (see the module notes); None otherwise.
    pub(super) fn urlauth_part(
        &self,
        url: &str,
        backend: &dyn Backend,
    ) -> Option<(Vec<u8>, MessageUrl)> {
        let url = parse_auth_url(url)?;
        let (mech, tok) = url.mech_token.as_ref()?;
        if mech != INTERNAL || url.expire.is_some_and(|e| backend.now() >= e) {
            return None;
        }
        let owner = self.url_account(&url.user, &url.host, backend)?;
        let me = self.me();
        let admitted = match &url.access {
            Access::Anonymous => true,
            Access::AuthUser => self.user.is_some(),
            Access::User(u) => account_of(u, &url.host) == me.to_ascii_lowercase(),
            Access::Submit(_) => false,
        };
        if !admitted {
            return None;
        }
        let name = url.target.mailbox.as_deref()?;
        let folder = Self::readable_folder(&owner, name, backend)?;
        let key = backend.urlauth_key(folder.id, &owner, false).ok()??;
        if !verify(&key, &url.rump, tok) {
            return None;
        }
        if url
            .target
            .uidvalidity
            .is_some_and(|v| v != folder.uidvalidity)
        {
            return None;
        }
        let content = backend.message_content(folder.id, url.target.uid).ok()?;
        Some((content, url.target))
    }

    /// One `* URLFETCH url data` line (RFC 4467 §6, RFC 5524 §3).
    fn url_fetch_one(&self, req: &UrlFetchRequest, backend: &dyn Backend, out: &mut Out) {
        out.extend_from_slice(b"* URLFETCH ");
        response::astring(out, req.url.as_bytes());
        out.push(b' ');
        let found = self
            .urlauth_part(&req.url, backend)
            .and_then(|(content, target)| {
                let data = part_bytes(content.clone(), &target).ok()?;
                Some((content, target, data))
            });
        let Some((content, target, data)) = found else {
            line(out, "NIL");
            return;
        };
        let Some(content_wanted) = req.content else {
            response::literal(out, &data);
            line(out, "");
            return;
        };
        let items = fetch_items(
            req.body_part_structure,
            content_wanted,
            &content,
            &target,
            data,
        );
        out.push(b'(');
        out.extend_from_slice(&items.join(&b' '));
        line(out, ")");
    }
}

/// RFC 5524's list items for one URL: BODYPARTSTRUCTURE (for a MIME part), then BODY or
/// BINARY.
fn fetch_items(
    body_part_structure: bool,
    content_wanted: Option<UrlContent>,
    content: &[u8],
    target: &MessageUrl,
    data: Vec<u8>,
) -> Vec<Vec<u8>> {
    let section = match &target.section {
        Some(spec) => parse_section(spec),
        None => parse_section(""),
    };
    let mut items: Vec<Vec<u8>> = Vec::new();
    let mime_part = section.as_ref().filter(|s| s.text.is_none());
    if let (true, Some(sec)) = (body_part_structure, mime_part) {
        // With BINARY the structure describes what BINARY returns: decoded sizes.
        let described = match content_wanted {
            Some(UrlContent::Binary) => message::parse(content).converted(false).ok(),
            _ => None,
        };
        let source = described.as_deref().unwrap_or(content);
        let mut bs = b"BODYPARTSTRUCTURE ".to_vec();
        if message::parse(source).part_structure(&sec.part, &mut bs) {
            items.push(bs);
        }
    }
    match content_wanted {
        Some(UrlContent::Body) => {
            let mut it = b"BODY ".to_vec();
            response::literal(&mut it, &data);
            items.push(it);
        }
        Some(UrlContent::Binary) => {
            let mut it = b"BINARY ".to_vec();
            match binary(content, section.as_ref(), target, data) {
                Some(b) if b.contains(&0) => response::literal8(&mut it, &b),
                Some(b) => response::literal(&mut it, &b),
                None => it.extend_from_slice(b"NIL"),
            }
            items.push(it);
        }
        None => {}
    }
    items
}

/// BINARY of a URL's part: its transfer encoding undone, and that of every part inside it
/// (a HEADER/TEXT-style section has none: `data` as it is); None for an unknown encoding.
fn binary(
    content: &[u8],
    section: Option<&super::types::Section>,
    target: &MessageUrl,
    data: Vec<u8>,
) -> Option<Vec<u8>> {
    let section = section?;
    if section.text.is_some() {
        return Some(data);
    }
    let converted = message::parse(content).converted(true).ok()?;
    let decoded = message::parse(&converted).section(&section.part, None)?;
    Some(match target.partial {
        Some((offset, len)) => message::partial(&decoded, offset, len.unwrap_or(u32::MAX)).to_vec(),
        None => decoded,
    })
}

#[cfg(test)]
#[path = "urlauth_tests.rs"]
mod tests;
