//! Recurrence expansion held to python-dateutil's `rrule` (issue 14):
//! generated rules (`FREQ` DAILY, WEEKLY or MONTHLY with `INTERVAL`,
//! `COUNT` or `UNTIL`, `BYDAY`, `BYMONTHDAY`, `EXDATE`) starting in zones
//! with and without DST, close to their March/April and October/November
//! changes, are expanded by Marquee's iCalendar reader and by dateutil
//! (`expand.py`, one python3 call for every case) and compared occurrence
//! by occurrence, as UTC instants, within the horizon.
//!
//! The cases come from proptest's deterministic runner, so every run checks
//! the same [`CASES`] rules; a disagreement prints the rule, both
//! expansions and the calendar.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Offset, TimeDelta, Utc};
use chrono_tz::Tz;
use marquee_listings_ingest::{read_calendar, resolve_local};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

/// How many generated rules each run compares.
const CASES: usize = 600;

/// How far past the window's start occurrences are compared.
const HORIZON_DAYS: u32 = 120;

/// Zones with DST in both hemispheres, one with a 30-minute change
/// (Lord Howe) and one without DST.
const ZONES: [Tz; 6] = [
    chrono_tz::Europe::London,
    chrono_tz::Europe::Berlin,
    chrono_tz::America::New_York,
    chrono_tz::Australia::Sydney,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Asia::Tokyo,
];

#[derive(Debug, Clone)]
struct Case {
    tz: Tz,
    dtstart: NaiveDateTime,
    rrule: String,
    exdates: Vec<NaiveDateTime>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl Case {
    fn calendar(&self) -> String {
        let local = |at: &NaiveDateTime| at.format("%Y%m%dT%H%M%S").to_string();
        let mut text = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:case\r\nSUMMARY:Case\r\n\
             DTSTART;TZID={}:{}\r\nRRULE:{}\r\n",
            self.tz.name(),
            local(&self.dtstart),
            self.rrule
        );
        for exdate in &self.exdates {
            writeln!(text, "EXDATE;TZID={}:{}\r", self.tz.name(), local(exdate)).unwrap();
        }
        text + "END:VEVENT\r\nEND:VCALENDAR\r\n"
    }

    fn json(&self) -> serde_json::Value {
        let iso = |at: &NaiveDateTime| at.format("%Y-%m-%dT%H:%M:%S").to_string();
        serde_json::json!({
            "tz": self.tz.name(),
            "dtstart": iso(&self.dtstart),
            "rrule": self.rrule,
            "exdates": self.exdates.iter().map(iso).collect::<Vec<_>>(),
            "from": iso(&self.from.naive_utc()),
            "to": iso(&self.to.naive_utc()),
        })
    }
}

const DAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

fn case() -> impl Strategy<Value = Case> {
    let start = (
        0..ZONES.len(),
        prop::sample::select(vec![
            (2027, 3),
            (2027, 4),
            (2027, 10),
            (2026, 10),
            (2026, 11),
            (2027, 9),
        ]),
        1..=31u32,
        0..24u32,
        prop::sample::select(vec![0u32, 30]),
    );
    let rule = (
        prop::sample::select(vec!["DAILY", "WEEKLY", "MONTHLY"]),
        prop::option::weighted(0.6, 2..=3u32),
        0..3u8,
        1..=25u32,
        0..200i64,
        prop::option::weighted(0.5, prop::sample::subsequence(DAYS.to_vec(), 1..=3)),
        prop::option::weighted(0.3, prop::sample::select(vec![1i8, 2, 3, -1, -2])),
        prop::option::weighted(
            0.3,
            prop::sample::subsequence(vec![1i32, 2, 13, 15, 28, 29, 30, 31, -1], 1..=3),
        ),
    );
    let window = (prop::option::weighted(0.3, 0..40u32), -20..60i64);
    let on_change_day = prop::option::weighted(0.3, 0..2usize);
    (start, rule, window, on_change_day).prop_filter_map(
        "no such date",
        |((zone, (year, month), day, hour, minute), rule, (exdate, from), change)| {
            let (freq, interval, end, count, until_days, by_day, ordinal, by_month_day) = rule;
            let tz = ZONES[zone];
            let date = match change.and_then(|n| change_days(tz).get(n).copied()) {
                Some(date) => date,
                None => NaiveDate::from_ymd_opt(year, month, day)?,
            };
            // On a change day, the hours around the change (its gap or fold).
            let hour = if change.is_some() { hour % 4 } else { hour };
            let dtstart = date.and_hms_opt(hour, minute, 0)?;
            let mut parts = vec![format!("FREQ={freq}")];
            if let Some(interval) = interval {
                parts.push(format!("INTERVAL={interval}"));
            }
            match end {
                1 => parts.push(format!("COUNT={count}")),
                2 => {
                    let until = resolve_local(tz, dtstart + TimeDelta::days(until_days)).to_utc();
                    parts.push(format!("UNTIL={}", until.format("%Y%m%dT%H%M%SZ")));
                }
                _ => {}
            }
            if let Some(days) = by_day {
                let days: Vec<String> = match ordinal {
                    Some(n) if freq == "MONTHLY" => {
                        days.iter().map(|d| format!("{n}{d}")).collect()
                    }
                    _ => days.iter().map(|d| (*d).to_owned()).collect(),
                };
                parts.push(format!("BYDAY={}", days.join(",")));
            }
            // RFC 5545 forbids BYMONTHDAY with FREQ=WEEKLY.
            if let Some(days) = by_month_day.filter(|_| freq != "WEEKLY") {
                let days: Vec<String> = days.iter().map(ToString::to_string).collect();
                parts.push(format!("BYMONTHDAY={}", days.join(",")));
            }
            let exdates = exdate
                .map(|days| vec![dtstart + TimeDelta::days(i64::from(days))])
                .unwrap_or_default();
            let from = resolve_local(tz, dtstart).to_utc() + TimeDelta::days(from);
            Some(Case {
                tz,
                dtstart,
                rrule: parts.join(";"),
                exdates,
                from,
                to: from + TimeDelta::days(i64::from(HORIZON_DAYS)),
            })
        },
    )
}

/// The days in late 2026 and 2027 on which `tz` changes its offset.
fn change_days(tz: Tz) -> Vec<NaiveDate> {
    let offset = |date: NaiveDate| {
        resolve_local(tz, date.and_hms_opt(12, 0, 0).unwrap())
            .offset()
            .fix()
            .local_minus_utc()
    };
    let first = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    first
        .iter_days()
        .take(480)
        .filter(|date| offset(*date) != offset(*date - TimeDelta::days(1)))
        .collect()
}

fn cases() -> Vec<Case> {
    let mut runner = TestRunner::deterministic();
    let strategy = case();
    (0..CASES)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

/// Marquee's expansion of `case`: its starts, or why it refused the rule.
fn marquee(case: &Case) -> Result<Vec<String>, String> {
    let reading = read_calendar(&case.calendar(), case.tz, case.from, HORIZON_DAYS).unwrap();
    if let Some((_, message)) = reading.rejected.first() {
        return Err(message.clone());
    }
    let mut starts: Vec<String> = reading
        .starts
        .iter()
        .map(|at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .collect();
    starts.sort();
    Ok(starts)
}

#[test]
fn marquee_expands_recurrences_as_dateutil_does() {
    let cases = cases();
    let file = tempfile::NamedTempFile::new().unwrap();
    let json: Vec<_> = cases.iter().map(Case::json).collect();
    std::fs::write(file.path(), serde_json::to_vec(&json).unwrap()).unwrap();
    let expected: Vec<Vec<String>> = marquee_test_support::python_json(
        include_str!("expand.py"),
        [file.path()],
        "python-dateutil could not expand the cases (pip install -r scripts/test-requirements.txt)",
    );
    let mut disagreements = Vec::new();
    let mut occurrences = 0;
    for (case, dateutil) in cases.iter().zip(&expected) {
        occurrences += dateutil.len();
        let ours = marquee(case);
        if ours.as_ref() != Ok(dateutil) {
            disagreements.push(format!(
                "{} {} from {} ({}), window {} to {}:\n  dateutil {dateutil:?}\n  marquee  {ours:?}\n{}",
                case.tz.name(),
                case.rrule,
                case.dtstart,
                case.dtstart.weekday(),
                case.from,
                case.to,
                case.calendar()
            ));
        }
    }
    let on_change_days = cases
        .iter()
        .filter(|c| change_days(c.tz).contains(&c.dtstart.date()))
        .count();
    println!(
        "{} rules ({on_change_days} starting on a DST change day), {occurrences} occurrences \
         by dateutil, {} disagreements",
        cases.len(),
        disagreements.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} of {} rules expand differently from python-dateutil; the first ones:\n{}",
        disagreements.len(),
        cases.len(),
        disagreements
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
