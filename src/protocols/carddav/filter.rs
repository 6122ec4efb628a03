//! addressbook-query filters (RFC 6352 §10.5) and their evaluation against one vCard
//! (§8.6): prop-filter (with its own anyof/allof), param-filter, text-match with the four
//! match types, is-not-defined; the filter's `test` combines its prop-filters.
//!
//! Property names match without case and without their group (`item1.EMAIL` is EMAIL).
//! A structured value (N, ADR) matches when one of its components does.

use calcard::vcard::{VCard, VCardEntry, VCardValue};

use super::text::TextMatch;

/// `test="anyof"` (the default) or `test="allof"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Test {
    #[default]
    AnyOf,
    AllOf,
}

impl Test {
    pub fn parse(name: &str) -> Option<Test> {
        match name {
            "anyof" => Some(Test::AnyOf),
            "allof" => Some(Test::AllOf),
            _ => None,
        }
    }

    fn combine(self, mut results: impl Iterator<Item = bool>) -> bool {
        match self {
            Test::AnyOf => results.any(|r| r),
            Test::AllOf => results.all(|r| r),
        }
    }
}

/// CARDDAV:filter. No prop-filter matches every card.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Filter {
    pub test: Test,
    pub props: Vec<PropFilter>,
}

/// CARDDAV:prop-filter.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PropFilter {
    pub name: String,
    pub test: Test,
    pub is_not_defined: bool,
    pub text: Vec<TextMatch>,
    pub params: Vec<ParamFilter>,
}

/// CARDDAV:param-filter: is-not-defined, a text-match, or neither (the parameter exists).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ParamFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub text: Option<TextMatch>,
}

impl Filter {
    /// Whether `card` matches.
    pub fn matches(&self, card: &VCard) -> bool {
        if self.props.is_empty() {
            return true;
        }
        self.test
            .combine(self.props.iter().map(|p| p.matches(card)))
    }
}

impl PropFilter {
    fn matches(&self, card: &VCard) -> bool {
        let mut found = card
            .entries
            .iter()
            .filter(|e| e.name.as_str().eq_ignore_ascii_case(&self.name))
            .peekable();
        if self.is_not_defined {
            return found.peek().is_none();
        }
        if self.text.is_empty() && self.params.is_empty() {
            return found.peek().is_some();
        }
        found.any(|e| self.entry_matches(e))
    }

    fn entry_matches(&self, e: &VCardEntry) -> bool {
        let texts = entry_texts(e);
        let text_results = self
            .text
            .iter()
            .map(|t| t.matches_any(texts.iter().map(String::as_str)));
        let param_results = self.params.iter().map(|p| p.matches(e));
        self.test.combine(text_results.chain(param_results))
    }
}

impl ParamFilter {
    fn matches(&self, e: &VCardEntry) -> bool {
        let mut values = e
            .params
            .iter()
            .filter(|p| p.name.as_str().eq_ignore_ascii_case(&self.name))
            .peekable();
        if self.is_not_defined {
            return values.peek().is_none();
        }
        match &self.text {
            None => values.peek().is_some(),
            Some(t) => {
                let texts: Vec<&str> = values.filter_map(|p| p.value.as_text()).collect();
                !texts.is_empty() && t.matches_any(texts.into_iter())
            }
        }
    }
}

/// Every text of a property's values (each component of a structured one).
fn entry_texts(e: &VCardEntry) -> Vec<String> {
    let mut out = Vec::new();
    for v in &e.values {
        match v {
            VCardValue::Component(parts) => out.extend(parts.iter().cloned()),
            other => {
                if let Some(t) = other.as_text() {
                    out.push(t.to_string());
                }
            }
        }
    }
    out
}
