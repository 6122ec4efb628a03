//! REQUIRETLS by address (as MDaemon does): a sender who cannot set the RFC 8689 MAIL FROM
//! parameter asks for it by writing `+requiretls` at the end of a recipient's local part
//! (`alice+requiretls@example.net`). The tag is removed from the recipient and the whole
//! message is marked REQUIRETLS.

/// The tag, compared without regard to case.
pub const TAG: &str = "+requiretls";

/// `address` without a trailing `+requiretls` tag on its local part, or `None` when it has
/// none (or nothing would be left of the local part).
pub fn strip_tag(address: &str) -> Option<String> {
    let (local, domain) = address.rsplit_once('@')?;
    let cut = local.len().checked_sub(TAG.len())?;
    let (base, tag) = (local.get(..cut)?, local.get(cut..)?);
    (tag.eq_ignore_ascii_case(TAG) && !base.is_empty()).then(|| format!("{base}@{domain}"))
}

#[cfg(test)]
mod tests {
    use super::strip_tag;

    #[test]
    fn tags() {
        assert_eq!(
            strip_tag("alice+requiretls@example.net").as_deref(),
            Some("alice@example.net")
        );
        assert_eq!(
            strip_tag("a.b+x+RequireTLS@example.net").as_deref(),
            Some("a.b+x@example.net")
        );
        assert_eq!(strip_tag("alice@example.net"), None);
        assert_eq!(strip_tag("alice+other@example.net"), None);
        assert_eq!(
            strip_tag("+requiretls@example.net"),
            None,
            "no local part left"
        );
        assert_eq!(strip_tag("alice+requiretls"), None, "no domain");
        assert_eq!(strip_tag("ü+requiretls@x"), Some("ü@x".into()));
        assert_eq!(strip_tag("é@x"), None, "short non-ASCII local part");
    }
}
