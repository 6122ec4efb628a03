//! Acting on many messages of a list at once: `POST /mail/{folder}/bulk`.
//!
//! The list's rows carry checkboxes (`name="uid"`, tied to the `bulk` form by the HTML
//! `form` attribute, so the form works without JavaScript; `mail-live.js` only adds
//! "select all on page"). The form says `action` = `seen`, `unseen`, `flag`, `unflag`,
//! `delete`, `move` or `copy` (with `target`, a folder id) and carries the CSRF field,
//! which `http::csrf` checks before this handler runs.
//!
//! Implementation notes:
//!
//! - Rights are those IMAP asks for the same commands (RFC 4314 §4): `r` to see the
//!   folder at all (else 404, as everywhere in the webmail), `s` for \Seen, `w` for
//!   \Flagged, `t` and `e` to delete or move away (RFC 6851 §3.3: MOVE needs the rights
//!   of COPY, STORE \Deleted and EXPUNGE), `i` on the target to copy or move into it.
//!   A refusal changes nothing: every right is checked before the first change.
//! - Every change goes through the folders' actors (the backend's `store_flags`,
//!   `copy`, `move_messages`, `expunge`, as IMAP's STORE, COPY, MOVE and EXPUNGE), so
//!   IMAP IDLE sessions and the live list (`live.rs`) hear of it.
//! - Delete moves to the caller's Trash; in the Trash it expunges, as the reader does.
//! - UIDs no longer in the folder (expunged elsewhere since the page was read) are
//!   skipped; none left is a 400.

use std::collections::HashSet;

use actix_web::{web, HttpRequest, HttpResponse};

use super::reader::{need, trash};
use super::{call, display_name, readable, to_login, user, MailError};
use crate::http::dashboard::{redirect, Ctx};
use crate::protocols::imap::backend::{flag_bits, Backend, FlagOp, FolderRef};

/// A folder the selection may be moved or copied to.
pub struct Target {
    pub id: FolderRef,
    /// As the tree names it (`Other Users/…` for shared ones).
    pub name: String,
}

/// What the form asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bulk {
    Seen(bool),
    Flagged(bool),
    Delete,
    Move(FolderRef),
    Copy(FolderRef),
}

impl Bulk {
    fn parse(action: &str, target: &str) -> Result<Bulk, MailError> {
        let target = || {
            target
                .parse::<FolderRef>()
                .map_err(|_| MailError::Invalid("choose the folder to move or copy to".into()))
        };
        Ok(match action {
            "seen" => Bulk::Seen(true),
            "unseen" => Bulk::Seen(false),
            "flag" => Bulk::Flagged(true),
            "unflag" => Bulk::Flagged(false),
            "delete" => Bulk::Delete,
            "move" => Bulk::Move(target()?),
            "copy" => Bulk::Copy(target()?),
            _ => return Err(MailError::Invalid("unknown action".into())),
        })
    }
}

/// The folders other than `current` that `me` may insert into (`i`), own first, for the
/// form's select.
pub(super) fn targets(
    b: &impl Backend,
    me: &str,
    current: FolderRef,
) -> Result<Vec<Target>, MailError> {
    let mut own = b.folders(me)?;
    own.sort_by_key(|f| (f.name != "INBOX", f.name.to_lowercase()));
    let mut shared = b.shared_folders(me)?;
    shared.retain(|f| f.owner != me);
    shared.sort_by_key(|f| display_name(me, f).to_lowercase());
    let mut out = Vec::new();
    for f in own.into_iter().chain(shared) {
        if f.id == current || f.noselect || !b.rights(f.id, me)?.contains('i') {
            continue;
        }
        out.push(Target {
            id: f.id,
            name: display_name(me, &f),
        });
    }
    Ok(out)
}

/// The `uid` fields of the form, each once, in the order given (also for `snooze`).
pub(super) fn uids(body: &[u8]) -> Result<Vec<u32>, MailError> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (k, v) in form_urlencoded::parse(body) {
        if k != "uid" {
            continue;
        }
        let uid = v
            .parse::<u32>()
            .ok()
            .filter(|u| *u > 0)
            .ok_or_else(|| MailError::Invalid(format!("not a message: {v}")))?;
        if seen.insert(uid) {
            out.push(uid);
        }
    }
    Ok(out)
}

/// `POST /mail/{folder}/bulk`: the action on the checked messages, then back to the list.
pub async fn act(
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<FolderRef>,
    body: web::Bytes,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let folder = path.into_inner();
    let field = |name: &str| super::login::field(&body, name);
    let action = Bulk::parse(&field("action"), &field("target"))?;
    let uids = uids(&body)?;
    let page = field("page").parse::<usize>().unwrap_or(1).max(1);
    call(&ctx, move |b| apply(b, &me, folder, &uids, action)).await?;
    let back = super::list_query::back_tail(&field("list"));
    Ok(redirect(&format!("/mail/{folder}?page={page}{back}")))
}

/// Checks every right `action` needs, then makes the change (module notes).
fn apply(
    b: &impl Backend,
    me: &str,
    folder: FolderRef,
    asked: &[u32],
    action: Bulk,
) -> Result<(), MailError> {
    let (_, rights) = readable(b, me, folder)?;
    let present: HashSet<u32> = b.messages(folder)?.into_iter().map(|m| m.uid).collect();
    let uids: Vec<u32> = asked
        .iter()
        .copied()
        .filter(|u| present.contains(u))
        .collect();
    if uids.is_empty() {
        return Err(MailError::Invalid("select at least one message".into()));
    }
    let op = |on: bool| if on { FlagOp::Add } else { FlagOp::Remove };
    match action {
        Bulk::Seen(on) => {
            need(&rights, 's', "change \\Seen")?;
            b.store_flags(folder, &uids, op(on), flag_bits::SEEN, &[], None)?;
        }
        Bulk::Flagged(on) => {
            need(&rights, 'w', "flag messages")?;
            b.store_flags(folder, &uids, op(on), flag_bits::FLAGGED, &[], None)?;
        }
        Bulk::Delete => {
            need(&rights, 't', "delete messages")?;
            need(&rights, 'e', "delete messages")?;
            let trash = trash(b, me)?;
            if trash == folder {
                b.store_flags(folder, &uids, FlagOp::Add, flag_bits::DELETED, &[], None)?;
                b.expunge(folder, &uids)?;
            } else {
                b.move_messages(folder, &uids, trash)?;
            }
        }
        Bulk::Move(to) | Bulk::Copy(to) => {
            if to == folder {
                return Err(MailError::Invalid(
                    "the messages are already in this folder".into(),
                ));
            }
            if let Bulk::Move(_) = action {
                need(&rights, 't', "move messages away")?;
                need(&rights, 'e', "move messages away")?;
            }
            insertable(b, me, to)?;
            if let Bulk::Move(_) = action {
                b.move_messages(folder, &uids, to)?;
            } else {
                b.copy(folder, &uids, to)?;
            }
        }
    }
    Ok(())
}

/// The target folder when `me` may insert into it: a folder `me` cannot even look up is
/// 404 (its id tells nothing), one without `i` is 403.
fn insertable(b: &impl Backend, me: &str, to: FolderRef) -> Result<(), MailError> {
    let info = b.folder(to)?;
    let rights = b.rights(to, me)?;
    if info.noselect || !(rights.contains('l') || rights.contains('r')) {
        return Err(MailError::NotFound);
    }
    need(&rights, 'i', "add messages to the other folder")
}
