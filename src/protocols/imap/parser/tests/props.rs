//! Proptests: no input panics; printed sequence sets and search keys parse back.

use super::*;

fn print_set(s: &SequenceSet) -> String {
    let n = |v: &SeqNum| match v {
        SeqNum::Value(v) => v.to_string(),
        SeqNum::Largest => "*".into(),
    };
    match s {
        SequenceSet::Saved => "$".into(),
        SequenceSet::Ranges(r) => r
            .iter()
            .map(|r| match r {
                SeqRange::Single(a) => n(a),
                SeqRange::Range(a, b) => format!("{}:{}", n(a), n(b)),
            })
            .collect::<Vec<_>>()
            .join(","),
    }
}

fn print_key(k: &SearchKey) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    match k {
        SearchKey::All => "ALL".into(),
        SearchKey::Seen => "SEEN".into(),
        SearchKey::Subject(s) => format!("SUBJECT {}", q(s)),
        SearchKey::Larger(n) => format!("LARGER {n}"),
        SearchKey::Uid(s) => format!("UID {}", print_set(s)),
        SearchKey::SequenceSet(s) => print_set(s),
        SearchKey::Since(d) => {
            format!(
                "SINCE {}-{}-{:04}",
                d.day,
                MONTHS[usize::from(d.month - 1)],
                d.year
            )
        }
        SearchKey::Not(k) => format!("NOT {}", print_key(k)),
        SearchKey::Or(a, b) => format!("OR {} {}", print_key(a), print_key(b)),
        SearchKey::And(ks) => format!(
            "({})",
            ks.iter().map(print_key).collect::<Vec<_>>().join(" ")
        ),
        other => panic!("not generated: {other:?}"),
    }
}

fn seq_set() -> impl Strategy<Value = SequenceSet> {
    let num = prop_oneof![(1u32..).prop_map(SeqNum::Value), Just(SeqNum::Largest)];
    let range = prop_oneof![
        num.clone().prop_map(SeqRange::Single),
        (num.clone(), num).prop_map(|(a, b)| SeqRange::Range(a, b)),
    ];
    prop_oneof![
        1 => Just(SequenceSet::Saved),
        9 => proptest::collection::vec(range, 1..5).prop_map(SequenceSet::Ranges),
    ]
}

fn search_key() -> impl Strategy<Value = SearchKey> {
    let leaf =
        prop_oneof![
            Just(SearchKey::All),
            Just(SearchKey::Seen),
            "[a-z \"\\\\é]{0,8}".prop_map(SearchKey::Subject),
            (0u64..=MAX_N64).prop_map(SearchKey::Larger),
            seq_set().prop_map(SearchKey::Uid),
            seq_set().prop_map(SearchKey::SequenceSet),
            (1900u16..2100, 1u8..=12, 1u8..=28)
                .prop_map(|(year, month, day)| SearchKey::Since(Date { year, month, day })),
        ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|k| SearchKey::Not(Box::new(k))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| SearchKey::Or(Box::new(a), Box::new(b))),
            proptest::collection::vec(inner, 1..4).prop_map(SearchKey::And),
        ]
    })
}

const MAX_N64: u64 = i64::MAX as u64;

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), utf8 in any::<bool>()) {
        let _ = parse_command(&bytes, &ParseOptions { utf8 });
    }

    #[test]
    fn imap_like_input_never_panics(
        words in proptest::collection::vec(prop_oneof![
            Just("a"), Just("UID"), Just("FETCH"), Just("SEARCH"), Just("STORE"), Just("APPEND"),
            Just("LIST"), Just("SELECT"), Just("SORT"), Just("BODY[1.2.HEADER.FIELDS"),
            Just("("), Just(")"), Just("{3}\r\n"), Just("~{2}\r\n"), Just("\""), Just("\\"),
            Just("1:*"), Just("$"), Just("NOT"), Just("OR"), Just("<0.5>"), Just("RETURN"),
            Just("1-Feb-1994"), Just("&U,BTFw-"), Just("&"), Just("INBOX"), Just("+FLAGS"),
            Just("(QRESYNC"), Just("UTF8"), Just("MODSEQ"), Just("\r\n"), Just(" "),
        ], 0..25),
        utf8 in any::<bool>(),
    ) {
        let mut s = words.join(" ");
        s.push_str("\r\n");
        let _ = parse_command(s.as_bytes(), &ParseOptions { utf8 });
    }

    #[test]
    fn sequence_set_round_trip(s in seq_set()) {
        prop_assert_eq!(parse_sequence_set(print_set(&s).as_bytes()), Some(s));
    }

    #[test]
    fn search_round_trip(keys in proptest::collection::vec(search_key(), 1..4)) {
        let line = format!(
            "t SEARCH {}\r\n",
            keys.iter().map(print_key).collect::<Vec<_>>().join(" ")
        );
        let parsed = parse_command(line.as_bytes(), &ParseOptions::default());
        prop_assert_eq!(
            parsed.map(|c| c.body),
            Ok(CommandBody::Search {
                uid: false,
                search: SearchCommand { ret: None, charset: None, criteria: keys },
            })
        );
    }
}
