//! WebDAV locks (RFC 4918 §6, §7) and the `If` header's evaluation (§10.4), kept in memory on this node: one table for the process, so that the `http`
//! and `https` listeners see the same locks. Locks do not survive a restart and are not
//! seen by other nodes of a cluster (a client then gets 412 on its next conditional
//! request and locks again). A lock lasts at most [`MAX_TIMEOUT`] seconds unless
//! refreshed. The LOCK and UNLOCK methods are in `lockreq`.

use std::sync::Mutex;
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::HttpRequest;

use super::{header_str, target_of, DavError, Target};
use crate::protocols::webdav::headers::{self, Condition};
use crate::protocols::webdav::request::LockScope;
use crate::storage::davfiles::is_within;

/// The longest lock granted, in seconds (a client asking for more or for Infinite gets
/// this).
pub const MAX_TIMEOUT: u64 = 3600;

/// At most this many locks per account: each is a few hundred bytes of memory.
pub(crate) const MAX_PER_ACCOUNT: usize = 1000;

/// At most this many of them taken by one principal other than the account (a sharee),
/// so that no sharee can use up the owner's [`MAX_PER_ACCOUNT`].
pub(crate) const MAX_PER_PRINCIPAL: usize = 100;

#[derive(Debug, Clone)]
pub(crate) struct Lock {
    pub(crate) token: String,
    pub(crate) account: String,
    pub(crate) root: String,
    pub(crate) deep: bool,
    pub(crate) scope: LockScope,
    pub(crate) owner: Option<String>,
    pub(crate) timeout: u64,
    pub(crate) expires: Instant,
    /// The lock root's href (`lockroot`).
    pub(crate) href: String,
    /// The principal that took it (who may UNLOCK it besides the resource's owner).
    pub(crate) by: String,
}

impl Lock {
    pub(crate) fn covers(&self, account: &str, path: &str) -> bool {
        self.account == account && (self.root == path || (self.deep && is_within(path, &self.root)))
    }

    fn active(&self, now: Instant) -> bool {
        self.expires > now
    }

    pub(crate) fn xml(&self) -> String {
        let scope = match self.scope {
            LockScope::Exclusive => "<D:exclusive/>",
            LockScope::Shared => "<D:shared/>",
        };
        let depth = if self.deep { "infinity" } else { "0" };
        let owner = self
            .owner
            .as_ref()
            .map(|o| format!("<D:owner>{o}</D:owner>"))
            .unwrap_or_default();
        format!(
            "<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope>{scope}</D:lockscope>\
             <D:depth>{depth}</D:depth>{owner}<D:timeout>Second-{}</D:timeout>\
             <D:locktoken><D:href>{}</D:href></D:locktoken><D:lockroot><D:href>{}</D:href>\
             </D:lockroot></D:activelock>",
            self.timeout,
            self.token,
            quick_xml::escape::escape(self.href.as_str()),
        )
    }
}

static LOCKS: Mutex<Vec<Lock>> = Mutex::new(Vec::new());

/// The table with expired locks dropped.
pub(crate) fn table() -> std::sync::MutexGuard<'static, Vec<Lock>> {
    // A poisoned lock means a panic elsewhere while holding it; the table is still whole.
    let mut t = LOCKS.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    t.retain(|l| l.active(now));
    t
}

/// The lock table's key of a resource: (lock space, path in it). The file store's space is
/// its owner's address, paths as `davfiles` has them (`/a/b`); a calendar or address-book
/// home's is `<calendars|addressbooks>:<owner>`, paths `/<collection>` and
/// `/<collection>/<object>` (a `:` is never in an address, so the spaces never meet).
/// `None`: not lockable (the root, principals, homes).
pub(crate) fn key_of(target: &Target) -> Option<(String, String)> {
    let space = |owner: &str, kind| format!("{}:{owner}", super::home_segment(kind));
    match target {
        Target::Files { owner, path } => Some((owner.clone(), path.clone())),
        Target::Collection { owner, kind, name } => Some((space(owner, *kind), format!("/{name}"))),
        Target::Object {
            owner,
            kind,
            collection,
            name,
        } => Some((space(owner, *kind), format!("/{collection}/{name}"))),
        _ => None,
    }
}

/// Whether a DAV lock stands in the way of a write to object `name` of `owner`'s
/// collection `collection` by a writer that holds no lock token (the webmail): a lock on
/// the object (or a deep one above it), or, when the write adds the object (`adds`), a
/// lock on the collection, whose membership it changes (RFC 4918 §7).
pub(crate) fn object_locked(
    owner: &str,
    kind: crate::storage::davstore::CollectionKind,
    collection: &str,
    name: &str,
    adds: bool,
) -> bool {
    let object = Target::Object {
        owner: owner.to_string(),
        kind,
        collection: collection.to_string(),
        name: name.to_string(),
    };
    let Some((space, path)) = key_of(&object) else {
        return false;
    };
    let parent = format!("/{collection}");
    table()
        .iter()
        .any(|l| l.covers(&space, &path) || (adds && l.covers(&space, &parent)))
}

/// `lockdiscovery`'s value for `path`: the active locks covering it.
pub(crate) fn discovery(account: &str, path: &str) -> String {
    table()
        .iter()
        .filter(|l| l.covers(account, path))
        .map(Lock::xml)
        .collect()
}

/// Drops the locks rooted at `path` or below (the resources are gone).
pub(crate) fn forget(account: &str, path: &str) {
    table().retain(|l| !(l.account == account && is_within(&l.root, path)));
}

/// What a request changes, for the lock check.
pub(crate) enum Need<'a> {
    /// The node itself (its content, properties or its membership).
    Node(&'a str),
    /// The node and everything below it (DELETE, MOVE's source, an overwritten target).
    Tree(&'a str),
}

/// The lock check of a request on `here` (the request URI's path): the If header must
/// hold (else 412), and every lock on what the request changes must have its token
/// submitted in it (else 423 `lock-token-submitted`). `etag` is the request target's
/// current entity tag, for `[etag]` conditions on it.
///
/// `who` is the authenticated principal: a lock's token counts only when `who` took the
/// lock (§6.4: a lock token is not a capability; in a shared calendar, another writer who
/// read the token from `lockdiscovery` is still refused).
pub(crate) fn check(
    req: &HttpRequest,
    account: &str,
    who: &str,
    here: &str,
    etag: Option<&str>,
    needs: &[Need<'_>],
) -> Result<(), DavError> {
    let submitted = if_tokens(req, account, here, etag)?;
    held(account, who, &submitted, needs)
}

/// The lock check of what a request changes besides its request URI (a COPY's
/// destination in another space): every lock on it must have its token in the If header,
/// which was evaluated on the request URI.
pub(crate) fn check_submitted(
    req: &HttpRequest,
    account: &str,
    who: &str,
    needs: &[Need<'_>],
) -> Result<(), DavError> {
    let submitted = match header_str(req, "If") {
        None => Vec::new(),
        Some(v) => headers::if_header(v)?
            .iter()
            .flat_map(|l| l.conditions.iter())
            .filter_map(|c| match c {
                Condition::Token { not: false, token } => Some(token.clone()),
                _ => None,
            })
            .collect(),
    };
    held(account, who, &submitted, needs)
}

fn held(
    account: &str,
    who: &str,
    submitted: &[String],
    needs: &[Need<'_>],
) -> Result<(), DavError> {
    let t = table();
    for need in needs {
        let held = t.iter().find(|l| {
            let hit = match need {
                Need::Node(p) => l.covers(account, p),
                Need::Tree(p) => {
                    l.covers(account, p) || (l.account == account && is_within(&l.root, p))
                }
            };
            hit && !(submitted.contains(&l.token) && l.by == who)
        });
        if held.is_some() {
            return Err(DavError::condition(
                StatusCode::LOCKED,
                "lock-token-submitted",
            ));
        }
    }
    Ok(())
}

/// Evaluates the If header (§10.4): `Ok` with the state tokens it submits when it holds
/// (or is absent), 412 when no list holds.
fn if_tokens(
    req: &HttpRequest,
    account: &str,
    here: &str,
    etag: Option<&str>,
) -> Result<Vec<String>, DavError> {
    let Some(value) = header_str(req, "If") else {
        return Ok(Vec::new());
    };
    let lists = headers::if_header(value)?;
    let t = table();
    let mut holds = false;
    let mut tokens = Vec::new();
    for list in &lists {
        let path = match &list.resource {
            None => Some(here.to_string()),
            Some(url) => {
                let p = headers::destination(url).ok().map(|(_, p)| p);
                match p.map(|p| target_of(&p)) {
                    Some(Ok(Some(t))) => key_of(&t)
                        .filter(|(space, _)| space == account)
                        .map(|(_, path)| path),
                    _ => None,
                }
            }
        };
        let list_holds = list.conditions.iter().all(|c| match c {
            Condition::Token { not, token } => {
                let current = path
                    .as_deref()
                    .is_some_and(|p| t.iter().any(|l| &l.token == token && l.covers(account, p)));
                current != *not
            }
            Condition::ETag { not, etag: want } => {
                let same = path.as_deref() == Some(here) && etag == Some(want.as_str());
                same != *not
            }
        });
        holds |= list_holds;
        for c in &list.conditions {
            if let Condition::Token { not: false, token } = c {
                tokens.push(token.clone());
            }
        }
    }
    if !holds {
        return Err(DavError::new(
            StatusCode::PRECONDITION_FAILED,
            "the If header does not hold",
        ));
    }
    Ok(tokens)
}
