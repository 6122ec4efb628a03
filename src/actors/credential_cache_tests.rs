use std::time::Duration;

use super::*;
use crate::clock::{Clock, ManualClock};

const TTL: Duration = Duration::from_secs(300);

fn who(address: &str, stamp: u8) -> Remembered {
    Remembered {
        address: address.into(),
        stamp: [stamp; 32],
    }
}

#[test]
fn keys_bind_login_and_password_under_a_per_process_key() {
    let cache = CredentialCache::default();
    let k = cache.key("bob@example.com", "secret");
    assert!(k == cache.key("bob@example.com", "secret"));
    assert!(k != cache.key("bob@example.com", "secreT"));
    assert!(k != cache.key("alice@example.com", "secret"));
    // Length prefixes: moving bytes between login and password gives another key.
    assert!(cache.key("ab", "c") != cache.key("a", "bc"));
    assert!(cache.key("", "") != cache.key("", "\0"));
    // Another process (another random key) gets another key for the same pair.
    assert!(k != CredentialCache::default().key("bob@example.com", "secret"));
}

#[test]
fn an_entry_lives_for_the_ttl_on_the_clock() {
    let clock = ManualClock::new(1_000);
    let cache = CredentialCache::default();
    let k = cache.key("bob@example.com", "secret");
    assert_eq!(cache.get(&k, clock.now()), None);
    cache.insert(k, who("bob@example.com", 1), clock.now(), TTL);
    assert_eq!(cache.get(&k, clock.now()), Some(who("bob@example.com", 1)));
    clock.advance(299);
    assert_eq!(cache.get(&k, clock.now()), Some(who("bob@example.com", 1)));
    clock.advance(1);
    assert_eq!(cache.get(&k, clock.now()), None, "expired at ttl");
    assert!(cache.is_empty(), "an expired entry is dropped when met");
}

#[test]
fn a_zero_ttl_remembers_nothing() {
    let cache = CredentialCache::default();
    let k = cache.key("bob@example.com", "secret");
    cache.insert(k, who("bob@example.com", 1), 0, Duration::ZERO);
    assert_eq!(cache.get(&k, 0), None);
    assert!(cache.is_empty());
}

#[test]
fn a_wrong_password_never_finds_the_right_ones_entry() {
    let cache = CredentialCache::default();
    cache.insert(
        cache.key("bob@example.com", "secret"),
        who("bob@example.com", 1),
        0,
        TTL,
    );
    for wrong in ["", "secre", "secret ", "SECRET", "secret\0"] {
        assert_eq!(cache.get(&cache.key("bob@example.com", wrong), 1), None);
    }
}

#[test]
fn forget_drops_every_login_of_one_account_only() {
    let cache = CredentialCache::default();
    let (bob1, bob2, alice) = (
        cache.key("bob@example.com", "a"),
        cache.key("BOB@example.com", "a"),
        cache.key("alice@example.com", "a"),
    );
    cache.insert(bob1, who("bob@example.com", 1), 0, TTL);
    cache.insert(bob2, who("bob@example.com", 1), 0, TTL);
    cache.insert(alice, who("alice@example.com", 2), 0, TTL);
    cache.forget("bob@example.com");
    assert_eq!((cache.get(&bob1, 1), cache.get(&bob2, 1)), (None, None));
    assert_eq!(cache.get(&alice, 1), Some(who("alice@example.com", 2)));
    cache.remove(&alice);
    assert!(cache.is_empty());
}

#[test]
fn when_full_expired_entries_go_first_then_the_soonest_to_expire() {
    let clock = ManualClock::new(0);
    let cache = CredentialCache::with_capacity(3);
    let keys: Vec<CacheKey> = (0..6)
        .map(|i| cache.key(&format!("u{i}@x.test"), "p"))
        .collect();
    cache.insert(
        keys[0],
        who("u0@x.test", 0),
        clock.now(),
        Duration::from_secs(10),
    );
    cache.insert(keys[1], who("u1@x.test", 1), clock.now(), TTL);
    cache.insert(keys[2], who("u2@x.test", 2), clock.now(), TTL);
    clock.advance(20);
    // keys[0] has expired: it goes, the others stay.
    cache.insert(keys[3], who("u3@x.test", 3), clock.now(), TTL);
    assert_eq!(cache.len(), 3);
    assert_eq!(
        cache.get(&keys[1], clock.now()).map(|r| r.stamp[0]),
        Some(1)
    );
    // Nothing expired: the soonest to expire (keys[1] or keys[2], set at 0) goes.
    cache.insert(keys[4], who("u4@x.test", 4), clock.now(), TTL);
    assert_eq!(cache.len(), 3);
    let left = [1, 2]
        .iter()
        .filter(|&&i| cache.get(&keys[i], clock.now()).is_some());
    assert_eq!(left.count(), 1);
    assert!(cache.get(&keys[3], clock.now()).is_some());
    assert!(cache.get(&keys[4], clock.now()).is_some());
    // Replacing an entry that is already there evicts nothing.
    cache.insert(keys[4], who("u4@x.test", 5), clock.now(), TTL);
    assert_eq!(cache.len(), 3);
    cache.clear();
    assert!(cache.is_empty());
}

#[test]
fn debug_shows_no_login_or_key() {
    let cache = CredentialCache::default();
    cache.insert(
        cache.key("bob@example.com", "secret"),
        who("bob@example.com", 7),
        0,
        TTL,
    );
    let shown = format!("{cache:?}");
    assert_eq!(shown, "CredentialCache { entries: 1, served: 0 }");
}
