//! Sender authorization: which addresses an authenticated user may send as. The one place
//! this rule lives; the SMTP session asks it at MAIL FROM, the enqueue step asks it for the
//! From: and Sender: header fields, and the DKIM signer asks it before using a domain's key.
//!
//! # The rule
//!
//! An authenticated `account` may use `address` when any of these holds:
//!
//! 1. the account is a server administrator (`account add --admin`): any address;
//! 2. `address` is the account's own address or one of its `+tag` forms;
//! 3. `address` is an alias (or its `+tag` form) that delivers to the account, directly or
//!    through other aliases ("one of its addresses", as recipient resolution sees it);
//! 4. the account administers `address`'s domain (`domainadmin add`);
//! 5. `address`, its `+tag` base, or its whole domain (`@domain`) is on the account's
//!    "may send as" list (`sendas add`).
//!
//! Anything else is refused with 550 5.7.1 and a reason naming the account.
//!
//! # Choices
//!
//! - The null reverse-path `MAIL FROM:<>` is allowed: clients send delivery and read
//!   reports with it (RFC 5321 §4.5.5), and it claims no address. The message's From: is
//!   still checked, so `<>` is no way around the rule.
//! - Every address of every From: field must be allowed (a message with two From: fields
//!   or a From: with several mailboxes claims all of them); so must the Sender: field's when
//!   present. A message without From: claims nothing and passes (the account's own domain
//!   key signs it).
//! - Entries without an address (a display name only, an empty group) claim no domain and
//!   are ignored.
//! - Unauthenticated mail (port 25 from other servers) is not subject to this rule; it is
//!   judged by SPF, DKIM and DMARC instead.

use crate::storage::{Destination, SenderRights, StorageError, Store};

/// The answer for one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// The reason, for the 550 5.7.1 reply and the log.
    Refused(String),
}

/// What the rule needs to know about an account and addresses; [`Store`] implements it.
pub trait SenderDirectory {
    /// The account's server-admin flag and sender rights; `None` when there is no account.
    fn identity(&self, account: &str) -> Result<Option<(bool, SenderRights)>, StorageError>;
    /// Whether mail to `address` is delivered to `account` (own address, `+tag`, aliases).
    fn delivers_to(&self, address: &str, account: &str) -> Result<bool, StorageError>;
}

impl SenderDirectory for Store {
    fn identity(&self, account: &str) -> Result<Option<(bool, SenderRights)>, StorageError> {
        let Some(acc) = self.get_account(account)? else {
            return Ok(None);
        };
        Ok(Some((acc.admin, self.sender_rights(&acc.address)?)))
    }

    fn delivers_to(&self, address: &str, account: &str) -> Result<bool, StorageError> {
        let account = Destination::Local(account.to_lowercase());
        match self.resolve_recipient(address) {
            Ok(dests) => Ok(dests.contains(&account)),
            // Not an address storage could hold: it reaches nobody.
            Err(StorageError::Invalid(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Whether `account` may use `address` (a reverse-path without `<>`, or a header address).
pub fn may_send_as(
    dir: &dyn SenderDirectory,
    account: &str,
    address: &str,
) -> Result<Verdict, StorageError> {
    if address.is_empty() {
        return Ok(Verdict::Allowed);
    }
    let refused = || {
        Verdict::Refused(format!(
            "<{address}>: Sender address rejected: not owned by user {account}"
        ))
    };
    let Some((admin, rights)) = dir.identity(account)? else {
        return Ok(refused());
    };
    if admin {
        return Ok(Verdict::Allowed);
    }
    // Quoted local parts, address literals and the like are nobody's address here.
    let Some((local, domain)) = normalize(address) else {
        return Ok(refused());
    };
    let base = local
        .split_once('+')
        .map(|(b, _)| b)
        .filter(|b| !b.is_empty());
    let listed = |entry: &str| rights.send_as.iter().any(|e| e == entry);
    let allowed = rights.domains.contains(&domain)
        || listed(&format!("@{domain}"))
        || listed(&format!("{local}@{domain}"))
        || base.is_some_and(|b| listed(&format!("{b}@{domain}")))
        || dir.delivers_to(&format!("{local}@{domain}"), account)?;
    Ok(if allowed { Verdict::Allowed } else { refused() })
}

/// Checks the From: and Sender: addresses of a submitted message (see the module's
/// choices); the first refused address decides.
pub fn check_message(
    dir: &dyn SenderDirectory,
    account: &str,
    message: &[u8],
) -> Result<Verdict, StorageError> {
    for address in header_senders(message) {
        if let Verdict::Refused(reason) = may_send_as(dir, account, &address)? {
            return Ok(Verdict::Refused(format!("header From/Sender {reason}")));
        }
    }
    Ok(Verdict::Allowed)
}

/// Every address in every From: and Sender: field, in order.
pub fn header_senders(message: &[u8]) -> Vec<String> {
    use mail_parser::{HeaderName, HeaderValue};
    let Some(parsed) = mail_parser::MessageParser::new().parse_headers(message) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for header in parsed.headers() {
        if !matches!(header.name, HeaderName::From | HeaderName::Sender) {
            continue;
        }
        if let HeaderValue::Address(list) = &header.value {
            out.extend(list.iter().filter_map(|a| a.address()).map(String::from));
        }
    }
    out
}

/// `(local, domain)` lowercased, the domain without a trailing dot; `None` when `address`
/// is not a plain `local@domain` (quoted local part, address literal, no `@`).
fn normalize(address: &str) -> Option<(String, String)> {
    let (local, domain) = address.rsplit_once('@')?;
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let plain = |s: &str| !s.is_empty() && !s.contains(['"', '[', ']', '\\', ' ']);
    (plain(local) && plain(domain)).then(|| (local.to_lowercase(), domain.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let (dir, store) = crate::storage::testutil::store();
        for d in ["a.example", "b.example", "c.example"] {
            store.add_domain(d).unwrap();
        }
        for (acc, admin) in [
            ("bob@a.example", false),
            ("carol@a.example", false),
            ("dave@b.example", false),
            ("root@c.example", true),
        ] {
            store.add_account(acc, "pw", admin).unwrap();
        }
        store
            .add_alias("info@a.example", "sales@a.example")
            .unwrap();
        store.add_alias("sales@a.example", "bob@a.example").unwrap();
        store
            .add_alias("team@a.example", "carol@a.example")
            .unwrap();
        (dir, store)
    }

    fn allowed(store: &Store, account: &str, address: &str) -> bool {
        match may_send_as(store, account, address).unwrap() {
            Verdict::Allowed => true,
            Verdict::Refused(reason) => {
                assert!(reason.contains(account), "{reason}");
                assert!(reason.contains(address), "{reason}");
                false
            }
        }
    }

    #[test]
    fn own_addresses_aliases_and_tags() {
        let (_d, s) = store();
        assert!(allowed(&s, "bob@a.example", "bob@a.example"));
        assert!(allowed(&s, "bob@a.example", "Bob@A.Example."));
        assert!(allowed(&s, "bob@a.example", "bob+lists@a.example"));
        assert!(
            allowed(&s, "bob@a.example", "info@a.example"),
            "alias chain"
        );
        assert!(allowed(&s, "bob@a.example", "sales+x@a.example"));
        assert!(allowed(&s, "bob@a.example", ""), "null sender");
        assert!(!allowed(&s, "bob@a.example", "carol@a.example"));
        assert!(!allowed(&s, "bob@a.example", "team@a.example"));
        assert!(!allowed(&s, "bob@a.example", "dave@b.example"));
        assert!(!allowed(&s, "bob@a.example", "bob@b.example"));
        assert!(!allowed(&s, "bob@a.example", "someone@remote.example"));
        assert!(!allowed(&s, "bob@a.example", "\"bob\"@a.example"));
        assert!(!allowed(&s, "bob@a.example", "bob@[127.0.0.1]"));
        assert!(!allowed(&s, "nobody@a.example", "nobody@a.example"));
    }

    #[test]
    fn admins_domain_admins_and_the_send_as_list() {
        let (_d, s) = store();
        assert!(allowed(&s, "root@c.example", "dave@b.example"));
        assert!(allowed(&s, "root@c.example", "anyone@remote.example"));

        s.add_domain_admin("carol@a.example", "b.example").unwrap();
        assert!(allowed(&s, "carol@a.example", "dave@b.example"));
        assert!(allowed(&s, "carol@a.example", "new@b.example"));
        assert!(!allowed(&s, "carol@a.example", "x@c.example"));

        s.add_send_as("dave@b.example", "bob@a.example").unwrap();
        s.add_send_as("dave@b.example", "@c.example").unwrap();
        assert!(allowed(&s, "dave@b.example", "bob@a.example"));
        assert!(allowed(&s, "dave@b.example", "bob+t@a.example"));
        assert!(allowed(&s, "dave@b.example", "anything@c.example"));
        assert!(!allowed(&s, "dave@b.example", "carol@a.example"));
    }

    #[test]
    fn every_from_and_sender_address_must_be_allowed() {
        let (_d, s) = store();
        let check = |msg: &str| check_message(&s, "bob@a.example", msg.as_bytes()).unwrap();
        let ok = "From: Bob <bob@a.example>\r\nSubject: x\r\n\r\nhi\r\n";
        assert_eq!(check(ok), Verdict::Allowed);
        assert_eq!(check("Subject: no from\r\n\r\nhi\r\n"), Verdict::Allowed);
        for bad in [
            "From: Carol <carol@a.example>\r\n\r\nhi\r\n",
            "From: bob@a.example, dave@b.example\r\n\r\nhi\r\n",
            "From: bob@a.example\r\nFrom: dave@b.example\r\n\r\nhi\r\n",
            "From: bob@a.example\r\nSender: dave@b.example\r\n\r\nhi\r\n",
            "From: Friends: dave@b.example;\r\n\r\nhi\r\n",
        ] {
            match check(bad) {
                Verdict::Refused(reason) => assert!(
                    reason.contains("b.example") || reason.contains("carol"),
                    "{reason}"
                ),
                Verdict::Allowed => panic!("allowed: {bad}"),
            }
        }
        assert_eq!(
            header_senders(b"From: a@x.example, b@y.example\r\nSender: c@z.example\r\n\r\n"),
            ["a@x.example", "b@y.example", "c@z.example"]
        );
    }
}
