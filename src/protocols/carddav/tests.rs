//! Table tests with vCards as clients write them: Apple Contacts (3.0, grouped items),
//! Google (3.0), Thunderbird/DAVx5 (4.0).

use super::filter::{Filter, ParamFilter, PropFilter, Test};
use super::text::{Collation, MatchType, TextMatch};
use super::validate::{validate_card, AddressPrecondition};
use calcard::vcard::VCardVersion;

const MAX: usize = 1 << 20;

const APPLE_V3: &str = "BEGIN:VCARD\r\n\
VERSION:3.0\r\n\
PRODID:-//Apple Inc.//iPhone OS 17.0//EN\r\n\
N:Müller;Jürgen;;;\r\n\
FN:Jürgen Müller\r\n\
ORG:Fähre GmbH;\r\n\
item1.EMAIL;type=INTERNET;type=pref:juergen@example.de\r\n\
item1.X-ABLabel:_$!<Work>!$_\r\n\
TEL;type=CELL;type=VOICE;type=pref:+49 170 1234567\r\n\
UID:0E7C1B2A-1111-2222-3333-444455556666\r\n\
END:VCARD\r\n";

const GOOGLE_V3: &str = "BEGIN:VCARD\r\n\
VERSION:3.0\r\n\
FN:Ann Example\r\n\
N:Example;Ann;;;\r\n\
EMAIL;TYPE=INTERNET;TYPE=HOME:ann@example.com\r\n\
UID:6b1f2a3c4d5e\r\n\
END:VCARD\r\n";

const V4: &str = "BEGIN:VCARD\r\n\
VERSION:4.0\r\n\
FN:Bob Builder\r\n\
N:Builder;Bob;;;\r\n\
EMAIL;TYPE=work:bob@builder.test\r\n\
UID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\r\n\
END:VCARD\r\n";

#[test]
fn cards_of_both_versions_validate() {
    let cases = [
        (
            APPLE_V3,
            "0E7C1B2A-1111-2222-3333-444455556666",
            VCardVersion::V3_0,
        ),
        (GOOGLE_V3, "6b1f2a3c4d5e", VCardVersion::V3_0),
        (
            V4,
            "urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1",
            VCardVersion::V4_0,
        ),
    ];
    for (data, uid, version) in cases {
        let card = validate_card(data, MAX).unwrap_or_else(|e| panic!("{uid}: {e}"));
        assert_eq!(card.uid, uid);
        assert_eq!(card.version, version);
    }
}

#[test]
fn refusals_name_the_rfc_precondition() {
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "two cards",
            format!("{GOOGLE_V3}{V4}"),
            "valid-address-data",
        ),
        (
            "no FN",
            V4.replace("FN:Bob Builder\r\n", ""),
            "valid-address-data",
        ),
        (
            "no UID",
            GOOGLE_V3.replace("UID:6b1f2a3c4d5e\r\n", ""),
            "valid-address-data",
        ),
        (
            "no VERSION",
            V4.replace("VERSION:4.0\r\n", ""),
            "valid-address-data",
        ),
        (
            "version 2.1",
            V4.replace("VERSION:4.0", "VERSION:2.1"),
            "supported-address-data",
        ),
        (
            "iCalendar",
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n".into(),
            "valid-address-data",
        ),
        ("empty", String::new(), "valid-address-data"),
    ];
    for (what, data, want) in cases {
        match validate_card(&data, MAX) {
            Ok(_) => panic!("{what}: accepted"),
            Err(e) => assert_eq!(e.element(), want, "{what}: {e}"),
        }
    }
    assert_eq!(
        validate_card(V4, V4.len() - 1).map(|_| ()),
        Err(AddressPrecondition::MaxResourceSize {
            size: V4.len(),
            limit: V4.len() - 1
        })
    );
}

fn tm(value: &str, match_type: MatchType) -> TextMatch {
    TextMatch {
        value: value.into(),
        collation: Collation::UnicodeCasemap,
        match_type,
        negate: false,
    }
}

fn prop(name: &str, text: Vec<TextMatch>) -> PropFilter {
    PropFilter {
        name: name.into(),
        text,
        ..PropFilter::default()
    }
}

#[test]
fn addressbook_query_filters() {
    let email_ends = prop("EMAIL", vec![tm("@example.com", MatchType::EndsWith)]);
    let fn_starts = prop("FN", vec![tm("bob", MatchType::StartsWith)]);
    let cases: Vec<(&str, Filter, [bool; 3])> = vec![
        ("empty filter", Filter::default(), [true, true, true]),
        (
            "email ends-with",
            Filter {
                test: Test::AnyOf,
                props: vec![email_ends.clone()],
            },
            [false, true, false],
        ),
        (
            "grouped email equals",
            Filter {
                test: Test::AnyOf,
                props: vec![prop(
                    "EMAIL",
                    vec![tm("JUERGEN@example.de", MatchType::Equals)],
                )],
            },
            [true, false, false],
        ),
        (
            "unicode casemap",
            Filter {
                test: Test::AnyOf,
                props: vec![prop("FN", vec![tm("MÜLLER", MatchType::Contains)])],
            },
            [true, false, false],
        ),
        (
            "structured N",
            Filter {
                test: Test::AnyOf,
                props: vec![prop("N", vec![tm("ann", MatchType::Equals)])],
            },
            [false, true, false],
        ),
        (
            "anyof",
            Filter {
                test: Test::AnyOf,
                props: vec![email_ends.clone(), fn_starts.clone()],
            },
            [false, true, true],
        ),
        (
            "allof",
            Filter {
                test: Test::AllOf,
                props: vec![email_ends, fn_starts],
            },
            [false, false, false],
        ),
        (
            "is-not-defined",
            Filter {
                test: Test::AnyOf,
                props: vec![PropFilter {
                    name: "ORG".into(),
                    is_not_defined: true,
                    ..PropFilter::default()
                }],
            },
            [false, true, true],
        ),
        (
            "exists",
            Filter {
                test: Test::AnyOf,
                props: vec![prop("TEL", vec![])],
            },
            [true, false, false],
        ),
        (
            "negated",
            Filter {
                test: Test::AnyOf,
                props: vec![prop(
                    "FN",
                    vec![TextMatch {
                        negate: true,
                        ..tm("ann", MatchType::Contains)
                    }],
                )],
            },
            [true, false, true],
        ),
        (
            "param type",
            Filter {
                test: Test::AnyOf,
                props: vec![PropFilter {
                    name: "EMAIL".into(),
                    params: vec![ParamFilter {
                        name: "TYPE".into(),
                        is_not_defined: false,
                        text: Some(tm("home", MatchType::Equals)),
                    }],
                    ..PropFilter::default()
                }],
            },
            [false, true, false],
        ),
        (
            "prop allof text and param",
            Filter {
                test: Test::AnyOf,
                props: vec![PropFilter {
                    name: "EMAIL".into(),
                    test: Test::AllOf,
                    text: vec![tm("bob", MatchType::Contains)],
                    params: vec![ParamFilter {
                        name: "TYPE".into(),
                        is_not_defined: false,
                        text: Some(tm("home", MatchType::Equals)),
                    }],
                    ..PropFilter::default()
                }],
            },
            [false, false, false],
        ),
    ];
    let cards: Vec<_> = [APPLE_V3, GOOGLE_V3, V4]
        .iter()
        .map(|d| validate_card(d, MAX).unwrap_or_else(|e| panic!("{e}")).card)
        .collect();
    for (what, filter, want) in cases {
        let got = [0, 1, 2].map(|i| filter.matches(&cards[i]));
        assert_eq!(got, want, "{what}");
    }
}

#[test]
fn collations_and_match_types() {
    let t = |value: &str, collation, match_type| TextMatch {
        value: value.into(),
        collation,
        match_type,
        negate: false,
    };
    let one = |m: &TextMatch, s: &str| m.matches_any([s].into_iter());
    assert!(one(
        &t("abc", Collation::AsciiCasemap, MatchType::Equals),
        "ABC"
    ));
    assert!(!one(
        &t("äbc", Collation::AsciiCasemap, MatchType::Equals),
        "ÄBC"
    ));
    assert!(one(
        &t("äbc", Collation::UnicodeCasemap, MatchType::Equals),
        "ÄBC"
    ));
    assert!(!one(&t("abc", Collation::Octet, MatchType::Equals), "ABC"));
    assert!(one(&t("b", Collation::Octet, MatchType::Contains), "abc"));
    assert!(one(&t("", Collation::Octet, MatchType::StartsWith), "abc"));
    assert!(!one(
        &t("c", Collation::Octet, MatchType::StartsWith),
        "abc"
    ));
    assert!(one(
        &t("C", Collation::AsciiCasemap, MatchType::EndsWith),
        "abc"
    ));
    assert_eq!(
        Collation::parse("i;unicode-casemap"),
        Some(Collation::UnicodeCasemap)
    );
    assert_eq!(Collation::parse("i;foo"), None);
    assert_eq!(MatchType::parse("starts-with"), Some(MatchType::StartsWith));
}
