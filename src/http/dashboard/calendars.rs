//! The calendars page: one account's calendars, task lists and address books, with create,
//! delete, import (an `.ics`/`.vcf` upload, run as a job whose page shows a live progress
//! bar) and export (a download).
//!
//! Create and delete are the console's `calendar create` / `calendar delete`, built as
//! words and read by the console's parser, then run by the live executor; an import is the
//! API's import job (`api::collections::start_import`), an export `admin::calendar::export`.
//!
//! Implementation notes: a domain admin sees and changes only the accounts of its domains,
//! checked on every request (`may`). The upload is `multipart/form-data` whose first part is
//! the CSRF token (the CSRF check reads it from there); the body is read in pieces through
//! `http::multipart` and bounded by [`MAX_UPLOAD`] (413 past it).

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use futures_util::StreamExt as _;

use super::forms::Form;
use super::{gate, may, redirect, redirect_with, render, run, Chrome, Ctx, Need};
use crate::admin::calendar::{self, CollectionRow};
use crate::http::auth::Principal;
use crate::http::multipart::{Event, Parser};

/// The largest upload (bytes), as the API's import body.
pub const MAX_UPLOAD: usize = crate::http::api::collections::MAX_IMPORT_BODY;

/// `?owner=…` (and `name=…` for an export).
#[derive(serde::Deserialize)]
pub struct Query {
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Template)]
#[template(path = "calendars.html")]
struct CalendarsPage {
    chrome: Chrome,
    /// The account shown ("" before one is picked).
    owner: String,
    /// Why the account's collections are not shown, if they are not.
    problem: String,
    accounts: Vec<String>,
    rows: Vec<Row>,
}

struct Row {
    name: String,
    kind: &'static str,
    components: String,
    display: String,
    objects: usize,
    sync: u64,
    /// `.ics` or `.vcf` (what the import field accepts).
    accept: &'static str,
}

impl Row {
    fn of(r: CollectionRow) -> Row {
        let kind = r.kind_word();
        let c = r.collection;
        Row {
            accept: if kind == "addressbook" {
                ".vcf,text/vcard"
            } else {
                ".ics,text/calendar"
            },
            kind,
            components: if c.components.is_empty() {
                "VCARD".into()
            } else {
                c.components.join(", ")
            },
            display: c.props.display_name,
            objects: r.objects,
            sync: c.sync,
            name: c.name,
        }
    }
}

/// The account `raw` names, if `who` may manage it and it exists.
fn owner(ctx: &Ctx, who: &Principal, raw: &str) -> Result<String, String> {
    let address = raw.trim().to_lowercase();
    if !address.contains('@') {
        return Err(format!("'{}' is not an account address", raw.trim()));
    }
    may(who, &address)?;
    match ctx.store.get_account(&address) {
        Ok(Some(a)) => Ok(a.address),
        Ok(None) => Err(format!("no account {address}")),
        Err(e) => Err(e.to_string()),
    }
}

fn back(owner: &str) -> String {
    format!(
        "/calendars?owner={}",
        form_urlencoded::byte_serialize(owner.as_bytes()).collect::<String>()
    )
}

/// `GET /calendars[?owner=…]`.
pub async fn page(ctx: Ctx, req: HttpRequest, q: web::Query<Query>) -> HttpResponse {
    let who = match gate(&ctx, &req, Need::Manager).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let mut accounts: Vec<String> = ctx
        .store
        .list_accounts()
        .unwrap_or_default()
        .into_iter()
        .map(|a| a.address)
        .filter(|a| who.may_address(a))
        .collect();
    accounts.sort();
    let asked = q.owner.clone().unwrap_or_default();
    let (owner_shown, problem, rows) = if asked.trim().is_empty() {
        (String::new(), String::new(), Vec::new())
    } else {
        let found = match owner(&ctx, &who, &asked) {
            Ok(o) => {
                let c = ctx.get_ref().clone();
                let o2 = o.clone();
                match web::block(move || calendar::rows(&c.store, &o2)).await {
                    Ok(Ok(rows)) => Ok((o, rows)),
                    Ok(Err(e)) => Err(e),
                    Err(e) => Err(e.to_string()),
                }
            }
            Err(e) => Err(e),
        };
        match found {
            Ok((o, rows)) => (o, String::new(), rows.into_iter().map(Row::of).collect()),
            Err(e) => (asked.trim().to_string(), e, Vec::new()),
        }
    };
    let t = CalendarsPage {
        chrome: Chrome::new(&req, &who, "/calendars"),
        owner: owner_shown,
        problem,
        accounts,
        rows,
    };
    render(&req, &t.chrome, &t)
}

/// `POST /calendars`: `action` = `create` (`name`, `kind` = calendar|tasks|addressbook,
/// `display`) or `delete` (`name`), for `owner`.
pub async fn post(ctx: Ctx, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let who = match gate(&ctx, &req, Need::Manager).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let f = Form::parse(&body);
    let owner = match owner(&ctx, &who, f.get("owner")) {
        Ok(o) => o,
        Err(e) => return redirect_with(&req, "/calendars", Err(e)),
    };
    let result = match super::pages::may_change(&ctx, &who, &owner) {
        Ok(()) => action(&ctx, &owner, &f).await,
        Err(e) => Err(e),
    };
    redirect_with(&req, &back(&owner), result)
}

async fn action(ctx: &Ctx, owner: &str, f: &Form) -> Result<String, String> {
    let name = f.need("name", "Name")?.trim().to_string();
    let mut words: Vec<String> = vec!["calendar".into()];
    match f.get("action") {
        "create" => {
            words.extend(["create".into(), owner.to_string(), name]);
            match f.get("kind") {
                "" | "calendar" => {}
                "tasks" => words.push("--tasks".into()),
                "addressbook" => words.push("--addressbook".into()),
                other => return Err(format!("unknown kind {other:?}")),
            }
            let display = f.get("display").trim();
            if !display.is_empty() {
                words.extend(["--display".into(), display.to_string()]);
            }
        }
        "delete" => words.extend(["delete".into(), owner.to_string(), name]),
        other => return Err(format!("unknown action {other:?}")),
    }
    let cmd = crate::admin::parse(&words).map_err(|e| e.message)?;
    run(ctx, cmd).await
}

/// The fields of an upload: (name, value) of the small ones and the file's bytes.
struct Upload {
    fields: Vec<(String, String)>,
    file: Vec<u8>,
}

impl Upload {
    fn get(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// Reads the upload form, bounded by [`MAX_UPLOAD`].
async fn read_upload(req: &HttpRequest, mut payload: web::Payload) -> Result<Upload, HttpResponse> {
    let boundary = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::http::multipart::boundary)
        .ok_or_else(|| {
            HttpResponse::BadRequest().body("a multipart/form-data upload is expected\n")
        })?;
    let mut parser = Parser::new(&boundary);
    let mut up = Upload {
        fields: Vec::new(),
        file: Vec::new(),
    };
    let mut total = 0usize;
    // (name, is the file, bytes so far) of the part being read.
    let mut current: Option<(String, bool, Vec<u8>)> = None;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| HttpResponse::BadRequest().body("the upload broke off\n"))?;
        total += chunk.len();
        if total > MAX_UPLOAD {
            return Err(HttpResponse::PayloadTooLarge()
                .body(format!("the file is larger than {MAX_UPLOAD} bytes\n")));
        }
        let events = parser
            .feed(&chunk)
            .map_err(|e| HttpResponse::BadRequest().body(format!("{e}\n")))?;
        for ev in events {
            match ev {
                Event::Part(head) => {
                    current = Some((head.name, head.filename.is_some(), Vec::new()));
                }
                Event::Data(bytes) => {
                    if let Some((_, _, buf)) = current.as_mut() {
                        buf.extend_from_slice(&bytes);
                    }
                }
                Event::End => {
                    if let Some((name, is_file, buf)) = current.take() {
                        if is_file {
                            up.file = buf;
                        } else {
                            up.fields
                                .push((name, String::from_utf8_lossy(&buf).into_owned()));
                        }
                    }
                }
            }
        }
        if parser.done() {
            break;
        }
    }
    Ok(up)
}

/// `POST /calendars/import` (multipart: `csrf`, `owner`, `name`, `file`): starts the
/// import job and answers 303 to its page.
pub async fn import(ctx: Ctx, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let who = match gate(&ctx, &req, Need::Manager).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let up = match read_upload(&req, payload).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let owner = match owner(&ctx, &who, up.get("owner")) {
        Ok(o) => o,
        Err(e) => return redirect_with(&req, "/calendars", Err(e)),
    };
    let name = up.get("name").trim().to_string();
    let started = (|| {
        super::pages::may_change(&ctx, &who, &owner)?;
        calendar::collection(&ctx.store, &owner, &name)?;
        if up.file.is_empty() {
            return Err("choose a file to import".to_string());
        }
        let text =
            String::from_utf8(up.file).map_err(|_| "the file is not UTF-8 text".to_string())?;
        let registry = crate::http::jobs::of(&req)
            .ok_or_else(|| "jobs cannot run on this listener".to_string())?;
        crate::http::api::collections::start_import(
            &ctx,
            &registry,
            &who.address,
            owner.clone(),
            name.clone(),
            text,
        )
    })();
    match started {
        Ok(id) => redirect(&format!("/jobs/{id}")),
        Err(e) => redirect_with(&req, &back(&owner), Err(e)),
    }
}

/// `GET /calendars/export?owner=…&name=…`: the download.
pub async fn export(ctx: Ctx, req: HttpRequest, q: web::Query<Query>) -> HttpResponse {
    let who = match gate(&ctx, &req, Need::Manager).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let owner = match owner(&ctx, &who, q.owner.as_deref().unwrap_or("")) {
        Ok(o) => o,
        Err(e) => return redirect_with(&req, "/calendars", Err(e)),
    };
    let name = q.name.clone().unwrap_or_default();
    let c = ctx.get_ref().clone();
    let (o, n) = (owner.clone(), name.clone());
    let done = web::block(move || {
        let coll = calendar::collection(&c.store, &o, &n)?;
        let (text, _) = calendar::export(&c.store, &o, &n)?;
        Ok::<_, String>((coll, text))
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    match done {
        Ok((coll, text)) => crate::http::api::collections::export_response(&coll, text),
        Err(e) => redirect_with(&req, &back(&owner), Err(e)),
    }
}
