//! DAV on the public `http` and `https` listeners (issue 15; docs/architecture.md §5):
//! the resource model every DAV request goes through, HTTP Basic, and the WebDAV file
//! store at `/dav/files/<address>/`.
//!
//! Implementation notes:
//!
//! - Resources ([`Target`]): `/dav/` (the root), `/dav/principals/<address>/` (RFC 5397
//!   principal), `/dav/files/<address>/…` (the account's file store, [`files`],
//!   [`props`], [`locks`]). Calendars and address books become further kinds of
//!   [`Target`] with their own handlers; the root and principal answers are where their
//!   home-set properties will go.
//! - Credentials: HTTP Basic only (RFC 7617), checked by `http::auth` (`login::check`:
//!   the per-address failure limit, screening reports, no password-only login for an
//!   account with two-factor authentication). The session cookie is ignored here, so a
//!   browser's session cannot be ridden across sites (no CSRF token is needed, and the
//!   CSRF middleware lets `/dav/` through). The plain-HTTP password rule of
//!   `http::security` applies as to any request with credentials.
//! - Access: an account reaches only its own files (owner only for now; sharing through
//!   the folder ACL model is to come). Another account's files answer 404, the same as
//!   an address that does not exist, so addresses tell nothing.
//! - Bodies: a PUT streams to a blob file (`storage::BlobWriter`) a chunk at a time on
//!   the blocking pool, refused with 413 past `[http] dav_max_resource_size`; the record
//!   is written and committed (durable) before the 201/204. Resources count against the
//!   account's storage quota: 507 past it (RFC 4331 properties report it).
//! - Locks (RFC 4918 class 2) live in memory on this node ([`locks`]): a restart or
//!   another cluster node does not see them. Timeouts are at most an hour.
//! - The file store is reached through `storage::DavFileStore`: a backend without one
//!   would answer 501 (both backends have one).

mod acl;
mod cal;
#[cfg(test)]
mod cal_tests;
mod calcommon;
mod callocks;
mod calobjects;
mod calprops;
mod files;
#[cfg(test)]
mod inbox_copy_tests;
mod lockreq;
pub(crate) mod locks;
mod mkcalendar;
mod props;
mod report;
#[cfg(test)]
mod report_paging_tests;
#[cfg(test)]
mod report_tests;
mod schedule;
pub(crate) mod share;
#[cfg(test)]
mod share_tests;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::auth;
use crate::actors::ServerContext;
use crate::protocols::webdav::multistatus::error_body_in;
use crate::protocols::webdav::xml::DAV;
use crate::protocols::webdav::WebDavError;
use crate::storage::davstore::CollectionKind;
use crate::storage::{DavFiles, StorageError, PUBLIC_OWNER};

/// The shared application data handlers take.
pub(crate) type Ctx = web::Data<Arc<ServerContext>>;

/// What the Allow header lists.
const ALLOW: &str =
    "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK";

/// Request bodies of XML methods (PROPFIND, PROPPATCH, LOCK) above this are refused.
const XML_LIMIT: usize = 1024 * 1024;

/// The `/dav` routes and the discovery redirects (RFC 6764 §5).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/.well-known/caldav", web::route().to(well_known))
        .route("/.well-known/carddav", web::route().to(well_known))
        .service(web::scope("/dav").default_service(web::to(dispatch)));
}

async fn well_known() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, "/dav/"))
        .finish()
}

/// What a DAV request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// `/dav/`.
    Root,
    /// `/dav/principals/<address>/`.
    Principal(String),
    /// `/dav/files/<address>` and below: the owner and the decoded path (`""` or `/a/b`).
    Files { owner: String, path: String },
    /// `/dav/calendars/<address>/` or `/dav/addressbooks/<address>/`: the account's
    /// calendar-home-set or addressbook-home-set.
    Home { owner: String, kind: CollectionKind },
    /// `/dav/calendars/<address>/<name>/` or `/dav/addressbooks/<address>/<name>/`.
    Collection {
        owner: String,
        kind: CollectionKind,
        name: String,
    },
    /// A resource in a calendar or address book.
    Object {
        owner: String,
        kind: CollectionKind,
        collection: String,
        name: String,
    },
}

/// Why a DAV request failed: a status and, for the RFC's pre- and postconditions, the
/// condition's name for an `error` body.
#[derive(Debug)]
pub(crate) struct DavError {
    pub status: StatusCode,
    pub condition: Option<&'static str>,
    /// The condition's namespace (`DAV:` unless set by [`DavError::condition_in`]).
    pub ns: &'static str,
    pub message: String,
    /// A whole XML error body, for conditions outside `DAV:` (CalDAV's, CardDAV's) or
    /// with content (`no-uid-conflict`'s href); it wins over `condition`.
    pub xml: Option<String>,
}

impl DavError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> DavError {
        DavError {
            status,
            condition: None,
            ns: DAV,
            message: message.into(),
            xml: None,
        }
    }

    pub fn condition(status: StatusCode, condition: &'static str) -> DavError {
        DavError {
            status,
            condition: Some(condition),
            ns: DAV,
            message: String::new(),
            xml: None,
        }
    }

    /// A condition in namespace `ns` (CalDAV's, CardDAV's).
    pub fn condition_in(status: StatusCode, ns: &'static str, condition: &'static str) -> DavError {
        DavError {
            ns,
            ..DavError::condition(status, condition)
        }
    }

    pub fn not_found() -> DavError {
        DavError::new(StatusCode::NOT_FOUND, "not found")
    }

    fn response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        if self.status == StatusCode::NOT_MODIFIED {
            // RFC 9110 §15.4.5: no content.
            return r.finish();
        }
        if self.status == StatusCode::UNAUTHORIZED {
            r.insert_header((
                header::WWW_AUTHENTICATE,
                "Basic realm=\"Ferrymail DAV\", charset=\"UTF-8\"",
            ));
        }
        if let Some(xml) = &self.xml {
            return r
                .content_type("application/xml; charset=utf-8")
                .body(xml.clone());
        }
        match self.condition {
            Some(c) => r
                .content_type("application/xml; charset=utf-8")
                .body(error_body_in(self.ns, c)),
            None => r
                .content_type("text/plain; charset=utf-8")
                .body(format!("{}\n", self.message)),
        }
    }
}

impl From<WebDavError> for DavError {
    fn from(e: WebDavError) -> DavError {
        DavError::new(StatusCode::BAD_REQUEST, e.to_string())
    }
}

impl From<StorageError> for DavError {
    fn from(e: StorageError) -> DavError {
        let status = match &e {
            StorageError::NotFound(_) => StatusCode::NOT_FOUND,
            StorageError::Exists(_) => StatusCode::PRECONDITION_FAILED,
            StorageError::Conflict(_) => StatusCode::CONFLICT,
            StorageError::Invalid(_) => StatusCode::FORBIDDEN,
            StorageError::OverQuota { .. } => {
                return DavError::condition(StatusCode::INSUFFICIENT_STORAGE, "quota-not-exceeded")
            }
            _ => {
                tracing::error!(error = %e, "DAV storage failure");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        DavError::new(status, e.to_string())
    }
}

/// Now in Unix seconds, from the server's clock.
pub(crate) fn now(ctx: &Arc<ServerContext>) -> u64 {
    u64::try_from(ctx.clock.now()).unwrap_or(0)
}

/// Runs storage work on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DavError> + Send + 'static,
) -> Result<T, DavError> {
    web::block(f)
        .await
        .map_err(|_| DavError::new(StatusCode::SERVICE_UNAVAILABLE, "the work did not run"))?
}

/// The file store of the server's backend, or 501.
pub(crate) fn file_store(ctx: &Arc<ServerContext>) -> Result<&dyn DavFiles, DavError> {
    ctx.store.dav_files().ok_or_else(|| {
        DavError::new(
            StatusCode::NOT_IMPLEMENTED,
            "this storage backend has no WebDAV file store yet",
        )
    })
}

/// Who is asking: HTTP Basic only (module comment).
async fn caller(ctx: &Arc<ServerContext>, req: &HttpRequest) -> Result<String, DavError> {
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
    if !basic {
        return Err(DavError::new(
            StatusCode::UNAUTHORIZED,
            "log in with HTTP Basic (your address and password)",
        ));
    }
    match auth::principal(ctx, req).await {
        Ok(Some(p)) => Ok(p.address),
        Ok(None) => Err(DavError::new(StatusCode::UNAUTHORIZED, "log in")),
        Err(e) => {
            let mut d = DavError::new(e.status, e.message);
            if e.status == StatusCode::TOO_MANY_REQUESTS {
                d.message = format!("{} (retry after {:?} s)", d.message, e.retry_after);
            }
            Err(d)
        }
    }
}

/// Decodes a request path below `/dav` into a [`Target`]; `None` for what does not exist.
/// Segments are percent-decoded; `.`, `..`, empty inner segments and decoded `/` or NUL
/// are refused (a name never holds `/`, and no path escapes its store).
pub(crate) fn target_of(path: &str) -> Result<Option<Target>, DavError> {
    let rest = path.strip_prefix("/dav").unwrap_or(path);
    let mut segments = Vec::new();
    let trimmed = rest.trim_start_matches('/');
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    if !trimmed.is_empty() {
        for raw in trimmed.split('/') {
            let seg = percent_decode(raw)
                .ok_or_else(|| DavError::new(StatusCode::BAD_REQUEST, "malformed path"))?;
            if seg.is_empty() || seg == "." || seg == ".." || seg.contains(['/', '\0']) {
                return Err(DavError::new(StatusCode::BAD_REQUEST, "malformed path"));
            }
            segments.push(seg);
        }
    }
    let owner = |s: &str| s.to_lowercase();
    Ok(match segments.as_slice() {
        [] => Some(Target::Root),
        [p, a] if p == "principals" => Some(Target::Principal(owner(a))),
        [f, a, tail @ ..] if f == "files" => Some(Target::Files {
            owner: owner(a),
            path: tail.iter().map(|s| format!("/{s}")).collect(),
        }),
        [h, a, tail @ ..] => {
            let Some(kind) = home_kind(h) else {
                return Ok(None);
            };
            // Public collections: the segment `public` (never an address: no "@").
            let owner = if a == PUBLIC_SEGMENT {
                PUBLIC_OWNER.to_string()
            } else {
                owner(a)
            };
            match tail {
                [] => Some(Target::Home { owner, kind }),
                [name] => Some(Target::Collection {
                    owner,
                    kind,
                    name: name.clone(),
                }),
                [collection, name] => Some(Target::Object {
                    owner,
                    kind,
                    collection: collection.clone(),
                    name: name.clone(),
                }),
                _ => None,
            }
        }
        _ => None,
    })
}

/// The path segment under `/dav/` of the homes of `kind`.
pub(crate) fn home_segment(kind: CollectionKind) -> &'static str {
    match kind {
        CollectionKind::Calendar => "calendars",
        CollectionKind::AddressBook => "addressbooks",
    }
}

fn home_kind(segment: &str) -> Option<CollectionKind> {
    [CollectionKind::Calendar, CollectionKind::AddressBook]
        .into_iter()
        .find(|k| home_segment(*k) == segment)
}

/// The path segment of the public collections' homes (their owner is `PUBLIC_OWNER`).
pub(crate) const PUBLIC_SEGMENT: &str = "public";

/// The href of `owner`'s calendar or address-book home (`/dav/calendars/<address>/`;
/// `/dav/calendars/public/` for the public collections).
pub(crate) fn home_href(owner: &str, kind: CollectionKind) -> String {
    let segment = if owner == PUBLIC_OWNER {
        PUBLIC_SEGMENT.to_string()
    } else {
        encode_segment(owner)
    };
    format!("/dav/{}/{segment}/", home_segment(kind))
}

/// The href of a calendar or address book (ends in `/`).
pub(crate) fn collection_href(owner: &str, kind: CollectionKind, name: &str) -> String {
    format!("{}{}/", home_href(owner, kind), encode_segment(name))
}

/// The href of an object in a calendar or address book.
pub(crate) fn object_href(
    owner: &str,
    kind: CollectionKind,
    collection: &str,
    name: &str,
) -> String {
    format!(
        "{}{}",
        collection_href(owner, kind, collection),
        encode_segment(name)
    )
}

/// Percent-decoding (RFC 3986 §2.1) into UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes one path segment: everything but RFC 3986 unreserved characters and
/// `@` (addresses stay readable).
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The href of a file-store node (collections end in `/`).
pub(crate) fn file_href(owner: &str, path: &str, collection: bool) -> String {
    let mut href = format!("/dav/files/{}", encode_segment(owner));
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        href.push('/');
        href.push_str(&encode_segment(seg));
    }
    if collection || path.is_empty() {
        href.push('/');
    }
    href
}

/// Every DAV request: authenticates, resolves the target, hands it to its handler.
async fn dispatch(ctx: Ctx, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let result = async {
        // OPTIONS on the root says what is spoken without credentials (clients probe it).
        let target = target_of(req.path())?.ok_or_else(DavError::not_found)?;
        if req.method() == Method::OPTIONS && target == Target::Root {
            return Ok(calcommon::options());
        }
        let me = caller(&ctx, &req).await?;
        if req.method().as_str() == "MKCALENDAR"
            && matches!(target, Target::Root | Target::Principal(_))
        {
            return Err(DavError::new(
                StatusCode::FORBIDDEN,
                "calendars are made in the calendar home",
            ));
        }
        match target {
            Target::Root | Target::Principal(_) => {
                props::principal(&ctx, &req, &me, &target, payload).await
            }
            Target::Files { owner, path } => {
                if owner != me {
                    return Err(DavError::not_found());
                }
                handle_files(&ctx, &req, payload, &me, &path).await
            }
            Target::Home { .. } | Target::Collection { .. } | Target::Object { .. } => {
                cal::handle(&ctx, &req, payload, &me, &target).await
            }
        }
    }
    .await;
    result.unwrap_or_else(|e| e.response())
}

/// A request header as text (`None` when absent or not text).
pub(crate) fn header_str<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// OPTIONS: DAV classes 1 and 2 (§10.1, §18).
pub(crate) fn options() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("DAV", "1, 2"))
        .insert_header((header::ALLOW, ALLOW))
        .insert_header(("MS-Author-Via", "DAV"))
        .finish()
}

/// The file-store request `me` makes on `path` (its own store: `mod.rs` checked).
async fn handle_files(
    ctx: &Ctx,
    req: &HttpRequest,
    payload: web::Payload,
    me: &str,
    path: &str,
) -> Result<HttpResponse, DavError> {
    match req.method().as_str() {
        "OPTIONS" => Ok(options()),
        "GET" | "HEAD" => files::get(ctx, req, me, path).await,
        "PUT" => files::put(ctx, req, payload, me, path).await,
        "DELETE" => files::delete(ctx, req, me, path).await,
        "MKCOL" => files::mkcol(ctx, req, payload, me, path).await,
        "COPY" => files::copy_or_move(ctx, req, me, path, false).await,
        "MOVE" => files::copy_or_move(ctx, req, me, path, true).await,
        "PROPFIND" => props::propfind(ctx, req, payload, me, path).await,
        "PROPPATCH" => props::proppatch(ctx, req, payload, me, path).await,
        "LOCK" => lockreq::lock(ctx, req, payload, me, path).await,
        "UNLOCK" => lockreq::unlock(req, me, path),
        "MKCALENDAR" => Err(DavError::new(
            StatusCode::FORBIDDEN,
            "calendars are made in the calendar home",
        )),
        _ => Ok(HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, ALLOW))
            .finish()),
    }
}

/// Reads an XML request body, bounded by [`XML_LIMIT`].
pub(crate) async fn xml_body(payload: web::Payload) -> Result<web::Bytes, DavError> {
    payload
        .to_bytes_limited(XML_LIMIT)
        .await
        .map_err(|_| DavError::new(StatusCode::PAYLOAD_TOO_LARGE, "the XML body is too large"))?
        .map_err(|_| DavError::new(StatusCode::BAD_REQUEST, "the body could not be read"))
}

/// A modification time (Unix seconds) as served (Last-Modified, getlastmodified): an HTTP
/// date (RFC 9110 §5.6.7) never later than this server's clock (§8.8.2.1; a stored time
/// can be later after the clock was set back or on a node behind the database's clock).
pub(crate) fn http_date(secs: u64) -> String {
    let secs = secs.min(crate::storage::now_secs());
    let t =
        chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(0), 0).unwrap_or_default();
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// This server's clock in Unix milliseconds, for `conditional::evaluate_read`.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
