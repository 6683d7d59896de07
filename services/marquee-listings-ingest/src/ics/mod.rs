//! iCalendar (RFC 5545) listings, read by a small line-based parser so every
//! rejection can name its line: lines are unfolded (a line starting with a
//! space or tab continues the one before), each content line is split into
//! name, parameters and value, and each `VEVENT` becomes one screening (or
//! one per occurrence of its `RRULE` within the horizon).
//!
//! Mapping: `SUMMARY` is the listed title (cleaned later), `DTSTART` the
//! start (`TZID` any IANA zone or a common Windows one, `Z` for UTC,
//! floating = the venue's zone; all-day dates are refused), `UID` the
//! identity, `LOCATION` the screen, `URL` the booking link, `CATEGORIES`
//! labels (format, extras, access, "sold out"; the first other one is the
//! strand), `STATUS:CANCELLED` cancels, `X-MARQUEE-STRAND` and
//! `X-MARQUEE-SOLD-OUT:TRUE` are honoured, `EXDATE` removes occurrences and
//! `RECURRENCE-ID` overrides one; `RRULE` is expanded by [`crate::rrule`].
//!
//! Why not the `icalendar` crate's parser (evaluated against 0.17): its
//! `parser::read_calendar` answers the whole document with one
//! `Result<Calendar, String>`, so one broken line fails every event instead
//! of rejecting that event alone, and its line numbers count lines of the
//! unfolded text rather than the lines of the file an editor opens. The
//! tests hold per-line messages (`line 8: not an iCalendar content line…`,
//! `line 35: this VEVENT never ends…`, in `tests/api/bad_input.rs`) with the
//! valid events still ingested, so the small parser here
//! stays: [`lines`] (unfolding, content lines, TEXT unescaping) and [`time`]
//! (DATE-TIME values).

mod lines;
mod time;

use std::collections::HashSet;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use marquee_fetch::Document;
use url::Url;

use crate::error::IngestError;
use crate::localtime::resolve_local;
use crate::normalize::{Draft, Parsed, Start};
use crate::reading::{Output, Reading};
use crate::rrule::Rule;

use lines::{Property, content_line, text_list, unescape, unfold};
use time::{Zone, date_time};

/// Reads `document` as an iCalendar (RFC 5545) feed; registered in
/// [`crate::kinds`].
pub(crate) fn read(document: &Document, reading: &Reading) -> Output {
    parse(
        &document.text,
        window(reading.tz, reading.now, reading.horizon_days),
    )
}

/// A calendar as the `ics` kind reads it, for the tests outside the crate
/// that hold the parser to other implementations (the `icalendar` package's
/// calendars, python-dateutil's recurrence); not an API.
#[doc(hidden)]
#[derive(Debug)]
pub struct CalendarReading {
    /// `VEVENT`s read (a recurring one once, however many occurrences).
    pub events: usize,
    /// Every screening's start, as the instant it resolves to.
    pub starts: Vec<DateTime<Utc>>,
    /// Each rejection: its kind and its message (`line N: …`).
    pub rejected: Vec<(&'static str, String)>,
}

/// Reads `text` as [`read`] does, recurring events expanded from `now` to
/// `horizon_days` ahead; `Err` only when it is not iCalendar at all.
#[doc(hidden)]
pub fn read_calendar(
    text: &str,
    venue_tz: Tz,
    now: DateTime<Utc>,
    horizon_days: u32,
) -> Result<CalendarReading, IngestError> {
    let mut events = 0;
    let parsed = parse_counting(text, window(venue_tz, now, horizon_days), &mut events)?;
    Ok(CalendarReading {
        events,
        starts: parsed
            .drafts
            .iter()
            .map(|draft| match draft.start {
                Start::Local(local, tz) => resolve_local(tz, local).to_utc(),
                Start::Instant(at) => at,
            })
            .collect(),
        rejected: parsed
            .rejected
            .iter()
            .map(|error| (error.kind(), error.to_string()))
            .collect(),
    })
}

/// What expansion needs to know.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    /// Zone of floating times.
    pub(crate) venue_tz: Tz,
    /// Occurrences of recurring events before this are left out.
    pub(crate) from: DateTime<Utc>,
    /// Recurring events are expanded up to this.
    pub(crate) to: DateTime<Utc>,
}

/// An event read from its properties, before expansion.
struct Event {
    line: usize,
    uid: Option<String>,
    recurrence_id: Option<DateTime<Utc>>,
    start: (NaiveDateTime, Zone),
    rule: Option<Rule>,
    exdates: HashSet<DateTime<Utc>>,
    draft: Draft,
}

/// Parses a whole calendar; `Err` only when it is not iCalendar at all.
pub(crate) fn parse(text: &str, window: Window) -> Result<Parsed, IngestError> {
    parse_counting(text, window, &mut 0)
}

/// [`parse`], counting the `VEVENT`s read into `events`.
fn parse_counting(
    text: &str,
    window: Window,
    events_read: &mut usize,
) -> Result<Parsed, IngestError> {
    let lines = unfold(text.trim_start_matches('\u{feff}'));
    let first = lines.first();
    if !first.is_some_and(|(_, l)| l.trim().eq_ignore_ascii_case("BEGIN:VCALENDAR")) {
        return Err(IngestError::Document(format!(
            "line {}: not an iCalendar document: it does not start with BEGIN:VCALENDAR",
            first.map_or(1, |(line, _)| *line)
        )));
    }
    let mut parsed = Parsed::default();
    let mut stack: Vec<String> = Vec::new();
    let mut event: Option<(usize, Vec<Property>)> = None;
    let mut events = Vec::new();
    for (line, text) in lines {
        let prop = match content_line(line, &text) {
            Ok(prop) => prop,
            Err(error) => {
                parsed.rejected.push(error);
                continue;
            }
        };
        match prop.name.as_str() {
            "BEGIN" => {
                let component = prop.value.trim().to_ascii_uppercase();
                if component == "VEVENT" && event.is_none() {
                    event = Some((line, Vec::new()));
                }
                stack.push(component);
            }
            "END" => {
                let component = prop.value.trim().to_ascii_uppercase();
                match stack.iter().rposition(|c| *c == component) {
                    Some(at) => {
                        let unclosed: Vec<String> = stack.drain(at..).skip(1).collect();
                        if component != "VEVENT" && unclosed.iter().any(|c| c == "VEVENT") {
                            if let Some((begin, _)) = event.take() {
                                parsed.rejected.push(IngestError::row(
                                    format!("line {begin}"),
                                    "bad_line",
                                    format!("this VEVENT never ends (END:{component} at line {line} comes first)"),
                                ));
                            }
                        } else if !unclosed.is_empty() {
                            parsed.rejected.push(IngestError::row(
                                format!("line {line}"),
                                "bad_line",
                                format!(
                                    "END:{component} closes {} that never ended",
                                    unclosed.join(", ")
                                ),
                            ));
                        }
                    }
                    None => parsed.rejected.push(IngestError::row(
                        format!("line {line}"),
                        "bad_line",
                        format!("END:{component} without a BEGIN:{component}"),
                    )),
                }
                if component == "VEVENT"
                    && !stack.iter().any(|c| c == "VEVENT")
                    && let Some((begin, props)) = event.take()
                {
                    events.push((begin, props));
                }
            }
            _ => {
                if let Some((_, props)) = event.as_mut()
                    && stack.last().is_some_and(|c| c == "VEVENT")
                {
                    props.push(prop);
                }
            }
        }
    }
    if let Some((begin, _)) = event {
        parsed.rejected.push(IngestError::row(
            format!("line {begin}"),
            "bad_line",
            "this VEVENT never ends (no END:VEVENT; truncated file?)",
        ));
    }
    let mut read = Vec::new();
    for (begin, props) in events {
        match read_event(begin, &props, window.venue_tz) {
            Ok(event) => read.push(event),
            Err(error) => {
                parsed.rejected.push(error);
                let summary = props.iter().find(|p| p.name == "SUMMARY");
                parsed
                    .invalid_titles
                    .extend(summary.map(|p| unescape(&p.value)));
            }
        }
    }
    *events_read = read.len();
    expand(read, window, &mut parsed);
    Ok(parsed)
}

fn read_event(begin: usize, props: &[Property], venue_tz: Tz) -> Result<Event, IngestError> {
    let location = format!("line {begin}");
    let get = |name: &str| props.iter().find(|p| p.name == name);
    let summary = get("SUMMARY")
        .map(|p| unescape(&p.value))
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            IngestError::row(
                &location,
                "missing_summary",
                "the VEVENT has no SUMMARY (film title)",
            )
        })?;
    let dtstart = get("DTSTART").ok_or_else(|| {
        IngestError::row(
            &location,
            "missing_dtstart",
            format!("the VEVENT {summary:?} has no DTSTART"),
        )
    })?;
    let start = date_time(dtstart, &dtstart.value, venue_tz)?;
    let mut draft = Draft::new(&location, summary, start.1.start(start.0));
    draft.source_uid = get("UID")
        .map(|p| p.value.trim().to_owned())
        .filter(|u| !u.is_empty());
    draft.screen = get("LOCATION").map(|p| unescape(&p.value));
    draft.strand = get("X-MARQUEE-STRAND").map(|p| unescape(&p.value));
    draft.cancelled =
        get("STATUS").is_some_and(|p| p.value.trim().eq_ignore_ascii_case("CANCELLED"));
    draft.sold_out = ["X-MARQUEE-SOLD-OUT", "X-SOLD-OUT"].iter().any(|name| {
        get(name).is_some_and(|p| {
            matches!(
                p.value.trim().to_ascii_uppercase().as_str(),
                "TRUE" | "YES" | "1"
            )
        })
    });
    if let Some(url) = get("URL") {
        match Url::parse(url.value.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => draft.booking_url = Some(url),
            _ => {
                tracing::warn!(line = url.line, url = %url.value, "Ignored a booking URL that is not http(s)")
            }
        }
    }
    for categories in props.iter().filter(|p| p.name == "CATEGORIES") {
        draft.labels.extend(text_list(&categories.value));
    }
    let recurrence_id = match get("RECURRENCE-ID") {
        Some(prop) => {
            let (local, zone) = date_time(prop, &prop.value, venue_tz)?;
            Some(zone.instant(local))
        }
        None => None,
    };
    let rule = match get("RRULE") {
        Some(prop) => Some(
            Rule::parse(prop.value.trim(), start.0, start.1.tz()).map_err(|reason| {
                IngestError::row(
                    format!("line {}", prop.line),
                    "rrule_unsupported",
                    format!("{reason} (event {:?})", draft.title),
                )
            })?,
        ),
        None => None,
    };
    if let Some(prop) = get("RDATE") {
        return Err(IngestError::row(
            format!("line {}", prop.line),
            "rrule_unsupported",
            "RDATE is not supported: list these screenings one by one",
        ));
    }
    let mut exdates = HashSet::new();
    for prop in props.iter().filter(|p| p.name == "EXDATE") {
        for value in prop.value.split(',') {
            let (local, zone) = date_time(prop, value, venue_tz)?;
            exdates.insert(zone.instant(local));
        }
    }
    Ok(Event {
        line: begin,
        uid: draft.source_uid.clone(),
        recurrence_id,
        start,
        rule,
        exdates,
        draft,
    })
}

/// Turns events into drafts: recurring ones expanded within the window, an
/// occurrence overridden by a `RECURRENCE-ID` event replaced by it.
fn expand(events: Vec<Event>, window: Window, parsed: &mut Parsed) {
    let overridden: HashSet<(String, DateTime<Utc>)> = events
        .iter()
        .filter_map(|e| Some((e.uid.clone()?, e.recurrence_id?)))
        .collect();
    for event in events {
        let Event {
            line,
            uid,
            recurrence_id,
            start: (_, zone),
            rule,
            exdates,
            mut draft,
        } = event;
        if let Some(original) = recurrence_id {
            draft.occurrence = Some(original.naive_utc());
            parsed.drafts.push(draft);
            continue;
        }
        let Some(rule) = rule else {
            parsed.drafts.push(draft);
            continue;
        };
        let starts = rule.occurrences(window.from, window.to);
        if starts.is_empty() {
            tracing::debug!(
                line,
                "A recurring event has no occurrence within the horizon"
            );
        }
        for start in starts {
            let instant = zone.instant(start);
            if exdates.contains(&instant)
                || uid
                    .as_ref()
                    .is_some_and(|u| overridden.contains(&(u.clone(), instant)))
            {
                continue;
            }
            let mut occurrence = draft.clone();
            occurrence.start = zone.start(start);
            occurrence.occurrence = Some(instant.naive_utc());
            occurrence.location = format!(
                "line {line} (occurrence {})",
                start.format("%Y-%m-%dT%H:%M")
            );
            parsed.drafts.push(occurrence);
        }
    }
}

/// How far ahead recurring events are expanded.
pub(crate) fn window(venue_tz: Tz, now: DateTime<Utc>, horizon_days: u32) -> Window {
    Window {
        venue_tz,
        from: now,
        to: now + TimeDelta::days(i64::from(horizon_days)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn window_at(now: &str) -> Window {
        let now = DateTime::parse_from_rfc3339(now).unwrap().to_utc();
        window(chrono_tz::Europe::London, now, 60)
    }

    #[test]
    fn folded_lines_and_quoted_parameters_are_read() {
        let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nSUMMARY:Once Upon a Time \r\n in the West\r\nDTSTART;TZID=\"Europe/London\":20261205T193000\r\nCATEGORIES:Sergio Leone season,35mm\r\nLOCATION:NFT1\\, level 2\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let parsed = parse(text, window_at("2026-11-23T12:00:00Z")).unwrap();
        assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
        let draft = &parsed.drafts[0];
        assert_eq!(draft.title, "Once Upon a Time in the West");
        assert_eq!(draft.labels, vec!["Sergio Leone season", "35mm"]);
        assert_eq!(draft.screen.as_deref(), Some("NFT1, level 2"));
        assert_eq!(draft.source_uid.as_deref(), Some("a"));
        assert_eq!(
            draft.start,
            Start::Local(
                NaiveDateTime::parse_from_str("20261205T193000", "%Y%m%dT%H%M%S").unwrap(),
                chrono_tz::Europe::London
            )
        );
    }

    #[test]
    fn recurring_events_expand_with_exdates_and_overrides() {
        let text = "BEGIN:VCALENDAR
BEGIN:VEVENT
UID:kids
SUMMARY:Saturday Kids Club
DTSTART;TZID=Europe/London:20261128T110000
RRULE:FREQ=WEEKLY
EXDATE;TZID=Europe/London:20261205T110000
END:VEVENT
BEGIN:VEVENT
UID:kids
RECURRENCE-ID;TZID=Europe/London:20261212T110000
SUMMARY:Saturday Kids Club
DTSTART;TZID=Europe/London:20261212T130000
END:VEVENT
END:VCALENDAR
";
        let parsed = parse(text, window_at("2026-11-23T12:00:00Z")).unwrap();
        assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
        // 60 days from 23 November: Saturdays 28 Nov … 16 Jan (8), less one EXDATE.
        let master: Vec<_> = parsed
            .drafts
            .iter()
            .filter(|d| d.location.contains("occurrence"))
            .collect();
        assert_eq!(master.len(), 6, "{master:#?}");
        let moved = parsed
            .drafts
            .iter()
            .find(|d| !d.location.contains("occurrence"))
            .unwrap();
        assert_eq!(moved.occurrence.unwrap().to_string(), "2026-12-12 11:00:00");
    }

    #[test]
    fn windows_zone_names_are_read_as_their_iana_zones() {
        let text = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:Outlook\nDTSTART;TZID=GMT Standard Time:20261205T193000\nEND:VEVENT\nEND:VCALENDAR\n";
        let parsed = parse(text, window_at("2026-11-23T12:00:00Z")).unwrap();
        assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
        assert_eq!(
            parsed.drafts[0].start,
            Start::Local(
                NaiveDateTime::parse_from_str("20261205T193000", "%Y%m%dT%H%M%S").unwrap(),
                chrono_tz::Europe::London
            )
        );
    }

    #[test]
    fn bad_lines_are_rejected_one_by_one() {
        let text = "BEGIN:VCALENDAR\nthis line is broken\nBEGIN:VEVENT\nSUMMARY:No start\nEND:VEVENT\nBEGIN:VEVENT\nSUMMARY:Odd zone\nDTSTART;TZID=Mars/Olympus:20261205T193000\nEND:VEVENT\nBEGIN:VEVENT\nSUMMARY:Fine\nDTSTART:20261205T193000Z\nEND:VEVENT\nEND:VCALENDAR\n";
        let parsed = parse(text, window_at("2026-11-23T12:00:00Z")).unwrap();
        let messages: Vec<String> = parsed.rejected.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(
            messages[0].starts_with("line 2: not an iCalendar content line"),
            "{messages:?}"
        );
        assert_eq!(
            messages[1],
            "line 3: the VEVENT \"No start\" has no DTSTART"
        );
        assert!(
            messages[2].starts_with("line 8: unknown TZID \"Mars/Olympus\""),
            "{messages:?}"
        );
        assert_eq!(parsed.drafts.len(), 1);
        assert!(parse("<html>", window_at("2026-11-23T12:00:00Z")).is_err());
    }
}
