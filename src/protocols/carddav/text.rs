//! text-match for CalDAV (RFC 4791 §9.7.5) and CardDAV (RFC 6352 §10.5.4): the collations
//! of RFC 4790 that both require (`i;ascii-casemap`, `i;unicode-casemap` of RFC 5051, and
//! `i;octet`) and CardDAV's match types (CalDAV's text-match is always `contains`).
//!
//! Implementation note: `i;unicode-casemap` is approximated as the compatibility
//! decomposition (NFKD) of the lowercased text; RFC 5051 titlecases rather than lowercases,
//! which differs only for a few characters (e.g. `ǆ`), and both sides are folded alike.

use unicode_normalization::UnicodeNormalization;

/// An RFC 4790 collation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Collation {
    /// `i;ascii-casemap`: ASCII letters compared without case (the default of both RFCs).
    #[default]
    AsciiCasemap,
    /// `i;unicode-casemap` (RFC 5051).
    UnicodeCasemap,
    /// `i;octet`: bytes as they are.
    Octet,
}

impl Collation {
    /// Reads a collation name; `None` for one not supported (the request then fails with
    /// the `supported-collation` precondition).
    pub fn parse(name: &str) -> Option<Collation> {
        match name {
            "i;ascii-casemap" => Some(Collation::AsciiCasemap),
            "i;unicode-casemap" => Some(Collation::UnicodeCasemap),
            "i;octet" => Some(Collation::Octet),
            _ => None,
        }
    }

    fn fold(self, s: &str) -> String {
        match self {
            Collation::AsciiCasemap => s.to_ascii_lowercase(),
            Collation::UnicodeCasemap => s.to_lowercase().nfkd().collect(),
            Collation::Octet => s.to_string(),
        }
    }
}

/// CARDDAV:text-match's `match-type` (RFC 6352 §10.5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MatchType {
    Equals,
    #[default]
    Contains,
    StartsWith,
    EndsWith,
}

impl MatchType {
    pub fn parse(name: &str) -> Option<MatchType> {
        match name {
            "equals" => Some(MatchType::Equals),
            "contains" => Some(MatchType::Contains),
            "starts-with" => Some(MatchType::StartsWith),
            "ends-with" => Some(MatchType::EndsWith),
            _ => None,
        }
    }
}

/// A text-match element.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TextMatch {
    pub value: String,
    pub collation: Collation,
    pub match_type: MatchType,
    /// `negate-condition="yes"`.
    pub negate: bool,
}

impl TextMatch {
    /// Whether `text` matches, before negation.
    fn hits(&self, text: &str) -> bool {
        let hay = self.collation.fold(text);
        let needle = self.collation.fold(&self.value);
        match self.match_type {
            MatchType::Equals => hay == needle,
            MatchType::Contains => hay.contains(&needle),
            MatchType::StartsWith => hay.starts_with(&needle),
            MatchType::EndsWith => hay.ends_with(&needle),
        }
    }

    /// Whether a property with these values matches: one value hitting is a hit, and
    /// `negate` turns the whole answer (a property none of whose values contains the text).
    pub fn matches_any<'t>(&self, texts: impl Iterator<Item = &'t str>) -> bool {
        let mut hit = false;
        for t in texts {
            if self.hits(t) {
                hit = true;
                break;
            }
        }
        hit != self.negate
    }
}
