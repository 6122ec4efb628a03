//! Calendar and contact collections (CalDAV, CardDAV; issue 15) and their objects, with a
//! per-collection change counter that is the WebDAV sync-token (RFC 6578).
//!
//! A collection belongs to an account (`owner`) and has a name (its path segment,
//! unique per owner). It is a calendar (its supported components, RFC 4791 §5.2.3: a task
//! list is a calendar of VTODO only) or an address book. Its objects are named resources
//! holding the iCalendar or vCard text, the UID (unique per collection), a strong ETag, the
//! component type and, for calendar objects, the span of their instances (Unix seconds)
//! for time-range prefiltering; the DAV layer computes these with `protocols::caldav` /
//! `protocols::carddav`: the store does not parse.
//!
//! # The change counter
//!
//! Every put and delete raises the collection's counter by one, in the same atomic step,
//! and records the object's name with the new value (a delete leaves a tombstone). "Changes
//! since token N" answers the names changed and deleted after N, each once, and the
//! current token. At most [`TOMBSTONES_KEPT`] tombstones are kept per collection; dropping
//! older ones moves the collection's `expired_below`: a token under it (or above the
//! current counter) answers [`Changes::Expired`] (RFC 6578 §3.2: 403 valid-sync-token).
//!
//! An initial sync read in pages ([`DavStore::dav_changes_page`] from token 0 with a
//! limit) lists the live objects in counter order; its continuations carry, besides the
//! counter of the last object sent, a *floor*: the counter read on the first page. The
//! objects deleted at or below the floor were gone before that page, so the client never
//! saw them: a continuation lists no tombstone at or below its floor and stays valid while
//! `expired_below` is at most the floor (tombstones pruned below it, or a collection
//! imported with `expired_below` at its counter, do not end an initial sync half-way).
//!
//! # Times (getlastmodified)
//!
//! Every write takes its time inside the store's atomic step, from the store's clock
//! ([`DavStore::dav_write`] and everything built on it: DAV PUT, the webmail, imports,
//! scheduling deliveries alike; no caller passes one): on PostgreSQL the database's clock,
//! which every node shares; on sled the node's system clock. The time recorded is never
//! below the collection's [`DavCollection::modified`] (nor the replaced object's), so
//! neither the collection's Last-Modified nor an object's goes backwards when a clock is
//! set back or one node's clock is behind. A collection's `modified` moves with every put
//! and delete of a member and every change of its properties ([`later_time`]). Times are
//! whole Unix seconds, as HTTP dates are.
//!
//! # Invariants (every backend)
//!
//! - A put or delete is atomic: the object, its UID entry, the counter and the change
//!   record change together or not at all.
//! - Conditional writes ([`Condition`]) are decided inside that atomic step, so two writers
//!   racing with one ETag cannot both win.
//! - Deleting an account deletes its collections with everything in them.
//! - Every account gets [`default_collections`] once: when it is created, or (accounts made
//!   before this store existed) the first time its collections are listed. An owner who
//!   deletes them later does not get them back.
//!
//! # Sharing
//!
//! A collection has an ACL as an IMAP folder has (`storage::acl`: identifiers are account
//! addresses and `anyone`, rights the letters of RFC 4314, set with SETACL semantics). The
//! owner's rights are implicit (every right) and not listed; anyone else has the union of
//! its entry and `anyone`'s. Public collections belong to the empty owner
//! [`PUBLIC_OWNER`](crate::storage::PUBLIC_OWNER): no account, no default collections, only
//! their ACL. Deleting a collection deletes its ACL; deleting an account deletes its
//! entries in the ACLs of others' collections.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StorageError;

/// Tombstones kept per collection before the oldest are dropped (and older tokens expire).
pub const TOMBSTONES_KEPT: u64 = 10_000;

/// A calendar or an address book.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CollectionKind {
    Calendar,
    AddressBook,
}

impl CollectionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CollectionKind::Calendar => "calendar",
            CollectionKind::AddressBook => "addressbook",
        }
    }

    pub fn parse(s: &str) -> Option<CollectionKind> {
        match s {
            "calendar" => Some(CollectionKind::Calendar),
            "addressbook" => Some(CollectionKind::AddressBook),
            _ => None,
        }
    }
}

/// The properties a client sets on a collection (MKCALENDAR, extended MKCOL, PROPPATCH).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionProps {
    pub display_name: String,
    /// `#RRGGBB` or `#RRGGBBAA` as Apple's calendar-color carries it; empty: none.
    pub color: String,
    pub description: String,
}

/// A collection as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DavCollection {
    /// Chosen by the store, never reused.
    pub id: u64,
    /// The account (lowercase).
    pub owner: String,
    /// The path segment, unique per owner.
    pub name: String,
    pub kind: CollectionKind,
    pub props: CollectionProps,
    /// Calendars: the component names accepted (`VEVENT`, `VTODO`, …); address books: empty.
    pub components: Vec<String>,
    /// The change counter: the current sync-token (0: never changed).
    pub sync: u64,
    /// Tokens below this have lost tombstones: they answer [`Changes::Expired`].
    pub expired_below: u64,
    /// Tombstones currently kept.
    pub tombstones: u64,
    /// When a member was last put or deleted or the properties last changed (Unix seconds,
    /// the store's clock: module documentation, "Times"); 0: not since this was recorded.
    pub modified: i64,
}

/// A collection to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCollection {
    pub owner: String,
    pub name: String,
    pub kind: CollectionKind,
    pub props: CollectionProps,
    pub components: Vec<String>,
}

/// An object (calendar object or address object resource) as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DavObject {
    /// The resource name in its collection (`<uid>.ics`, whatever the client chose).
    pub name: String,
    pub uid: String,
    /// Strong ETag, quoted ([`etag_of`]).
    pub etag: String,
    pub data: String,
    /// `VEVENT`, `VTODO`, `VJOURNAL`, `VFREEBUSY` or `VCARD`.
    pub component: String,
    /// Earliest instance start (Unix seconds); `None`: undated (matches every range).
    pub first: Option<i64>,
    /// Latest instance end; `None`: unbounded or undated.
    pub last: Option<i64>,
    /// The collection's counter value of this object's last change.
    pub changed: u64,
    /// The Schedule-Tag (RFC 6638 §3.2.10): the counter value of the object's last
    /// scheduling-significant change. A put sets it to the put's counter value unless it
    /// keeps it ([`DavStore::dav_put_with`]); objects stored before it existed carry their
    /// `changed`.
    pub schedule_tag: u64,
    /// When the object was last written (Unix seconds; `getlastmodified`, Last-Modified).
    /// 0: unknown (objects stored before it existed, on both backends).
    pub modified: i64,
}

/// An object to store: [`DavObject`] without what the store decides (ETag, counter).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewObject {
    pub name: String,
    pub uid: String,
    pub data: String,
    pub component: String,
    pub first: Option<i64>,
    pub last: Option<i64>,
}

/// An If-Match / If-None-Match condition on a write (RFC 9110 §13.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// No condition.
    Any,
    /// `If-Match: <etag>`: the object exists with this ETag.
    Match(String),
    /// `If-None-Match: *`: the object does not exist.
    Absent,
}

/// Whether a put keeps the replaced object's Schedule-Tag, decided by the store on the
/// object it replaces, inside the write's atomic step (a decision made on an object read
/// before could be about an object that changed meanwhile).
pub type KeepTag<'a> = &'a (dyn Fn(&DavObject) -> bool + Sync);

/// How [`DavStore::dav_write`] writes: its condition and the Schedule-Tag decision (the
/// time is the store's: module documentation, "Times").
pub struct Write<'a> {
    pub cond: &'a Condition,
    pub keep_schedule_tag: KeepTag<'a>,
}

/// The time a write records: the store clock's `now`, but never below the collection's
/// last time nor the replaced object's (module documentation, "Times").
pub fn later_time(now: i64, collection: i64, replaced: Option<i64>) -> i64 {
    now.max(collection).max(replaced.unwrap_or(0))
}

/// How [`DavStore::dav_edit_acl`] changes an ACL: called with the ACL as it is inside the
/// store's atomic step (possibly more than once), it returns the whole new one.
pub type AclEdit<'a> = &'a (dyn Fn(&[(String, String)]) -> Vec<(String, String)> + Sync);

/// One entry of the change log ([`DavStore::dav_changes_page`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub name: String,
    /// Deleted (a tombstone), not put.
    pub deleted: bool,
    /// The counter value of the change.
    pub at: u64,
}

/// A bounded piece of "changes since token N".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangePage {
    Page {
        /// At most the limit asked for, in counter order, each name once.
        changes: Vec<Change>,
        /// The token that continues after this page: the last change's counter value when
        /// `more`, the collection's counter otherwise.
        token: u64,
        /// Changes after `token` remain (the answer was cut at the limit).
        more: bool,
        /// The floor the continuation carries (module documentation, "The change
        /// counter"): `token` itself unless this is part of an initial sync cut before
        /// its first page's counter.
        floor: u64,
    },
    /// As [`Changes::Expired`].
    Expired,
}

/// What a put did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// Stored; `created` when the name was new.
    Stored { object: DavObject, created: bool },
    /// The condition did not hold (412); nothing changed.
    PreconditionFailed,
    /// Another object of the collection (its name) holds the UID (`no-uid-conflict`).
    UidConflict(String),
}

/// What a delete did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    NotFound,
    PreconditionFailed,
}

/// The answer to "changes since token N".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Changes {
    Since {
        /// The current token.
        token: u64,
        /// Names put since N, in change order.
        changed: Vec<String>,
        /// Names deleted since N (and not put again), in change order.
        deleted: Vec<String>,
    },
    /// The token is older than the tombstones kept, or newer than the counter.
    Expired,
}

/// The collections every account starts with: a calendar, a task list and an address book.
pub fn default_collections(owner: &str) -> Vec<NewCollection> {
    let make = |name: &str, kind, display: &str, components: &[&str]| NewCollection {
        owner: owner.to_string(),
        name: name.to_string(),
        kind,
        props: CollectionProps {
            display_name: display.to_string(),
            ..CollectionProps::default()
        },
        components: components.iter().map(|c| c.to_string()).collect(),
    };
    vec![
        make(
            "calendar",
            CollectionKind::Calendar,
            "Calendar",
            &["VEVENT"],
        ),
        make("tasks", CollectionKind::Calendar, "Tasks", &["VTODO"]),
        make("contacts", CollectionKind::AddressBook, "Contacts", &[]),
    ]
}

/// The strong ETag of `data`: 128 bits of its SHA-256, quoted. Equal content, equal ETag,
/// on every backend and across migrations.
pub fn etag_of(data: &str) -> String {
    let digest = Sha256::digest(data.as_bytes());
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// A collection or object name: a non-empty path segment without `/`, control characters
/// or the dot names, at most 255 bytes.
pub fn check_name(name: &str) -> Result<(), StorageError> {
    if name.is_empty()
        || name.len() > 255
        || name == "."
        || name == ".."
        || name.chars().any(|c| c == '/' || c.is_control())
    {
        return Err(StorageError::Invalid(format!(
            "bad DAV resource name {name:?}"
        )));
    }
    Ok(())
}

/// Whether `obj` can overlap `[start, end)` by its indexed span (a prefilter: the exact
/// test is `protocols::caldav`'s).
pub fn may_overlap(obj_first: Option<i64>, obj_last: Option<i64>, start: i64, end: i64) -> bool {
    match obj_first {
        None => true,
        Some(first) => first < end && obj_last.is_none_or(|last| last > start),
    }
}

/// Calendar and contact collections (see the module documentation).
pub trait DavStore: Send + Sync {
    /// Creates a collection. Exists when the owner has one of that name; NotFound when
    /// the owner is no account.
    fn dav_create_collection(&self, new: &NewCollection) -> Result<DavCollection, StorageError>;

    /// `owner`'s collection `name`.
    fn dav_collection(
        &self,
        owner: &str,
        name: &str,
    ) -> Result<Option<DavCollection>, StorageError>;

    /// `owner`'s collections by name, after giving the owner [`default_collections`] if it
    /// never had them (NotFound when the owner is no account).
    fn dav_collections(&self, owner: &str) -> Result<Vec<DavCollection>, StorageError>;

    /// Every collection of every owner, by owner and name (copies between backends).
    fn dav_all_collections(&self) -> Result<Vec<DavCollection>, StorageError>;

    /// Replaces a collection's properties (moving its `modified`). NotFound when there is
    /// none.
    fn dav_set_props(
        &self,
        owner: &str,
        name: &str,
        props: &CollectionProps,
    ) -> Result<DavCollection, StorageError>;

    /// Deletes a collection with its objects and tombstones. NotFound when there is none.
    fn dav_delete_collection(&self, owner: &str, name: &str) -> Result<(), StorageError>;

    /// Stores `obj` in collection `collection` under `cond` (module documentation), with
    /// a new Schedule-Tag. NotFound when the collection does not exist.
    fn dav_put(
        &self,
        collection: u64,
        obj: &NewObject,
        cond: &Condition,
    ) -> Result<PutOutcome, StorageError> {
        self.dav_put_with(collection, obj, cond, false)
    }

    /// [`DavStore::dav_put`], keeping the replaced object's Schedule-Tag when
    /// `keep_schedule_tag` (a change that is not scheduling-significant: an attendee's
    /// reply merged by the server, SCHEDULE-STATUS written back, an attendee's own
    /// PARTSTAT); a new object gets a new one either way.
    fn dav_put_with(
        &self,
        collection: u64,
        obj: &NewObject,
        cond: &Condition,
        keep_schedule_tag: bool,
    ) -> Result<PutOutcome, StorageError> {
        let keep = move |_: &DavObject| keep_schedule_tag;
        let w = Write {
            cond,
            keep_schedule_tag: &keep,
        };
        self.dav_write(collection, obj, &w)
    }

    /// The put every other one is: under `w.cond`, recording the store's time (module
    /// documentation, "Times") on the object and its collection, keeping the
    /// replaced object's Schedule-Tag when `w.keep_schedule_tag` says so of it (called
    /// inside the atomic step, possibly more than once; a new object gets a new tag).
    fn dav_write(
        &self,
        collection: u64,
        obj: &NewObject,
        w: &Write<'_>,
    ) -> Result<PutOutcome, StorageError>;

    fn dav_get(&self, collection: u64, name: &str) -> Result<Option<DavObject>, StorageError>;

    /// Every object of the collection, by name.
    fn dav_objects(&self, collection: u64) -> Result<Vec<DavObject>, StorageError>;

    /// At most `limit` objects of the collection whose names sort after `after` (from the
    /// first when `None`), in the backend's name order: a listing read one page at a time,
    /// so that a reader of a large collection holds one page, not the collection. Pages read
    /// at different times see the collection as it is then (an object renamed meanwhile may
    /// be missed or seen twice, as with any paged listing).
    fn dav_objects_page(
        &self,
        collection: u64,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DavObject>, StorageError>;

    /// The objects whose indexed span may overlap `[start, end)` ([`may_overlap`]), by name.
    fn dav_objects_in_range(
        &self,
        collection: u64,
        start: i64,
        end: i64,
    ) -> Result<Vec<DavObject>, StorageError>;

    /// Deletes an object under `cond` (`Absent` is not a delete condition: Invalid).
    fn dav_delete(
        &self,
        collection: u64,
        name: &str,
        cond: &Condition,
    ) -> Result<DeleteOutcome, StorageError>;

    /// Drops the oldest tombstones of `collection` beyond `keep` (the store does this by
    /// itself past [`TOMBSTONES_KEPT`]); tokens older than a dropped one expire.
    fn dav_prune_tombstones(&self, collection: u64, keep: u64) -> Result<(), StorageError>;

    /// Changes since `token`: 0 (the initial sync of RFC 6578 §3.8) lists every object as
    /// changed and nothing deleted. NotFound when no collection.
    fn dav_changes(&self, collection: u64, token: u64) -> Result<Changes, StorageError>;

    /// At most `limit` changes since `token`, read from the change log in counter order
    /// and no further (a reader of a large collection holds one page): as
    /// [`DavStore::dav_changes`] (token 0 lists live objects only), each name once (its
    /// latest change in the page). `floor` is the one a previous page returned (0 or
    /// `token` for a plain token): no tombstone at or below it is listed, and the token is
    /// Expired only when the floor is below `expired_below` ([`page_floor`]). `limit` 0 is
    /// Invalid. NotFound when no collection.
    fn dav_changes_page(
        &self,
        collection: u64,
        token: u64,
        floor: u64,
        limit: usize,
    ) -> Result<ChangePage, StorageError>;

    /// The ACL of `collection` (module documentation, "Sharing"): (identifier, rights) by
    /// identifier, the owner's implicit rights not listed. NotFound when no collection.
    fn dav_get_acl(&self, collection: u64) -> Result<Vec<(String, String)>, StorageError>;

    /// Sets `identifier`'s entry of `collection`'s ACL with SETACL semantics (RFC 4314 §3.1:
    /// `rights` replaces, `+rights` adds, `-rights` removes; an empty result removes the
    /// entry). Invalid for an unknown right or identifier; NotFound when no collection.
    fn dav_set_acl(
        &self,
        collection: u64,
        identifier: &str,
        rights: &str,
    ) -> Result<(), StorageError>;

    /// Replaces `collection`'s whole ACL by `acl` (identifier, rights) in one atomic step:
    /// entries with no right are left out. Invalid for an unknown right or identifier
    /// (nothing changed); NotFound when no collection.
    fn dav_replace_acl(
        &self,
        collection: u64,
        acl: &[(String, String)],
    ) -> Result<(), StorageError> {
        normalize_acl(acl)?;
        let whole = |_: &[(String, String)]| acl.to_vec();
        self.dav_edit_acl(collection, &whole).map(|_| ())
    }

    /// Reads `collection`'s ACL and replaces it by what `edit` makes of it, in one atomic
    /// step (RFC 3744's ACL method: two concurrent edits each see the other's result, none
    /// is lost). The new ACL is stored as [`normalize_acl`] makes it and returned. Invalid
    /// for an unknown right or identifier in it (nothing changed); NotFound when no
    /// collection.
    fn dav_edit_acl(
        &self,
        collection: u64,
        edit: AclEdit<'_>,
    ) -> Result<Vec<(String, String)>, StorageError>;

    /// The collections of other owners (public ones included) whose ACL lets `user` or
    /// `anyone` list them ("l"), by owner and name.
    fn dav_shared_with(&self, user: &str) -> Result<Vec<DavCollection>, StorageError>;

    /// `user`'s rights on `coll` (normalised): every right for its owner, otherwise the
    /// union of `user`'s entry and `anyone`'s.
    fn dav_rights(&self, coll: &DavCollection, user: &str) -> Result<String, StorageError> {
        super::acl::effective_rights(&coll.owner, user, &self.dav_get_acl(coll.id)?)
    }
}

/// A whole ACL as [`DavStore::dav_replace_acl`] stores it: identifiers and rights
/// normalised, empty entries dropped, one entry per identifier (rights of repeated ones
/// joined), sorted. Invalid for an unknown right or identifier.
pub(crate) fn normalize_acl(
    acl: &[(String, String)],
) -> Result<Vec<(String, String)>, StorageError> {
    let mut out: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    for (id, rights) in acl {
        let id = super::acl::check_acl_change(id, rights)?;
        let joined = format!("{}{rights}", out.get(&id).map_or("", |r| r.as_str()));
        out.insert(id, super::acl::normalize_rights(&joined)?);
    }
    Ok(out.into_iter().filter(|(_, r)| !r.is_empty()).collect())
}

/// The floor a change page from `token` applies in `coll` (module documentation, "The
/// change counter"), `None` when the token is Expired: the counter itself for the first
/// page of an initial sync (token 0), otherwise the larger of `token` and `floor`, which
/// must lie between `expired_below` and the counter.
pub fn page_floor(token: u64, floor: u64, coll: &DavCollection) -> Option<u64> {
    if token > coll.sync {
        return None;
    }
    if token == 0 {
        return Some(coll.sync);
    }
    let floor = floor.max(token);
    (floor <= coll.sync && floor >= coll.expired_below).then_some(floor)
}

/// One page of the change log from entries read in counter order (at most `limit + 1` of
/// them, the store's read stopped there, tombstones at or below `floor` left out): cut at
/// `limit`, each name once (its latest change).
pub(crate) fn change_page(
    mut read: Vec<Change>,
    limit: usize,
    sync: u64,
    floor: u64,
) -> ChangePage {
    let more = read.len() > limit;
    read.truncate(limit);
    let (token, floor) = match (more, read.last()) {
        (true, Some(last)) => (last.at, floor.max(last.at)),
        _ => (sync, sync),
    };
    let mut seen = std::collections::HashSet::new();
    let mut changes: Vec<Change> = read
        .into_iter()
        .rev()
        .filter(|c| seen.insert(c.name.clone()))
        .collect();
    changes.reverse();
    ChangePage::Page {
        changes,
        token,
        more,
        floor,
    }
}

/// A collection owner as stored: an address normalised, or [`PUBLIC_OWNER`] as it is.
///
/// [`PUBLIC_OWNER`]: crate::storage::PUBLIC_OWNER
pub(crate) fn normalize_owner(owner: &str) -> Result<String, StorageError> {
    if owner == super::PUBLIC_OWNER {
        Ok(String::new())
    } else {
        super::directory::normalize_address(owner)
    }
}
