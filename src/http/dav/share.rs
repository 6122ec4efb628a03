//! Sharing on the DAV side (issue 15): what a caller's rights on a collection (RFC 4314
//! letters, `storage::davstore`'s ACL) let it do, as [`Privileges`], and the collections
//! of a home another account may read. `cal::access` decides with these.

use super::DavError;
use crate::storage::davstore::{CollectionKind, DavCollection};

/// What a caller may do with a home or collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Privileges {
    /// GET, PROPFIND, REPORT ("r").
    pub read: bool,
    /// PUT of a new or an existing object ("w" and "i").
    pub write: bool,
    /// DELETE of an object, and MOVE out of the collection ("t").
    pub delete: bool,
    /// Reading the collection's `acl` (RFC 3744; "a"): changing it stays the owner's.
    pub admin: bool,
    /// Everything, the collection itself included: the owner.
    pub owner: bool,
}

impl Privileges {
    pub const OWNER: Privileges = Privileges {
        read: true,
        write: true,
        delete: true,
        admin: true,
        owner: true,
    };

    /// A sharee's privileges from its rights (RFC 4314 letters): read needs "r", writing
    /// objects "w" and "i", deleting them "t". Sharing read-only is "lr", read-write
    /// "lrwit".
    pub fn of_rights(rights: &str) -> Privileges {
        let has = |c| rights.contains(c);
        Privileges {
            read: has('r'),
            write: has('w') && has('i'),
            delete: has('t'),
            admin: has('a'),
            owner: false,
        }
    }

    /// The value of `current-user-privilege-set` (RFC 3744 §5.4).
    pub fn xml(&self) -> String {
        if self.owner {
            return super::props::PRIVILEGES.to_string();
        }
        let mut out = String::new();
        let mut add = |p: &str| out.push_str(&format!("<D:privilege><D:{p}/></D:privilege>"));
        if self.read {
            add("read");
            add("read-current-user-privilege-set");
        }
        if self.write {
            add("write-content");
            add("bind");
        }
        if self.delete {
            add("unbind");
        }
        if self.admin {
            add("read-acl");
        }
        out
    }
}

/// The collections of `kind` of `owner` that `me` (not the owner) may read, with the
/// privileges `me` has on each, by name.
pub(crate) fn shared_of(
    store: &crate::storage::Store,
    me: &str,
    owner: &str,
    kind: CollectionKind,
) -> Result<Vec<(DavCollection, Privileges)>, DavError> {
    let mut all = shared_with(store, me, kind)?;
    all.retain(|(col, _)| col.owner == owner);
    Ok(all)
}

/// The collections of `kind` of other owners (public ones included) that `me` may read,
/// with its privileges on each: what its own home lists besides its collections.
pub(crate) fn shared_with(
    store: &crate::storage::Store,
    me: &str,
    kind: CollectionKind,
) -> Result<Vec<(DavCollection, Privileges)>, DavError> {
    let mut out = Vec::new();
    for col in store.dav_shared_with(me)? {
        if col.kind != kind || col.owner == me {
            continue;
        }
        let p = Privileges::of_rights(&store.dav_rights(&col, me)?);
        if p.read {
            out.push((col, p));
        }
    }
    Ok(out)
}
