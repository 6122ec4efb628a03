//! Table tests of the WebDAV codec: request bodies as clients (litmus, cadaver, macOS
//! Finder) send them, the headers, and the multistatus writer.

use super::headers::*;
use super::multistatus::*;
use super::request::*;
use super::xml::{self, DAV};
use super::*;

fn litmus(local: &str) -> PropName {
    PropName {
        ns: "http://example.com/neon/litmus/".into(),
        local: local.into(),
    }
}

#[test]
fn propfind_bodies() {
    let cases: &[(&str, Result<Propfind, ()>)] = &[
        ("", Ok(Propfind::AllProp { include: vec![] })),
        (
            "<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfind>",
            Ok(Propfind::AllProp { include: vec![] }),
        ),
        (
            "<propfind xmlns=\"DAV:\"><propname/></propfind>",
            Ok(Propfind::PropName),
        ),
        (
            "<propfind xmlns=\"DAV:\"><allprop/><include><getetag/><x:q xmlns:x=\"urn:q\"/></include></propfind>",
            Ok(Propfind::AllProp {
                include: vec![
                    PropName::dav("getetag"),
                    PropName { ns: "urn:q".into(), local: "q".into() },
                ],
            }),
        ),
        (
            "<a:propfind xmlns:a=\"DAV:\"><a:prop><a:getetag/>\n<b:x xmlns:b=\"http://example.com/neon/litmus/\"/><nons xmlns=\"\"/></a:prop></a:propfind>",
            Ok(Propfind::Prop(vec![
                PropName::dav("getetag"),
                litmus("x"),
                PropName { ns: String::new(), local: "nons".into() },
            ])),
        ),
        (
            "<D:propfind xmlns:D=\"DAV:\"><D:prop><n xmlns=\"\"/></D:prop></D:propfind>",
            Ok(Propfind::Prop(vec![PropName { ns: String::new(), local: "n".into() }])),
        ),
        // A prefix bound to "" (litmus propfind_invalid2).
        (
            "<D:propfind xmlns:D=\"DAV:\"><D:prop><bar:foo xmlns:bar=\"\"/></D:prop></D:propfind>",
            Err(()),
        ),
        // Not DAV:propfind, unbalanced, an undeclared prefix, a DOCTYPE.
        ("<propfind><prop/></propfind>", Err(())),
        ("<D:propfind xmlns:D=\"DAV:\"><D:prop>", Err(())),
        ("<D:propfind><D:prop/></D:propfind>", Err(())),
        (
            "<!DOCTYPE x [<!ENTITY a \"b\">]><D:propfind xmlns:D=\"DAV:\"/>",
            Err(()),
        ),
    ];
    for (body, want) in cases {
        let got = parse_propfind(body.as_bytes()).map_err(|_| ());
        assert_eq!(&got, want, "body {body:?}");
    }
}

#[test]
fn proppatch_keeps_value_xml_and_order() {
    let body = r#"<?xml version="1.0" encoding="utf-8" ?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://example.com/neon/litmus/">
  <D:set><D:prop><Z:a>va&amp;lue &#x263A;</Z:a><Z:b><Z:x y="1">in<Q:q xmlns:Q="urn:q"/></Z:x></Z:b></D:prop></D:set>
  <D:remove><D:prop><Z:c/></D:prop></D:remove>
</D:propertyupdate>"#;
    let ops = parse_proppatch(body.as_bytes()).expect("parses");
    assert_eq!(ops.len(), 3);
    let PatchOp::Set(name, el) = &ops[0] else {
        panic!("set first")
    };
    assert_eq!(name, &litmus("a"));
    assert_eq!(value_of(el), "va&amp;lue \u{263A}");
    let PatchOp::Set(_, el) = &ops[1] else {
        panic!("set second")
    };
    assert_eq!(
        value_of(el),
        "<x0:x xmlns:x0=\"http://example.com/neon/litmus/\" y=\"1\">in<x1:q xmlns:x1=\"urn:q\"/></x0:x>"
    );
    // Read back, the written value is the same tree.
    let again = xml::parse(format!("<r>{}</r>", value_of(el)).as_bytes())
        .expect("parses")
        .expect("element");
    assert_eq!(again.children, el.children);
    assert_eq!(ops[2], PatchOp::Remove(litmus("c")));
    assert!(parse_proppatch(b"").is_err());
    assert!(parse_proppatch(b"<D:propertyupdate xmlns:D=\"DAV:\"/>").is_err());
}

#[test]
fn lockinfo_bodies() {
    let body = "<D:lockinfo xmlns:D='DAV:'><D:lockscope><D:exclusive/></D:lockscope>\
        <D:locktype><D:write/></D:locktype><D:owner><D:href>http://x/</D:href></D:owner></D:lockinfo>";
    let info = parse_lockinfo(body.as_bytes())
        .expect("parses")
        .expect("body");
    assert_eq!(info.scope, LockScope::Exclusive);
    assert_eq!(
        info.owner.as_deref(),
        Some("<x0:href xmlns:x0=\"DAV:\">http://x/</x0:href>")
    );
    let shared = body.replace("exclusive", "shared");
    assert_eq!(
        parse_lockinfo(shared.as_bytes())
            .expect("parses")
            .map(|i| i.scope),
        Some(LockScope::Shared)
    );
    assert_eq!(parse_lockinfo(b"  \r\n").expect("empty"), None);
    assert!(parse_lockinfo(body.replace("write", "read").as_bytes()).is_err());
}

#[test]
fn header_values() {
    assert_eq!(depth(None, Depth::Infinity), Ok(Depth::Infinity));
    assert_eq!(depth(Some("0"), Depth::One), Ok(Depth::Zero));
    assert_eq!(depth(Some(" 1 "), Depth::Zero), Ok(Depth::One));
    assert_eq!(depth(Some("Infinity"), Depth::Zero), Ok(Depth::Infinity));
    assert!(depth(Some("2"), Depth::Zero).is_err());
    assert_eq!(overwrite(None), Ok(true));
    assert_eq!(overwrite(Some("F")), Ok(false));
    assert!(overwrite(Some("maybe")).is_err());
    assert_eq!(
        destination("http://h:8080/dav/files/a%40b/x"),
        Ok((Some("h:8080".into()), "/dav/files/a%40b/x".into()))
    );
    assert_eq!(destination("/p"), Ok((None, "/p".into())));
    assert!(destination("ftp://x/").is_err());
    assert_eq!(lock_token("<urn:uuid:1>"), Ok("urn:uuid:1".into()));
    assert!(lock_token("urn:uuid:1").is_err());
    assert_eq!(timeout(Some("Second-100"), 3600), 100);
    assert_eq!(timeout(Some("Infinite, Second-4100000000"), 3600), 3600);
    assert_eq!(timeout(Some("Second-99999"), 3600), 3600);
    assert_eq!(timeout(None, 600), 600);
    assert!(etag_matches("\"a\", \"b\"", Some("\"b\"")));
    assert!(etag_matches("*", Some("\"b\"")));
    assert!(!etag_matches("*", None));
    assert!(!etag_matches("W/\"b\"", Some("\"b\"")));
}

#[test]
fn if_header_lists() {
    let got = if_header("(<urn:uuid:1> [\"e1\"]) (Not <DAV:no-lock>)").expect("parses");
    assert_eq!(
        got,
        vec![
            IfList {
                resource: None,
                conditions: vec![
                    Condition::Token {
                        not: false,
                        token: "urn:uuid:1".into()
                    },
                    Condition::ETag {
                        not: false,
                        etag: "\"e1\"".into()
                    },
                ],
            },
            IfList {
                resource: None,
                conditions: vec![Condition::Token {
                    not: true,
                    token: "DAV:no-lock".into()
                }],
            },
        ]
    );
    let tagged = if_header("<http://h/a> (<urn:x>) <http://h/b> ([\"e\"])").expect("parses");
    assert_eq!(tagged[0].resource.as_deref(), Some("http://h/a"));
    assert_eq!(tagged[1].resource.as_deref(), Some("http://h/b"));
    for bad in ["", "()", "(<a>", "<x>", "(foo)"] {
        assert!(if_header(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn multistatus_declares_namespaces() {
    let body = multistatus(&[
        Response::Props {
            href: "/dav/files/a@b/x&y".into(),
            propstats: vec![
                (
                    200,
                    vec![
                        Prop {
                            name: PropName::dav("getetag"),
                            value: Some("\"e\"".into()),
                        },
                        Prop {
                            name: litmus("p"),
                            value: Some("v".into()),
                        },
                        Prop {
                            name: PropName {
                                ns: String::new(),
                                local: "n".into(),
                            },
                            value: None,
                        },
                    ],
                ),
                (
                    404,
                    vec![Prop {
                        name: PropName::dav("nope"),
                        value: None,
                    }],
                ),
                (403, vec![]),
            ],
        },
        Response::Status {
            href: "/z".into(),
            status: 423,
        },
    ]);
    assert!(
        body.contains("<D:href>/dav/files/a@b/x&amp;y</D:href>"),
        "{body}"
    );
    assert!(body.contains("<D:getetag>\"e\"</D:getetag>"), "{body}");
    assert!(
        body.contains("<P:p xmlns:P=\"http://example.com/neon/litmus/\">v</P:p>"),
        "{body}"
    );
    assert!(body.contains("<n/>"), "{body}");
    assert!(body.contains("HTTP/1.1 404 Not Found"), "{body}");
    assert!(!body.contains("403"), "empty propstat written: {body}");
    assert!(body.contains("HTTP/1.1 423 Locked"), "{body}");
    // The whole body parses back, with the dead property in its namespace.
    let root = xml::parse(body.as_bytes()).expect("parses").expect("root");
    assert!(root.is(DAV, "multistatus"));
    let first = root.elements().next().expect("response");
    let prop = first
        .child(DAV, "propstat")
        .and_then(|p| p.child(DAV, "prop"))
        .expect("prop");
    assert!(prop.child("http://example.com/neon/litmus/", "p").is_some());
    assert!(error_body("propfind-finite-depth").contains("<D:propfind-finite-depth/>"));
}
