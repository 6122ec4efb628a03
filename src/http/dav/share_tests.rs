//! Sharing on the DAV side (`cal::access`'s mapping, the public home's URL): unit tests.
//! End to end: tests/dav_sharing.rs.

use super::share::Privileges;
use super::{home_href, target_of, Target};
use crate::storage::davstore::CollectionKind;
use crate::storage::PUBLIC_OWNER;

#[test]
fn rights_map_onto_privileges() {
    let ro = Privileges::of_rights("lr");
    assert!(ro.read && !ro.write && !ro.delete && !ro.owner);
    let rw = Privileges::of_rights("lrwit");
    assert!(rw.read && rw.write && rw.delete && !rw.owner);
    // Writing takes both "w" and "i"; listing alone reads nothing.
    assert!(!Privileges::of_rights("lrw").write);
    assert!(!Privileges::of_rights("lri").write);
    assert!(!Privileges::of_rights("l").read);
    assert!(!Privileges::of_rights("").read);
}

#[test]
fn current_user_privilege_set_tells_the_truth() {
    let ro = Privileges::of_rights("lr").xml();
    assert_eq!(
        ro,
        "<D:privilege><D:read/></D:privilege>\
         <D:privilege><D:read-current-user-privilege-set/></D:privilege>"
    );
    let rw = Privileges::of_rights("lrwit").xml();
    for p in ["read", "write-content", "bind", "unbind"] {
        assert!(rw.contains(&format!("<D:{p}/>")), "{p} in {rw}");
    }
    assert!(!rw.contains("<D:all/>") && !rw.contains("<D:write-properties/>"));
    assert!(Privileges::OWNER.xml().contains("<D:all/>"));
}

#[test]
fn public_collections_have_the_public_segment() {
    let href = home_href(PUBLIC_OWNER, CollectionKind::Calendar);
    assert_eq!(href, "/dav/calendars/public/");
    assert_eq!(
        target_of("/dav/calendars/public/holidays/").unwrap(),
        Some(Target::Collection {
            owner: PUBLIC_OWNER.to_string(),
            kind: CollectionKind::Calendar,
            name: "holidays".into()
        })
    );
    assert_eq!(
        target_of("/dav/addressbooks/public/").unwrap(),
        Some(Target::Home {
            owner: PUBLIC_OWNER.to_string(),
            kind: CollectionKind::AddressBook
        })
    );
    // An address is never taken for the public owner.
    assert_eq!(
        home_href("bob@example.com", CollectionKind::AddressBook),
        "/dav/addressbooks/bob@example.com/"
    );
}
