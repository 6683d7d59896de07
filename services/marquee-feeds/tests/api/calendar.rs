//! The calendar renderer, read back by a real client: Python's `icalendar`.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono::{TimeDelta, TimeZone};
use marquee_events::Screening;
use marquee_feeds::{StoredScreening, render_calendar};

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
        "dtstamp": ev.decoded("DTSTAMP").isoformat(),
        "duration": ev["DURATION"].to_ical().decode() if "DURATION" in ev else None,
        "dtend": "DTEND" in ev,
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

/// When the fixture screenings last changed: 20 November 2026, 09:15 UTC.
fn changed_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 9, 15, 0).unwrap()
}

/// `screening` as the store holds it, last changed at [`changed_at`].
fn stored(screening: Screening, sequence: u32, cancelled: bool) -> StoredScreening {
    StoredScreening {
        screening,
        sequence,
        cancelled,
        listed_at: changed_at() - TimeDelta::days(3),
        modified_at: changed_at(),
    }
}

/// Renders `screenings` with no matched reviews.
fn render(name: &str, screenings: &[StoredScreening], refresh: Duration) -> String {
    render_calendar(name, screenings, &HashMap::new(), refresh)
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
    let ics = render(
        "BFI Southbank, London",
        &[
            stored(west.clone(), 3, false),
            stored(gap.clone(), 0, true),
            stored(fold, 1, false),
            stored(paris, 0, false),
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
    // Stamped with the last change, not the start.
    assert_eq!(west_event["dtstamp"], "2026-11-20T09:15:00+00:00");
    assert_eq!(west_event["duration"], "PT2H45M");
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
    let again = render(
        "BFI Southbank, London",
        &[stored(gap, 0, true), stored(west, 3, false)],
        Duration::from_secs(3600),
    );
    assert_eq!(
        again,
        render(
            "BFI Southbank, London",
            &[
                stored(
                    screening("Gap night", "2027-03-28T01:30", "Europe/London"),
                    0,
                    true
                ),
                stored(
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
    let ics = render(
        "BFI Southbank",
        &[stored(gap, 1, true), stored(west, 0, false)],
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

/// Venue calendars name the venue in `LOCATION` ("BFI Southbank, NFT1",
/// the screen as ingest keeps it) and addresses often start with it: the
/// venue is said once.
#[test]
fn the_location_names_venue_screen_and_address_once_each() {
    let location = |screen: Option<&str>, address: Option<&str>| {
        let mut west = screening("West", "2026-12-04T18:30", "Europe/London");
        west.screen = screen.map(str::to_owned);
        west.venue.address = address.map(str::to_owned);
        let parsed = read_back(&render(
            "BFI Southbank",
            &[stored(west, 0, false)],
            Duration::from_secs(3600),
        ));
        parsed["events"][0]["location"].as_str().unwrap().to_owned()
    };
    let full = "BFI Southbank, NFT1, Belvedere Road, London SE1 8XT";
    let road = Some("Belvedere Road, London SE1 8XT");
    assert_eq!(location(Some("NFT1"), road), full);
    assert_eq!(location(Some("BFI Southbank, NFT1"), road), full);
    assert_eq!(location(Some("bfi southbank NFT1"), road), full);
    assert_eq!(location(Some("BFI Southbank – NFT1"), road), full);
    assert_eq!(
        location(
            Some("NFT1"),
            Some("BFI Southbank, Belvedere Road, London SE1 8XT")
        ),
        full
    );
    assert_eq!(location(Some("BFI Southbank"), None), "BFI Southbank");
    assert_eq!(
        location(None, road),
        "BFI Southbank, Belvedere Road, London SE1 8XT"
    );
    // Whole words only: NFT1 does not hide NFT10, nor a venue its own word.
    assert_eq!(
        location(Some("NFT1"), Some("NFT10 foyer")),
        "BFI Southbank, NFT1, NFT10 foyer"
    );
}

/// The event lasts the film: the listing's running time, else the matched
/// review's; with neither it has no end (an instant, RFC 5545 §3.6.1),
/// never a made-up two hours.
#[test]
fn the_event_lasts_the_known_running_time_or_has_no_end() {
    let mut listed = screening("Listed", "2026-12-04T18:30", "Europe/London");
    listed.film.runtime_minutes = Some(229);
    let mut matched = screening("Matched", "2026-12-05T18:30", "Europe/London");
    matched.film.runtime_minutes = None;
    let mut review = marquee_test_support::events::review("cms-west", changed_at());
    review.film.runtime_minutes = Some(222);
    matched.review_id = Some(review.id.clone());
    let mut unknown = screening("Unknown", "2026-12-06T18:30", "Europe/London");
    unknown.film.runtime_minutes = None;
    unknown.review_id = Some(marquee_events::ReviewId::parse("cms-gone").unwrap());
    let reviews = HashMap::from([(review.id.clone(), review)]);
    let ics = render_calendar(
        "BFI Southbank",
        &[
            stored(listed, 0, false),
            stored(matched, 0, false),
            stored(unknown, 0, false),
        ],
        &reviews,
        Duration::from_secs(3600),
    );
    let parsed = read_back(&ics);
    assert_eq!(parsed["errors"], serde_json::json!([]), "{parsed}");
    let lengths: Vec<(&serde_json::Value, &serde_json::Value)> = parsed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (&e["duration"], &e["dtend"]))
        .collect();
    let (none, no) = (serde_json::Value::Null, serde_json::Value::Bool(false));
    assert_eq!(
        lengths,
        [
            (&serde_json::json!("PT3H49M"), &no),
            (&serde_json::json!("PT3H42M"), &no),
            (&none, &no),
        ],
        "{parsed}"
    );
}
