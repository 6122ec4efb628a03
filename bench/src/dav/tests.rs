//! `bench dav`'s pure parts (options, events, XML bodies, answer reading), checked against
//! the server's own parsers and time-range evaluator, and a whole run against a real
//! server on 127.0.0.1, port 0.

use calcard::common::timezone::Tz;
use ferrymail::protocols::caldav::filter::Evaluator;
use ferrymail::protocols::caldav::validate::{validate_calendar, ComponentKind};
use ferrymail::protocols::davreport::{self, Report};
use ferrymail::protocols::webdav::request::{parse_propfind, Propfind};

use super::bodies::*;
use super::options::*;
use super::*;
use crate::test_server::{run_bounded, TestServer, PASSWORD, USERS};

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

fn run_opts(s: &str) -> DavBenchOptions {
    match parse_dav_args(&args(s)) {
        Ok(Parsed::Run(o)) => *o,
        other => panic!("{s}: {other:?}"),
    }
}

fn err(s: &str) -> String {
    match parse_dav_args(&args(s)) {
        Err(e) => e,
        other => panic!("{s}: expected an error, got {other:?}"),
    }
}

const T: &str = "--target 127.0.0.1:3000 --user bob@example.com --password pw";

#[test]
fn options_defaults_every_option_and_errors() {
    let o = run_opts(T);
    assert_eq!(o.target, "127.0.0.1:3000");
    assert_eq!(
        (o.seed, o.requests, o.warmup, o.concurrency),
        (10_000, 200, 10, 1)
    );
    assert_eq!(o.calendar, "bench");
    assert_eq!(o.recurring_share, 0.1);
    assert_eq!(o.phases, Phase::ALL);
    assert_eq!(o.month, "2026-06");
    // 2026-06-01 .. 2026-07-01 UTC.
    assert_eq!(o.range, (1_780_272_000, 1_782_864_000));
    let o = run_opts(&format!(
        "{T} --tls --calendar big.cal --seed 20000 --recurring-share 0.25 --month 2026-12 \
         --requests 50 --warmup 0 --concurrency 4 --phase propfind --phase sync --phase sync \
         --server-pid 42 --timeout 9"
    ));
    assert_eq!(o.tls, crate::options::TlsMode::Implicit);
    assert_eq!(o.calendar, "big.cal");
    assert_eq!(
        (o.seed, o.requests, o.warmup, o.concurrency),
        (20_000, 50, 0, 4)
    );
    assert_eq!(o.recurring_share, 0.25);
    assert_eq!(o.range, (1_796_083_200, 1_798_761_600));
    assert_eq!(o.phases, [Phase::Propfind, Phase::Sync]);
    assert_eq!(o.server_pids, [42]);
    assert_eq!(o.timeout, Duration::from_secs(9));
    assert_eq!(parse_dav_args(&args("--help")), Ok(Parsed::Help));

    assert!(err("--user a@b --password p").contains("--target"));
    assert!(err("--target a:1 --password p").contains("--user"));
    assert!(err("--target a:1 --user a:b --password p").contains("--user"));
    assert!(err("--target a:1 --user a@b").contains("--password"));
    assert!(err(&format!("{T} --calendar a/b")).contains("--calendar"));
    assert!(err(&format!("{T} --calendar ..")).contains("--calendar"));
    assert!(err(&format!("{T} --recurring-share 1.5")).contains("--recurring-share"));
    assert!(err(&format!("{T} --recurring-share x")).contains("--recurring-share"));
    assert!(err(&format!("{T} --month 2026-13")).contains("--month"));
    assert!(err(&format!("{T} --month 202606")).contains("--month"));
    assert!(err(&format!("{T} --phase all")).contains("--phase"));
    assert!(err(&format!("{T} --requests 0")).contains("out of range"));
    assert!(err(&format!("{T} --seed 2000000")).contains("out of range"));
    assert!(err(&format!("{T} --tls=yes")).contains("takes no value"));
    assert!(err(&format!("{T} --bogus 1")).contains("unknown option --bogus"));
}

#[test]
fn dates_and_stamps() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2026, 1, 1) * 86_400, YEAR_START);
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    assert_eq!(utc_stamp(YEAR_START), "20260101T000000Z");
    assert_eq!(
        utc_stamp(YEAR_START + 59 * 86_400 + 3_723),
        "20260301T010203Z"
    );
    assert_eq!(utc_stamp(951_782_400), "20000229T000000Z");
    let (s, e) = month_range("2024-02").unwrap();
    assert_eq!((e - s) / 86_400, 29);
    assert_eq!(utc_stamp(s), "20240201T000000Z");
    assert!(month_range("2024-00").is_err());
}

#[test]
fn bodies_parse_with_the_servers_parsers() {
    let (s, e) = month_range("2026-06").unwrap();
    for expand in [false, true] {
        let Ok(Report::CalendarQuery(q)) =
            davreport::parse(calendar_query(s, e, expand).as_bytes())
        else {
            panic!("calendar-query does not parse");
        };
        let data = q.calendar_data.expect("calendar-data asked");
        assert_eq!(data.expand.is_some(), expand);
        assert!(
            matches!(q.props, Some(Propfind::Prop(ref p)) if p.iter().any(|n| n.local == "getetag"))
        );
    }
    let token = "http://ferrymail.invalid/sync/7?a=1&b=<2>";
    let Ok(Report::SyncCollection(sc)) = davreport::parse(sync_collection(token).as_bytes()) else {
        panic!("sync-collection does not parse");
    };
    assert_eq!(sc.sync_token.as_deref(), Some(token));
    let Ok(Propfind::Prop(names)) = parse_propfind(propfind_members().as_bytes()) else {
        panic!("propfind does not parse");
    };
    let locals: Vec<&str> = names.iter().map(|n| n.local.as_str()).collect();
    assert_eq!(locals, ["getetag", "getcontenttype"]);
    let Ok(Propfind::Prop(names)) = parse_propfind(propfind_sync_token().as_bytes()) else {
        panic!("propfind does not parse");
    };
    assert_eq!(names[0].local, "sync-token");
}

#[test]
fn answers_are_read() {
    let ms = br#"<?xml version="1.0"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>/a</D:href>
        <D:propstat><D:prop><D:getetag>"x"</D:getetag></D:prop></D:propstat></D:response>
        <response xmlns="DAV:"><href>/b</href></response><x:response xmlns:x="DAV:"/>
        <D:responsedescription>no</D:responsedescription>
        <D:sync-token>http://ferrymail.invalid/sync/12&amp;x</D:sync-token></D:multistatus>"#;
    assert_eq!(count_responses(ms), 3);
    assert_eq!(
        sync_token_of(ms).as_deref(),
        Some("http://ferrymail.invalid/sync/12&x")
    );
    let empty =
        br#"<D:prop><D:sync-token/></D:prop><D:prop><D:sync-token>t</D:sync-token></D:prop>"#;
    assert_eq!(sync_token_of(empty).as_deref(), Some("t"));
    assert_eq!(sync_token_of(b"<D:multistatus/>"), None);
    assert_eq!(count_responses(b"no xml at all"), 0);
    assert_eq!(
        status_kb("VmHWM:\t  2048 kB\nVmRSS:\t 1024 kB\n", "VmRSS:"),
        Some(1024)
    );
    assert_eq!(status_kb("VmHWM:\t  2048 kB\n", "VmHWM:"), Some(2048));
    assert_eq!(
        collection_path("bob@example.com", "cal"),
        "/dav/calendars/bob@example.com/cal/"
    );
    assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
}

#[test]
fn events_are_valid_mixed_and_overlap_as_the_server_computes() {
    let (s, e) = month_range("2026-06").unwrap();
    let Ok(Report::CalendarQuery(q)) = davreport::parse(calendar_query(s, e, false).as_bytes())
    else {
        panic!("calendar-query does not parse");
    };
    let n = 2_000u64;
    let (mut recurring, mut all_day, mut moved, mut unbounded, mut hits) = (0, 0, 0, 0, 0);
    for i in 0..n {
        let spec = EventSpec::generate(i, 0.1);
        assert_eq!(spec, EventSpec::generate(i, 0.1), "deterministic");
        let text = spec.to_ical(SEED_STAMP, "");
        let obj = validate_calendar(&text, &[ComponentKind::Event], 1 << 20)
            .unwrap_or_else(|e| panic!("event {i} invalid: {e}\n{text}"));
        assert_eq!(obj.uid, uid(i));
        let ev = Evaluator::new(&obj.calendar, Tz::UTC).expect("instances");
        assert_eq!(
            ev.matches(&q.filter),
            spec.overlaps(s, e),
            "event {i} in June 2026:\n{text}"
        );
        recurring += u64::from(spec.rule != Rule::Once);
        all_day += u64::from(spec.all_day);
        moved += u64::from(spec.moved_second.is_some());
        unbounded += u64::from(spec.rule == Rule::Weekly(None));
        hits += u64::from(spec.overlaps(s, e));
    }
    // The mix: about 10 % recurring, some without end, some overridden, some all-day;
    // a month holds a fair share of the year.
    assert!((150..=250).contains(&recurring), "{recurring}");
    assert!(
        unbounded > 10 && moved > 20 && all_day > 40,
        "{unbounded} {moved} {all_day}"
    );
    assert!((150..=500).contains(&hits), "{hits}");
    // The one change of the sync phase is another text, same UID.
    let spec = EventSpec::generate(0, 0.1);
    assert_ne!(
        spec.to_ical(SEED_STAMP, ""),
        spec.to_ical(SEED_STAMP, " (changed)")
    );
    // Overlap edges: an instance ending exactly at the range start does not overlap.
    let one = EventSpec {
        index: 0,
        start: 1000,
        duration: 100,
        all_day: false,
        rule: Rule::Daily(3),
        moved_second: None,
        summary: String::new(),
        location: None,
        description: None,
    };
    assert!(!one.overlaps(1100, 2000));
    assert!(one.overlaps(1099, 2000));
    assert!(one.overlaps(1000 + 86_400, 1001 + 86_400));
    assert!(!one.overlaps(1000 + 3 * 86_400, 1_000_000));
    let moved = EventSpec {
        moved_second: Some(3_600),
        ..one
    };
    assert!(!moved.overlaps(1000 + 86_400, 1001 + 86_400));
    assert!(moved.overlaps(4600 + 86_400, 4601 + 86_400));
}

#[test]
fn a_whole_run_against_a_real_server() {
    let server = TestServer::start("[listeners]\nhttp = \"127.0.0.1:0\"\n");
    let o = run_opts(&format!(
        "--target {} --user {} --password placeholder --seed 300 --requests 6 --warmup 2 \
         --concurrency 2 --server-pid {}",
        server.addr("http"),
        USERS[0],
        std::process::id()
    ));
    let o = DavBenchOptions {
        password: PASSWORD.into(),
        ..o
    };
    let report = run_bounded(dav_bench(&o));
    let text = report.render();
    let seed = report.seed.as_ref().expect("seeded");
    assert_eq!((seed.stored, seed.failed), (300, 0), "{text}");
    assert!(report.sync_token.is_some(), "{text}");
    assert_eq!(report.phases.len(), 4, "{text}");
    for p in &report.phases {
        assert!(p.checked(), "{} not as expected:\n{text}", p.phase);
        assert_eq!((p.requests, p.ok), (6, 6), "{text}");
        assert!(
            p.server_cpu_s.is_some() && p.rss_peak_kb.is_some(),
            "{text}"
        );
    }
    let by = |name: &str| report.phases.iter().find(|p| p.phase == name).unwrap();
    assert_eq!(by("sync").responses_max, Some(1));
    assert_eq!(by("propfind").responses_max, Some(301));
    let in_june = by("query").responses_max.unwrap();
    assert!(in_june > 10 && in_june < 300, "{text}");
    assert_eq!(by("expand").responses_max, Some(in_june));
    assert!(by("expand").mean_body_bytes != by("query").mean_body_bytes);
    assert!(text.contains("RESULT {"), "{text}");
    assert!(report.errors.is_empty(), "{text}");

    // A second run on the same calendar without seeding: the old change is no longer
    // news, a new one is; the counts are unknown to the bench and not checked.
    let again = DavBenchOptions {
        seed: 0,
        phases: vec![Phase::Sync, Phase::Propfind],
        ..o
    };
    let report = run_bounded(dav_bench(&again));
    assert!(
        report.phases.iter().all(|p| p.checked()),
        "{}",
        report.render()
    );
    assert_eq!(report.phases[0].responses_max, Some(1));
    assert_eq!(report.phases[1].responses_max, Some(301));
    assert_eq!(report.phases[1].responses_expected, None);
}
