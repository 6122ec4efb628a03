//! The folder tree with unread counts and a folder's message list: newest first (by the
//! date the message arrived, IMAP's INTERNALDATE) unless sorted, searched or shown as
//! conversations (`list_query`), 50 to a page (the dashboard's pager), with from,
//! subject, date, size and the \Seen and \Flagged flags.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::list_query::{self, ListQuery, ListView};
use super::rows::{tree, FolderLink, Row};
use super::{call, display_name, readable, to_login, user, MailError};
use crate::http::dashboard::{redirect, render, Chrome, Ctx, Pager};
use crate::protocols::imap::backend::{Backend, FolderRef};

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
    /// The Snooze control's context and, in `Snoozed`, the wake times (`snooze`).
    wakes: super::snooze::Wakes,
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
    let (tree, name, rows, pager, list, modseq, targets, wakes) = call(&ctx, move |b| {
        let (info, _) = readable(b, &who, folder)?;
        let tree = tree(b, &who, folder)?;
        let name = display_name(&who, &info);
        let modseq = info.highest_modseq;
        let targets = super::bulk::targets(b, &who, folder)?;
        let prefs = super::prefs::load(b, &who)?;
        let wakes = super::snooze::wakes(b, &who, &info, &prefs)?;
        let mut list = list_query::view(folder, &q, parsed.as_ref().ok());
        let (rows, pager) = match &parsed {
            Ok(p) => list_query::page(b, &who, info, p, page, &prefs, &mut list)?,
            Err(e) => {
                list.error = Some(e.clone());
                Pager::cut(Vec::new(), 1)
            }
        };
        Ok((tree, name, rows, pager, list, modseq, targets, wakes))
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
        wakes,
        live_js: crate::http::dashboard::asset_url("mail-live.js"),
    };
    let mut resp = render(&req, &t.chrome, &t);
    if bad {
        // The page with the form and the message, as a 400: the query was not valid.
        *resp.status_mut() = actix_web::http::StatusCode::BAD_REQUEST;
    }
    Ok(resp)
}
