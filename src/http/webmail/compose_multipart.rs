//! The compose form posted as `multipart/form-data` (RFC 7578): how a browser without
//! JavaScript attaches files. The form's text fields are collected (bounded) into the
//! url-encoded body the handlers already read; its file parts are streamed into the
//! compose's upload directory ([`super::uploads`]) as they arrive, never held whole.
//!
//! Implementation notes:
//!
//! - The template puts `csrf` and `cid` before the file inputs, so the upload directory is
//!   known when the first file starts; a file before `cid` is refused.
//! - The compose's attachments together stay within `[smtp] max_message_size` (the message
//!   could not be sent past it): the file that crosses it is removed, the rest of the body
//!   is read and dropped (so the browser gets the answer, not a reset connection), and the
//!   form is shown again with the error.
//! - A file input with nothing chosen sends a part with an empty file name: skipped.

use actix_web::web;
use futures_util::StreamExt;

use super::uploads;
use super::MailError;
use crate::http::dashboard::Ctx;
use crate::http::multipart::{Event, Parser};

/// The most the text fields of one form may hold together (bytes): the rich editor's HTML
/// (`compose_rich::MAX_HTML`) and the rest.
const TEXT_LIMIT: usize = 8 * 1024 * 1024;
/// File bytes gathered before they are written.
const FLUSH: usize = 256 * 1024;

/// What a multipart compose post brought.
pub struct Posted {
    /// The text fields, url-encoded.
    pub fields: Vec<u8>,
    /// Why a file was refused (over the cap), when one was.
    pub refused: Option<MailError>,
}

/// A file being written.
struct Writing {
    dir: std::path::PathBuf,
    n: u32,
    pending: Vec<u8>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, MailError> + Send + 'static,
) -> Result<T, MailError> {
    web::block(f).await.map_err(|_| MailError::Unavailable)?
}

async fn flush(w: &mut Writing) -> Result<(), MailError> {
    let (dir, n, bytes) = (w.dir.clone(), w.n, std::mem::take(&mut w.pending));
    blocking(move || uploads::append(&dir, n, &bytes)).await
}

/// Reads the form of `me` (module comment).
pub async fn read(
    ctx: &Ctx,
    me: &str,
    boundary: &str,
    mut payload: web::Payload,
) -> Result<Posted, MailError> {
    let cap = ctx.config().smtp.max_message_size;
    let mut parser = Parser::new(boundary);
    let mut fields = form_urlencoded::Serializer::new(String::new());
    let mut text_size = 0usize;
    let mut field: Option<(String, Vec<u8>)> = None;
    let mut file: Option<Writing> = None;
    let mut cid: Option<String> = None;
    // The compose's attachments so far, once the first file starts.
    let mut total: Option<u64> = None;
    let mut refused = None;
    while let Some(piece) = payload.next().await {
        let piece =
            piece.map_err(|e| MailError::Invalid(format!("the form was cut short: {e}")))?;
        if refused.is_some() {
            continue;
        }
        let events = parser
            .feed(&piece)
            .map_err(|e| MailError::Invalid(e.to_string()))?;
        for e in events {
            match e {
                Event::Part(h) => match h.filename {
                    Some(name) if !name.is_empty() => {
                        let c = cid.as_deref().ok_or_else(|| {
                            MailError::Invalid("a file came before the compose id".into())
                        })?;
                        let dir = uploads::dir(ctx, me, c)?;
                        let ctype = h.content_type.unwrap_or_default();
                        let d = dir.clone();
                        let (n, have) = blocking(move || {
                            let have = uploads::total(&d)?;
                            Ok((uploads::begin(&d, &name, &ctype)?, have))
                        })
                        .await?;
                        total.get_or_insert(have);
                        file = Some(Writing {
                            dir,
                            n,
                            pending: Vec::new(),
                        });
                    }
                    Some(_) => {}
                    None => field = Some((h.name, Vec::new())),
                },
                Event::Data(d) => {
                    if let Some(w) = file.as_mut() {
                        let t = total.get_or_insert(0);
                        *t += d.len() as u64;
                        if *t > cap {
                            let (dir, n) = (w.dir.clone(), w.n);
                            file = None;
                            blocking(move || uploads::remove(&dir, n)).await?;
                            refused = Some(uploads::too_big(cap));
                            break;
                        }
                        w.pending.extend_from_slice(&d);
                        if w.pending.len() >= FLUSH {
                            flush(w).await?;
                        }
                    } else if let Some((_, value)) = field.as_mut() {
                        text_size += d.len();
                        if text_size > TEXT_LIMIT {
                            return Err(MailError::Invalid("the form's text is too long".into()));
                        }
                        value.extend_from_slice(&d);
                    }
                }
                Event::End => {
                    if let Some(mut w) = file.take() {
                        flush(&mut w).await?;
                    }
                    if let Some((name, value)) = field.take() {
                        let value = String::from_utf8_lossy(&value);
                        if name == "cid" {
                            cid = Some(value.to_string());
                        }
                        fields.append_pair(&name, &value);
                    }
                }
            }
        }
    }
    if refused.is_none() && !parser.done() {
        if let Some(w) = file {
            let (dir, n) = (w.dir, w.n);
            blocking(move || uploads::remove(&dir, n)).await?;
        }
        return Err(MailError::Invalid("the form was cut short".into()));
    }
    Ok(Posted {
        fields: fields.finish().into_bytes(),
        refused,
    })
}
