//! The `DAV:principal-property-search` REPORT (RFC 3744 §9.4): its body parsed, and whether
//! a principal's property values match it. Pure: the HTTP side decides which principals
//! are candidates and writes the answer.
//!
//! A `property-search` names properties and a `match` text; a principal matches it when
//! one of those properties' text contains the match text, ignoring case (§9.4: "caseless
//! substring"). The searches must all match (`test="allof"`, the default) or one
//! (`test="anyof"`). No search at all matches every principal (what clients send to list
//! them).

use super::xml::{self, Element, DAV};
use super::{PropName, WebDavError};

/// One `property-search`: the properties to look in and the text to find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertySearch {
    pub props: Vec<PropName>,
    pub text: String,
}

/// A parsed `principal-property-search`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalSearch {
    pub searches: Vec<PropertySearch>,
    /// `test="anyof"`: one search is enough.
    pub any_of: bool,
    /// The properties to answer with (`DAV:prop`; empty when none was asked).
    pub answer: Vec<PropName>,
}

/// Whether `body` is a `principal-property-search` REPORT (its root element).
pub fn is_principal_search(root: &Element) -> bool {
    root.is(DAV, "principal-property-search")
}

/// Parses the REPORT body; the root must be `DAV:principal-property-search`.
pub fn parse(body: &[u8]) -> Result<PrincipalSearch, WebDavError> {
    let root =
        xml::parse(body)?.ok_or_else(|| WebDavError::BadXml("the REPORT needs a body".into()))?;
    from_element(&root)
}

/// [`parse`] for an already parsed root element.
pub fn from_element(root: &Element) -> Result<PrincipalSearch, WebDavError> {
    if !is_principal_search(root) {
        return Err(WebDavError::BadXml(format!(
            "expected DAV:principal-property-search, found {{{}}}{}",
            root.ns, root.local
        )));
    }
    let any_of = root
        .attrs
        .iter()
        .any(|(_, name, value)| name == "test" && value.eq_ignore_ascii_case("anyof"));
    let mut searches = Vec::new();
    for s in root.elements().filter(|e| e.is(DAV, "property-search")) {
        let props: Vec<PropName> = s
            .child(DAV, "prop")
            .map(|p| p.elements().map(PropName::of).collect())
            .unwrap_or_default();
        let Some(m) = s.child(DAV, "match") else {
            return Err(WebDavError::BadXml(
                "a property-search needs a match".into(),
            ));
        };
        if props.is_empty() {
            return Err(WebDavError::BadXml(
                "a property-search needs a prop naming a property".into(),
            ));
        }
        searches.push(PropertySearch {
            props,
            text: m.text(),
        });
    }
    let mut answer: Vec<PropName> = root
        .child(DAV, "prop")
        .map(|p| p.elements().map(PropName::of).collect())
        .unwrap_or_default();
    // python's `caldav` (3.x) puts the properties it wants beside an empty `prop`
    // instead of in it; they are taken as asked.
    answer.extend(
        root.elements()
            .filter(|e| {
                !e.is(DAV, "property-search")
                    && !e.is(DAV, "prop")
                    && !e.is(DAV, "apply-to-principal-collection-set")
            })
            .map(PropName::of),
    );
    Ok(PrincipalSearch {
        searches,
        any_of,
        answer,
    })
}

impl PrincipalSearch {
    /// Whether a principal matches, `text_of` giving the text of one of its properties
    /// (`None`: it has no such property).
    pub fn matches(&self, text_of: impl Fn(&PropName) -> Option<String>) -> bool {
        let one = |s: &PropertySearch| {
            let needle = s.text.to_lowercase();
            s.props
                .iter()
                .any(|p| text_of(p).is_some_and(|t| t.to_lowercase().contains(&needle)))
        };
        if self.searches.is_empty() {
            return true;
        }
        if self.any_of {
            self.searches.iter().any(one)
        } else {
            self.searches.iter().all(one)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";

    fn text_of(p: &PropName) -> Option<String> {
        match (p.ns.as_str(), p.local.as_str()) {
            (DAV, "displayname") => Some("Alice Example".into()),
            (CALDAV, "calendar-user-address-set") => Some("mailto:alice@example.com".into()),
            _ => None,
        }
    }

    #[test]
    fn by_name_by_address_all_and_any() {
        let by_name = br#"<D:principal-property-search xmlns:D="DAV:"><D:property-search><D:prop><D:displayname/></D:prop><D:match>alice</D:match></D:property-search><D:prop><D:displayname/></D:prop></D:principal-property-search>"#;
        let q = parse(by_name).unwrap();
        assert_eq!(q.answer, vec![PropName::dav("displayname")]);
        assert!(q.matches(text_of));
        let other = String::from_utf8_lossy(by_name).replace(">alice<", ">bob<");
        assert!(!parse(other.as_bytes()).unwrap().matches(text_of));

        let by_address = br#"<D:principal-property-search xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:property-search><D:prop><C:calendar-user-address-set/></D:prop><D:match>ALICE@EXAMPLE</D:match></D:property-search><D:property-search><D:prop><D:displayname/></D:prop><D:match>nobody</D:match></D:property-search></D:principal-property-search>"#;
        let all = parse(by_address).unwrap();
        assert!(!all.matches(text_of), "allof: the second search fails");
        let any = String::from_utf8_lossy(by_address).replace(
            "<D:principal-property-search ",
            "<D:principal-property-search test=\"anyof\" ",
        );
        assert!(parse(any.as_bytes()).unwrap().matches(text_of));

        // What python's caldav sends: the properties beside an empty prop.
        let beside = br#"<D:principal-property-search xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:property-search><D:prop><D:displayname/></D:prop><D:match>eve</D:match></D:property-search><D:prop/><C:calendar-home-set/><D:displayname/></D:principal-property-search>"#;
        let q = parse(beside).unwrap();
        assert_eq!(q.answer.len(), 2, "{:?}", q.answer);
        assert_eq!(q.answer[0].local, "calendar-home-set");

        let list_all = br#"<D:principal-property-search xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:principal-property-search>"#;
        assert!(parse(list_all).unwrap().matches(|_| None));
        // A property the principal lacks matches nothing.
        let unknown = br#"<D:principal-property-search xmlns:D="DAV:"><D:property-search><D:prop><D:getetag/></D:prop><D:match>a</D:match></D:property-search></D:principal-property-search>"#;
        assert!(!parse(unknown).unwrap().matches(text_of));
    }

    #[test]
    fn malformed_searches_are_refused() {
        for body in [
            &br#"<D:propfind xmlns:D="DAV:"/>"#[..],
            br#"<D:principal-property-search xmlns:D="DAV:"><D:property-search><D:prop><D:displayname/></D:prop></D:property-search></D:principal-property-search>"#,
            br#"<D:principal-property-search xmlns:D="DAV:"><D:property-search><D:match>x</D:match></D:property-search></D:principal-property-search>"#,
            b"",
        ] {
            assert!(parse(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
    }
}
