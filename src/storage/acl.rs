//! Access rights (RFC 4314 §2.1): the rights alphabet and its normalisation, shared by
//! every backend. Where ACLs are kept is the backend's business (see `traits::Folders`).

use std::collections::BTreeSet;

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
