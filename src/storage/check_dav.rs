//! `storage check` of the calendar and contact store (`storage::davstore`): every
//! collection belongs to an account (or is public), every object's ETag is its content's,
//! its change is not above its collection's counter and its UID is its collection's once,
//! and every ACL entry names `anyone` or an account. Read-only, like the rest of the check.

use std::collections::{BTreeSet, HashSet};

use super::acl::ANYONE;
use super::davstore::etag_of;
use super::{StorageError, Store, PUBLIC_OWNER};

/// What the DAV part of the check counted and found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DavCheck {
    pub collections: u64,
    pub objects: u64,
    pub acl_entries: u64,
    /// One line per problem.
    pub problems: Vec<String>,
}

/// Checks the DAV store of `store` (module notes).
pub fn check_dav(store: &Store) -> Result<DavCheck, StorageError> {
    let mut out = DavCheck::default();
    let accounts: HashSet<String> = store
        .list_accounts()?
        .into_iter()
        .map(|a| a.address.to_ascii_lowercase())
        .collect();
    for c in store.dav_all_collections()? {
        out.collections += 1;
        let name = if c.owner == PUBLIC_OWNER {
            format!("public collection {:?}", c.name)
        } else {
            format!("collection {:?} of {}", c.name, c.owner)
        };
        if c.owner != PUBLIC_OWNER && !accounts.contains(&c.owner) {
            out.problems
                .push(format!("{name}: its owner is no account"));
        }
        let mut uids = BTreeSet::new();
        for o in store.dav_objects(c.id)? {
            out.objects += 1;
            if o.etag != etag_of(&o.data) {
                out.problems.push(format!(
                    "{name}: object {:?} has ETag {} but its content's is {}",
                    o.name,
                    o.etag,
                    etag_of(&o.data)
                ));
            }
            if o.changed > c.sync {
                out.problems.push(format!(
                    "{name}: object {:?} changed at {} above the counter {}",
                    o.name, o.changed, c.sync
                ));
            }
            if !uids.insert(o.uid.clone()) {
                out.problems
                    .push(format!("{name}: UID {:?} held twice", o.uid));
            }
        }
        for (id, _) in store.dav_get_acl(c.id)? {
            out.acl_entries += 1;
            if id != ANYONE && !accounts.contains(&id) {
                out.problems
                    .push(format!("{name}: ACL entry for {id}, which is no account"));
            }
        }
    }
    Ok(out)
}
