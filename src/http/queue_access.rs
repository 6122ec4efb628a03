//! Who sees which queued message, how much of it, and who may change it: one rule for the
//! API (`api::queues`) and the dashboard (`dashboard::queues`, `dashboard::bulk`).
//!
//! - A full admin sees every record whole and may change it.
//! - A domain admin sees a record whole, and may change it, when its authenticated
//!   submitter (`auth_as`, set by the server after SMTP AUTH, not by the client's envelope)
//!   is an account in its domains: its users' outgoing mail, whose recipients are its own
//!   user's business.
//! - Otherwise a domain admin sees a record when at least one of its RECIPIENTS is in its domains (the
//!   address, or the address the client gave before an alias expanded it). The sender does
//!   not count: MAIL FROM is whatever the client said, so a forged sender must not open
//!   another domain's mail. Bounces are no exception: a DSN's recipient is the original
//!   sender, so a bounce to a user of the domain is the domain's. A record with no
//!   recipient at all (none is made so; a damaged one) is for full admins only.
//! - Of a record it sees, a domain admin is shown only its own recipients (and how many
//!   were left out), their entries of the delivery history, not the record's overall last
//!   error (it may name another domain's recipient) and not the header unless every
//!   recipient is its own.
//! - It may retry, bounce, move or delete a record only when every recipient is its own;
//!   otherwise the answer is 403 with [`partial_refusal`].
//! - Users see nothing.
//!
//! Lists decide on the record's head ([`QueueHead`], read without decoding the rest), and a
//! domain admin's lists read only the records indexed under its domains ([`view_domains`],
//! `storage::queue_index`, which indexes a record under the same domains this rule looks
//! at), so its page of a large queue reads its own records, not the whole queue.

use crate::http::auth::{Principal, Role};
use crate::storage::{QueueHead, QueueRecord};

/// How much of a record the caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Not at all: lists leave it out, a request for it is answered as if it did not exist.
    Hidden,
    /// Some recipients are the caller's, some are not: shown redacted, not changeable.
    Partial,
    /// Every recipient is the caller's (or the caller is a full admin).
    Full,
}

/// Whether the recipient `address` (given by the client as `original`) is the caller's.
pub fn recipient_is_theirs(p: &Principal, address: &str, original: &str) -> bool {
    p.may_address(address) || (!original.is_empty() && p.may_address(original))
}

/// The domains a caller's list is restricted to, for `storage::QueueView::domains`: a
/// domain admin's; `None` for a full admin (everything) and a user (nothing: its lists
/// are refused before they are read).
pub fn view_domains(p: &Principal) -> Option<&[String]> {
    match &p.role {
        Role::DomainAdmin(domains) => Some(domains),
        _ => None,
    }
}

/// The access to a record submitted by `auth_as` with these recipients (address,
/// original).
pub fn access_of<'a>(
    p: &Principal,
    auth_as: Option<&str>,
    recipients: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Access {
    if p.is_admin() {
        return Access::Full;
    }
    if !p.is_manager() {
        return Access::Hidden;
    }
    if auth_as.is_some_and(|a| a.contains('@') && p.may_address(a)) {
        return Access::Full;
    }
    let (mut mine, mut others) = (0usize, 0usize);
    for (address, original) in recipients {
        if recipient_is_theirs(p, address, original) {
            mine += 1;
        } else {
            others += 1;
        }
    }
    match (mine, others) {
        (0, _) => Access::Hidden,
        (_, 0) => Access::Full,
        _ => Access::Partial,
    }
}

pub fn access(p: &Principal, rec: &QueueRecord) -> Access {
    access_of(
        p,
        rec.auth_as.as_deref(),
        rec.recipients
            .iter()
            .map(|r| (r.address.as_str(), r.original.as_str())),
    )
}

pub fn head_access(p: &Principal, h: &QueueHead<'_>) -> Access {
    access_of(
        p,
        h.auth_as,
        h.recipients.iter().map(|r| (r.address, r.original)),
    )
}

/// The refusal of a change to a record the caller sees only in part.
pub fn partial_refusal(id: u64) -> String {
    format!(
        "queued message {id:016X} also has recipients outside your domains: only a server \
         administrator may retry, bounce, move or delete it"
    )
}

/// Whether the caller may change the record: `Err` with why not (hidden records are
/// reported as not found by the callers themselves).
pub fn may_change(p: &Principal, rec: &QueueRecord) -> Result<(), String> {
    match access(p, rec) {
        Access::Full => Ok(()),
        Access::Partial => Err(partial_refusal(rec.id)),
        Access::Hidden => Err(format!("no queued message {:016X}", rec.id)),
    }
}

/// The record as the caller may see it, and how many recipients were left out: for
/// [`Access::Partial`] only its own recipients, their history entries, and no overall
/// last error. `None` when it is hidden.
pub fn redacted(p: &Principal, mut rec: QueueRecord) -> Option<(QueueRecord, usize)> {
    match access(p, &rec) {
        Access::Hidden => None,
        Access::Full => Some((rec, 0)),
        Access::Partial => {
            let before = rec.recipients.len();
            rec.recipients
                .retain(|r| recipient_is_theirs(p, &r.address, &r.original));
            let hidden = before - rec.recipients.len();
            let kept: Vec<&str> = rec.recipients.iter().map(|r| r.address.as_str()).collect();
            let history = std::mem::take(&mut rec.history)
                .into_iter()
                .filter(|a| kept.contains(&a.recipient.as_str()))
                .collect();
            rec.history = history;
            rec.last_error = None;
            Some((rec, hidden))
        }
    }
}

/// Whether the dashboard's list filter `filter` (lowercase; "" for none) shows the record
/// to the caller: it is visible, and the filter is in its id (the end of it), its sender,
/// one of the recipients the caller may see, or its last error when the caller sees it
/// whole. Text of the hidden parts never matches, so a filter cannot probe them.
pub fn shown_in_list(p: &Principal, filter: &str, h: &QueueHead<'_>) -> bool {
    let access = head_access(p, h);
    if access == Access::Hidden {
        return false;
    }
    if filter.is_empty() {
        return true;
    }
    format!("{:016x}", h.id).ends_with(filter)
        || h.mail_from.to_lowercase().contains(filter)
        || h.recipients.iter().any(|r| {
            (access == Access::Full || recipient_is_theirs(p, r.address, r.original))
                && r.address.to_lowercase().contains(filter)
        })
        || (access == Access::Full
            && h.last_error
                .is_some_and(|e| e.to_lowercase().contains(filter)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::auth::{Role, Scope, Via};
    use crate::storage::{AttemptOutcome, BlobId, DeliveryAttempt, QueueRecipient};

    fn who(role: Role) -> Principal {
        Principal {
            address: "x@example.org".into(),
            role,
            scope: Scope::All,
            via: Via::Basic,
        }
    }

    fn rec(from: &str, to: &[&str]) -> QueueRecord {
        let mut r = QueueRecord::inbound(
            1,
            BlobId::of(b"x"),
            1,
            from.into(),
            to.iter().map(|a| QueueRecipient::new(a)).collect(),
            "test".into(),
            0,
        );
        r.last_error = Some("550 no such user other@other.test".into());
        for a in to {
            r.history.push(DeliveryAttempt {
                at: 0,
                attempt: 1,
                recipient: a.to_string(),
                host: None,
                status: "4.0.0".into(),
                text: format!("451 later for {a}"),
                outcome: AttemptOutcome::Deferred,
            });
        }
        r
    }

    #[test]
    fn the_recipients_decide_not_the_sender() {
        let dom = who(Role::DomainAdmin(vec!["example.org".into()]));
        // A forged sender of its domain does not open another domain's mail.
        assert_eq!(
            access(&dom, &rec("boss@example.org", &["a@other.test"])),
            Access::Hidden
        );
        assert_eq!(
            access(&dom, &rec("", &["a@EXAMPLE.org"])),
            Access::Full,
            "a bounce to its user"
        );
        assert_eq!(
            access(
                &dom,
                &rec("x@other.test", &["a@example.org", "b@other.test"])
            ),
            Access::Partial
        );
        assert_eq!(access(&dom, &rec("a@example.org", &[])), Access::Hidden);
        // An alias of its domain that expanded elsewhere is its own.
        let mut r = rec("x@other.test", &["b@other.test"]);
        r.recipients[0].original = "info@example.org".into();
        assert_eq!(access(&dom, &r), Access::Full);
        let admin = who(Role::Admin);
        assert_eq!(access(&admin, &rec("", &[])), Access::Full);
        assert_eq!(
            access(&who(Role::User), &rec("", &["x@example.org"])),
            Access::Hidden
        );
    }

    #[test]
    fn a_partial_record_shows_only_its_own_parts_and_cannot_be_changed() {
        let dom = who(Role::DomainAdmin(vec!["example.org".into()]));
        let r = rec(
            "x@other.test",
            &["a@example.org", "b@other.test", "c@third.test"],
        );
        assert!(may_change(&dom, &r)
            .unwrap_err()
            .contains("outside your domains"));
        let (shown, hidden) = redacted(&dom, r.clone()).unwrap();
        assert_eq!(hidden, 2);
        assert_eq!(shown.recipients.len(), 1);
        assert_eq!(shown.recipients[0].address, "a@example.org");
        assert_eq!(shown.last_error, None);
        assert_eq!(shown.history.len(), 1);
        assert_eq!(shown.history[0].recipient, "a@example.org");
        // The filter does not see the hidden recipients or the last error.
        let h = QueueHead::of(&r);
        assert!(shown_in_list(&dom, "", &h));
        assert!(shown_in_list(&dom, "a@example", &h));
        assert!(!shown_in_list(&dom, "b@other", &h));
        assert!(!shown_in_list(&dom, "no such user", &h));
        // A full admin sees and changes all of it.
        let admin = who(Role::Admin);
        assert!(may_change(&admin, &r).is_ok());
        assert_eq!(redacted(&admin, r.clone()).unwrap(), (r.clone(), 0));
        assert!(shown_in_list(&admin, "b@other", &h));
        assert!(shown_in_list(&admin, "no such user", &h));
        let own = rec("x@other.test", &["a@example.org"]);
        assert!(may_change(&dom, &own).is_ok());
    }

    /// Its users' outgoing mail is the domain's whole, recipients included; a submitter
    /// of another domain, or only a sender that claims its domain, opens nothing.
    #[test]
    fn its_users_outgoing_mail_is_its_own() {
        let dom = who(Role::DomainAdmin(vec!["example.org".into()]));
        let mut out = rec("u@example.org", &["a@other.test", "b@third.test"]);
        out.auth_as = Some("U@Example.ORG".into());
        assert_eq!(access(&dom, &out), Access::Full);
        assert!(may_change(&dom, &out).is_ok());
        let (shown, hidden) = redacted(&dom, out.clone()).unwrap();
        assert_eq!((shown.recipients.len(), hidden), (2, 0));
        assert!(shown.last_error.is_some());
        let h = QueueHead::of(&out);
        assert!(shown_in_list(&dom, "b@third", &h));
        assert!(shown_in_list(&dom, "no such user", &h));

        let mut foreign = rec("u@example.org", &["a@other.test"]);
        foreign.auth_as = Some("v@other.test".into());
        assert_eq!(access(&dom, &foreign), Access::Hidden);
        assert!(!shown_in_list(&dom, "", &QueueHead::of(&foreign)));
        // A bare name (no domain) is no account of its domains.
        foreign.auth_as = Some("example.org".into());
        assert_eq!(access(&dom, &foreign), Access::Hidden);
        let admin = who(Role::Admin);
        assert_eq!(view_domains(&admin), None);
        assert_eq!(view_domains(&dom), Some(&["example.org".to_string()][..]));
    }
}
