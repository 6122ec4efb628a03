//! Drafts: a compose saved into the account's Drafts folder (special-use \Drafts, RFC
//! 6154), flagged \Draft and \Seen, through the folder's actor like an IMAP APPEND.
//!
//! Saving again replaces the compose's previous draft: the new one is appended first, then
//! the old UID expunged, so a failure in between leaves two drafts, never none. Sending or
//! discarding the compose removes its draft.

use actix_web::web;

use super::compose::{message_ref, Form};
use super::compose_send::{build, Built};
use super::uploads;
use super::{call, MailError};
use crate::http::dashboard::Ctx;
use crate::protocols::imap::backend::{flag_bits, Backend, FlagOp, FolderRef, NewMessage};

/// The account's Drafts: the folder marked \Drafts, else the one named Drafts, else a new
/// one.
pub fn folder(b: &impl Backend, me: &str) -> Result<FolderRef, MailError> {
    special(b, me, "\\Drafts", "Drafts")
}

/// The account's folder with special-use `mark`, else the one called `name`, else a new
/// one with that name and mark.
pub fn special(b: &impl Backend, me: &str, mark: &str, name: &str) -> Result<FolderRef, MailError> {
    let folders = b.folders(me)?;
    let found = folders
        .iter()
        .find(|f| f.special_use.as_deref() == Some(mark))
        .or_else(|| folders.iter().find(|f| f.name.eq_ignore_ascii_case(name)));
    match found {
        Some(f) => Ok(f.id),
        None => Ok(b.create_folder(me, name, Some(mark))?),
    }
}

/// Saves `form` as a draft, replacing its previous one; the new draft's `F/U`.
pub async fn save(
    ctx: &Ctx,
    me: &str,
    form: &Form,
    dir: &std::path::Path,
) -> Result<String, MailError> {
    let (form2, dir2) = (form.clone(), dir.to_path_buf());
    let now = ctx.clock.now();
    let host = ctx.config().hostname.clone();
    let Built { message, .. } = web::block(move || {
        let attachments = uploads::list(&dir2)?
            .into_iter()
            .map(|u| Ok((u.clone(), uploads::read(&dir2, u.n)?)))
            .collect::<Result<Vec<_>, MailError>>()?;
        build(&form2, &attachments, now, &host, true)
    })
    .await
    .map_err(|_| MailError::Unavailable)??;
    let who = me.to_string();
    let old = form.draft.clone();
    call(ctx, move |b| {
        let drafts = folder(b, &who)?;
        let uid = b.append(
            drafts,
            vec![NewMessage {
                flags: flag_bits::DRAFT | flag_bits::SEEN,
                keywords: Vec::new(),
                internal_date: now,
                content: message,
            }],
        )?;
        let uid = *uid
            .first()
            .ok_or_else(|| MailError::Invalid("the draft was not saved".into()))?;
        delete(b, &who, &old)?;
        Ok(format!("{drafts}/{uid}"))
    })
    .await
}

/// Removes the draft `F/U` (`""`: none) when it is in the account's Drafts and still there.
pub fn delete(b: &impl Backend, me: &str, draft: &str) -> Result<(), MailError> {
    let Some((f, uid)) = message_ref(draft) else {
        return Ok(());
    };
    if f != folder(b, me)? || b.message_meta(f, uid)?.is_none() {
        return Ok(());
    }
    b.store_flags(f, &[uid], FlagOp::Add, flag_bits::DELETED, &[], None)?;
    b.expunge(f, &[uid])?;
    Ok(())
}
