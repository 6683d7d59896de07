//! The calendar renderer, read back by a real client: Python's `icalendar`.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime};
use chrono::{TimeDelta, TimeZone};
use marquee_events::Screening;
use marquee_feeds::render_calendar;

use crate::helpers::{self, python_reads};

const READER: &str = r#"
import json, sys
try:
    import icalendar
except ImportError:
    sys.exit("the Python module `icalendar` is missing: pip install -r scripts/test-requirements.txt")
cal = icalendar.Calendar.from_ical(open(sys.argv[1], "rb").read())
errors = [(c.name, c.errors) for c in cal.walk() if c.errors]
out = {
    "errors": [str(e) for e in errors],
    "name": str(cal.get("NAME")),
    "calname": str(cal.get("X-WR-CALNAME")),
    "refresh": cal.get("REFRESH-INTERVAL").to_ical().decode(),
    "timezones": [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")],
    "events": [],
}
for ev in cal.walk("VEVENT"):
    start = ev.decoded("DTSTART")
    out["events"].append({
        "uid": str(ev["UID"]),
        "sequence": int(ev["SEQUENCE"]),
        "status": str(ev["STATUS"]),
        "start": start.isoformat(),
        "utc": start.astimezone(__import__("datetime").timezone.utc).isoformat(),
        "summary": str(ev["SUMMARY"]),
        "location": str(ev["LOCATION"]),
        "url": str(ev.get("URL", "")),
        "description": str(ev.get("DESCRIPTION", "")),
    })
print(json.dumps(out))
"#;

fn screening(title: &str, local: &str, tz: &str) -> Screening {
    let local = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M").unwrap();
    let zone: chrono_tz::Tz = tz.parse().unwrap();
    // As ingest resolves wall-clock times: a time in a DST gap moves forward
    // by the gap, an ambiguous one takes the earlier instant.
    let at = zone
        .from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(local + TimeDelta::hours(1)))
                .earliest()
        })
        .unwrap();
    let id = format!("bfi-southbank-{}-{}", title.len(), at.naive_local());
    // The feeds' fixture, moved to `tz` with a strand name that needs
    // escaping, sold out and with one booking link for every screening.
    let mut screening = helpers::screening(&id, "bfi-southbank", title, "2026-12-04T18:30");
    screening.starts_at = at.to_utc();
    screening.starts_at_local = at.naive_local();
    screening.time_zone = tz.to_owned();
    screening.strand = Some("Sergio Leone season; \"Dollars\", and more".to_owned());
    screening.booking_url =
        Some(url::Url::parse("https://whatson.bfi.org.uk/book?id=1&x=2").unwrap());
    screening.sold_out = true;
    screening
}

/// What Python's `icalendar` made of `ics`; fails the test (with a pip
/// hint) when python3 or the module is missing.
pub fn read_back(ics: &str) -> serde_json::Value {
    python_reads(READER, ics.as_bytes(), "icalendar")
}

#[test]
fn python_icalendar_reads_the_calendar_back() {
    let long_title = "Once Upon a Time in the West — C'era una volta il West, director's extended Italian version";
    let gap = screening("Gap night", "2027-03-28T01:30", "Europe/London");
    let fold = screening("Fold night", "2026-10-25T01:30", "Europe/London");
    let west = screening(long_title, "2026-12-04T18:30", "Europe/London");
    let paris = screening("À bout de souffle", "2026-12-05T20:00", "Europe/Paris");
    let ics = render_calendar(
        "BFI Southbank, London",
        &[
            (west.clone(), 3, false),
            (gap.clone(), 0, true),
            (fold, 1, false),
            (paris, 0, false),
        ],
        Duration::from_secs(3600),
    );
    // Every physical line ends in CRLF and fits in 75 octets.
    assert!(ics.ends_with("\r\n"));
    assert!(!ics.replace("\r\n", "").contains('\n'));
    for line in ics.split("\r\n") {
        assert!(line.len() <= 75, "{} octets: {line}", line.len());
    }
    assert!(ics.contains("REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n"));

    let parsed = read_back(&ics);
    assert_eq!(parsed["errors"], serde_json::json!([]), "{parsed}");
    assert_eq!(parsed["name"], "BFI Southbank, London");
    assert_eq!(parsed["calname"], "BFI Southbank, London");
    assert_eq!(parsed["refresh"], "PT1H");
    assert_eq!(parsed["timezones"], serde_json::json!(["Europe/London"]));
    let events = parsed["events"].as_array().unwrap();
    assert_eq!(events.len(), 4);
    // Sorted by start: fold (Oct), west (4 Dec), paris (5 Dec), gap (Mar).
    let fold_event = &events[0];
    assert_eq!(fold_event["start"], "2026-10-25T01:30:00+01:00");
    assert_eq!(fold_event["sequence"], 1);
    let west_event = &events[1];
    assert_eq!(west_event["uid"], format!("{}@marquee", west.id.as_str()));
    assert_eq!(west_event["sequence"], 3);
    assert_eq!(west_event["status"], "CONFIRMED");
    assert_eq!(west_event["start"], "2026-12-04T18:30:00+00:00");
    assert_eq!(west_event["summary"], format!("{long_title} (35mm) + Q&A"));
    assert_eq!(
        west_event["location"],
        "BFI Southbank, NFT1, Belvedere Road, London SE1 8XT"
    );
    assert_eq!(
        west_event["url"],
        "https://whatson.bfi.org.uk/book?id=1&x=2"
    );
    let description = west_event["description"].as_str().unwrap();
    assert!(
        description.contains("Season: Sergio Leone season; \"Dollars\", and more"),
        "{description}"
    );
    assert!(
        description.contains("Access: audio described\nSold out"),
        "{description}"
    );
    // Other zones are written in UTC.
    assert_eq!(events[2]["start"], "2026-12-05T19:00:00+00:00");
    let gap_event = &events[3];
    assert_eq!(gap_event["status"], "CANCELLED");
    assert_eq!(gap_event["start"], "2027-03-28T02:30:00+01:00");
    assert_eq!(
        gap_event["utc"],
        DateTime::parse_from_rfc3339("2027-03-28T01:30:00Z")
            .unwrap()
            .to_rfc3339()
    );

    // Pure: the same input renders the same bytes.
    let again = render_calendar(
        "BFI Southbank, London",
        &[(gap, 0, true), (west, 3, false)],
        Duration::from_secs(3600),
    );
    assert_eq!(
        again,
        render_calendar(
            "BFI Southbank, London",
            &[
                (
                    screening("Gap night", "2027-03-28T01:30", "Europe/London"),
                    0,
                    true
                ),
                (
                    screening(long_title, "2026-12-04T18:30", "Europe/London"),
                    3,
                    false
                )
            ],
            Duration::from_secs(3600)
        )
    );
}

/// The exact bytes, for review in diffs; `UPDATE_GOLDEN=1` rewrites the file
/// after a deliberate change.
#[test]
fn the_calendar_matches_its_golden_file() {
    let west = screening(
        "Once Upon a Time in the West",
        "2026-12-04T18:30",
        "Europe/London",
    );
    let gap = screening("Gap night", "2027-03-28T01:30", "Europe/London");
    let ics = render_calendar(
        "BFI Southbank",
        &[(gap, 1, true), (west, 0, false)],
        Duration::from_secs(6 * 3600),
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/calendar-bfi-southbank.ics");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &ics).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    // Compared with CRLF restored, in case a checkout rewrote line endings;
    // the test above holds the CRLF rule itself.
    let golden = golden.replace("\r\n", "\n").replace('\n', "\r\n");
    assert_eq!(ics, golden, "the calendar differs from {}", path.display());
}
