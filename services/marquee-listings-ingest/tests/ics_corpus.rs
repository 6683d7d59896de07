//! Marquee's iCalendar reader over calendars it was not written against
//! (issue 14): every `.ics` file in the `icalendar` package's sdist (its
//! `src/icalendar/tests/` folders) and the examples of RFC 5545
//! (`tests/fixtures/rfc5545-examples.txt`). Each is read or rejected with a
//! line-numbered reason; none panics, and none that holds a `VEVENT` with a
//! `DTSTART` comes back empty without saying why. What each file yields is
//! kept in `tests/golden/ics-corpus.txt`, so a change in what is read shows
//! as a difference.
//!
//! `scripts/test` fetches the pinned sdist (`scripts/corpora.sh`) and sets
//! `ICALENDAR_CORPUS` to its `src/icalendar/tests` folder; run
//! `source scripts/corpora.sh && fetch_corpora` to run this test alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use marquee_listings_ingest::read_calendar;

/// What one calendar came to.
struct Outcome {
    name: String,
    vevents: usize,
    with_dtstart: usize,
    result: Result<marquee_listings_ingest::CalendarReading, String>,
}

#[test]
fn every_calendar_is_read_or_rejected_with_a_line_numbered_reason() {
    let corpus = std::env::var_os("ICALENDAR_CORPUS")
        .map(PathBuf::from)
        .expect(
            "ICALENDAR_CORPUS is not set: run ./scripts/test, or \
             `source scripts/corpora.sh && fetch_corpora` and run this test in that shell",
        );
    assert!(
        corpus.join("calendars").is_dir(),
        "ICALENDAR_CORPUS={} holds no calendars/ folder",
        corpus.display()
    );
    let mut calendars = Vec::new();
    for path in ics_files(&corpus) {
        let name = path
            .strip_prefix(&corpus)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        calendars.push((name, text));
    }
    let examples = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rfc5545-examples.txt"),
    )
    .unwrap();
    calendars.extend(rfc_examples(&examples));

    // Wide enough for every recurring event of the corpus (1996-2025).
    let now: DateTime<Utc> = "1970-01-01T00:00:00Z".parse().unwrap();
    let horizon_days = 365 * 60;
    let outcomes: Vec<Outcome> = calendars
        .into_iter()
        .map(|(name, text)| {
            let (vevents, with_dtstart) = vevent_blocks(&text);
            let result = catch_unwind(AssertUnwindSafe(|| {
                read_calendar(&text, chrono_tz::Europe::London, now, horizon_days)
            }))
            .unwrap_or_else(|_| panic!("{name}: the reader panicked"))
            .map_err(|error| error.to_string());
            Outcome {
                name,
                vevents,
                with_dtstart,
                result,
            }
        })
        .collect();

    let mut report = String::new();
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut clean, mut partly, mut refused, mut events) = (0, 0, 0, 0);
    for outcome in &outcomes {
        let name = &outcome.name;
        match &outcome.result {
            Err(reason) => {
                refused += 1;
                *reasons.entry("invalid_document").or_default() += 1;
                assert!(has_line_number(reason), "{name}: {reason}");
                writeln!(report, "{name}: refused: {reason}").unwrap();
            }
            Ok(reading) => {
                events += reading.events;
                if reading.rejected.is_empty() {
                    clean += 1;
                } else {
                    partly += 1;
                }
                writeln!(
                    report,
                    "{name}: {} of {} VEVENTs read, {} starts",
                    reading.events,
                    outcome.vevents,
                    reading.starts.len()
                )
                .unwrap();
                for (kind, message) in &reading.rejected {
                    *reasons.entry(kind).or_default() += 1;
                    assert!(has_line_number(message), "{name}: {message}");
                    writeln!(report, "  {kind}: {message}").unwrap();
                }
                // Every VEVENT is read or accounted for by a rejection.
                assert!(
                    reading.events + reading.rejected.len() >= outcome.vevents,
                    "{name}: {} VEVENTs, {} read, only {:?} rejected",
                    outcome.vevents,
                    reading.events,
                    reading.rejected
                );
                assert!(
                    outcome.with_dtstart == 0 || reading.events > 0 || !reading.rejected.is_empty(),
                    "{name}: {} VEVENTs with a DTSTART came back empty without a reason",
                    outcome.with_dtstart
                );
                assert!(
                    reading.events == 0 || !reading.starts.is_empty(),
                    "{name}: {} events read but no start within 1970-2030",
                    reading.events
                );
            }
        }
    }
    let summary = format!(
        "{} calendars: {clean} read whole, {partly} read with rejections, {refused} refused; \
         {events} events read\nrejections by kind: {reasons:?}\n",
        outcomes.len()
    );
    println!("{summary}");
    marquee_test_support::assert_golden(
        env!("CARGO_MANIFEST_DIR"),
        "ics-corpus.txt",
        format!("{summary}\n{report}"),
    );
}

/// The `.ics` files under `dir`, in a stable order.
fn ics_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(ics_files(&path));
        } else if path.extension().is_some_and(|e| e == "ics") {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// The fixture's calendars, each named by its `# RFC 5545 section …` line.
fn rfc_examples(text: &str) -> Vec<(String, String)> {
    let mut examples: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(title) = line.strip_prefix("# RFC 5545 ") {
            examples.push((format!("rfc5545: {title}"), String::new()));
        } else if !line.starts_with('#')
            && let Some((_, calendar)) = examples.last_mut()
        {
            calendar.push_str(line);
            calendar.push_str("\r\n");
        }
    }
    assert_eq!(
        examples.len(),
        10,
        "the RFC 5545 fixture holds ten examples"
    );
    examples
}

/// `VEVENT` blocks in `text`, and how many of them have a `DTSTART` line.
fn vevent_blocks(text: &str) -> (usize, usize) {
    let (mut blocks, mut with_dtstart, mut inside, mut seen) = (0, 0, false, false);
    for line in text.lines() {
        let line = line.trim().to_ascii_uppercase();
        if line == "BEGIN:VEVENT" {
            (blocks, inside, seen) = (blocks + 1, true, false);
        } else if line == "END:VEVENT" {
            inside = false;
        } else if inside && !seen && (line.starts_with("DTSTART:") || line.starts_with("DTSTART;"))
        {
            (with_dtstart, seen) = (with_dtstart + 1, true);
        }
    }
    (blocks, with_dtstart)
}

fn has_line_number(message: &str) -> bool {
    message
        .strip_prefix("line ")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}
