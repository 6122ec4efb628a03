//! NOTIFY (RFC 5465 §8 grammar). What the events mean for which mailboxes, and the rules
//! on their combinations (§3.1, §5), are the session's (`notify.rs`): they are answered
//! with BAD or `[BADEVENT]` there, not as syntax errors.

use super::super::types::{CommandBody, EventGroup, MailboxFilter, MailboxName, NotifyEvent};
use super::fetch::fetch_att;
use super::lexer::{PResult, P};

/// `notify = "NOTIFY" SP (notify-set / notify-none)`; `notify-none = "NONE"`;
/// `notify-set = "SET" [status-indicator] SP event-groups`; `status-indicator = SP
/// "STATUS"`; `event-groups = event-group *(SP event-group)`.
pub(super) fn notify(p: &mut P) -> PResult<CommandBody> {
    p.sp()?;
    match p.keyword("SET or NONE")?.as_str() {
        "NONE" => return Ok(CommandBody::Notify(None)),
        "SET" => {}
        other => return Err(format!("expected SET or NONE, not {other}")),
    }
    p.sp()?;
    let status = p.eat_keyword("STATUS");
    if status {
        p.sp()?;
    }
    let mut groups = vec![event_group(p)?];
    while p.more() {
        groups.push(event_group(p)?);
    }
    Ok(CommandBody::Notify(Some(super::super::types::NotifySet {
        status,
        groups,
    })))
}

/// `event-group = "(" filter-mailboxes SP events ")"`;
/// `events = ( "(" event *(SP event) ")" ) / "NONE"`.
fn event_group(p: &mut P) -> PResult<EventGroup> {
    p.open()?;
    let filter = filter(p)?;
    p.sp()?;
    let mut events = Vec::new();
    if !p.eat_keyword("NONE") {
        p.open()?;
        loop {
            events.push(event(p)?);
            if !p.more() {
                break;
            }
        }
        p.close()?;
    }
    p.close()?;
    Ok(EventGroup { filter, events })
}

/// `filter-mailboxes = "selected" / "selected-delayed" / "inboxes" / "personal" /
/// "subscribed" / ("subtree" SP one-or-more-mailbox) / ("mailboxes" SP
/// one-or-more-mailbox)`.
fn filter(p: &mut P) -> PResult<MailboxFilter> {
    Ok(match p.keyword("a mailbox filter")?.as_str() {
        "SELECTED" => MailboxFilter::Selected,
        "SELECTED-DELAYED" => MailboxFilter::SelectedDelayed,
        "INBOXES" => MailboxFilter::Inboxes,
        "PERSONAL" => MailboxFilter::Personal,
        "SUBSCRIBED" => MailboxFilter::Subscribed,
        "SUBTREE" => MailboxFilter::Subtree(mailboxes(p)?),
        "MAILBOXES" => MailboxFilter::Mailboxes(mailboxes(p)?),
        other => return Err(format!("unknown mailbox filter {other}")),
    })
}

/// `one-or-more-mailbox = mailbox / many-mailboxes`;
/// `many-mailboxes = "(" mailbox *(SP mailbox) ")"`.
fn mailboxes(p: &mut P) -> PResult<Vec<MailboxName>> {
    p.sp()?;
    if !p.eat(b'(') {
        return Ok(vec![p.mailbox()?]);
    }
    let mut names = Vec::new();
    loop {
        names.push(p.mailbox()?);
        if !p.more() {
            break;
        }
    }
    p.close()?;
    Ok(names)
}

/// `event = message-event / mailbox-event / user-event / event-ext`;
/// `message-event = ("MessageNew" [SP "(" fetch-att *(SP fetch-att) ")"]) /
/// "MessageExpunge" / "FlagChange" / "AnnotationChange"`; `event-ext = atom`.
fn event(p: &mut P) -> PResult<NotifyEvent> {
    Ok(match p.keyword("an event")?.as_str() {
        "MESSAGENEW" => {
            let mut attrs = Vec::new();
            if p.peek() == Some(b' ') && p.peek_at(1) == Some(b'(') {
                p.sp()?;
                p.open()?;
                loop {
                    attrs.push(fetch_att(p)?);
                    if !p.more() {
                        break;
                    }
                }
                p.close()?;
            }
            NotifyEvent::MessageNew(attrs)
        }
        "MESSAGEEXPUNGE" => NotifyEvent::MessageExpunge,
        "FLAGCHANGE" => NotifyEvent::FlagChange,
        "ANNOTATIONCHANGE" => NotifyEvent::AnnotationChange,
        "MAILBOXNAME" => NotifyEvent::MailboxName,
        "SUBSCRIPTIONCHANGE" => NotifyEvent::SubscriptionChange,
        "MAILBOXMETADATACHANGE" => NotifyEvent::MailboxMetadataChange,
        "SERVERMETADATACHANGE" => NotifyEvent::ServerMetadataChange,
        other => NotifyEvent::Other(other.to_string()),
    })
}
