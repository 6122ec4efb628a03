//! Access rights (RFC 4314 §2.1): the rights alphabet and its normalisation, shared by
//! every backend. Where ACLs are kept is the backend's business (see `traits::Folders`).

use std::collections::BTreeSet;

use super::directory::normalize_address;
use super::StorageError;

/// Every right of RFC 4314 §2.1, in the order normalised rights strings use.
pub const ALL_RIGHTS: &str = "lrswipkxtea";

/// The identifier that stands for everybody (RFC 4314 §2).
pub const ANYONE: &str = "anyone";

/// The rights in `rights` as a set; the obsolete "c" counts as "k" and "d" as "xte" (RFC 4314
/// §2.1.1). Invalid for an unknown letter.
pub(crate) fn rights_set(rights: &str) -> Result<BTreeSet<usize>, StorageError> {
    let mut set = BTreeSet::new();
    for c in rights.chars() {
        let expanded = match c {
            'c' => "k",
            'd' => "xte",
            _ => match ALL_RIGHTS.find(c) {
                Some(ix) => {
                    set.insert(ix);
                    continue;
                }
                None => {
                    return Err(StorageError::Invalid(format!(
                        "unknown right {c:?} in {rights:?} (known: {ALL_RIGHTS})"
                    )))
                }
            },
        };
        set.extend(expanded.chars().filter_map(|r| ALL_RIGHTS.find(r)));
    }
    Ok(set)
}

pub(crate) fn rights_string(set: &BTreeSet<usize>) -> String {
    set.iter()
        .filter_map(|ix| ALL_RIGHTS.get(*ix..*ix + 1))
        .collect()
}

/// Rights normalised: the set of `rights` in [`ALL_RIGHTS`] order.
pub fn normalize_rights(rights: &str) -> Result<String, StorageError> {
    rights_set(rights).map(|s| rights_string(&s))
}

/// An ACL identifier as stored: `anyone` or an account address, lowercase. Negative rights
/// ("-user") are not supported (RFC 4314 §2 makes them optional).
pub(crate) fn normalize_identifier(identifier: &str) -> Result<String, StorageError> {
    if identifier.eq_ignore_ascii_case(ANYONE) {
        return Ok(ANYONE.to_string());
    }
    if identifier.starts_with('-') {
        return Err(StorageError::Invalid(
            "negative rights are not supported".into(),
        ));
    }
    normalize_address(identifier)
}

/// SETACL's arguments checked before any lookup: the identifier normalised, and the rights
/// (with an optional "+" or "-") known letters; Invalid otherwise.
pub(crate) fn check_acl_change(identifier: &str, rights: &str) -> Result<String, StorageError> {
    let identifier = normalize_identifier(identifier)?;
    changed_rights("", rights)?;
    Ok(identifier)
}

/// A whole ACL (sorted, the owner's implicit rights not listed) after SETACL changes
/// `identifier`'s entry by `change` ([`changed_rights`]); the entry goes when no right is
/// left. Invalid for unknown letters.
pub(crate) fn acl_after(
    old: &[(String, String)],
    identifier: &str,
    change: &str,
) -> Result<Vec<(String, String)>, StorageError> {
    let current = old
        .iter()
        .find(|(id, _)| id == identifier)
        .map_or("", |(_, r)| r.as_str());
    let wanted = changed_rights(current, change)?;
    let mut new: Vec<(String, String)> = old
        .iter()
        .filter(|(id, _)| id != identifier)
        .cloned()
        .collect();
    if !wanted.is_empty() {
        new.push((identifier.to_string(), wanted));
        new.sort();
    }
    Ok(new)
}

/// SETACL's new rights for an entry that has `current` (normalised; "" when absent):
/// exactly `change`, or with "+rights" added, or with "-rights" removed (RFC 4314 §3.1).
/// Normalised; "" means the entry goes.
pub(crate) fn changed_rights(current: &str, change: &str) -> Result<String, StorageError> {
    let (mode, letters) = match change.chars().next() {
        Some('+') => (1, &change[1..]),
        Some('-') => (-1, &change[1..]),
        _ => (0, change),
    };
    let given = rights_set(letters)?;
    let current = rights_set(current)?;
    let wanted: BTreeSet<usize> = match mode {
        1 => current.union(&given).copied().collect(),
        -1 => current.difference(&given).copied().collect(),
        _ => given,
    };
    Ok(rights_string(&wanted))
}

/// MYRIGHTS (RFC 4314 §3.5) of `user` on a folder of `owner` with ACL `acl`: every right for
/// the owner, otherwise the union of `user`'s entry and `anyone`'s.
pub(crate) fn effective_rights(
    owner: &str,
    user: &str,
    acl: &[(String, String)],
) -> Result<String, StorageError> {
    let user = normalize_address(user).ok();
    if user.as_deref() == Some(owner) {
        return Ok(ALL_RIGHTS.to_string());
    }
    let mut set = BTreeSet::new();
    for (id, rights) in acl {
        if id == ANYONE || Some(id) == user.as_ref() {
            set.extend(rights_set(rights)?);
        }
    }
    Ok(rights_string(&set))
}
