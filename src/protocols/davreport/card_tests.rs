//! Table tests of CardDAV and sync-collection REPORT bodies: RFC 6352's examples (§8.6.3,
//! §8.6.4, §8.6.5, §8.7.1), RFC 6578's (§3.8-§3.11), and bodies as Apple Contacts,
//! Thunderbird and DAVx5 send them; each filter run against small cards.

use super::{parse, Report};
use crate::protocols::carddav::filter::Test;
use crate::protocols::carddav::report::{AddressData, AddressProp, AddressbookQuery};
use crate::protocols::carddav::text::{Collation, MatchType};
use crate::protocols::carddav::validate::validate_card;
use crate::protocols::webdav::report::{ReportError, SyncCollection, SyncLevel, CARDDAV};
use crate::protocols::webdav::request::Propfind;
use crate::protocols::webdav::PropName;

const DABOO: &str = "BEGIN:VCARD\r\n\
VERSION:3.0\r\n\
NICKNAME:me\r\n\
UID:34222-232@example.com\r\n\
FN:Cyrus Daboo\r\n\
EMAIL;TYPE=INTERNET:daboo@example.com\r\n\
END:VCARD\r\n";

const ERIC: &str = "BEGIN:VCARD\r\n\
VERSION:4.0\r\n\
NICKNAME:Eric\r\n\
UID:34222-233@example.com\r\n\
FN:Eric York\r\n\
item1.EMAIL;TYPE=work:eric@example.com\r\n\
END:VCARD\r\n";

const NOMAIL: &str = "BEGIN:VCARD\r\n\
VERSION:4.0\r\n\
UID:34222-234@example.com\r\n\
FN:Ürsula Ölberg\r\n\
END:VCARD\r\n";

fn query(body: &str) -> AddressbookQuery {
    match parse(body.as_bytes()) {
        Ok(Report::AddressbookQuery(q)) => q,
        other => panic!("not an addressbook-query: {other:?}"),
    }
}

/// Which of DABOO, ERIC, NOMAIL the query's filter selects.
fn selected(q: &AddressbookQuery) -> [bool; 3] {
    [DABOO, ERIC, NOMAIL].map(|data| match validate_card(data, 1 << 20) {
        Ok(o) => q.filter.matches(&o.card),
        Err(e) => panic!("{e}"),
    })
}

fn five_props() -> AddressData {
    AddressData {
        props: Some(
            ["VERSION", "UID", "NICKNAME", "EMAIL", "FN"]
                .iter()
                .map(|n| AddressProp {
                    name: n.to_string(),
                    novalue: false,
                })
                .collect(),
        ),
        ..AddressData::default()
    }
}

fn rfc_query(filter: &str, tail: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8" ?>
   <C:addressbook-query xmlns:D="DAV:"
                     xmlns:C="urn:ietf:params:xml:ns:carddav">
     <D:prop>
       <D:getetag/>
       <C:address-data>
         <C:prop name="VERSION"/>
         <C:prop name="UID"/>
         <C:prop name="NICKNAME"/>
         <C:prop name="EMAIL"/>
         <C:prop name="FN"/>
       </C:address-data>
     </D:prop>
     {filter}
     {tail}
   </C:addressbook-query>"#
    )
}

const ANYOF_DABOO: &str = r#"<C:filter test="anyof">
       <C:prop-filter name="FN">
         <C:text-match collation="i;unicode-casemap"
                       match-type="contains"
         >daboo</C:text-match>
       </C:prop-filter>
       <C:prop-filter name="EMAIL">
         <C:text-match collation="i;unicode-casemap"
                       match-type="contains"
         >daboo</C:text-match>
       </C:prop-filter>
     </C:filter>"#;

#[test]
fn rfc6352_8_6_examples() {
    // §8.6.3: NICKNAME equals "me".
    let q = query(&rfc_query(
        r#"<C:filter>
       <C:prop-filter name="NICKNAME">
         <C:text-match collation="i;unicode-casemap"
                       match-type="equals"
         >me</C:text-match>
       </C:prop-filter>
     </C:filter>"#,
        "",
    ));
    assert_eq!(q.address_data, Some(five_props()));
    assert_eq!(
        q.props,
        Some(Propfind::Prop(vec![
            PropName::dav("getetag"),
            PropName {
                ns: CARDDAV.into(),
                local: "address-data".into()
            }
        ]))
    );
    assert_eq!(q.filter.props[0].text[0].match_type, MatchType::Equals);
    assert_eq!(q.limit, None);
    assert_eq!(selected(&q), [true, false, false]);

    // §8.6.4: two prop-filters, anyof.
    let q = query(&rfc_query(ANYOF_DABOO, ""));
    assert_eq!(q.filter.test, Test::AnyOf);
    assert_eq!(selected(&q), [true, false, false]);

    // §8.6.5: the same with a limit of one result.
    let q = query(&rfc_query(
        ANYOF_DABOO,
        "<C:limit>\n <C:nresults>1</C:nresults>\n</C:limit>",
    ));
    assert_eq!(q.limit, Some(1));
}

#[test]
fn rfc6352_8_7_1_multiget() {
    let body = r#"<?xml version="1.0" encoding="utf-8" ?>
   <C:addressbook-multiget xmlns:D="DAV:"
                        xmlns:C="urn:ietf:params:xml:ns:carddav">
     <D:prop>
       <D:getetag/>
       <C:address-data>
         <C:prop name="VERSION"/>
         <C:prop name="UID"/>
         <C:prop name="NICKNAME"/>
         <C:prop name="EMAIL"/>
         <C:prop name="FN"/>
       </C:address-data>
     </D:prop>
     <D:href>/home/bernard/addressbook/vcf102.vcf</D:href>
     <D:href>/home/bernard/addressbook/vcf1.vcf</D:href>
   </C:addressbook-multiget>"#;
    match parse(body.as_bytes()) {
        Ok(Report::AddressbookMultiget(m)) => {
            assert_eq!(
                m.hrefs,
                vec![
                    "/home/bernard/addressbook/vcf102.vcf",
                    "/home/bernard/addressbook/vcf1.vcf"
                ]
            );
            assert_eq!(m.address_data, Some(five_props()));
        }
        other => panic!("{other:?}"),
    }
}

/// Match types, allof, negation, is-not-defined, param-filter and collations, each shown
/// by the cards it selects.
#[test]
fn filters_select_what_rfc6352_10_5_says() {
    let cases: &[(&str, &str, [bool; 3])] = &[
        (
            "allof needs both",
            r#"<C:filter test="allof"><C:prop-filter name="FN"><C:text-match>cyrus</C:text-match></C:prop-filter><C:prop-filter name="NICKNAME"><C:text-match match-type="equals">ME</C:text-match></C:prop-filter></C:filter>"#,
            [true, false, false],
        ),
        (
            "starts-with",
            r#"<C:filter><C:prop-filter name="FN"><C:text-match match-type="starts-with">eric</C:text-match></C:prop-filter></C:filter>"#,
            [false, true, false],
        ),
        (
            "ends-with, grouped property",
            r#"<C:filter><C:prop-filter name="EMAIL"><C:text-match match-type="ends-with">@example.com</C:text-match></C:prop-filter></C:filter>"#,
            [true, true, false],
        ),
        (
            "negated",
            r#"<C:filter><C:prop-filter name="FN"><C:text-match negate-condition="yes">york</C:text-match></C:prop-filter></C:filter>"#,
            [true, false, true],
        ),
        (
            "is-not-defined",
            r#"<C:filter><C:prop-filter name="EMAIL"><C:is-not-defined/></C:prop-filter></C:filter>"#,
            [false, false, true],
        ),
        (
            "param-filter",
            r#"<C:filter><C:prop-filter name="EMAIL"><C:param-filter name="TYPE"><C:text-match match-type="equals">work</C:text-match></C:param-filter></C:prop-filter></C:filter>"#,
            [false, true, false],
        ),
        (
            "default collation folds non-ASCII",
            r#"<C:filter><C:prop-filter name="FN"><C:text-match>ürsula</C:text-match></C:prop-filter></C:filter>"#,
            [false, false, true],
        ),
        (
            "ascii-casemap leaves non-ASCII",
            r#"<C:filter><C:prop-filter name="FN"><C:text-match collation="i;ascii-casemap">ürsula</C:text-match></C:prop-filter></C:filter>"#,
            [false, false, false],
        ),
        (
            "no prop-filter: every card",
            "<C:filter/>",
            [true, true, true],
        ),
    ];
    for (name, filter, expected) in cases {
        assert_eq!(
            &selected(&query(&rfc_query(filter, ""))),
            expected,
            "{name}"
        );
    }
    let q = query(&rfc_query(cases[0].1, ""));
    assert_eq!(q.filter.test, Test::AllOf);
    assert_eq!(
        q.filter.props[0].text[0].collation,
        Collation::UnicodeCasemap
    );
}

#[test]
fn carddav_refusals() {
    let filter = |tm: &str| {
        rfc_query(
            &format!(r#"<C:filter><C:prop-filter name="FN">{tm}</C:prop-filter></C:filter>"#),
            "",
        )
    };
    let e = parse(filter(r#"<C:text-match collation="i;octet-x">a</C:text-match>"#).as_bytes());
    assert_eq!(
        e,
        Err(ReportError::UnsupportedCollation {
            ns: CARDDAV,
            name: "i;octet-x".into()
        })
    );
    if let Err(e) = e {
        assert_eq!(e.precondition(), Some((CARDDAV, "supported-collation")));
    }
    for body in [
        filter(r#"<C:text-match match-type="regex">a</C:text-match>"#),
        rfc_query(r#"<C:filter test="oneof"/>"#, ""),
    ] {
        match parse(body.as_bytes()) {
            Err(e @ ReportError::UnsupportedFilter(_)) => {
                assert_eq!(
                    (e.status(), e.precondition()),
                    (403, Some((CARDDAV, "supported-filter")))
                );
            }
            other => panic!("{other:?}"),
        }
    }
    for body in [
        rfc_query("", ""),
        rfc_query("<C:filter/>", "<C:limit><C:nresults>many</C:nresults></C:limit>"),
        rfc_query(r#"<C:filter><C:prop-filter/></C:filter>"#, ""),
        r#"<C:addressbook-multiget xmlns:C="urn:ietf:params:xml:ns:carddav" xmlns:D="DAV:"><D:href> </D:href></C:addressbook-multiget>"#.to_string(),
    ] {
        assert!(
            matches!(parse(body.as_bytes()), Err(ReportError::BadXml(_))),
            "{body}"
        );
    }
}

/// Apple Contacts (prefixes A/B, whitespace), DAVx5 (default DAV: namespace, an empty
/// address-data).
#[test]
fn carddav_client_bodies() {
    let apple = r#"<?xml version="1.0" encoding="UTF-8"?>
<B:addressbook-multiget xmlns:B="urn:ietf:params:xml:ns:carddav">
  <A:prop xmlns:A="DAV:">
    <A:getetag/>
    <B:address-data/>
  </A:prop>
  <A:href xmlns:A="DAV:">
    /dav/addressbooks/ann/default/0E7C1B2A.vcf
  </A:href>
</B:addressbook-multiget>"#;
    match parse(apple.as_bytes()) {
        Ok(Report::AddressbookMultiget(m)) => {
            assert_eq!(m.hrefs, vec!["/dav/addressbooks/ann/default/0E7C1B2A.vcf"]);
            assert_eq!(m.address_data, Some(AddressData::default()));
        }
        other => panic!("{other:?}"),
    }
    let davx5 = "<?xml version='1.0' encoding='UTF-8' ?><CARD:addressbook-query \
        xmlns=\"DAV:\" xmlns:CARD=\"urn:ietf:params:xml:ns:carddav\"><prop><getetag />\
        <CARD:address-data content-type=\"text/vcard\" version=\"4.0\" /></prop>\
        <CARD:filter test=\"anyof\"><CARD:prop-filter name=\"NICKNAME\"><CARD:text-match \
        match-type=\"equals\">eric</CARD:text-match></CARD:prop-filter></CARD:filter>\
        </CARD:addressbook-query>";
    let q = query(davx5);
    assert_eq!(selected(&q), [false, true, false]);
    assert_eq!(
        q.address_data,
        Some(AddressData {
            content_type: Some("text/vcard".into()),
            version: Some("4.0".into()),
            props: None,
        })
    );
}

#[test]
fn rfc6578_sync_collection() {
    let boxschema = PropName {
        ns: "urn:ns.example.com:boxschema".into(),
        local: "bigbox".into(),
    };
    let body = |token: &str, level: &str, extra: &str, prop: &str| {
        format!(
            r#"<?xml version="1.0" encoding="utf-8" ?>
     <D:sync-collection xmlns:D="DAV:">
       {token}
       <D:sync-level>{level}</D:sync-level>
       {extra}
       <D:prop xmlns:R="urn:ns.example.com:boxschema">
         <D:getetag/>
         {prop}
       </D:prop>
     </D:sync-collection>"#
        )
    };
    let cases = [
        (
            "3.8 initial",
            body("<D:sync-token/>", "1", "", "<R:bigbox/>"),
            SyncCollection {
                sync_token: None,
                level: SyncLevel::One,
                limit: None,
                props: Some(Propfind::Prop(vec![
                    PropName::dav("getetag"),
                    boxschema.clone(),
                ])),
            },
        ),
        (
            "3.9 subsequent",
            body(
                "<D:sync-token\n>http://example.com/ns/sync/1234</D:sync-token>",
                "1",
                "",
                "<R:bigbox/>",
            ),
            SyncCollection {
                sync_token: Some("http://example.com/ns/sync/1234".into()),
                level: SyncLevel::One,
                limit: None,
                props: Some(Propfind::Prop(vec![PropName::dav("getetag"), boxschema])),
            },
        ),
        (
            "3.10 truncated",
            body(
                "<D:sync-token/>",
                "1",
                "<D:limit>\n <D:nresults>100</D:nresults>\n</D:limit>",
                "",
            ),
            SyncCollection {
                sync_token: None,
                level: SyncLevel::One,
                limit: Some(100),
                props: Some(Propfind::Prop(vec![PropName::dav("getetag")])),
            },
        ),
        (
            "3.11 infinite",
            body("<D:sync-token/>", "infinite", "", ""),
            SyncCollection {
                sync_token: None,
                level: SyncLevel::Infinite,
                limit: None,
                props: Some(Propfind::Prop(vec![PropName::dav("getetag")])),
            },
        ),
    ];
    for (name, body, expected) in cases {
        assert_eq!(
            parse(body.as_bytes()),
            Ok(Report::SyncCollection(expected)),
            "{name}"
        );
    }
    // DAVx5: default namespace; an old client without sync-level means the members.
    let davx5 = r#"<sync-collection xmlns="DAV:"><sync-token>https://ferrymail.test/sync/7</sync-token><prop><getetag/></prop></sync-collection>"#;
    match parse(davx5.as_bytes()) {
        Ok(Report::SyncCollection(s)) => {
            assert_eq!(s.level, SyncLevel::One);
            assert_eq!(
                s.sync_token.as_deref(),
                Some("https://ferrymail.test/sync/7")
            );
        }
        other => panic!("{other:?}"),
    }
    for bad in [
        body("<D:sync-token/>", "2", "", ""),
        body("", "1", "", ""),
        body("<D:sync-token/>", "1", "<D:limit/>", ""),
    ] {
        assert!(
            matches!(parse(bad.as_bytes()), Err(ReportError::BadXml(_))),
            "{bad}"
        );
    }
}
