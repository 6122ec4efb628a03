//! Others' calendars and address books in the webmail (issue 15): the collections shared
//! with the account (`calendar share`, a collection ACL's "l" for it or `anyone`) and the
//! public ones it may read, beside its own, with what its rights let it do there.
//!
//! - Rights are the DAV side's (`http::dav::share::Privileges`, from the RFC 4314 letters
//!   of the collection's ACL): "r" to see objects, "w"+"i" to make and change them, "t" to
//!   delete them. The owner has every right. A collection the account may not read is 404,
//!   the same as one that does not exist.
//! - A collection is named in URLs and forms by its [`key`]: its name for the account's
//!   own, `owner/name` for another's (`/name` for a public one). Names never hold `/`
//!   (`storage::davstore::check_name`), so the last `/` splits the key.
//! - The handlers decide every write with [`Visible`]'s privileges read anew from the
//!   store, whatever the form sends.

use crate::actors::imap_backend::StoreBackend;
use crate::http::dav::share::{shared_with, Privileges};
use crate::storage::davstore::{CollectionKind, DavCollection};
use crate::storage::PUBLIC_OWNER;

use super::MailError;
use crate::storage::StorageError;

/// A storage failure as the user sees it.
pub(crate) fn store_err(e: StorageError) -> MailError {
    match e {
        StorageError::NotFound(_) => MailError::NotFound,
        StorageError::Invalid(m) | StorageError::Exists(m) | StorageError::Conflict(m) => {
            MailError::Invalid(m)
        }
        other => {
            tracing::warn!("webmail calendar/contacts: {other}");
            MailError::Unavailable
        }
    }
}

/// A collection the account may read, with its privileges there.
#[derive(Clone, Debug)]
pub(crate) struct Visible {
    pub coll: DavCollection,
    pub may: Privileges,
    /// Empty for the account's own; else the owner as shown (its display name and
    /// address, or "Public").
    pub owner_label: String,
}

impl Visible {
    /// The collection's key in URLs and forms ([`key`]).
    pub fn key(&self) -> String {
        if self.may.owner {
            self.coll.name.clone()
        } else {
            format!("{}/{}", self.coll.owner, self.coll.name)
        }
    }

    /// The collection's display name (its name when it has none), with the owner's for
    /// another's.
    pub fn display(&self) -> String {
        let own = if self.coll.props.display_name.is_empty() {
            self.coll.name.clone()
        } else {
            self.coll.props.display_name.clone()
        };
        if self.owner_label.is_empty() {
            own
        } else {
            format!("{own} ({})", self.owner_label)
        }
    }

    /// The address the account acts as in this collection: the owner's for another
    /// account's (a sharee edits the owner's events on its behalf, RFC 6638's sharing),
    /// its own for its own or a public one.
    pub fn acting_as<'a>(&'a self, me: &'a str) -> &'a str {
        if self.may.owner || self.coll.owner == PUBLIC_OWNER {
            me
        } else {
            &self.coll.owner
        }
    }
}

/// `(owner, name)` of a key: `None` owner for the account's own.
fn split_key(key: &str) -> (Option<&str>, &str) {
    match key.rsplit_once('/') {
        Some((owner, name)) => (Some(owner), name),
        None => (None, key),
    }
}

/// How another owner is shown: "Public", or its display name with its address.
fn owner_label(b: &StoreBackend, owner: &str) -> String {
    if owner == PUBLIC_OWNER {
        return "Public".into();
    }
    match super::prefs::load(b, owner) {
        Ok(p) if !p.display_name.trim().is_empty() => {
            format!("{} <{owner}>", p.display_name.trim())
        }
        _ => owner.to_string(),
    }
}

/// The account's own collections of `kind`, then those of others it may read, by owner
/// and name.
pub(crate) fn visible(
    b: &StoreBackend,
    me: &str,
    kind: CollectionKind,
) -> Result<Vec<Visible>, MailError> {
    let mut out: Vec<Visible> = b
        .ctx
        .store
        .dav_collections(me)
        .map_err(store_err)?
        .into_iter()
        .filter(|c| c.kind == kind)
        .map(|coll| Visible {
            coll,
            may: Privileges::OWNER,
            owner_label: String::new(),
        })
        .collect();
    let others = shared_with(&b.ctx.store, me, kind).map_err(|e| {
        tracing::warn!("webmail: shared collections of {me}: {e:?}");
        MailError::Unavailable
    })?;
    for (coll, may) in others {
        let owner_label = owner_label(b, &coll.owner);
        out.push(Visible {
            coll,
            may,
            owner_label,
        });
    }
    Ok(out)
}

/// The collection of `kind` named by `key` ([`key`]) when the account may read it, else
/// NotFound.
pub(crate) fn find(
    b: &StoreBackend,
    me: &str,
    kind: CollectionKind,
    key: &str,
) -> Result<Visible, MailError> {
    let (owner, name) = split_key(key);
    let owner = owner.unwrap_or(me);
    let coll = b
        .ctx
        .store
        .dav_collection(owner, name)
        .map_err(store_err)?
        .filter(|c| c.kind == kind)
        .ok_or(MailError::NotFound)?;
    if coll.owner == me {
        return Ok(Visible {
            coll,
            may: Privileges::OWNER,
            owner_label: String::new(),
        });
    }
    let rights = b.ctx.store.dav_rights(&coll, me).map_err(store_err)?;
    let may = Privileges::of_rights(&rights);
    if !may.read {
        return Err(MailError::NotFound);
    }
    let owner_label = owner_label(b, &coll.owner);
    Ok(Visible {
        coll,
        may,
        owner_label,
    })
}

/// Refuses a webmail write to object `name` of `coll` that a calendar or contacts client's
/// DAV lock covers (the webmail holds no lock tokens): nothing is stored, the page says so.
pub(crate) fn not_locked(
    coll: &crate::storage::davstore::DavCollection,
    name: &str,
    adds: bool,
) -> Result<(), super::MailError> {
    if crate::http::dav::locks::object_locked(&coll.owner, coll.kind, &coll.name, name, adds) {
        return Err(super::MailError::Invalid(
            "a calendar or contacts client has locked this (WebDAV LOCK); try again once it \
             is unlocked"
                .into(),
        ));
    }
    Ok(())
}
