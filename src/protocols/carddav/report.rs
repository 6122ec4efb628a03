//! CardDAV REPORT bodies (RFC 6352 §8.6 addressbook-query, §8.7 addressbook-multiget)
//! parsed from the [`crate::protocols::webdav::xml`] tree into the [`super::filter`]
//! types, so the HTTP layer only dispatches.
//!
//! Implementation notes:
//!
//! - text-match's collation defaults to `i;unicode-casemap` here (§10.5.4), not to
//!   CalDAV's `i;ascii-casemap`; its match-type to `contains`.
//! - An unknown match-type or `test` value fails `CARDDAV:supported-filter`, an unknown
//!   collation `CARDDAV:supported-collation` (§8.6's preconditions).
//! - `address-data` (§10.4) is read from inside `DAV:prop`: the vCard properties to return
//!   (`None`: all of them).

use super::filter::{Filter, ParamFilter, PropFilter, Test};
use super::text::{Collation, MatchType, TextMatch};
use crate::protocols::webdav::report::{self, attr, negate, required_name, ReportError, CARDDAV};
use crate::protocols::webdav::request::Propfind;
use crate::protocols::webdav::xml::{Element, DAV};

/// CARDDAV:address-data in a request (§10.4): which vCard properties to return.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddressData {
    /// `content-type`/`version` asked for (`None`: the stored form).
    pub content_type: Option<String>,
    pub version: Option<String>,
    /// The property names (`None`: `allprop` or no selection, the whole card).
    pub props: Option<Vec<AddressProp>>,
}

/// A `CARDDAV:prop` of address-data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressProp {
    pub name: String,
    /// `novalue="yes"`: the property without its value.
    pub novalue: bool,
}

/// An addressbook-query body (§10.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressbookQuery {
    pub props: Option<Propfind>,
    pub address_data: Option<AddressData>,
    pub filter: Filter,
    /// `CARDDAV:limit`'s nresults (§8.6.1).
    pub limit: Option<u32>,
}

/// An addressbook-multiget body (§10.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressbookMultiget {
    pub props: Option<Propfind>,
    pub address_data: Option<AddressData>,
    pub hrefs: Vec<String>,
}

/// Reads an addressbook-query root element.
pub fn addressbook_query(root: &Element) -> Result<AddressbookQuery, ReportError> {
    let filter = root
        .child(CARDDAV, "filter")
        .ok_or_else(|| ReportError::BadXml("addressbook-query needs a filter".into()))?;
    let limit = match root.child(CARDDAV, "limit") {
        Some(l) => Some(report::nresults(l, CARDDAV)?),
        None => None,
    };
    Ok(AddressbookQuery {
        props: report::prop_request(root),
        address_data: address_data(root)?,
        filter: Filter {
            test: test_of(filter)?,
            props: filter
                .elements()
                .filter(|e| e.is(CARDDAV, "prop-filter"))
                .map(prop_filter)
                .collect::<Result<_, _>>()?,
        },
        limit,
    })
}

/// Reads an addressbook-multiget root element.
pub fn addressbook_multiget(root: &Element) -> Result<AddressbookMultiget, ReportError> {
    Ok(AddressbookMultiget {
        props: report::prop_request(root),
        address_data: address_data(root)?,
        hrefs: report::hrefs(root)?,
    })
}

fn address_data(root: &Element) -> Result<Option<AddressData>, ReportError> {
    let Some(el) = root
        .child(DAV, "prop")
        .and_then(|p| p.child(CARDDAV, "address-data"))
    else {
        return Ok(None);
    };
    let mut props = Vec::new();
    for p in el.elements().filter(|e| e.is(CARDDAV, "prop")) {
        props.push(AddressProp {
            name: required_name(p)?,
            novalue: attr(p, "novalue") == Some("yes"),
        });
    }
    let all = el.child(CARDDAV, "allprop").is_some() || props.is_empty();
    Ok(Some(AddressData {
        content_type: attr(el, "content-type").map(str::to_string),
        version: attr(el, "version").map(str::to_string),
        props: (!all).then_some(props),
    }))
}

fn prop_filter(el: &Element) -> Result<PropFilter, ReportError> {
    let mut f = PropFilter {
        name: required_name(el)?,
        test: test_of(el)?,
        is_not_defined: el.child(CARDDAV, "is-not-defined").is_some(),
        ..PropFilter::default()
    };
    for child in el.elements() {
        if child.is(CARDDAV, "text-match") {
            f.text.push(text_match(child)?);
        } else if child.is(CARDDAV, "param-filter") {
            f.params.push(ParamFilter {
                name: required_name(child)?,
                is_not_defined: child.child(CARDDAV, "is-not-defined").is_some(),
                text: child
                    .child(CARDDAV, "text-match")
                    .map(text_match)
                    .transpose()?,
            });
        }
    }
    Ok(f)
}

/// A CARDDAV:text-match (§10.5.4).
pub fn text_match(el: &Element) -> Result<TextMatch, ReportError> {
    let collation = match attr(el, "collation") {
        None => Collation::UnicodeCasemap,
        Some(name) => Collation::parse(name).ok_or_else(|| ReportError::UnsupportedCollation {
            ns: CARDDAV,
            name: name.to_string(),
        })?,
    };
    let match_type = match attr(el, "match-type") {
        None => MatchType::Contains,
        Some(name) => MatchType::parse(name)
            .ok_or_else(|| ReportError::UnsupportedFilter(format!("match-type {name:?}")))?,
    };
    Ok(TextMatch {
        value: el.text(),
        collation,
        match_type,
        negate: negate(el)?,
    })
}

fn test_of(el: &Element) -> Result<Test, ReportError> {
    match attr(el, "test") {
        None => Ok(Test::AnyOf),
        Some(t) => {
            Test::parse(t).ok_or_else(|| ReportError::UnsupportedFilter(format!("test {t:?}")))
        }
    }
}
