//! The kinds of source listings-ingest reads. A kind is a parser in its own
//! module (a `read(document, reading)` function, a
//! [`marquee_ingest::SourceKind`]); adding one is writing that parser and
//! one line in [`KINDS`], after which settings accept its name as `kind`.

use std::fmt;
use std::str::FromStr;

use marquee_fetch::Document;
use marquee_ingest::{KindName, Kinds, Parser, UnknownKind};

use crate::reading::{Output, Reading};
use crate::{csv_listings, ics, json_listings, jsonld};

/// Every kind, by the name settings use.
static KINDS: Kinds<Reading, Output> = &[
    &Parser::new("ics", ics::read),
    &Parser::new("json_ld", jsonld::read),
    &Parser::new("csv", csv_listings::read),
    &Parser::new("json", json_listings::read),
];

/// What a source serves, as its settings name it: `ics` (iCalendar),
/// `json_ld` (an HTML page with schema.org `ScreeningEvent` JSON-LD), `csv`
/// or `json` (columns and shapes in the crate docs).
#[derive(Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct SourceKind(KindName<Reading, Output>);

impl SourceKind {
    /// The name used in settings and logs.
    pub fn as_str(self) -> &'static str {
        self.0.as_str()
    }

    /// Reads `document` as this kind.
    pub(crate) fn parse(self, document: &Document, reading: &Reading) -> Output {
        self.0.parser().parse(document, reading)
    }
}

impl FromStr for SourceKind {
    type Err = UnknownKind;

    fn from_str(name: &str) -> Result<Self, UnknownKind> {
        KindName::parse(KINDS, name).map(Self)
    }
}

impl TryFrom<String> for SourceKind {
    type Error = UnknownKind;

    fn try_from(name: String) -> Result<Self, UnknownKind> {
        name.parse()
    }
}

impl fmt::Debug for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_kind_is_found_by_its_name_and_a_typo_names_them_all() {
        for name in ["ics", "json_ld", "csv", "json"] {
            assert_eq!(name.parse::<SourceKind>().map(SourceKind::as_str), Ok(name));
        }
        assert_eq!(
            "rss"
                .parse::<SourceKind>()
                .map(SourceKind::as_str)
                .unwrap_err()
                .to_string(),
            "unknown source kind \"rss\": expected one of `ics`, `json_ld`, `csv`, `json`"
        );
    }
}
