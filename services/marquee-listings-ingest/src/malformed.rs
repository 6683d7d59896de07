//! Property tests: every listings parser, fed broken versions of the real
//! samples and random text, answers with listings or with reasons, never a
//! panic, and every reason says something. `scripts/fuzz` runs them longer.

#![allow(clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use chrono_tz::Europe::London;
use marquee_test_support::mutated;
use proptest::prelude::*;
use url::Url;

use crate::normalize::Parsed;
use crate::{csv_listings, ics, json_listings, jsonld};

const BFI: &str = include_str!("../samples/bfi-southbank.ics");
const PRINCE_CHARLES: &str = include_str!("../samples/prince-charles-cinema.ics");
const CASTLE: &str = include_str!("../samples/castle-cinema.csv");
const CLOSE_UP: &str = include_str!("../samples/close-up-film-centre.html");
const JSON: &str = r#"{"screenings":[{"id":"a1","title":"Jaws (1975) 35mm","start":"2026-12-05T19:30:00","screen":"1","booking_url":"https://tickets.example/a1"}]}"#;

fn reasons_are_given(result: Result<Parsed, crate::IngestError>) {
    match result {
        Ok(parsed) => {
            for rejected in &parsed.rejected {
                assert!(
                    !rejected.to_string().trim().is_empty(),
                    "a rejection without a reason"
                );
            }
        }
        Err(error) => assert!(
            !error.to_string().trim().is_empty(),
            "an error without a reason"
        ),
    }
}

fn window() -> ics::Window {
    ics::window(
        London,
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
        60,
    )
}

proptest! {
    #[test]
    fn ics_never_panics(text in prop_oneof![mutated(BFI), mutated(PRINCE_CHARLES), ".*"]) {
        reasons_are_given(ics::parse(&text, window()));
    }

    #[test]
    fn csv_never_panics(text in prop_oneof![mutated(CASTLE), ".*"]) {
        reasons_are_given(csv_listings::parse(&text, "castle-cinema", London));
    }

    #[test]
    fn json_never_panics(text in prop_oneof![mutated(JSON), ".*"]) {
        reasons_are_given(json_listings::parse(&text, London));
    }

    #[test]
    fn json_ld_never_panics(text in prop_oneof![mutated(CLOSE_UP), ".*"]) {
        let base = Url::parse("https://close-up.example/whats-on").unwrap();
        reasons_are_given(jsonld::parse(&text, &base, "Close-Up Film Centre", London));
    }

    #[test]
    fn rrule_and_start_times_never_panic(text in ".*") {
        if let Err(reason) = crate::rrule::Rule::parse(&text, chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap().and_hms_opt(20, 0, 0).unwrap(), London) {
            prop_assert!(!reason.to_string().is_empty());
        }
        if let Err(reason) = crate::normalize::parse_start(&text, London) {
            prop_assert!(!reason.to_string().is_empty());
        }
    }
}

#[test]
fn the_samples_themselves_parse_cleanly() {
    let parsed = ics::parse(BFI, window()).unwrap();
    assert!(parsed.rejected.is_empty() && !parsed.drafts.is_empty());
}
