//! URL splitting, tokens and dates; whole sessions over the in-memory backend.

use super::*;

#[test]
fn placeholder_compiles() {
    assert!(parse_auth_url("imap://a@b/INBOX/;UID=1;URLAUTH=anonymous").is_some());
}
