//! Sending a compose, or saving it as a draft: the message built with mail-builder (MIME structure, transfer
//! encodings, RFC 2047 for non-ASCII headers), then handed to the same submission pipeline
//! an SMTP AUTH client's message goes through (`actors::smtp_session::enqueue`): the
//! From:/Sender: check of `delivery::accept::check_header_senders`, the Received field, DKIM
//! signing as the account, the inbound queue's durable commit, and from there the same
//! routing. The form answers "sent" only after that commit, as SMTP's 250.
//!
//! Implementation notes:
//!
//! - The envelope is what a submission client logged in as the account would give: MAIL FROM
//!   the From: address (refused unless `mailauth::sender::may_send_as` allows it, as MAIL
//!   FROM is), RCPT TO each To/Cc/Bcc address once (an unknown local address refused, as
//!   RCPT is), REQUIRETLS when "Send securely" is ticked (RFC 8689 §4.1: the MAIL FROM
//!   parameter), SMTPUTF8 when an address needs it (RFC 6531).
//! - Limits are `[smtp]`'s: `max_message_size` for the built message, `max_recipients`.
//! - Once queued: a copy (with Bcc) into the account's Sent (special-use \Sent) through its
//!   folder actor, \Answered or `$Forwarded` on the original, the compose's draft expunged,
//!   its uploads removed, the recipients remembered. A failure there is logged, not shown
//!   as a send failure: the message is on its way, and sending again would send it twice.
//!
//! Drafts (the second half of this file): a compose saved into the account's Drafts folder (special-use \Drafts, RFC
//! 6154), flagged \Draft and \Seen, through the folder's actor like an IMAP APPEND.
//!
//! Saving again replaces the compose's previous draft: the new one is appended first, then
//! the old UID expunged, so a failure in between leaves two drafts, never none. Sending or
//! discarding the compose removes its draft.

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart};
use mail_builder::MessageBuilder;

use super::compose_form::{
    message_ref, page, parse_addresses, remember, Addr, Form, ORIGIN_HEADER,
};
use super::compose_rich;
use super::uploads::{self, Upload};
use super::{call, MailError};
use crate::actors::smtp_session;
use crate::http::dashboard::{redirect, Ctx};
use crate::mailauth::sender::{may_send_as, Verdict};
use crate::protocols::imap::backend::{flag_bits, Backend, FlagOp, FolderRef, NewMessage};
use crate::protocols::smtp::{BodyType, EnqueueError, Envelope, PeerInfo, Recipient, Service};
use crate::storage::RecipientKind;

/// The keyword a forwarded message gets (the IANA IMAP keyword registry).
pub const FORWARDED: &str = "$Forwarded";

/// A built message and its parsed addresses.
pub struct Built {
    pub message: Vec<u8>,
    pub from: Option<Addr>,
    /// To, Cc and Bcc, each address once.
    pub recipients: Vec<String>,
}

fn list(addrs: &[Addr]) -> Address<'static> {
    Address::new_list(
        addrs
            .iter()
            .map(|a| Address::new_address(a.name.clone(), a.address.clone()))
            .collect(),
    )
}

/// The message for `form`: with `draft`, addresses the grammar refuses are kept as typed
/// (a draft is unfinished) and Bcc and the origin are written; else they are errors and
/// Bcc is left out (RFC 5322 §3.6.3: the recipients do not see it).
pub fn build(
    form: &Form,
    attachments: &[(Upload, Vec<u8>)],
    now: i64,
    hostname: &str,
    draft: bool,
) -> Result<Built, MailError> {
    let field = |text: &str, label: &str| match parse_addresses(text, label) {
        Ok(a) => Ok(Some(a)),
        Err(_) if draft => Ok(None),
        Err(e) => Err(e),
    };
    let from = field(&form.from, "From")?;
    let (to, cc, bcc) = (
        field(&form.to, "To")?,
        field(&form.cc, "Cc")?,
        field(&form.bcc, "Bcc")?,
    );
    let mut m = MessageBuilder::new()
        .date(now)
        .message_id(MessageId::new(format!(
            "{}@{hostname}",
            hex::encode(rand::random::<[u8; 12]>())
        )))
        .subject(form.subject.clone());
    let raw_or =
        |m: MessageBuilder<'static>, name: &'static str, parsed: &Option<Vec<Addr>>, text: &str| {
            match parsed {
                Some(a) if !a.is_empty() => m.header(name, list(a)),
                Some(_) => m,
                None => m.header(
                    name,
                    mail_builder::headers::text::Text::new(text.to_string()),
                ),
            }
        };
    m = raw_or(m, "From", &from, &form.from);
    m = raw_or(m, "To", &to, &form.to);
    m = raw_or(m, "Cc", &cc, &form.cc);
    if draft {
        m = raw_or(m, "Bcc", &bcc, &form.bcc);
        if !form.origin.is_empty() {
            m = m.header(ORIGIN_HEADER, Raw::new(one_line(&form.origin)));
        }
    }
    let ids = |s: &str| -> Vec<String> {
        s.split_whitespace()
            .map(|i| i.trim_start_matches('<').trim_end_matches('>').to_string())
            .filter(|i| !i.is_empty())
            .collect()
    };
    let reply = ids(&form.in_reply_to);
    if !reply.is_empty() {
        m = m.in_reply_to(MessageId::new_list(reply.into_iter()));
    }
    let refs = ids(&form.references);
    if !refs.is_empty() {
        m = m.references(MessageId::new_list(refs.into_iter()));
    }
    let text = body_part(form)?;
    m = if attachments.is_empty() {
        m.body(text)
    } else {
        let mut parts = vec![text];
        for (u, bytes) in attachments {
            let mut p = MimePart::new(
                u.content_type.clone(),
                BodyPart::Binary(bytes.clone().into()),
            )
            .attachment(u.name.clone());
            // RFC 2046 §5.2.1: a message/rfc822 part is 7bit or 8bit, never base64.
            if u.content_type == "message/rfc822" {
                p = p.transfer_encoding(if bytes.is_ascii() { "7bit" } else { "8bit" });
            }
            parts.push(p);
        }
        m.body(MimePart::new("multipart/mixed", BodyPart::Multipart(parts)))
    };
    let message = m.write_to_vec().map_err(|e| {
        tracing::error!("webmail: message not built: {e}");
        MailError::Unavailable
    })?;
    let mut recipients: Vec<String> = Vec::new();
    for a in [&to, &cc, &bcc].into_iter().flatten().flatten() {
        if !recipients
            .iter()
            .any(|r| r.eq_ignore_ascii_case(&a.address))
        {
            recipients.push(a.address.clone());
        }
    }
    let from = from.and_then(|f| f.into_iter().next());
    Ok(Built {
        message,
        from,
        recipients,
    })
}

/// The message's text: the textarea as text/plain, or in rich mode the sanitised HTML
/// with its derived text as multipart/alternative ([`super::compose_rich`]).
fn body_part(form: &Form) -> Result<MimePart<'static>, MailError> {
    let text = |t: String| {
        MimePart::new(
            ContentType::new("text/plain").attribute("charset", "utf-8"),
            BodyPart::Text(t.into()),
        )
    };
    if !form.rich {
        return Ok(text(form.body.clone()));
    }
    if form.html.len() > compose_rich::MAX_HTML {
        return Err(MailError::Invalid(format!(
            "the message text is over {}",
            super::rows::format_size(compose_rich::MAX_HTML as u64)
        )));
    }
    let clean = compose_rich::sanitize(&form.html);
    let plain = compose_rich::to_text(&clean);
    let html = MimePart::new(
        ContentType::new("text/html").attribute("charset", "utf-8"),
        BodyPart::Text(clean.into()),
    );
    // RFC 2046 §5.1.4: the richest alternative last.
    Ok(MimePart::new(
        "multipart/alternative",
        BodyPart::Multipart(vec![text(plain), html]),
    ))
}

fn one_line(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// Why a message was not sent, as the form shows it.
fn refusal(e: EnqueueError) -> MailError {
    match e {
        EnqueueError::SenderRefused(r) => {
            MailError::Invalid(format!("you may not send as this From: address ({r})"))
        }
        EnqueueError::Rejected(r) | EnqueueError::PolicyRejected(r) => {
            MailError::Invalid(format!("the message was refused: {r}"))
        }
        EnqueueError::InsufficientStorage | EnqueueError::Temporary(_) => {
            tracing::warn!("webmail: not queued: {e}");
            MailError::Invalid("the mail queue cannot take the message now; try again later".into())
        }
    }
}

/// Reads the compose's attachments.
fn read_all(dir: &std::path::Path) -> Result<Vec<(Upload, Vec<u8>)>, MailError> {
    uploads::list(dir)?
        .into_iter()
        .map(|u| Ok((u.clone(), uploads::read(dir, u.n)?)))
        .collect()
}

/// `action=send` of `POST /compose` (module comment). Errors show the form again.
pub async fn send(
    ctx: &Ctx,
    req: &HttpRequest,
    me: &str,
    form: Form,
    dir: PathBuf,
) -> Result<HttpResponse, MailError> {
    match submit(ctx, req, me, &form, &dir).await {
        Ok(()) => Ok(redirect("/compose?sent=1")),
        Err(e @ (MailError::Invalid(_) | MailError::Unavailable | MailError::Forbidden(_))) => {
            page(ctx, req, me, form, e.to_string(), String::new()).await
        }
        Err(e) => Err(e),
    }
}

async fn submit(
    ctx: &Ctx,
    req: &HttpRequest,
    me: &str,
    form: &Form,
    dir: &std::path::Path,
) -> Result<(), MailError> {
    let config = ctx.config();
    let cap = config.smtp.max_message_size;
    let now = ctx.clock.now();
    let (form2, dir2, host) = (form.clone(), dir.to_path_buf(), config.hostname.clone());
    let (built, copy) = web::block(move || {
        let attachments = read_all(&dir2)?;
        if attachments.iter().map(|(u, _)| u.size).sum::<u64>() > cap {
            return Err(uploads::too_big(cap));
        }
        let built = build(&form2, &attachments, now, &host, false)?;
        let copy = build(&form2, &attachments, now, &host, true)?;
        Ok((built, copy.message))
    })
    .await
    .map_err(|_| MailError::Unavailable)??;
    let from = built
        .from
        .clone()
        .ok_or_else(|| MailError::Invalid("From: one address is needed".into()))?;
    if parse_addresses(&form.from, "From")?.len() != 1 {
        return Err(MailError::Invalid("From: one address only".into()));
    }
    if built.recipients.is_empty() {
        return Err(MailError::Invalid("add at least one recipient".into()));
    }
    if built.recipients.len() > config.smtp.max_recipients {
        return Err(MailError::Invalid(format!(
            "at most {} recipients",
            config.smtp.max_recipients
        )));
    }
    if built.message.len() as u64 > cap {
        return Err(MailError::Invalid(format!(
            "the message is {}, over this server's limit of {}",
            super::rows::format_size(built.message.len() as u64),
            super::rows::format_size(cap)
        )));
    }
    if !ctx.queues_ready() {
        return Err(MailError::Invalid(
            "the mail queue cannot take the message now; try again later".into(),
        ));
    }
    // MAIL FROM and RCPT TO, as the SMTP session checks them.
    let (sctx, who, rcpts, mail_from) = (
        Arc::clone(ctx.get_ref()),
        me.to_string(),
        built.recipients.clone(),
        from.address.clone(),
    );
    web::block(move || envelope_checks(&sctx, &who, &mail_from, &rcpts))
        .await
        .map_err(|_| MailError::Unavailable)??;
    let tls = req.connection_info().scheme() == "https";
    let peer = req
        .peer_addr()
        .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    let env = envelope(
        me,
        &from.address,
        &built.recipients,
        built.message,
        form.requiretls,
        tls,
        PeerInfo {
            ip: peer.ip(),
            port: peer.port(),
            session_id: ctx.new_session_id(),
        },
    );
    smtp_session::enqueue(ctx.get_ref(), env, Service::Submission, tls)
        .await
        .map_err(refusal)?;
    after_send(ctx, me, form, copy, built.recipients, now).await;
    let dir = dir.to_path_buf();
    let _ = web::block(move || uploads::discard(&dir)).await;
    Ok(())
}

/// The envelope a submission client logged in as `me` would give for this message
/// (module comment): REQUIRETLS as the MAIL FROM parameter, SMTPUTF8 when an address
/// needs it.
pub(super) fn envelope(
    me: &str,
    mail_from: &str,
    recipients: &[String],
    body: Vec<u8>,
    requiretls: bool,
    tls: bool,
    peer: PeerInfo,
) -> Envelope {
    let smtputf8 = !mail_from.is_ascii() || recipients.iter().any(|r| !r.is_ascii());
    Envelope {
        mail_from: mail_from.to_string(),
        recipients: recipients
            .iter()
            .map(|r| Recipient {
                address: r.clone(),
                notify: None,
                orcpt: None,
            })
            .collect(),
        body,
        size_declared: None,
        body_type: BodyType::EightBitMime,
        smtputf8,
        ret: None,
        envid: None,
        requiretls,
        auth_as: Some(me.to_string()),
        helo: "webmail".into(),
        tls,
        peer,
        protocol: if tls { "ESMTPSA" } else { "ESMTPA" },
    }
}

/// The SMTP session's MAIL FROM and RCPT TO checks for the envelope.
fn envelope_checks(
    sctx: &crate::actors::ServerContext,
    me: &str,
    mail_from: &str,
    rcpts: &[String],
) -> Result<(), MailError> {
    let store = &sctx.store;
    let temp = |e: crate::storage::StorageError| {
        tracing::error!("webmail: address lookup failed: {e}");
        MailError::Unavailable
    };
    match may_send_as(store, me, mail_from).map_err(temp)? {
        Verdict::Allowed => {}
        Verdict::Refused(r) => {
            return Err(MailError::Invalid(format!(
                "you may not send as {mail_from} ({r})"
            )))
        }
    }
    for r in rcpts {
        match store.check_recipient(r) {
            Ok(RecipientKind::UnknownLocal) | Err(crate::storage::StorageError::Invalid(_)) => {
                return Err(MailError::Invalid(format!("{r}: no such mailbox here")))
            }
            Ok(_) => {}
            Err(e) => return Err(temp(e)),
        }
    }
    Ok(())
}

/// What follows a queued message (module comment); failures are logged.
async fn after_send(
    ctx: &Ctx,
    me: &str,
    form: &Form,
    copy: Vec<u8>,
    recipients: Vec<String>,
    now: i64,
) {
    let (who, form) = (me.to_string(), form.clone());
    let done = call(ctx, move |b| {
        let sent = special(b, &who, "\\Sent", "Sent")?;
        b.append(
            sent,
            vec![NewMessage {
                flags: flag_bits::SEEN,
                keywords: Vec::new(),
                internal_date: now,
                content: copy,
            }],
        )?;
        mark_original(b, &who, &form.origin)?;
        delete_draft(b, &who, &form.draft)?;
        remember(b, &who, &recipients)?;
        Ok(())
    })
    .await;
    if let Err(e) = done {
        tracing::warn!("webmail: sent, but not filed: {e}");
    }
}

/// \Answered on a replied message, `$Forwarded` on a forwarded one, when the account may
/// set them there (RFC 4314 `w`).
fn mark_original(b: &impl Backend, me: &str, origin: &str) -> Result<(), MailError> {
    let Some((kind, at)) = origin.split_once(' ') else {
        return Ok(());
    };
    let Some((folder, uid)) = message_ref(at) else {
        return Ok(());
    };
    let Ok((_, rights)) = super::readable(b, me, folder) else {
        return Ok(());
    };
    if !rights.contains('w') || b.message_meta(folder, uid)?.is_none() {
        return Ok(());
    }
    match kind {
        "reply" => {
            b.store_flags(folder, &[uid], FlagOp::Add, flag_bits::ANSWERED, &[], None)?;
        }
        "forward" => {
            b.store_flags(
                folder,
                &[uid],
                FlagOp::Add,
                0,
                &[FORWARDED.to_string()],
                None,
            )?;
        }
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------- drafts

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
        delete_draft(b, &who, &old)?;
        Ok(format!("{drafts}/{uid}"))
    })
    .await
}

/// Removes the draft `F/U` (`""`: none) when it is in the account's Drafts and still there.
pub fn delete_draft(b: &impl Backend, me: &str, draft: &str) -> Result<(), MailError> {
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
