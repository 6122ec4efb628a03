//! `calendar …` against a real store in a temp dir: what the admin sees, and what the store
//! holds afterwards (parsed back with calcard, not compared as text).

use calcard::icalendar::ICalendar;
use calcard::{Entry, Parser};

use super::calendar::{self, ImportReport};
use super::parse_line;
use crate::storage::migrate::Progress;
use crate::storage::{Store, Writers};

struct Opened {
    store: Store,
    writers: Writers,
}

fn store() -> (tempfile::TempDir, Opened) {
    crate::storage::set_fast_password_hashing_for_tests(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, writers) = Store::open(dir.path()).expect("open store");
    let s = Opened { store, writers };
    for line in [
        "domain add example.org",
        "account add bob@example.org --password pw",
    ] {
        run(&s, line).expect(line);
    }
    (dir, s)
}

fn run(s: &Opened, line: &str) -> Result<String, String> {
    let cmd = parse_line(line).map_err(|e| e.to_string())?;
    super::exec::run(&s.store, Some(&s.writers), &cmd)
}

fn ok(s: &Opened, line: &str) -> String {
    run(s, line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

/// Progress that records what it was told.
#[derive(Default)]
struct Seen {
    phases: Vec<(String, u64)>,
    advanced: u64,
}

impl Progress for Seen {
    fn phase(&mut self, name: &str, total: u64) {
        self.phases.push((name.to_string(), total));
    }
    fn advance(&mut self, n: u64) {
        self.advanced += n;
    }
    fn end_phase(&mut self) {}
}

/// `n` events, every tenth one recurring weekly in Europe/Berlin with one moved instance,
/// in one VCALENDAR with the zone once; plus `bad` events without UID.
pub(crate) fn calendar_file(n: usize, bad: usize) -> String {
    let mut s = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Import//EN\r\nMETHOD:PUBLISH\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n\
TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n\
BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n\
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n",
    );
    for i in 0..n {
        if i % 10 == 0 {
            s.push_str(&format!(
                "BEGIN:VEVENT\r\nUID:event-{i}@example.org\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART;TZID=Europe/Berlin:20260105T090000\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=10\r\n\
SUMMARY:Weekly {i}\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:event-{i}@example.org\r\nDTSTAMP:20260101T000000Z\r\n\
RECURRENCE-ID;TZID=Europe/Berlin:20260112T090000\r\nDTSTART;TZID=Europe/Berlin:20260112T110000\r\n\
DURATION:PT1H\r\nSUMMARY:Weekly {i} (moved)\r\nEND:VEVENT\r\n"
            ));
        } else {
            s.push_str(&format!(
                "BEGIN:VEVENT\r\nUID:event-{i}@example.org\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART:20260{}{:02}T{:02}0000Z\r\nDURATION:PT30M\r\nSUMMARY:Event {i}\r\n\
DESCRIPTION:line one\\nline two\\, with a comma\r\nEND:VEVENT\r\n",
                1 + i % 9,
                1 + i % 28,
                i % 24
            ));
        }
    }
    for j in 0..bad {
        s.push_str(&format!(
            "BEGIN:VEVENT\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260301T100000Z\r\nSUMMARY:No UID {j}\r\nEND:VEVENT\r\n"
        ));
    }
    s.push_str("END:VCALENDAR\r\n");
    s
}

/// The non-VCALENDAR components of one stored object, each written alone, sorted: what
/// must survive a round trip whatever the PRODID and order.
fn parts(text: &str) -> Vec<String> {
    let Entry::ICalendar(cal) = Parser::new(text).entry() else {
        panic!("not iCalendar: {text}")
    };
    let mut out: Vec<String> = cal.components[0]
        .component_ids
        .iter()
        .map(|id| {
            let mut one = ICalendar {
                components: vec![cal.components[0].clone()],
            };
            one.components[0].entries.clear();
            one.components[0].component_ids.clear();
            // Copy the subtree (components of a parsed object are in tree order).
            let mut stack = vec![(*id, 0u32)];
            while let Some((sid, parent)) = stack.pop() {
                let c = &cal.components[sid as usize];
                let this = one.components.len() as u32;
                let mut copy = c.clone();
                copy.component_ids.clear();
                one.components.push(copy);
                one.components[parent as usize].component_ids.push(this);
                for child in c.component_ids.iter().rev() {
                    stack.push((*child, this));
                }
            }
            one.to_string()
        })
        .collect();
    out.sort();
    out
}

/// UID → parts of every object of bob's collection `name`.
fn objects(s: &Opened, name: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let c = s
        .store
        .dav_collection("bob@example.org", name)
        .unwrap()
        .unwrap();
    s.store
        .dav_objects(c.id)
        .unwrap()
        .into_iter()
        .map(|o| (o.uid.clone(), parts(&o.data)))
        .collect()
}

#[test]
fn list_create_delete() {
    let (_d, s) = store();
    let out = ok(&s, "calendar list bob@example.org");
    for word in [
        "calendar",
        "tasks",
        "contacts",
        "VEVENT",
        "VTODO",
        "VCARD",
        "addressbook",
    ] {
        assert!(out.contains(word), "{word} in {out}");
    }
    assert_eq!(
        ok(
            &s,
            "calendar create bob@example.org work --display 'Work things'"
        ),
        "calendar work created for bob@example.org (Work things)"
    );
    assert!(ok(&s, "calendar create bob@example.org todo --tasks").starts_with("tasks todo"));
    assert!(
        ok(&s, "calendar create bob@example.org people --addressbook")
            .starts_with("addressbook people")
    );
    let c = s
        .store
        .dav_collection("bob@example.org", "todo")
        .unwrap()
        .unwrap();
    assert_eq!(c.components, ["VTODO"]);
    let out = ok(&s, "calendar list bob@example.org");
    assert!(
        out.contains("Work things") && out.contains("people"),
        "{out}"
    );
    assert!(run(&s, "calendar create bob@example.org work")
        .unwrap_err()
        .contains("exists already"));
    assert!(run(
        &s,
        "calendar create bob@example.org x --tasks --addressbook"
    )
    .is_err());
    assert!(run(&s, "calendar create bob@example.org ..").is_err());
    assert!(run(&s, "calendar list nobody@example.org")
        .unwrap_err()
        .contains("not found"));
    assert!(ok(&s, "calendar delete bob@example.org work").contains("deleted"));
    assert!(s
        .store
        .dav_collection("bob@example.org", "work")
        .unwrap()
        .is_none());
    assert!(run(&s, "calendar delete bob@example.org work").is_err());
}

#[test]
fn the_command_line_round_trips() {
    for line in [
        "calendar list bob@example.org",
        "calendar create bob@example.org work --tasks --display 'My tasks'",
        "calendar create bob@example.org people --addressbook",
        "calendar delete bob@example.org work",
        "calendar import bob@example.org calendar '/some dir/a.ics'",
        "calendar export bob@example.org contacts /srv/exports/b.vcf",
    ] {
        let cmd = parse_line(line).unwrap();
        assert_eq!(super::parse(&cmd.to_words()).unwrap(), cmd, "{line}");
    }
    let cmd = parse_line("calendar import bob@example.org calendar rel/a.ics").unwrap();
    let super::AdminCommand::Calendar(c) = cmd else {
        panic!()
    };
    assert_eq!(
        c.with_absolute_file(std::path::Path::new("/home/x")),
        calendar::CalendarCommand::Import {
            account: "bob@example.org".into(),
            name: "calendar".into(),
            file: "/home/x/rel/a.ics".into()
        }
    );
}

#[test]
fn import_export_import_keeps_every_uid_and_its_data() {
    let (dir, s) = store();
    let file = dir.path().join("in.ics");
    std::fs::write(&file, calendar_file(200, 3)).unwrap();
    let out = ok(
        &s,
        &format!(
            "calendar import bob@example.org calendar {}",
            file.display()
        ),
    );
    assert!(
        out.starts_with(
            "imported into calendar of bob@example.org: 200 stored (200 new, 0 replaced"
        ),
        "{out}"
    );
    assert!(out.contains("3 invalid"), "{out}");
    assert_eq!(
        out.matches("invalid -: a VEVENT without UID").count(),
        3,
        "{out}"
    );
    let first = objects(&s, "calendar");
    assert_eq!(first.len(), 200);
    // A recurring event keeps its moved instance and carries its zone.
    let weekly = &first["event-0@example.org"];
    assert_eq!(weekly.len(), 3, "VTIMEZONE and two VEVENTs: {weekly:?}");
    assert!(weekly.iter().any(|p| p.contains("BEGIN:VTIMEZONE")));

    let exported = dir.path().join("out.ics");
    let out = ok(
        &s,
        &format!(
            "calendar export bob@example.org calendar {}",
            exported.display()
        ),
    );
    assert!(out.starts_with("200 objects"), "{out}");
    let text = std::fs::read_to_string(&exported).unwrap();
    assert_eq!(text.matches("BEGIN:VCALENDAR").count(), 1);
    assert_eq!(text.matches("BEGIN:VTIMEZONE").count(), 1, "the zone once");

    ok(&s, "calendar create bob@example.org copy");
    let out = ok(
        &s,
        &format!(
            "calendar import bob@example.org copy {}",
            exported.display()
        ),
    );
    assert!(
        out.contains("200 stored") && out.contains("0 invalid"),
        "{out}"
    );
    assert_eq!(objects(&s, "copy"), first);

    // Importing again replaces by UID (and says so), adds nothing.
    let out = ok(
        &s,
        &format!(
            "calendar import bob@example.org copy {}",
            exported.display()
        ),
    );
    assert!(out.contains("(0 new, 200 replaced"), "{out}");
    assert_eq!(objects(&s, "copy").len(), 200);
}

#[test]
fn a_vcf_splits_per_card_and_bad_cards_are_reported() {
    let (dir, s) = store();
    let file = dir.path().join("in.vcf");
    let mut text = String::new();
    for i in 0..50 {
        text.push_str(&format!(
            "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:card-{i}\r\nFN:Person {i}\r\n\
EMAIL;TYPE=work:p{i}@example.net\r\nTEL;VALUE=uri:tel:+1-555-01{i:02}\r\nEND:VCARD\r\n"
        ));
    }
    text.push_str("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:no-name\r\nEND:VCARD\r\n");
    std::fs::write(&file, &text).unwrap();
    let out = ok(
        &s,
        &format!(
            "calendar import bob@example.org contacts {}",
            file.display()
        ),
    );
    assert!(
        out.contains("50 stored") && out.contains("1 invalid"),
        "{out}"
    );
    assert!(
        out.contains("invalid no-name: valid-address-data: FN is required"),
        "{out}"
    );
    let exported = dir.path().join("out.vcf");
    ok(
        &s,
        &format!(
            "calendar export bob@example.org contacts {}",
            exported.display()
        ),
    );
    let back = std::fs::read_to_string(&exported).unwrap();
    assert_eq!(back.matches("BEGIN:VCARD").count(), 50);
    // Parsed back, every card is what was imported.
    let mut p = Parser::new(&back);
    let mut n = 0;
    while let Entry::VCard(card) = p.entry() {
        let uid = card.uid().unwrap().to_string();
        let c = s
            .store
            .dav_collection("bob@example.org", "contacts")
            .unwrap()
            .unwrap();
        let stored = s
            .store
            .dav_objects(c.id)
            .unwrap()
            .into_iter()
            .find(|o| o.uid == uid)
            .unwrap();
        let Entry::VCard(orig) = Parser::new(&stored.data).entry() else {
            panic!()
        };
        assert_eq!(card, orig);
        n += 1;
        assert!(n <= 50);
    }
    assert_eq!(n, 50);
    // A calendar file into an address book: nothing stored, the reason given.
    let ics = dir.path().join("x.ics");
    std::fs::write(&ics, calendar_file(2, 0)).unwrap();
    let out = ok(
        &s,
        &format!("calendar import bob@example.org contacts {}", ics.display()),
    );
    assert!(
        out.contains("0 stored") && out.contains("iCalendar"),
        "{out}"
    );
}

#[test]
fn tasks_refuse_events_with_the_precondition() {
    let (dir, s) = store();
    let file = dir.path().join("in.ics");
    std::fs::write(&file, calendar_file(3, 0)).unwrap();
    let out = ok(
        &s,
        &format!("calendar import bob@example.org tasks {}", file.display()),
    );
    assert!(
        out.contains("0 stored") && out.contains("3 invalid"),
        "{out}"
    );
    assert!(out.contains("supported-calendar-component"), "{out}");
    assert!(run(
        &s,
        "calendar import bob@example.org tasks /nonexistent/file.ics"
    )
    .unwrap_err()
    .contains("cannot open"));
}

#[test]
fn ten_thousand_events_report_progress() {
    let (_d, s) = store();
    let text = calendar_file(10_000, 0);
    let mut seen = Seen::default();
    let report: ImportReport =
        calendar::import(&s.store, "bob@example.org", "calendar", &text, &mut seen).unwrap();
    assert_eq!(report.created, 10_000);
    assert!(report.refused.is_empty());
    assert_eq!(
        seen.phases,
        [("reading".to_string(), 0), ("import".to_string(), 10_000)]
    );
    assert_eq!(seen.advanced, 10_000);
    // The console's progress line: one per percent, the last one complete.
    let mut lines = Vec::new();
    let mut p = calendar::Lines::new(|l| lines.push(l));
    p.phase("import", 10_000);
    for _ in 0..10_000 {
        p.advance(1);
    }
    drop(p);
    assert_eq!(lines.len(), 100);
    assert_eq!(lines.last().unwrap(), "import: 10000/10000");
    let c = s
        .store
        .dav_collection("bob@example.org", "calendar")
        .unwrap()
        .unwrap();
    assert_eq!(s.store.dav_objects(c.id).unwrap().len(), 10_000);
}

#[test]
fn acl_and_share() {
    let (_dir, s) = store();
    ok(&s, "account add carol@example.org --password pw");
    let acl = ok(&s, "calendar acl bob@example.org calendar");
    assert!(
        acl.contains("bob@example.org") && acl.contains("lrswipkxtea (owner)"),
        "{acl}"
    );
    let out = ok(
        &s,
        "calendar share bob@example.org calendar Carol@Example.org lr",
    );
    assert!(out.contains("carol@example.org now has rights lr"), "{out}");
    let out = ok(
        &s,
        "calendar share bob@example.org calendar carol@example.org +wit",
    );
    assert!(out.contains("now has rights lrwit"), "{out}");
    let col = s
        .store
        .dav_collection("bob@example.org", "calendar")
        .unwrap()
        .unwrap();
    assert_eq!(
        s.store.dav_rights(&col, "carol@example.org").unwrap(),
        "lrwit"
    );
    assert!(ok(&s, "calendar acl bob@example.org calendar").contains("carol@example.org  lrwit"));
    // Refusals: unknown identifier, the owner, unknown rights, no such collection.
    let e = run(
        &s,
        "calendar share bob@example.org calendar nobody@example.org lr",
    )
    .unwrap_err();
    assert!(e.contains("no account nobody@example.org"), "{e}");
    let e = run(
        &s,
        "calendar share bob@example.org calendar bob@example.org lr",
    )
    .unwrap_err();
    assert!(e.contains("always has every right"), "{e}");
    assert!(run(
        &s,
        "calendar share bob@example.org calendar carol@example.org lq"
    )
    .is_err());
    assert!(run(&s, "calendar acl bob@example.org nope").is_err());
    let out = ok(
        &s,
        "calendar share bob@example.org calendar carol@example.org none",
    );
    assert!(out.contains("has no rights"), "{out}");
    assert_eq!(s.store.dav_rights(&col, "carol@example.org").unwrap(), "");

    // Public collections: made, listed, shared with anyone; no owner line.
    let out = ok(&s, "calendar create public holidays --display Holidays");
    assert!(out.contains("created for public"), "{out}");
    assert!(ok(&s, "calendar list public").contains("holidays"));
    assert_eq!(
        ok(&s, "calendar acl public holidays"),
        "no ACL entries: nobody has access"
    );
    ok(&s, "calendar share public holidays anyone lr");
    let shared = s.store.dav_shared_with("carol@example.org").unwrap();
    assert_eq!(shared.len(), 1);
    assert_eq!(
        (shared[0].owner.as_str(), shared[0].name.as_str()),
        ("", "holidays")
    );
    ok(&s, "calendar delete public holidays");
    assert!(s
        .store
        .dav_shared_with("carol@example.org")
        .unwrap()
        .is_empty());
}
