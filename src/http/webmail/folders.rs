//! The folder tree with unread counts and a folder's message list: newest first (by the
//! date the message arrived, IMAP's INTERNALDATE) unless sorted, searched or shown as
//! conversations (`list_query`), 50 to a page (the dashboard's pager), with from,
//! subject, date, size and the \Seen and \Flagged flags.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use mail_parser::MessageParser;

use super::list_query::{self, ListQuery, ListView};
use super::{call, display_name, readable, to_login, user, MailError};
use crate::http::dashboard::{redirect, render, Chrome, Ctx, Pager};
use crate::protocols::imap::backend::{flag_bits, Backend, FolderInfo, FolderRef, MessageMeta};

/// One entry of the folder tree.
pub struct FolderLink {
    pub id: FolderRef,
    /// The last level of its name.
    pub label: String,
    /// Levels above it (for the indent).
    pub depth: usize,
    pub unseen: u32,
    /// A level that holds folders but is not one (no link).
    pub noselect: bool,
    pub current: bool,
}

/// One line of the message list.
pub struct Row {
    pub uid: u32,
    pub from: String,
    pub subject: String,
    pub date: String,
    pub size: String,
    pub seen: bool,
    pub flagged: bool,
    /// Keywords, shown as categories (`super::categories`).
    pub keywords: Vec<String>,
}

#[derive(Template)]
#[template(path = "mail/folder.html")]
struct FolderPage {
    chrome: Chrome,
    css: String,
    tree: Vec<FolderLink>,
    folder: FolderRef,
    name: String,
    rows: Vec<Row>,
    pager: Pager,
    pager_extra: String,
    /// The folder's highest modseq when the page was read: the live updates resync from it.
    modseq: u64,
    /// Folders the selected messages may be moved or copied to (`bulk.rs`).
    targets: Vec<super::bulk::Target>,
    live_js: String,
    /// Sort links, the search form, conversations (`list_query`).
    list: ListView,
}

/// The folders `user` sees, own first (INBOX at the top), then shared and public ones by
/// name.
pub(super) fn tree(
    b: &impl Backend,
    user: &str,
    current: FolderRef,
) -> Result<Vec<FolderLink>, MailError> {
    let mut own = b.folders(user)?;
    own.sort_by(|a, b| {
        (a.name != "INBOX", a.name.to_lowercase()).cmp(&(b.name != "INBOX", b.name.to_lowercase()))
    });
    let mut shared: Vec<(String, FolderInfo)> = b
        .shared_folders(user)?
        .into_iter()
        .filter(|f| f.owner != user)
        .map(|f| (display_name(user, &f), f))
        .collect();
    shared.sort_by_key(|a| a.0.to_lowercase());
    // Own folders indent under their parents; a shared one shows its whole name, as its
    // parents ("Other Users/<owner>") are namespace levels, not folders in the list.
    let own = own.into_iter().map(|f| {
        let depth = f.name.matches('/').count();
        let label = f.name.rsplit('/').next().unwrap_or(&f.name).to_string();
        (label, depth, f)
    });
    let shared = shared.into_iter().map(|(name, f)| (name, 0, f));
    Ok(own
        .chain(shared)
        .map(|(label, depth, f)| FolderLink {
            id: f.id,
            label,
            depth,
            unseen: f.unseen,
            noselect: f.noselect,
            current: f.id == current,
        })
        .collect())
}

/// `GET /mail`: the INBOX.
pub async fn inbox(ctx: Ctx, req: HttpRequest) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let id = call(&ctx, move |b| {
        b.find_folder(&me, "INBOX")?
            .map(|f| f.id)
            .ok_or(MailError::NotFound)
    })
    .await?;
    Ok(redirect(&format!("/mail/{id}")))
}

/// `GET /mail/{folder}?page=N&sort=…&…`: the tree and one page of the folder's messages,
/// sorted, searched or as conversations ([`list_query`](super::list_query)).
pub async fn list(
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<FolderRef>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let folder = path.into_inner();
    let q = query.into_inner();
    let page = q.page.unwrap_or(1);
    let parsed = list_query::parse(&q);
    let who = me.clone();
    let pager_extra = list_query::pager_extra(&q);
    let (tree, name, rows, pager, list, modseq, targets) = call(&ctx, move |b| {
        let (info, _) = readable(b, &who, folder)?;
        let tree = tree(b, &who, folder)?;
        let name = display_name(&who, &info);
        let modseq = info.highest_modseq;
        let targets = super::bulk::targets(b, &who, folder)?;
        let prefs = super::prefs::load(b, &who)?;
        let mut list = list_query::view(folder, &q, parsed.as_ref().ok());
        let (rows, pager) = match &parsed {
            Ok(p) => list_query::page(b, &who, info, p, page, &prefs, &mut list)?,
            Err(e) => {
                list.error = Some(e.clone());
                Pager::cut(Vec::new(), 1)
            }
        };
        Ok((tree, name, rows, pager, list, modseq, targets))
    })
    .await?;
    let mut chrome = Chrome::anonymous(&req, "/mail");
    chrome.who = me;
    let bad = list.error.is_some();
    let t = FolderPage {
        chrome,
        css: crate::http::dashboard::asset_url("mail.css"),
        tree,
        folder,
        name,
        rows,
        pager,
        pager_extra,
        list,
        modseq,
        targets,
        live_js: crate::http::dashboard::asset_url("mail-live.js"),
    };
    let mut resp = render(&req, &t.chrome, &t);
    if bad {
        // The page with the form and the message, as a 400: the query was not valid.
        *resp.status_mut() = actix_web::http::StatusCode::BAD_REQUEST;
    }
    Ok(resp)
}

/// The list row of message `m` (`None`: expunged since the index was read). The live
/// updates (`live.rs`) send the same row for a new message.
pub(super) fn row(
    b: &(impl Backend + ?Sized),
    folder: FolderRef,
    m: &MessageMeta,
    parser: &MessageParser,
    prefs: &super::prefs::Prefs,
) -> Result<Option<Row>, MailError> {
    let header = match b.message_header(folder, m.uid) {
        Ok(h) => h,
        Err(crate::protocols::imap::backend::BackendError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let parsed = parser.parse_headers(&header);
    let (from, subject) = match &parsed {
        Some(p) => (sender(p), p.subject().unwrap_or("").to_string()),
        None => (String::new(), String::new()),
    };
    Ok(Some(Row {
        uid: m.uid,
        from,
        subject: if subject.trim().is_empty() {
            "(no subject)".into()
        } else {
            subject
        },
        date: super::prefs::format_for(prefs, m.internal_date),
        size: format_size(m.size),
        seen: m.flags & flag_bits::SEEN != 0,
        flagged: m.flags & flag_bits::FLAGGED != 0,
        keywords: m.keywords.clone(),
    }))
}

/// The sender as a list shows it: the display name, else the address.
pub(super) fn sender(m: &mail_parser::Message<'_>) -> String {
    let Some(a) = m.from().and_then(|f| f.first()) else {
        return String::new();
    };
    match (a.name(), a.address()) {
        (Some(n), _) if !n.trim().is_empty() => n.to_string(),
        (_, Some(addr)) => addr.to_string(),
        _ => String::new(),
    }
}

/// Unix seconds as `2026-12-04 13:27` (UTC).
pub(super) fn format_date(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil from days (H. Hinnant's algorithm), proleptic Gregorian.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// A size as people read it: `812 B`, `4.2 KB`, `5.0 MB`.
pub(super) fn format_size(n: u64) -> String {
    const K: f64 = 1024.0;
    let f = n as f64;
    if f < K {
        format!("{n} B")
    } else if f < K * K {
        format!("{:.1} KB", f / K)
    } else {
        format!("{:.1} MB", f / (K * K))
    }
}
