//! An account's calendars, task lists and address books (`storage::davstore`), with
//! import and export of whole `.ics` / `.vcf` files: the console's `calendar` commands
//! (`admin::calendar`) as REST resources under `/accounts/{address}/collections`.
//!
//! Access as for the account itself: a domain admin reaches only its domains' accounts
//! (another's answers 404); changes need the `accounts` scope. An import answers at once
//! with a job (`http::jobs`, kind `collection_import`) whose progress `GET /jobs/{id}`
//! shows; the job's result is the import report (stored, replaced, invalid with reasons).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::directory::{changeable_account, visible_account};
use super::{blocking, need_scope, resource, run, Body, Ctx, Failures, Manager};
use crate::admin::calendar::{self, CalendarCommand, CollectionRow, NewKind};
use crate::admin::AdminCommand;
use crate::http::auth::Scope;
use crate::http::error::ApiError;
use crate::http::jobs::{self, JobKind};

/// The largest import body (bytes).
pub const MAX_IMPORT_BODY: usize = 64 * 1024 * 1024;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    resource!(cfg, "/accounts/{address}/collections", GET => collections_list, POST => collection_create);
    resource!(cfg, "/accounts/{address}/collections/{name}", GET => collection_get, DELETE => collection_delete);
    cfg.service(
        web::resource("/accounts/{address}/collections/{name}/import")
            .app_data(web::PayloadConfig::new(MAX_IMPORT_BODY))
            .route(web::post().to(collection_import))
            .default_service(super::not_allowed("POST")),
    );
    resource!(cfg, "/accounts/{address}/collections/{name}/export", GET => collection_export);
}

/// What a collection holds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CollectionType {
    /// A calendar of events (VEVENT).
    Calendar,
    /// A task list (a calendar of VTODO).
    Tasks,
    /// An address book (vCards).
    Addressbook,
}

/// A calendar, task list or address book.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CollectionInfo {
    /// The path segment (`/dav/calendars/{address}/{name}/` or `/dav/addressbooks/…`).
    pub name: String,
    pub kind: CollectionType,
    /// Calendars: the component types accepted (`VEVENT`, `VTODO`…); address books: none.
    pub components: Vec<String>,
    pub display_name: String,
    /// Objects stored.
    pub objects: u64,
    /// The WebDAV sync token's counter (RFC 6578): it moves with every change.
    pub sync_token: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CollectionList {
    pub account: String,
    pub items: Vec<CollectionInfo>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCollectionBody {
    /// The path segment: letters, digits, `.`, `_`, `-`, not starting with `.`.
    #[schema(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    pub name: String,
    /// Default `calendar`.
    pub kind: Option<CollectionType>,
    /// Default: the name.
    #[schema(pattern = r"^[^\x00-\x1f\x7f]*$", max_length = 255)]
    pub display_name: Option<String>,
}

fn info(r: CollectionRow) -> CollectionInfo {
    let kind = match r.kind_word() {
        "tasks" => CollectionType::Tasks,
        "addressbook" => CollectionType::Addressbook,
        _ => CollectionType::Calendar,
    };
    let c = r.collection;
    CollectionInfo {
        name: c.name,
        kind,
        components: c.components,
        display_name: c.props.display_name,
        objects: r.objects as u64,
        sync_token: c.sync,
    }
}

/// The visible account's address (404 otherwise).
fn account(ctx: &Ctx, m: &Manager, address: &str) -> Result<String, ApiError> {
    Ok(visible_account(ctx, &m.0, address)?.address)
}

/// [`account`] for a change of the account's collections: 403 when the account is one the
/// caller may not change (an administrator beyond its domains), the rule of account changes.
fn changeable(ctx: &Ctx, m: &Manager, address: &str) -> Result<String, ApiError> {
    Ok(changeable_account(ctx, &m.0, address)?.address)
}

async fn rows(ctx: &Ctx, account: String) -> Result<Vec<CollectionRow>, ApiError> {
    blocking(ctx, move |c| {
        calendar::rows(&c.store, &account).map_err(ApiError::internal)
    })
    .await
}

async fn one(ctx: &Ctx, account: &str, name: &str) -> Result<CollectionInfo, ApiError> {
    rows(ctx, account.to_string())
        .await?
        .into_iter()
        .find(|r| r.collection.name == name)
        .map(info)
        .ok_or_else(|| ApiError::not_found(format!("no collection {name} of {account}")))
}

/// The account's calendars, task lists and address books.
#[utoipa::path(get, path = "/api/v1/accounts/{address}/collections", tag = "directory",
    params(("address" = String, Path, description = "the account")),
    responses((status = 200, body = CollectionList), Failures))]
pub async fn collections_list(
    ctx: Ctx,
    m: Manager,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let account = account(&ctx, &m, &path)?;
    let items = rows(&ctx, account.clone())
        .await?
        .into_iter()
        .map(info)
        .collect();
    Ok(HttpResponse::Ok().json(CollectionList { account, items }))
}

/// Makes a calendar, task list or address book.
#[utoipa::path(post, path = "/api/v1/accounts/{address}/collections", tag = "directory",
    params(("address" = String, Path, description = "the account")),
    request_body = NewCollectionBody,
    responses((status = 201, body = CollectionInfo), Failures))]
pub async fn collection_create(
    ctx: Ctx,
    m: Manager,
    path: web::Path<String>,
    body: Body<NewCollectionBody>,
) -> Result<HttpResponse, ApiError> {
    let account = changeable(&ctx, &m, &path)?;
    need_scope(&m.0, Scope::Accounts)?;
    let NewCollectionBody {
        name,
        kind,
        display_name,
    } = body.into_inner();
    // What the schema promises, checked here (the store itself takes more).
    let good_name = name.len() <= 64
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !good_name {
        return Err(ApiError::unprocessable(
            "name: letters, digits, '.', '_' and '-', at most 64, not starting with '.', '_' or '-'",
        ));
    }
    if display_name
        .as_deref()
        .is_some_and(|d| d.chars().count() > 255 || d.chars().any(|c| c <= '\x1f' || c == '\x7f'))
    {
        return Err(ApiError::unprocessable(
            "display_name: at most 255 characters, no control characters",
        ));
    }
    if one(&ctx, &account, &name).await.is_ok() {
        return Err(ApiError::conflict(format!(
            "a collection {name} of {account} exists already"
        )));
    }
    let kind = match kind.unwrap_or(CollectionType::Calendar) {
        CollectionType::Calendar => NewKind::Events,
        CollectionType::Tasks => NewKind::Tasks,
        CollectionType::Addressbook => NewKind::AddressBook,
    };
    run(
        &ctx,
        AdminCommand::Calendar(CalendarCommand::Create {
            account: account.clone(),
            name: name.clone(),
            kind,
            display: display_name.filter(|d| !d.is_empty()),
        }),
    )
    .await?;
    Ok(HttpResponse::Created().json(one(&ctx, &account, &name).await?))
}

/// One collection.
#[utoipa::path(get, path = "/api/v1/accounts/{address}/collections/{name}", tag = "directory",
    params(("address" = String, Path, description = "the account"),
           ("name" = String, Path, description = "the collection")),
    responses((status = 200, body = CollectionInfo), Failures))]
pub async fn collection_get(
    ctx: Ctx,
    m: Manager,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (address, name) = path.into_inner();
    let account = account(&ctx, &m, &address)?;
    Ok(HttpResponse::Ok().json(one(&ctx, &account, &name).await?))
}

/// Deletes a collection with everything in it.
#[utoipa::path(delete, path = "/api/v1/accounts/{address}/collections/{name}", tag = "directory",
    params(("address" = String, Path, description = "the account"),
           ("name" = String, Path, description = "the collection")),
    responses((status = 204, description = "deleted"), Failures))]
pub async fn collection_delete(
    ctx: Ctx,
    m: Manager,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (address, name) = path.into_inner();
    let account = changeable(&ctx, &m, &address)?;
    one(&ctx, &account, &name).await?;
    need_scope(&m.0, Scope::Accounts)?;
    run(
        &ctx,
        AdminCommand::Calendar(CalendarCommand::Delete { account, name }),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Imports an `.ics` (calendars, task lists) or `.vcf` (address books) file: one object per
/// UID (per card), invalid ones reported, an existing UID replaced. Answers at once with
/// the job; its `result` is the report.
#[utoipa::path(post, path = "/api/v1/accounts/{address}/collections/{name}/import", tag = "directory",
    params(("address" = String, Path, description = "the account"),
           ("name" = String, Path, description = "the collection")),
    request_body(description = "the iCalendar or vCard file",
        content((String = "text/calendar"), (String = "text/vcard"))),
    responses((status = 202, body = crate::http::jobs::Job), Failures))]
pub async fn collection_import(
    ctx: Ctx,
    req: HttpRequest,
    m: Manager,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (address, name) = path.into_inner();
    let account = changeable(&ctx, &m, &address)?;
    one(&ctx, &account, &name).await?;
    need_scope(&m.0, Scope::Accounts)?;
    if body.is_empty() {
        return Err(ApiError::unprocessable(
            "the body is empty: send the .ics or .vcf file",
        ));
    }
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::unprocessable("the body is not UTF-8 text"))?;
    // A file that does not even begin as iCalendar or vCard is no import (a job would
    // only report every line invalid).
    let head = text
        .trim_start()
        .get(..15)
        .unwrap_or("")
        .to_ascii_uppercase();
    if !(head.starts_with("BEGIN:VCALENDAR") || head.starts_with("BEGIN:VCARD")) {
        return Err(ApiError::unprocessable(
            "the body is no iCalendar (BEGIN:VCALENDAR) or vCard (BEGIN:VCARD) file",
        ));
    }
    let registry =
        jobs::of(&req).ok_or_else(|| ApiError::unavailable("jobs cannot run on this listener"))?;
    let id = start_import(&ctx, &registry, &m.0.address, account, name, text)
        .map_err(ApiError::unavailable)?;
    let job = registry
        .get(id)
        .ok_or_else(|| ApiError::internal("the job vanished"))?;
    Ok(HttpResponse::Accepted().json(job))
}

/// Starts an import job on a thread of its own (the store is written synchronously); its id.
/// The dashboard's upload starts the same job.
pub fn start_import(
    ctx: &Ctx,
    registry: &std::sync::Arc<jobs::Jobs>,
    who: &str,
    account: String,
    name: String,
    text: String,
) -> Result<u64, String> {
    let mut handle = registry
        .start(
            JobKind::CollectionImport,
            format!("import into {name} of {account}"),
            who,
            ctx.clock.clone(),
        )
        .map_err(|e| e.to_string())?;
    let id = handle.id();
    let c = ctx.get_ref().clone();
    std::thread::Builder::new()
        .name(format!("import-{id}"))
        .spawn(
            move || match calendar::import(&c.store, &account, &name, &text, &mut handle) {
                Ok(report) => {
                    let error = (!report.refused.is_empty())
                        .then(|| format!("{} invalid items left out", report.refused.len()));
                    handle.finish(Some(report.render(&account, &name)), error)
                }
                Err(e) => handle.finish(None, Some(e)),
            },
        )
        .map_err(|e| format!("cannot start the import: {e}"))?;
    Ok(id)
}

/// The whole collection as one `.ics` (calendars) or `.vcf` (address books) file.
#[utoipa::path(get, path = "/api/v1/accounts/{address}/collections/{name}/export", tag = "directory",
    params(("address" = String, Path, description = "the account"),
           ("name" = String, Path, description = "the collection")),
    responses((status = 200, description = "the file",
        content((String = "text/calendar"), (String = "text/vcard"))), Failures))]
pub async fn collection_export(
    ctx: Ctx,
    m: Manager,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (address, name) = path.into_inner();
    let account = account(&ctx, &m, &address)?;
    one(&ctx, &account, &name).await?;
    let (a, n) = (account.clone(), name.clone());
    let (text, coll) = blocking(&ctx, move |c| {
        let coll = calendar::collection(&c.store, &a, &n).map_err(ApiError::not_found)?;
        let (text, _) = calendar::export(&c.store, &a, &n).map_err(ApiError::internal)?;
        Ok((text, coll))
    })
    .await?;
    Ok(export_response(&coll, text))
}

/// The answer carrying an export: its media type and a file name for the download.
pub fn export_response(
    coll: &crate::storage::davstore::DavCollection,
    text: String,
) -> HttpResponse {
    use actix_web::http::header;
    HttpResponse::Ok()
        .content_type(calendar::media_type(coll))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            header::ContentDisposition::attachment(format!(
                "{}.{}",
                coll.name,
                calendar::extension(coll)
            )),
        ))
        .body(text)
}
