//! The file store's methods (RFC 4918 §9; RFC 9110 for GET/HEAD/PUT/DELETE and their
//! conditional requests): GET/HEAD, PUT (streamed to a blob file), DELETE, MKCOL, COPY
//! and MOVE; PROPFIND/PROPPATCH are in `props`, LOCK/UNLOCK in `lockreq`.

use actix_web::body::SizedStream;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use super::locks::{self, Need};
use super::{
    blocking, file_href, file_store, header_str, http_date, now, target_of, xml_body, Ctx,
    DavError, Target,
};
use crate::protocols::webdav::conditional;
use crate::protocols::webdav::headers::{self, Depth};
use crate::storage::davfiles::{parent, DavNode, PutBody};
use crate::storage::BlobWriter;

/// A PUT body is written to its blob file, and a GET body read, in pieces of about this
/// size.
const WRITE_CHUNK: usize = 256 * 1024;

async fn node(ctx: &Ctx, me: &str, path: &str) -> Result<Option<DavNode>, DavError> {
    let (c, m, p) = (ctx.get_ref().clone(), me.to_string(), path.to_string());
    blocking(move || Ok(file_store(&c)?.dav_get(&m, &p)?)).await
}

/// If-Match / If-None-Match (RFC 9110 §13.1.1, §13.1.2) against `etag` (`None`: no
/// resource there) on a write (reads: `protocols::webdav::conditional`).
fn preconditions(req: &HttpRequest, etag: Option<&str>, exists: bool) -> Result<(), DavError> {
    if let Some(v) = header_str(req, "If-Match") {
        let ok = if v.trim() == "*" {
            exists
        } else {
            headers::etag_matches(v, etag)
        };
        if !ok {
            return Err(DavError::new(
                StatusCode::PRECONDITION_FAILED,
                "If-Match does not hold",
            ));
        }
    }
    if let Some(v) = header_str(req, "If-None-Match") {
        let hit = if v.trim() == "*" {
            exists
        } else {
            headers::etag_matches(v, etag)
        };
        if hit {
            return Err(DavError::new(
                StatusCode::PRECONDITION_FAILED,
                "If-None-Match does not hold",
            ));
        }
    }
    Ok(())
}

/// GET/HEAD: a resource's body from its blob file, or a collection's member list. HEAD
/// answers the same: actix-web's HTTP/1 encoder leaves the body out and keeps its
/// Content-Length (RFC 9110 §9.3.2).
pub(crate) async fn get(
    ctx: &Ctx,
    req: &HttpRequest,
    me: &str,
    path: &str,
) -> Result<HttpResponse, DavError> {
    let n = node(ctx, me, path).await?.ok_or_else(DavError::not_found)?;
    let etag = n.etag();
    // RFC 9110 §13.2.2 (`protocols::webdav::conditional`); a 304 carries the validators.
    let h = conditional::Headers {
        if_match: header_str(req, "If-Match"),
        if_none_match: header_str(req, "If-None-Match"),
        if_modified_since: header_str(req, "If-Modified-Since"),
        if_unmodified_since: header_str(req, "If-Unmodified-Since"),
    };
    let v = conditional::Validators {
        etag: etag.as_deref(),
        // 0: not known (never a 304 from If-Modified-Since on it).
        modified_ms: i64::try_from(n.modified)
            .ok()
            .filter(|s| *s > 0)
            .map(|s| s.saturating_mul(1000)),
    };
    match conditional::evaluate_read(&h, &v, super::now_ms()) {
        conditional::Outcome::Failed => {
            return Err(DavError::new(
                StatusCode::PRECONDITION_FAILED,
                "a precondition does not hold",
            ))
        }
        conditional::Outcome::NotModified => {
            let mut r = HttpResponse::NotModified();
            r.insert_header((header::LAST_MODIFIED, http_date(n.modified)));
            if let Some(e) = &etag {
                r.insert_header((header::ETAG, e.as_str()));
            }
            return Ok(r.finish());
        }
        conditional::Outcome::Proceed => {}
    }
    let Some(body) = &n.body else {
        return listing(ctx, me, &n).await;
    };
    let mut r = HttpResponse::Ok();
    r.content_type(body.content_type.as_str())
        .insert_header((header::LAST_MODIFIED, http_date(n.modified)));
    if let Some(e) = &etag {
        r.insert_header((header::ETAG, e.as_str()));
    }
    let path = ctx.store.blobs().path(&body.blob);
    let file = blocking(move || {
        std::fs::File::open(path).map_err(|e| DavError::from(crate::storage::StorageError::Io(e)))
    })
    .await?;
    Ok(r.body(SizedStream::new(body.size, read_chunks(file))))
}

/// A file's content as a stream of chunks, each read on the blocking pool: a large
/// resource is sent without being held in memory.
fn read_chunks(
    file: std::fs::File,
) -> impl futures_util::Stream<Item = Result<web::Bytes, std::io::Error>> {
    futures_util::stream::try_unfold(Some(file), |state| async move {
        let Some(mut file) = state else {
            return Ok(None);
        };
        let (file, buf) = web::block(move || -> std::io::Result<_> {
            let mut buf = vec![0u8; WRITE_CHUNK];
            let n = std::io::Read::read(&mut file, &mut buf)?;
            buf.truncate(n);
            Ok((file, buf))
        })
        .await
        .map_err(std::io::Error::other)??;
        if buf.is_empty() {
            return Ok(None);
        }
        Ok(Some((web::Bytes::from(buf), Some(file))))
    })
}

/// A collection's GET: its members as a plain HTML list of links.
async fn listing(ctx: &Ctx, me: &str, n: &DavNode) -> Result<HttpResponse, DavError> {
    let (c, m, p) = (ctx.get_ref().clone(), me.to_string(), n.path.clone());
    let children = blocking(move || Ok(file_store(&c)?.dav_children(&m, &p)?)).await?;
    let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
    let mut html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title></head><body><h1>{0}</h1><ul>",
        esc(&file_href(me, &n.path, true))
    );
    for ch in &children {
        let name = ch.path.rsplit('/').next().unwrap_or("");
        html.push_str(&format!(
            "<li><a href=\"{}\">{}{}</a></li>",
            esc(&file_href(me, &ch.path, ch.is_collection())),
            esc(name),
            if ch.is_collection() { "/" } else { "" }
        ));
    }
    html.push_str("</ul></body></html>");
    let mut r = HttpResponse::Ok();
    r.content_type("text/html; charset=utf-8");
    Ok(r.body(html))
}

/// Streams the request body into a blob file, refusing it past `max` bytes (413).
async fn receive(ctx: &Ctx, mut payload: web::Payload, max: u64) -> Result<BlobWriter, DavError> {
    let c = ctx.get_ref().clone();
    let mut writer = blocking(move || Ok(c.store.blobs().writer()?)).await?;
    let mut buf: Vec<u8> = Vec::with_capacity(WRITE_CHUNK);
    let mut total = 0u64;
    loop {
        let chunk = payload.next().await;
        let done = chunk.is_none();
        if let Some(chunk) = chunk {
            let chunk = chunk.map_err(|_| {
                DavError::new(StatusCode::BAD_REQUEST, "the body could not be read")
            })?;
            total += chunk.len() as u64;
            if total > max {
                return Err(DavError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("a resource holds at most {max} bytes"),
                ));
            }
            buf.extend_from_slice(&chunk);
        }
        if buf.len() >= WRITE_CHUNK || (done && !buf.is_empty()) {
            let piece = std::mem::take(&mut buf);
            writer = blocking(move || {
                writer.write(&piece)?;
                Ok(writer)
            })
            .await?;
        }
        if done {
            return Ok(writer);
        }
    }
}

/// Stores a received body at `path` (created or replaced) and waits until it is durable.
async fn store_body(
    ctx: &Ctx,
    me: &str,
    path: &str,
    writer: BlobWriter,
    content_type: String,
) -> Result<(bool, DavNode), DavError> {
    let (c, m, p) = (ctx.get_ref().clone(), me.to_string(), path.to_string());
    blocking(move || {
        let files = file_store(&c)?;
        // The blob is durable once `finish` returns; the pin keeps it until our record
        // holds it.
        let (blob, size, _pin) = c.store.blobs().finish(writer)?;
        let put = PutBody {
            blob,
            size,
            content_type,
        };
        let done = files.dav_put(&m, &p, &put, now(&c))?;
        c.store.commit()?;
        Ok(done)
    })
    .await
}

/// An empty resource at `path` (LOCK on an unmapped URL).
pub(crate) async fn create_empty(ctx: &Ctx, me: &str, path: &str) -> Result<(), DavError> {
    let c = ctx.get_ref().clone();
    let writer = blocking(move || Ok(c.store.blobs().writer()?)).await?;
    store_body(ctx, me, path, writer, "application/octet-stream".into())
        .await
        .map(|_| ())
}

/// PUT (§9.7): 201 when created, 204 when replaced; 409 without a parent collection,
/// 405 on a collection, 413 past the size limit, 507 past the quota.
pub(crate) async fn put(
    ctx: &Ctx,
    req: &HttpRequest,
    payload: web::Payload,
    me: &str,
    path: &str,
) -> Result<HttpResponse, DavError> {
    if path.is_empty() {
        return Err(DavError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "the root is a collection",
        ));
    }
    let existing = node(ctx, me, path).await?;
    if existing.as_ref().is_some_and(DavNode::is_collection) {
        return Err(DavError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "a collection has no body to replace",
        ));
    }
    let etag = existing.as_ref().and_then(DavNode::etag);
    preconditions(req, etag.as_deref(), existing.is_some())?;
    let parent_path = parent(path).unwrap_or("");
    let mut needs = vec![Need::Node(path)];
    if existing.is_none() {
        needs.push(Need::Node(parent_path));
    }
    locks::check(req, me, me, path, etag.as_deref(), &needs)?;
    let max = ctx.config().http.dav_max_resource_size;
    let declared = header_str(req, "Content-Length").and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(DavError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a resource holds at most {max} bytes"),
        ));
    }
    match node(ctx, me, parent_path).await? {
        Some(p) if p.is_collection() => {}
        _ => {
            return Err(DavError::new(
                StatusCode::CONFLICT,
                "the parent collection does not exist",
            ))
        }
    }
    let content_type = header_str(req, "Content-Type")
        .filter(|t| !t.trim().is_empty())
        .unwrap_or("application/octet-stream")
        .to_string();
    let writer = receive(ctx, payload, max).await?;
    let (created, n) = store_body(ctx, me, path, writer, content_type).await?;
    let mut r = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::NoContent()
    };
    if let Some(e) = n.etag() {
        r.insert_header((header::ETAG, e));
    }
    Ok(r.finish())
}

/// DELETE (§9.6): the node and its members, all or nothing.
pub(crate) async fn delete(
    ctx: &Ctx,
    req: &HttpRequest,
    me: &str,
    path: &str,
) -> Result<HttpResponse, DavError> {
    if path.is_empty() {
        return Err(DavError::new(
            StatusCode::FORBIDDEN,
            "the root of the file store stays",
        ));
    }
    let n = node(ctx, me, path).await?.ok_or_else(DavError::not_found)?;
    let etag = n.etag();
    preconditions(req, etag.as_deref(), true)?;
    locks::check(
        req,
        me,
        me,
        path,
        etag.as_deref(),
        &[Need::Tree(path), Need::Node(parent(path).unwrap_or(""))],
    )?;
    let (c, m, p) = (ctx.get_ref().clone(), me.to_string(), path.to_string());
    blocking(move || {
        file_store(&c)?.dav_delete(&m, &p)?;
        c.store.commit()?;
        Ok(())
    })
    .await?;
    locks::forget(me, path);
    Ok(HttpResponse::NoContent().finish())
}

/// MKCOL (§9.3): 201; 405 when something is there, 409 without a parent, 415 with a
/// body (no extended MKCOL yet).
pub(crate) async fn mkcol(
    ctx: &Ctx,
    req: &HttpRequest,
    payload: web::Payload,
    me: &str,
    path: &str,
) -> Result<HttpResponse, DavError> {
    let body = xml_body(payload).await?;
    if !body.is_empty() {
        return Err(DavError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "MKCOL takes no body here",
        ));
    }
    if path.is_empty() || node(ctx, me, path).await?.is_some() {
        return Err(DavError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "something is there already",
        ));
    }
    locks::check(
        req,
        me,
        me,
        path,
        None,
        &[Need::Node(parent(path).unwrap_or("")), Need::Node(path)],
    )?;
    let (c, m, p) = (ctx.get_ref().clone(), me.to_string(), path.to_string());
    blocking(move || {
        file_store(&c)?.dav_mkcol(&m, &p, now(&c))?;
        c.store.commit()?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Created().finish())
}

/// COPY (§9.8) and MOVE (§9.9) within the caller's store: 201 when the destination was
/// created, 204 when it was overwritten; 412 when it exists and Overwrite is F; 409
/// without its parent; 403 onto itself; 502 to another server's URL.
pub(crate) async fn copy_or_move(
    ctx: &Ctx,
    req: &HttpRequest,
    me: &str,
    path: &str,
    remove: bool,
) -> Result<HttpResponse, DavError> {
    let dest = header_str(req, "Destination")
        .ok_or_else(|| DavError::new(StatusCode::BAD_REQUEST, "Destination is missing"))?;
    let (authority, dest_path) = headers::destination(dest)?;
    if let Some(a) = authority {
        let host = req.connection_info().host().to_string();
        if !a.eq_ignore_ascii_case(&host) {
            return Err(DavError::new(
                StatusCode::BAD_GATEWAY,
                "the destination is on another server",
            ));
        }
    }
    let to = match target_of(&dest_path)? {
        Some(Target::Files { owner, path }) if owner == me => path,
        _ => {
            return Err(DavError::new(
                StatusCode::FORBIDDEN,
                "the destination is outside your files",
            ))
        }
    };
    let overwrite = headers::overwrite(header_str(req, "Overwrite"))?;
    let depth = headers::depth(header_str(req, "Depth"), Depth::Infinity)?;
    if depth == Depth::One || (remove && depth != Depth::Infinity) {
        return Err(DavError::new(
            StatusCode::BAD_REQUEST,
            "Depth must be 0 or infinity (MOVE: infinity)",
        ));
    }
    if path.is_empty() || to.is_empty() || to == path {
        return Err(DavError::new(
            StatusCode::FORBIDDEN,
            "source and destination are the same",
        ));
    }
    let source = node(ctx, me, path).await?.ok_or_else(DavError::not_found)?;
    let etag = source.etag();
    let target = node(ctx, me, &to).await?;
    if target.is_some() && !overwrite {
        return Err(DavError::new(
            StatusCode::PRECONDITION_FAILED,
            "the destination exists",
        ));
    }
    let mut needs = vec![Need::Tree(&to), Need::Node(parent(&to).unwrap_or(""))];
    if remove {
        needs.push(Need::Tree(path));
        needs.push(Need::Node(parent(path).unwrap_or("")));
    }
    locks::check(req, me, me, path, etag.as_deref(), &needs)?;
    let (c, m, from, dst) = (
        ctx.get_ref().clone(),
        me.to_string(),
        path.to_string(),
        to.clone(),
    );
    let created = blocking(move || {
        let created = file_store(&c)?.dav_copy(
            &m,
            &from,
            &dst,
            depth == Depth::Infinity,
            overwrite,
            remove,
            now(&c),
        )?;
        c.store.commit()?;
        Ok(created)
    })
    .await?;
    locks::forget(me, &to);
    if remove {
        locks::forget(me, path);
    }
    Ok(if created {
        HttpResponse::Created().finish()
    } else {
        HttpResponse::NoContent().finish()
    })
}
