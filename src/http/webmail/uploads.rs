//! A compose's attachments on disk, before the message is built: one directory per compose
//! (its id, `cid`, random, in a hidden field of the form) under the account's own directory
//! in `<data_dir>/webmail/uploads/`. Attachment `n` is the file `n` (its bytes) and `n.meta`
//! (its content type and file name, one a line).
//!
//! - `PUT /compose/{cid}/upload/{n}?name=…&type=…&offset=…`: one chunk (compose.js sends
//!   1 MiB at a time), appended at `offset`, which must be the bytes already there (a
//!   retried chunk is refused with 409 rather than written twice). The CSRF token travels
//!   in the `X-CSRF-Token` header (`http::csrf`). The compose's total is capped at
//!   `[smtp] max_message_size`: the message could not be sent past it (413).
//! - `DELETE /compose/{cid}/upload/{n}`: removes attachment `n`.
//! - The compose form itself, posted as `multipart/form-data` without a script: its file
//!   parts are written here as they arrive ([`begin`], [`append`];
//!   `super::compose_multipart`), under the same cap.
//!
//! A compose's directory goes when the message is sent or discarded; directories older than
//! [`MAX_AGE`] are removed whenever the account opens a compose (a session that never came
//! back).
//!
//! Implementation notes: the account's directory is named by a hash of its address, so no
//! address reaches a path; `cid` and `n` are checked to be hex and a small number before
//! they do.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use super::{to_login, user, MailError};
use crate::http::dashboard::Ctx;

/// A compose left alone this long (seconds) loses its uploads.
pub const MAX_AGE: u64 = 24 * 3600;
/// Attachments per compose.
const MAX_FILES: u32 = 100;
/// The largest chunk a PUT may carry (compose.js sends 1 MiB).
pub const CHUNK_LIMIT: usize = 2 * 1024 * 1024;

/// One attachment of a compose.
#[derive(Debug, Clone)]
pub struct Upload {
    pub n: u32,
    pub name: String,
    pub content_type: String,
    pub size: u64,
}

/// The account's upload directory.
fn account_root(ctx: &Ctx, user: &str) -> PathBuf {
    let hash = hex::encode(&Sha256::digest(user.to_lowercase().as_bytes())[..12]);
    ctx.config()
        .data_dir
        .join("webmail")
        .join("uploads")
        .join(hash)
}

/// A new compose id: 128 random bits as hex.
pub fn new_cid() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The directory of compose `cid` of `user` (not created); Invalid unless `cid` is one
/// [`new_cid`] could have made.
pub fn dir(ctx: &Ctx, user: &str, cid: &str) -> Result<PathBuf, MailError> {
    if cid.len() != 32 || !cid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(MailError::Invalid("unknown compose".into()));
    }
    Ok(account_root(ctx, user).join(cid))
}

fn io_error(e: std::io::Error) -> MailError {
    tracing::warn!("webmail uploads: {e}");
    MailError::Unavailable
}

/// The attachments in `dir`, in the order they were added.
pub fn list(dir: &Path) -> Result<Vec<Upload>, MailError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_error)?;
        let name = entry.file_name();
        let Some(n) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let meta = fs::read_to_string(dir.join(format!("{n}.meta"))).unwrap_or_default();
        let mut lines = meta.lines();
        let content_type = lines
            .next()
            .unwrap_or("application/octet-stream")
            .to_string();
        let file = lines.next().unwrap_or("attachment").to_string();
        let size = entry.metadata().map_err(io_error)?.len();
        out.push(Upload {
            n,
            name: file,
            content_type,
            size,
        });
    }
    out.sort_by_key(|u| u.n);
    Ok(out)
}

/// The bytes of all attachments in `dir`.
pub fn total(dir: &Path) -> Result<u64, MailError> {
    Ok(list(dir)?.iter().map(|u| u.size).sum())
}

/// The contents of attachment `n`.
pub fn read(dir: &Path, n: u32) -> Result<Vec<u8>, MailError> {
    fs::read(dir.join(n.to_string())).map_err(io_error)
}

/// A content type as given by the browser, or octet-stream when it is not one.
fn clean_type(t: &str) -> String {
    let t = t.trim();
    let ok = t.split_once('/').is_some_and(|(a, b)| {
        let token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&c))
        };
        token(a) && token(b)
    });
    if ok {
        t.to_ascii_lowercase()
    } else {
        "application/octet-stream".into()
    }
}

/// A file name without path or control characters.
fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let s: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if s.trim().is_empty() {
        "attachment".into()
    } else {
        s
    }
}

fn write_meta(dir: &Path, n: u32, name: &str, content_type: &str) -> Result<(), MailError> {
    let meta = format!("{}\n{}\n", clean_type(content_type), clean_name(name));
    fs::write(dir.join(format!("{n}.meta")), meta).map_err(io_error)
}

/// Adds a whole attachment (a forwarded message's parts, a reopened draft's); its number.
/// Over `cap` in total: Invalid.
pub fn add(
    dir: &Path,
    name: &str,
    content_type: &str,
    bytes: &[u8],
    cap: u64,
) -> Result<u32, MailError> {
    fs::create_dir_all(dir).map_err(io_error)?;
    let have = list(dir)?;
    if have.iter().map(|u| u.size).sum::<u64>() + bytes.len() as u64 > cap {
        return Err(too_big(cap));
    }
    let n = have.last().map_or(0, |u| u.n + 1);
    write_meta(dir, n, name, content_type)?;
    fs::write(dir.join(n.to_string()), bytes).map_err(io_error)?;
    Ok(n)
}

/// Starts a new, empty attachment streamed in by the form without a script
/// (`super::compose_multipart`); its number. Invalid past [`MAX_FILES`].
pub fn begin(dir: &Path, name: &str, content_type: &str) -> Result<u32, MailError> {
    fs::create_dir_all(dir).map_err(io_error)?;
    let n = list(dir)?.last().map_or(0, |u| u.n + 1);
    if n >= MAX_FILES {
        return Err(MailError::Invalid("too many attachments".into()));
    }
    write_meta(dir, n, name, content_type)?;
    fs::write(dir.join(n.to_string()), b"").map_err(io_error)?;
    Ok(n)
}

/// Appends `bytes` to attachment `n` (after [`begin`]).
pub fn append(dir: &Path, n: u32, bytes: &[u8]) -> Result<(), MailError> {
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(dir.join(n.to_string()))
        .map_err(io_error)?;
    f.write_all(bytes).map_err(io_error)
}

/// The error past the size cap.
pub fn too_big(cap: u64) -> MailError {
    MailError::Invalid(format!(
        "attachments are limited to {} in total (the largest message this server sends)",
        super::rows::format_size(cap)
    ))
}

/// Removes the compose's directory (sent or discarded).
pub fn discard(dir: &Path) {
    if let Err(e) = fs::remove_dir_all(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!("webmail uploads: {e}");
        }
    }
}

/// Removes the account's compose directories untouched for [`MAX_AGE`].
pub fn sweep(ctx: &Ctx, user: &str) {
    let Ok(entries) = fs::read_dir(account_root(ctx, user)) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > MAX_AGE);
        if old {
            discard(&entry.path());
        }
    }
}

#[derive(serde::Deserialize)]
pub struct ChunkQuery {
    name: Option<String>,
    #[serde(rename = "type")]
    content_type: Option<String>,
    offset: u64,
}

/// An error of the upload routes, as a short text the script shows.
fn refuse(status: StatusCode, text: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(format!("{text}\n"))
}

/// `PUT /compose/{cid}/upload/{n}`: one chunk (module comment). Answers the size so far.
pub async fn put(
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<(String, u32)>,
    query: web::Query<ChunkQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let (cid, n) = path.into_inner();
    if n >= MAX_FILES {
        return Ok(refuse(StatusCode::BAD_REQUEST, "too many attachments"));
    }
    let dir = dir(&ctx, &me, &cid)?;
    let cap = ctx.config().smtp.max_message_size;
    let q = query.into_inner();
    let outcome = web::block(
        move || -> Result<Result<u64, (StatusCode, String)>, MailError> {
            fs::create_dir_all(&dir).map_err(io_error)?;
            let file = dir.join(n.to_string());
            let have = fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            if q.offset != have {
                return Ok(Err((
                    StatusCode::CONFLICT,
                    format!("expected offset {have}"),
                )));
            }
            if total(&dir)? + body.len() as u64 > cap {
                return Ok(Err((
                    StatusCode::PAYLOAD_TOO_LARGE,
                    too_big(cap).to_string(),
                )));
            }
            if q.offset == 0 {
                let name = q.name.as_deref().unwrap_or("attachment");
                let ctype = q.content_type.as_deref().unwrap_or("");
                write_meta(&dir, n, name, ctype)?;
            }
            let mut f = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&file)
                .map_err(io_error)?;
            f.write_all(&body).map_err(io_error)?;
            Ok(Ok(have + body.len() as u64))
        },
    )
    .await
    .map_err(|_| MailError::Unavailable)??;
    Ok(match outcome {
        Ok(size) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(size.to_string()),
        Err((status, text)) => refuse(status, &text),
    })
}

/// `DELETE /compose/{cid}/upload/{n}`.
pub async fn delete(
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<(String, u32)>,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let (cid, n) = path.into_inner();
    let dir = dir(&ctx, &me, &cid)?;
    remove(&dir, n)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes attachment `n` of the compose in `dir`.
pub fn remove(dir: &Path, n: u32) -> Result<(), MailError> {
    for f in [n.to_string(), format!("{n}.meta")] {
        match fs::remove_file(dir.join(f)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(e)),
        }
    }
    Ok(())
}
