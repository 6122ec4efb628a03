//! Mailbox names and namespaces (RFC 9051 §5.1, §6.3.10 NAMESPACE; RFC 2342):
//!
//! - personal: `INBOX`, `Sent`, `Projects/2026`, … ('/' separates levels);
//! - other users: `Other Users/<address>/<name>` for folders shared with you by ACL;
//! - public: `Public Folders/<name>`, owned by no account, created by admins.
//!
//! LIST patterns: `*` matches anything, `%` anything but the separator (RFC 9051 §6.3.9).

use super::backend::{FolderInfo, PUBLIC_OWNER};

pub const SEPARATOR: char = '/';
pub const OTHER_USERS: &str = "Other Users";
pub const PUBLIC: &str = "Public Folders";

/// Where a client-visible name points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A folder name relative to its owner (which may be the user).
    Folder { owner: String, name: String },
    /// "Other Users", "Other Users/<address>" or "Public Folders": namespace levels that
    /// hold folders but are not folders.
    Namespace,
}

/// Maps a client-visible name to (owner, name).
pub fn resolve(user: &str, name: &str) -> Resolved {
    let name = name.trim_end_matches(SEPARATOR);
    if let Some(rest) = strip_level(name, OTHER_USERS) {
        if rest.is_empty() {
            return Resolved::Namespace;
        }
        let (owner, inner) = rest.split_once(SEPARATOR).unwrap_or((rest, ""));
        if inner.is_empty() {
            return Resolved::Namespace;
        }
        return Resolved::Folder {
            owner: owner.to_ascii_lowercase(),
            name: normalise_inbox(inner),
        };
    }
    if let Some(rest) = strip_level(name, PUBLIC) {
        if rest.is_empty() {
            return Resolved::Namespace;
        }
        return Resolved::Folder {
            owner: PUBLIC_OWNER.to_string(),
            name: rest.to_string(),
        };
    }
    Resolved::Folder {
        owner: user.to_string(),
        name: normalise_inbox(name),
    }
}

/// `name` without the leading `level` and separator; `Some("")` for `level` itself.
fn strip_level<'a>(name: &'a str, level: &str) -> Option<&'a str> {
    let rest = name.strip_prefix(level)?;
    if rest.is_empty() {
        return Some("");
    }
    rest.strip_prefix(SEPARATOR)
}

/// `inbox`, `InBox/x` → `INBOX`, `INBOX/x` (RFC 9051 §5.1: INBOX is case-insensitive).
pub fn normalise_inbox(name: &str) -> String {
    let (first, rest) = match name.split_once(SEPARATOR) {
        Some((f, r)) => (f, Some(r)),
        None => (name, None),
    };
    if first.eq_ignore_ascii_case("INBOX") {
        match rest {
            Some(r) => format!("INBOX{SEPARATOR}{r}"),
            None => "INBOX".into(),
        }
    } else {
        name.to_string()
    }
}

/// The name a user sees for a folder.
pub fn display_name(user: &str, folder: &FolderInfo) -> String {
    if folder.owner == user {
        folder.name.clone()
    } else if folder.owner == PUBLIC_OWNER {
        format!("{PUBLIC}{SEPARATOR}{}", folder.name)
    } else {
        format!(
            "{OTHER_USERS}{SEPARATOR}{}{SEPARATOR}{}",
            folder.owner, folder.name
        )
    }
}

/// LIST pattern matching: `*` any run, `%` any run without the separator.
pub fn matches(pattern: &str, name: &str) -> bool {
    // Dynamic programming over (pattern position, name position): linear in the product of
    // the lengths whatever the client sends.
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let mut next = vec![false; n.len() + 1];
    next[n.len()] = true;
    for i in (0..p.len()).rev() {
        let mut cur = vec![false; n.len() + 1];
        for j in (0..=n.len()).rev() {
            cur[j] = match p[i] {
                '*' => next[j] || (j < n.len() && cur[j + 1]),
                '%' => next[j] || (j < n.len() && n[j] != SEPARATOR && cur[j + 1]),
                c => j < n.len() && n[j] == c && next[j + 1],
            };
        }
        next = cur;
    }
    next[0]
}

/// The full pattern for `LIST reference pattern` (RFC 9051 §6.3.9: the reference is
/// prepended; a pattern starting with the separator ignores it).
pub fn join_reference(reference: &str, pattern: &str) -> String {
    if reference.is_empty() || pattern.starts_with(SEPARATOR) {
        return pattern.to_string();
    }
    if reference.ends_with(SEPARATOR) {
        format!("{reference}{pattern}")
    } else {
        format!("{reference}{SEPARATOR}{pattern}")
    }
}

/// The parent of a name, if it has one.
pub fn parent(name: &str) -> Option<&str> {
    name.rsplit_once(SEPARATOR).map(|(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_namespaces() {
        let me = "bob@example.com";
        assert_eq!(
            resolve(me, "inbox"),
            Resolved::Folder {
                owner: me.into(),
                name: "INBOX".into()
            }
        );
        assert_eq!(
            resolve(me, "Other Users/Alice@Example.com/Projects/x"),
            Resolved::Folder {
                owner: "alice@example.com".into(),
                name: "Projects/x".into()
            }
        );
        assert_eq!(resolve(me, "Other Users"), Resolved::Namespace);
        assert_eq!(
            resolve(me, "Other Users/alice@example.com"),
            Resolved::Namespace
        );
        assert_eq!(
            resolve(me, "Public Folders/News"),
            Resolved::Folder {
                owner: "".into(),
                name: "News".into()
            }
        );
        assert_eq!(
            resolve(me, "Other Usersx"),
            Resolved::Folder {
                owner: me.into(),
                name: "Other Usersx".into()
            }
        );
    }

    #[test]
    fn list_wildcards() {
        assert!(matches("*", "a/b/c"));
        assert!(matches("%", "a"));
        assert!(!matches("%", "a/b"));
        assert!(matches("a/%", "a/b"));
        assert!(!matches("a/%", "a/b/c"));
        assert!(matches("a/*", "a/b/c"));
        assert!(matches("INBOX", "INBOX"));
        assert!(!matches("", "INBOX"));
        assert!(matches("%/%", "Other Users/x"));
    }

    #[test]
    fn references() {
        assert_eq!(join_reference("", "*"), "*");
        assert_eq!(join_reference("a", "%"), "a/%");
        assert_eq!(join_reference("a/", "%"), "a/%");
        assert_eq!(join_reference("a", "/x"), "/x");
    }
}
