//! The screener's windows, thresholds, escalation, rules and persistence, on a manual clock.

use std::time::Duration;

use super::*;
use crate::clock::ManualClock;

const T0: i64 = 1_800_000_000;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> Network {
    Network::parse(s).unwrap()
}

/// Loopback not trusted, as in the end-to-end test; low thresholds.
fn cfg() -> ScreeningConfig {
    ScreeningConfig {
        trusted: vec![net("10.9.0.0/16")],
        auth_failures: 3,
        account_failures: 5,
        failed_rcpts: 4,
        auth_probes: 2,
        connections_per_minute: 10,
        ..ScreeningConfig::default()
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    clock: Arc<ManualClock>,
    screen: Screen,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(dir.path()).unwrap();
    let clock = ManualClock::new(T0);
    let screen = Screen::load(store.clone(), clock.clone());
    Fixture {
        _dir: dir,
        store,
        clock,
        screen,
    }
}

impl Fixture {
    fn fail(&self, c: &ScreeningConfig, from: &str, account: Option<&str>) {
        self.screen
            .record(c, ip(from), Offence::AuthFailure { account });
    }
    fn reload(&self) -> Screen {
        Screen::load(self.store.clone(), self.clock.clone())
    }
}

#[test]
fn failed_logins_within_the_window_ban_for_the_base_time() {
    let f = fixture();
    let c = cfg();
    let a = "192.0.2.1";
    f.fail(&c, a, None);
    f.clock.advance(60);
    f.fail(&c, a, Some("bob@example.com"));
    assert!(!f.screen.banned(&c, ip(a)), "two of three");
    f.clock.advance(60);
    f.fail(&c, a, None);
    assert!(f.screen.banned(&c, ip(a)));
    assert!(
        f.screen.connection(&c, ip(a)),
        "a banned address is refused"
    );
    assert!(!f.screen.banned(&c, ip("192.0.2.2")), "only that address");
    f.clock.advance(599);
    assert!(f.screen.banned(&c, ip(a)));
    f.clock.advance(1);
    assert!(
        !f.screen.banned(&c, ip(a)),
        "10 minutes later the ban is over"
    );
}

#[test]
fn failures_older_than_the_window_do_not_count() {
    let f = fixture();
    let c = cfg();
    let a = "192.0.2.1";
    f.fail(&c, a, None);
    f.clock.advance(300);
    f.fail(&c, a, None);
    f.clock.advance(300);
    f.fail(&c, a, None);
    assert!(!f.screen.banned(&c, ip(a)), "the first is 600s old: out");
    f.clock.advance(1);
    f.fail(&c, a, None);
    assert!(f.screen.banned(&c, ip(a)));
}

#[test]
fn repeated_bans_double_up_to_the_maximum_and_are_forgotten() {
    let c = ScreeningConfig {
        ban_max: Duration::from_secs(3000),
        ..cfg()
    };
    assert_eq!(ban_length(&c, 1), 600);
    assert_eq!(ban_length(&c, 2), 1200);
    assert_eq!(ban_length(&c, 3), 2400);
    assert_eq!(ban_length(&c, 4), 3000);
    assert_eq!(ban_length(&c, 40), 3000);

    let f = fixture();
    let a = "192.0.2.1";
    let ban_now = |f: &Fixture| {
        for _ in 0..3 {
            f.fail(&c, a, None);
        }
        assert!(f.screen.banned(&c, ip(a)));
    };
    ban_now(&f);
    f.clock.advance(600);
    assert!(!f.screen.banned(&c, ip(a)));
    ban_now(&f);
    f.clock.advance(1199);
    assert!(
        f.screen.banned(&c, ip(a)),
        "the second ban lasts twice as long"
    );
    f.clock.advance(1);
    assert!(!f.screen.banned(&c, ip(a)));
    // A day without a ban: the next one is a first one again.
    f.clock.advance(86_400);
    ban_now(&f);
    f.clock.advance(600);
    assert!(!f.screen.banned(&c, ip(a)));
}

#[test]
fn trusted_and_allowed_addresses_are_never_banned() {
    let f = fixture();
    let c = cfg();
    for _ in 0..50 {
        f.fail(&c, "10.9.1.2", None);
        f.screen.record(&c, ip("10.9.1.2"), Offence::FailedRcpt);
        assert!(!f.screen.connection(&c, ip("10.9.1.2")));
    }
    assert!(!f.screen.banned(&c, ip("10.9.1.2")));
    assert!(f.screen.ban(&c, ip("10.9.1.2"), None).is_err());
    assert!(f.screen.deny(&c, net("10.9.0.0/24")).is_err());

    f.screen.allow(net("198.51.100.0/24"));
    for _ in 0..10 {
        f.fail(&c, "198.51.100.9", None);
    }
    assert!(!f.screen.banned(&c, ip("198.51.100.9")));
    assert!(f.screen.ban(&c, ip("198.51.100.9"), None).is_err());

    // Screening off: nothing counts.
    let off = ScreeningConfig {
        enabled: false,
        ..cfg()
    };
    for _ in 0..10 {
        f.fail(&off, "192.0.2.50", None);
    }
    assert!(!f.screen.banned(&c, ip("192.0.2.50")));
}

#[test]
fn harvesting_auth_probes_and_connection_bursts_ban() {
    let f = fixture();
    let c = cfg();
    for _ in 0..3 {
        f.screen.record(&c, ip("192.0.2.10"), Offence::FailedRcpt);
    }
    assert!(!f.screen.banned(&c, ip("192.0.2.10")));
    f.screen.record(&c, ip("192.0.2.10"), Offence::FailedRcpt);
    assert!(f.screen.banned(&c, ip("192.0.2.10")));

    f.screen.record(&c, ip("192.0.2.11"), Offence::AuthProbe);
    f.screen.record(&c, ip("192.0.2.11"), Offence::AuthProbe);
    assert!(f.screen.banned(&c, ip("192.0.2.11")));

    let a = ip("192.0.2.12");
    for i in 0..9 {
        assert!(!f.screen.connection(&c, a), "connection {i}");
    }
    assert!(f.screen.connection(&c, a), "the tenth in a minute bans");
    assert!(f.screen.banned(&c, a));
    // Spread over minutes, as many connections are fine.
    let b = ip("192.0.2.13");
    for _ in 0..30 {
        assert!(!f.screen.connection(&c, b));
        f.clock.advance(7);
    }
}

#[test]
fn an_account_under_attack_bans_each_address_that_fails_on_it() {
    let f = fixture();
    let c = cfg();
    for i in 1..=4 {
        f.fail(&c, &format!("192.0.2.{i}"), Some("bob@example.com"));
    }
    assert!((1..=4).all(|i| !f.screen.banned(&c, ip(&format!("192.0.2.{i}")))));
    f.fail(&c, "192.0.2.5", Some("bob@example.com"));
    assert!(f.screen.banned(&c, ip("192.0.2.5")), "the fifth failure");
    f.fail(&c, "192.0.2.6", Some("bob@example.com"));
    assert!(f.screen.banned(&c, ip("192.0.2.6")));
    f.fail(&c, "192.0.2.7", Some("alice@example.com"));
    assert!(!f.screen.banned(&c, ip("192.0.2.7")), "another account");
    assert!(f.screen.list(&c).contains("bob@example.com"));
}

#[test]
fn bans_counts_and_rules_survive_a_reload() {
    let f = fixture();
    let c = cfg();
    for _ in 0..3 {
        f.fail(&c, "192.0.2.1", None);
    }
    f.fail(&c, "192.0.2.2", None);
    f.fail(&c, "192.0.2.2", None);
    f.screen.deny(&c, net("203.0.113.0/24")).unwrap();
    f.screen.allow(net("198.51.100.7"));
    let again = f.reload();
    assert!(again.banned(&c, ip("192.0.2.1")));
    assert!(again.banned(&c, ip("203.0.113.99")));
    assert!(!again.banned(&c, ip("192.0.2.2")));
    // Two failures were stored: one more bans.
    again.record(&c, ip("192.0.2.2"), Offence::AuthFailure { account: None });
    assert!(again.banned(&c, ip("192.0.2.2")), "counts were kept");
    let list = again.list(&c);
    assert!(list.contains("203.0.113.0/24"), "{list}");
    assert!(list.contains("allowed: 198.51.100.7"), "{list}");
}

#[test]
fn admin_ban_unban_allow_deny() {
    let f = fixture();
    let c = cfg();
    let a = ip("192.0.2.1");
    let ban = f.screen.ban(&c, a, Some(3600)).unwrap();
    assert_eq!(ban.until, T0 + 3600);
    assert!(f.screen.banned(&c, a));
    let list = f.screen.list(&c);
    assert!(list.contains("banned (1):\n  192.0.2.1  until"), "{list}");
    assert!(list.contains("by the administrator"), "{list}");
    assert_eq!(f.screen.unban(net("192.0.2.1")), "ban of 192.0.2.1 lifted");
    assert!(!f.screen.banned(&c, a));
    assert!(!f.reload().banned(&c, a), "the lift is stored");
    assert_eq!(f.screen.unban(net("192.0.2.1")), "no ban on 192.0.2.1");

    f.screen.deny(&c, net("192.0.2.0/24")).unwrap();
    assert!(f.screen.banned(&c, a));
    let out = f.screen.unban(net("192.0.2.1"));
    assert!(out.contains("still refused by 1 deny rule"), "{out}");
    let out = f.screen.unban(net("192.0.2.0/24"));
    assert!(out.contains("deny rule 192.0.2.0/24 removed"), "{out}");
    assert!(!f.screen.banned(&c, a));

    // allow and deny of one network replace each other.
    f.screen.deny(&c, net("192.0.2.0/24")).unwrap();
    assert!(f
        .screen
        .allow(net("192.0.2.0/24"))
        .contains("deny rule is removed"));
    assert!(!f.screen.banned(&c, a));
    assert!(f
        .screen
        .deny(&c, net("192.0.2.0/24"))
        .unwrap()
        .contains("allow rule is removed"));
    assert!(f.screen.banned(&c, a));
}

#[test]
fn forgotten_addresses_leave_memory_and_storage() {
    let f = fixture();
    let c = cfg();
    f.fail(&c, "192.0.2.1", None);
    assert_eq!(f.store.screen_load().unwrap().addresses.len(), 1);
    f.clock.advance(601);
    let list = f.screen.list(&c);
    assert!(list.contains("counting (0"), "{list}");
    assert!(f.store.screen_load().unwrap().addresses.is_empty());
}

#[test]
fn an_ipv4_mapped_peer_is_its_ipv4_address() {
    let f = fixture();
    let c = cfg();
    for _ in 0..3 {
        f.fail(&c, "::ffff:192.0.2.1", None);
    }
    assert!(f.screen.banned(&c, ip("192.0.2.1")));
    assert!(f.screen.connection(&c, ip("::ffff:192.0.2.1")));
    assert!(f.screen.list(&c).contains("  192.0.2.1  until"));
}

#[test]
fn addresses_seen_only_connecting_are_swept_from_memory_without_storage_writes() {
    let f = fixture();
    let c = cfg();
    for i in 0..(SWEEP_EVERY + 10) {
        let a = IpAddr::from([198, 18, (i / 256) as u8, (i % 256) as u8]);
        assert!(!f.screen.connection(&c, a));
        f.clock.advance(1);
    }
    // The sweep after SWEEP_EVERY events kept only the last minute's addresses.
    assert!(lock(&f.screen.state).addresses.len() < 100);
    assert!(f.store.screen_load().unwrap().addresses.is_empty());
}

#[test]
fn reload_picks_up_bans_and_rules_made_by_another_screener() {
    // Two screeners on one store: two nodes of a cluster.
    let f = fixture();
    let c = cfg();
    let other = f.reload();
    other.ban(&c, ip("192.0.2.1"), Some(3600)).unwrap();
    other.deny(&c, net("203.0.113.0/24")).unwrap();
    assert!(!f.screen.banned(&c, ip("192.0.2.1")), "not heard yet");
    f.screen.reload();
    assert!(f.screen.banned(&c, ip("192.0.2.1")));
    assert!(f.screen.banned(&c, ip("203.0.113.9")));
    // And lifted elsewhere: lifted here after the next reload.
    other.unban(net("192.0.2.1"));
    f.screen.reload();
    assert!(!f.screen.banned(&c, ip("192.0.2.1")));
}
