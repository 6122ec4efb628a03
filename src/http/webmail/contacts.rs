//! `/contacts`: the account's address books (`storage::davstore`, the collections CardDAV
//! serves) in the webmail, and those shared with it or public that it may read
//! (`super::shared`: marked with their owner; `w`+`i` to save, `t` to delete, else 403
//! with nothing stored), and the recipients compose suggests from them all.
//!
//! - `GET /contacts?q=&page=`: every card of every address book of the account, sorted
//!   by name (case-insensitive), [`PAGE`] a page, filtered by `q` (name, address, number;
//!   `contacts_card::matches`).
//! - `GET /contacts/card?book=&name=`: the contact form (without `name`: a new contact);
//!   `POST /contacts/card` (`action` save or delete, CSRF token): conditional writes as
//!   the calendar's (`If-None-Match: *` for a new card, else `If-Match` the ETag the form
//!   was drawn with; a 409 page with the form as submitted when the card changed meanwhile).
//!   Stored cards pass `protocols::carddav::validate` as a CardDAV PUT would.
//! - `GET /contacts/suggest?q=`: JSON, `[{"name","email","value"}]`, at most
//!   [`SUGGESTIONS`] addresses whose contact's name or address contains `q`; 401 without a
//!   session. compose.html's To/Cc/Bcc fields fill their datalist from it (suggest.js).
//!
//! Implementation note: a page reads and parses the account's cards (10,000 take well
//! under a second); the store has no name index yet.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::calendar::{enc, store_err};
use super::calendar_event::new_id;
use super::contacts_card::{
    edit_card, lines, matches, new_card, read_card, recipient, ContactFields,
};
use super::login::field;
use super::shared::{find, visible, Visible};
use super::{call, to_login, user, MailError};
use crate::actors::imap_backend::StoreBackend;
use crate::http::dashboard::{redirect_with, render, Chrome, Ctx};
use crate::protocols::carddav::validate::validate_card;
use crate::protocols::imap::backend::Backend;
use crate::storage::davstore::{CollectionKind, Condition, DeleteOutcome, NewObject, PutOutcome};

/// Contacts a list page shows.
pub const PAGE: usize = 50;
/// Most suggestions one answer holds.
pub const SUGGESTIONS: usize = 10;

/// A card of the list.
pub struct Row {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub org: String,
    pub href: String,
    /// The owner of the address book it is in, when another's (empty: the account's).
    pub owner: String,
    fold: String,
}

/// The address books the account may read: its own, then those shared with it and
/// public ones (`super::shared`).
fn books(b: &StoreBackend, me: &str) -> Result<Vec<Visible>, MailError> {
    visible(b, me, CollectionKind::AddressBook)
}

/// The address book `book` names (`shared::find`'s key) when the account may read it.
fn book_of(b: &StoreBackend, me: &str, book: &str) -> Result<Visible, MailError> {
    find(b, me, CollectionKind::AddressBook, book)
}

/// A card found in a readable address book.
struct Found {
    /// The book's key.
    book: String,
    /// The book's owner as shown, for another's; empty for one's own.
    owner: String,
    name: String,
    fields: ContactFields,
}

/// Every card the account may read that parses.
fn all_cards(b: &StoreBackend, me: &str) -> Result<Vec<Found>, MailError> {
    let mut out = Vec::new();
    for book in books(b, me)? {
        let key = book.key();
        for obj in b.ctx.store.dav_objects(book.coll.id).map_err(store_err)? {
            if let Ok((f, _)) = read_card(&obj.data) {
                out.push(Found {
                    book: key.clone(),
                    owner: book.owner_label.clone(),
                    name: obj.name,
                    fields: f,
                });
            }
        }
    }
    Ok(out)
}

#[derive(Template)]
#[template(path = "mail/contacts.html")]
struct ListPage {
    chrome: Chrome,
    css: String,
    cal_css: String,
    q: String,
    rows: Vec<Row>,
    total: usize,
    page: usize,
    pages: usize,
    prev: String,
    next: String,
}

fn q<'a>(m: &'a BTreeMap<String, String>, k: &str) -> &'a str {
    m.get(k).map(String::as_str).unwrap_or("")
}

/// `GET /contacts`.
pub async fn list(
    ctx: Ctx,
    req: HttpRequest,
    query: web::Query<BTreeMap<String, String>>,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let search = q(&query, "q").trim().to_string();
    let page = q(&query, "page").parse::<usize>().unwrap_or(1).max(1);
    let who = me.clone();
    let s2 = search.clone();
    let mut rows = call(&ctx, move |b| {
        Ok(all_cards(b, &who)?
            .into_iter()
            .filter(|c| matches(&c.fields, &s2))
            .map(
                |Found {
                     book,
                     owner,
                     name,
                     fields: f,
                 }| Row {
                    fold: f.name.to_lowercase(),
                    href: format!("/contacts/card?book={}&name={}", enc(&book), enc(&name)),
                    owner,
                    email: f.emails.first().cloned().unwrap_or_default(),
                    phone: f.phones.first().cloned().unwrap_or_default(),
                    org: f.org,
                    name: f.name,
                },
            )
            .collect::<Vec<Row>>())
    })
    .await?;
    rows.sort_by(|a, b| a.fold.cmp(&b.fold).then_with(|| a.email.cmp(&b.email)));
    let total = rows.len();
    let pages = total.div_ceil(PAGE).max(1);
    let page = page.min(pages);
    let rows: Vec<Row> = rows
        .into_iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .collect();
    let link = |p: usize| format!("/contacts?q={}&page={p}", enc(&search));
    let mut chrome = Chrome::anonymous(&req, "/contacts");
    chrome.who = me;
    let t = ListPage {
        chrome,
        css: crate::http::dashboard::asset_url("mail.css"),
        cal_css: crate::http::dashboard::asset_url("calendar.css"),
        prev: if page > 1 {
            link(page - 1)
        } else {
            String::new()
        },
        next: if page < pages {
            link(page + 1)
        } else {
            String::new()
        },
        q: search,
        rows,
        total,
        page,
        pages,
    };
    Ok(render(&req, &t.chrome, &t))
}

#[derive(Template)]
#[template(path = "mail/contact.html")]
struct CardPage {
    chrome: Chrome,
    css: String,
    cal_css: String,
    book: String,
    name: String,
    etag: String,
    version: String,
    f: ContactFields,
    emails: String,
    phones: String,
    error: String,
    /// What the account's rights on the book allow ([`Access`]).
    access: Access,
}

/// What a contact page shows of the account's rights on the address book.
#[derive(Clone, Default)]
struct Access {
    read_only: bool,
    may_delete: bool,
    /// The book's owner as shown, when another's.
    owner: String,
}

impl Access {
    fn of(v: &Visible) -> Access {
        Access {
            read_only: !v.may.write,
            may_delete: v.may.delete,
            owner: v.owner_label.clone(),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn card_page(
    req: &HttpRequest,
    me: String,
    book: String,
    name: String,
    etag: String,
    version: String,
    f: ContactFields,
    error: String,
    status: StatusCode,
    access: Access,
) -> HttpResponse {
    let mut chrome = Chrome::anonymous(req, "/contacts");
    chrome.who = me;
    let t = CardPage {
        chrome,
        css: crate::http::dashboard::asset_url("mail.css"),
        cal_css: crate::http::dashboard::asset_url("calendar.css"),
        book,
        name,
        etag,
        version,
        emails: f.emails.join("\n"),
        phones: f.phones.join("\n"),
        f,
        error,
        access,
    };
    let mut res = render(req, &t.chrome, &t);
    if res.status() == StatusCode::OK {
        *res.status_mut() = status;
    }
    res
}

/// `GET /contacts/card?book=&name=`.
pub async fn form(
    ctx: Ctx,
    req: HttpRequest,
    query: web::Query<BTreeMap<String, String>>,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let (book, name) = (q(&query, "book").to_string(), q(&query, "name").to_string());
    let who = me.clone();
    let (book, etag, version, f, access) = call(&ctx, move |b| {
        if name.is_empty() {
            // A new contact goes to the first book the account may add to.
            let v = if book.is_empty() {
                books(b, &who)?
                    .into_iter()
                    .find(|v| v.may.write)
                    .ok_or(MailError::NotFound)?
            } else {
                book_of(b, &who, &book)?
            };
            return Ok((
                v.key(),
                String::new(),
                "4.0".to_string(),
                ContactFields::default(),
                Access::of(&v),
            ));
        }
        let v = book_of(b, &who, &book)?;
        let obj = b
            .ctx
            .store
            .dav_get(v.coll.id, &name)
            .map_err(store_err)?
            .ok_or(MailError::NotFound)?;
        let (f, version) = read_card(&obj.data)?;
        Ok((book, obj.etag, version, f, Access::of(&v)))
    })
    .await?;
    let name = q(&query, "name").to_string();
    Ok(card_page(
        &req,
        me,
        book,
        name,
        etag,
        version,
        f,
        String::new(),
        StatusCode::OK,
        access,
    ))
}

enum Done {
    Ok(String),
    /// The card changed meanwhile: its current ETag (empty: gone).
    Conflict(String),
    /// The account's rights on the book do not allow this: 403, nothing stored.
    Refused(&'static str),
}

/// `POST /contacts/card`.
pub async fn submit(
    ctx: Ctx,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let action = field(&body, "action");
    let (book, name, etag) = (
        field(&body, "book"),
        field(&body, "name"),
        field(&body, "etag"),
    );
    let f = ContactFields {
        name: field(&body, "full_name"),
        emails: lines(&field(&body, "emails"), true),
        phones: lines(&field(&body, "phones"), false),
        org: field(&body, "org"),
        note: field(&body, "note"),
    };
    let version = field(&body, "version");
    if action == "save" {
        if let Err(e) = f.check() {
            return Ok(card_page(
                &req,
                me,
                book,
                name,
                etag,
                version,
                f,
                e.to_string(),
                StatusCode::UNPROCESSABLE_ENTITY,
                Access::default(),
            ));
        }
    }
    let (who, f2, b2, n2, e2) = (
        me.clone(),
        f.clone(),
        book.clone(),
        name.clone(),
        etag.clone(),
    );
    let done = call(&ctx, move |b| {
        let v = book_of(b, &who, &b2)?;
        // Decided here, on the rights read now, whatever the form offered.
        let allowed = match action.as_str() {
            "delete" => v.may.delete,
            _ => v.may.write,
        };
        if !allowed {
            return Ok(Done::Refused(if action == "delete" {
                "You may not delete contacts in this address book: it is shared with you \
                 without that right."
            } else {
                "You may not add or change contacts in this address book: it is shared with \
                 you read-only."
            }));
        }
        let coll = v.coll;
        let old = if n2.is_empty() {
            None
        } else {
            b.ctx.store.dav_get(coll.id, &n2).map_err(store_err)?
        };
        let now = b.now();
        match action.as_str() {
            "save" => {
                let (obj_name, data, cond) = match &old {
                    None if !n2.is_empty() => return Ok(Done::Conflict(String::new())),
                    None => {
                        let uid = format!("urn:uuid:{}", new_id());
                        (
                            format!("{}.vcf", new_id()),
                            new_card(&f2, &uid, now)?,
                            Condition::Absent,
                        )
                    }
                    Some(o) => {
                        if o.etag != e2 {
                            return Ok(Done::Conflict(o.etag.clone()));
                        }
                        (
                            n2.clone(),
                            edit_card(&o.data, &f2, now)?,
                            Condition::Match(e2.clone()),
                        )
                    }
                };
                let max = usize::try_from(b.ctx.config().http.dav_max_resource_size)
                    .unwrap_or(usize::MAX);
                let obj =
                    validate_card(&data, max).map_err(|e| MailError::Invalid(e.to_string()))?;
                let new = NewObject {
                    name: obj_name,
                    uid: obj.uid,
                    data,
                    component: "VCARD".into(),
                    first: None,
                    last: None,
                };
                super::shared::not_locked(&coll, &new.name, old.is_none())?;
                match b
                    .ctx
                    .store
                    .dav_put(coll.id, &new, &cond)
                    .map_err(store_err)?
                {
                    PutOutcome::Stored { .. } => {
                        b.ctx.store.commit().map_err(store_err)?;
                        Ok(Done::Ok(format!("Saved {}.", f2.name.trim())))
                    }
                    PutOutcome::PreconditionFailed => {
                        let now = b.ctx.store.dav_get(coll.id, &n2).map_err(store_err)?;
                        Ok(Done::Conflict(now.map(|o| o.etag).unwrap_or_default()))
                    }
                    PutOutcome::UidConflict(other) => Err(MailError::Invalid(format!(
                        "another card ({other}) already has this UID"
                    ))),
                }
            }
            "delete" => {
                if old.is_none() {
                    return Err(MailError::NotFound);
                }
                super::shared::not_locked(&coll, &n2, false)?;
                match b
                    .ctx
                    .store
                    .dav_delete(coll.id, &n2, &Condition::Match(e2.clone()))
                    .map_err(store_err)?
                {
                    DeleteOutcome::Deleted => {
                        b.ctx.store.commit().map_err(store_err)?;
                        Ok(Done::Ok("Contact deleted.".into()))
                    }
                    DeleteOutcome::NotFound => Ok(Done::Conflict(String::new())),
                    DeleteOutcome::PreconditionFailed => {
                        Ok(Done::Conflict(old.map(|o| o.etag).unwrap_or_default()))
                    }
                }
            }
            other => Err(MailError::Invalid(format!("unknown action {other:?}"))),
        }
    })
    .await?;
    match done {
        Done::Ok(msg) => Ok(redirect_with(&req, "/contacts", Ok(msg))),
        Done::Refused(msg) => Ok(card_page(
            &req,
            me,
            book,
            name,
            etag,
            version,
            f,
            msg.to_string(),
            StatusCode::FORBIDDEN,
            Access {
                read_only: true,
                ..Access::default()
            },
        )),
        Done::Conflict(current) => {
            let msg = if current.is_empty() {
                "This contact was deleted by someone else meanwhile; saving makes it again."
            } else {
                "This contact was changed by someone else since you opened it: nothing was \
                 saved. Your version is below; save again to replace theirs, or reopen the \
                 contact to see it."
            };
            let name = if current.is_empty() {
                String::new()
            } else {
                name
            };
            Ok(card_page(
                &req,
                me,
                book,
                name,
                current,
                version,
                f,
                msg.to_string(),
                StatusCode::CONFLICT,
                Access::default(),
            ))
        }
    }
}

#[derive(serde::Serialize)]
struct Suggestion {
    name: String,
    email: String,
    value: String,
}

/// `GET /contacts/suggest?q=`.
pub async fn suggest(
    ctx: Ctx,
    req: HttpRequest,
    query: web::Query<BTreeMap<String, String>>,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(HttpResponse::Unauthorized()
            .content_type("application/json")
            .body(r#"{"error":"not logged in"}"#));
    };
    let needle = q(&query, "q").trim().to_string();
    let mut out: Vec<Suggestion> = Vec::new();
    if !needle.is_empty() && needle.chars().count() <= 200 {
        let mut found = call(&ctx, move |b| {
            Ok(all_cards(b, &me)?
                .into_iter()
                .map(|c| c.fields)
                .collect::<Vec<_>>())
        })
        .await?;
        found.sort_by_key(|f| f.name.to_lowercase());
        let probe = ContactFields::default();
        for f in found {
            for email in &f.emails {
                let hit = matches(
                    &ContactFields {
                        name: f.name.clone(),
                        emails: vec![email.clone()],
                        ..probe.clone()
                    },
                    &needle,
                );
                if hit && out.len() < SUGGESTIONS {
                    out.push(Suggestion {
                        value: recipient(&f.name, email),
                        name: f.name.clone(),
                        email: email.clone(),
                    });
                }
            }
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(out))
}
