//! Object identifiers (RFC 8474 OBJECTID): MAILBOXID, EMAILID and THREADID.
//!
//! Every id is derived from what storage already keeps, so none needs a record of its own
//! and every message or folder written before this module existed has one too:
//!
//! - **MAILBOXID** `F<folder id>-<uidvalidity>` (hex). The folder id is handed out once by
//!   storage's id generator and survives RENAME (which moves the name, not the record); the
//!   UIDVALIDITY comes from a server-wide counter that never repeats. A `\Noselect`
//!   placeholder revived by CREATE keeps its record but gets a fresh UIDVALIDITY, so the new
//!   mailbox has a new MAILBOXID as RFC 8474 §4 requires ("a new mailbox with the same name
//!   MUST get a new id"). RENAME INBOX makes a new folder with a new id; INBOX keeps its own.
//! - **EMAILID** `M<first 128 bits of the sha256 of the message>` (hex). Bodies are stored
//!   under the sha256 of their bytes (`storage::BlobId`), and COPY and MOVE share the blob,
//!   so the id follows the message everywhere and cannot change: messages are immutable.
//!   Two messages with identical bytes get the same EMAILID, which is what RFC 8474 §5.1's
//!   "identifier for identical messages" describes.
//! - **THREADID** `T<first 128 bits of the sha256 of the thread's root msg-id>`. The root
//!   is the first msg-id of `References:`, else the first of `In-Reply-To:`, else the
//!   message's own `Message-ID:`. This is the root THREAD=REFERENCES (RFC 5256 §4) finds
//!   when the headers are complete; it is computed per message so that it is the same in
//!   every mailbox and never changes when other messages arrive or go. Deviations from
//!   THREAD=REFERENCES: no merging by subject, and a reply that has only `In-Reply-To`
//!   naming a non-root message starts its own id. A message with none of the three headers
//!   is a thread of its own: `T` + its EMAILID's digits.
//!
//! All ids use only lower-case hex after an upper-case letter, so they never start with a
//! digit or dash, never differ only by case and never read "NIL" (RFC 8474 §8.1).

use sha2::{Digest, Sha256};

use super::backend::{Backend, BackendError, FolderInfo, FolderRef};
use super::message::ParsedMessage;
use super::sort::msg_ids;
use super::types::FetchAttr;

/// Hex digits of a digest kept in an id (128 bits: collisions are not a concern).
const DIGEST_HEX: usize = 32;

/// `objectid = 1*255(ALPHA / DIGIT / "_" / "-")` (RFC 8474 §7).
pub fn is_objectid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The MAILBOXID of a folder.
pub fn mailbox_id(folder: &FolderInfo) -> String {
    format!("F{:x}-{:x}", folder.id, folder.uidvalidity)
}

/// The EMAILID of a message whose bytes have sha256 `digest` (storage's blob id).
pub fn email_id_from_digest(digest: &[u8; 32]) -> String {
    let mut id = String::from("M");
    id.push_str(&hex::encode(digest)[..DIGEST_HEX]);
    id
}

/// The EMAILID of a message with these bytes.
pub fn email_id_of_content(content: &[u8]) -> String {
    email_id_from_digest(&Sha256::digest(content).into())
}

/// The msg-id naming the thread of a message with this header, if it has any.
fn thread_root(msg: &ParsedMessage<'_>) -> Option<String> {
    let first_id = |name: &str| {
        msg.header(name)
            .first()
            .and_then(|v| msg_ids(&String::from_utf8_lossy(v)).into_iter().next())
    };
    first_id("references")
        .or_else(|| first_id("in-reply-to"))
        .or_else(|| first_id("message-id"))
}

/// The THREADID of a message with this header and EMAILID.
pub fn thread_id(msg: &ParsedMessage<'_>, email_id: &str) -> String {
    match thread_root(msg) {
        Some(root) => {
            let digest = Sha256::digest(root.as_bytes());
            format!("T{}", &hex::encode(digest)[..DIGEST_HEX])
        }
        None => format!("T{}", email_id.trim_start_matches('M')),
    }
}

// --- what the session answers with these ids ---------------------------------------------

/// The EMAILID a FETCH needs (for EMAILID, or THREADID of a message without msg-ids), looked
/// up once per message; `None` when no item asks for it.
pub(super) fn fetch_email_id(
    attrs: &[FetchAttr],
    backend: &dyn Backend,
    folder: FolderRef,
    uid: u32,
) -> Result<Option<String>, BackendError> {
    if attrs
        .iter()
        .any(|a| matches!(a, FetchAttr::EmailId | FetchAttr::ThreadId))
    {
        backend.email_id(folder, uid).map(Some)
    } else {
        Ok(None)
    }
}

/// `"EMAILID" SP "(" objectid ")"` or `"THREADID" SP ( "(" objectid ")" / nil )`
/// (RFC 8474 §7). THREADID is NIL only if the header could not be read.
pub(super) fn fetch_item(
    item: &mut Vec<u8>,
    attr: &FetchAttr,
    email_id: Option<&str>,
    parsed: Option<&ParsedMessage<'_>>,
) {
    let (name, id) = match attr {
        FetchAttr::EmailId => ("EMAILID", email_id.map(str::to_string)),
        _ => (
            "THREADID",
            parsed.zip(email_id).map(|(p, e)| thread_id(p, e)),
        ),
    };
    item.extend_from_slice(name.as_bytes());
    match id {
        Some(id) => item.extend_from_slice(format!(" ({id})").as_bytes()),
        None => item.extend_from_slice(b" NIL"),
    }
}

/// SEARCH EMAILID (RFC 8474 §6): ids are case-sensitive.
pub(super) fn search_email_id(
    backend: &dyn Backend,
    folder: FolderRef,
    uid: u32,
    wanted: &str,
) -> bool {
    backend.email_id(folder, uid).is_ok_and(|id| id == wanted)
}

/// SEARCH THREADID (RFC 8474 §6) on a message whose header is `msg`.
pub(super) fn search_thread_id(
    backend: &dyn Backend,
    folder: FolderRef,
    uid: u32,
    msg: &ParsedMessage<'_>,
    wanted: &str,
) -> bool {
    // The EMAILID is needed only for a message without msg-ids; a wrong prefix cannot match.
    wanted.starts_with('T')
        && match thread_root(msg) {
            Some(_) => thread_id(msg, "") == wanted,
            None => backend
                .email_id(folder, uid)
                .is_ok_and(|e| thread_id(msg, &e) == wanted),
        }
}

#[cfg(test)]
mod tests {
    use super::super::message;
    use super::*;

    fn tid(header: &str) -> String {
        let m = message::parse(header.as_bytes());
        thread_id(&m, &email_id_of_content(header.as_bytes()))
    }

    fn folder(id: u64, owner: &str, name: &str, uidvalidity: u32) -> FolderInfo {
        FolderInfo {
            id,
            owner: owner.into(),
            name: name.into(),
            special_use: None,
            uidvalidity,
            uidnext: 1,
            highest_modseq: 1,
            exists: 0,
            unseen: 0,
            deleted: 0,
            size: 0,
            recent: 0,
            subscribed: true,
            noselect: false,
        }
    }

    #[test]
    fn ids_have_the_objectid_syntax() {
        let f = folder(42, "bob@example.com", "Work", 1_700_000_000);
        let ids = [
            mailbox_id(&f),
            email_id_of_content(b"Subject: x\r\n\r\nbody\r\n"),
            tid("Message-ID: <a@b>\r\n\r\n"),
            tid("Subject: no ids at all\r\n\r\n"),
        ];
        for id in &ids {
            assert!(is_objectid(id), "{id}");
            assert!(id.as_bytes()[0].is_ascii_uppercase(), "{id}");
            assert!(!id.eq_ignore_ascii_case("NIL"));
        }
        assert_eq!(mailbox_id(&f), "F2a-6553f100");
        assert!(!is_objectid(""));
        assert!(!is_objectid("a b"));
        assert!(!is_objectid(&"x".repeat(256)));
        assert!(is_objectid(&"x".repeat(255)));
    }

    #[test]
    fn a_new_uidvalidity_is_a_new_mailbox() {
        let mut f = folder(7, "", "a", 5);
        let before = mailbox_id(&f);
        f.name = "renamed".into();
        assert_eq!(mailbox_id(&f), before, "a rename keeps the id");
        f.uidvalidity = 6;
        assert_ne!(mailbox_id(&f), before);
    }

    #[test]
    fn email_id_is_the_content_digest() {
        let a = email_id_of_content(b"one");
        assert_eq!(a, email_id_of_content(b"one"));
        assert_ne!(a, email_id_of_content(b"two"));
        let digest: [u8; 32] = Sha256::digest(b"one").into();
        assert_eq!(email_id_from_digest(&digest), a);
        assert_eq!(a.len(), 1 + DIGEST_HEX);
    }

    #[test]
    fn replies_share_the_root_thread() {
        let root = tid("Message-ID: <m1@example.com>\r\nSubject: Hi\r\n\r\n");
        let reply = tid(
            "Message-ID: <m2@example.com>\r\nIn-Reply-To: <m1@example.com>\r\n\
             References: <m1@example.com>\r\n\r\n",
        );
        let deeper = tid(
            "Message-ID: <m3@example.com>\r\nIn-Reply-To: <m2@example.com>\r\n\
             References: <m1@example.com> <m2@example.com>\r\n\r\n",
        );
        let only_irt = tid("Message-ID: <m4@x>\r\nIn-Reply-To: <m1@example.com>\r\n\r\n");
        let other = tid("Message-ID: <z@example.com>\r\n\r\n");
        assert_eq!(root, reply);
        assert_eq!(root, deeper);
        assert_eq!(root, only_irt);
        assert_ne!(root, other);
        // Folded and spaced ids compare as the same msg-id.
        assert_eq!(
            root,
            tid("References: <m1@\r\n example.com>\r\nMessage-ID: <q@q>\r\n\r\n")
        );
    }

    #[test]
    fn a_message_without_ids_is_its_own_thread() {
        let a = tid("Subject: one\r\n\r\n");
        let b = tid("Subject: two\r\n\r\n");
        assert_ne!(a, b);
        let raw = "Subject: one\r\n\r\n";
        assert_eq!(a, format!("T{}", &email_id_of_content(raw.as_bytes())[1..]));
    }
}
