//! Per-venue iCalendar (RFC 5545) output, a pure function of the stored
//! screenings and the reviews they are matched to.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use marquee_events::{Review, ReviewId, Screening};

use crate::store::screenings::StoredScreening;

/// Octets per content line before folding (RFC 5545 §3.1), CRLF excluded.
const FOLD_AT: usize = 75;

const LONDON: &str = "Europe/London";

/// The VTIMEZONE of Europe/London since 1996 (EU rules): BST from 01:00 UTC
/// on the last Sunday of March to 01:00 UTC on the last Sunday of October.
const LONDON_VTIMEZONE: [&str; 17] = [
    "BEGIN:VTIMEZONE",
    "TZID:Europe/London",
    "BEGIN:DAYLIGHT",
    "TZOFFSETFROM:+0000",
    "TZOFFSETTO:+0100",
    "TZNAME:BST",
    "DTSTART:19810329T010000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    "END:DAYLIGHT",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+0100",
    "TZOFFSETTO:+0000",
    "TZNAME:GMT",
    "DTSTART:19961027T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    "END:STANDARD",
    "END:VTIMEZONE",
];

/// Renders a calendar called `name` of `screenings`, cancelled ones
/// included; `reviews` are the live reviews the screenings are matched to.
///
/// - `UID` is `{screening id}@marquee`, stable across edits; `SEQUENCE`
///   and `STATUS` (`CONFIRMED`/`CANCELLED`) tell clients what changed.
/// - Europe/London screenings carry `DTSTART;TZID=Europe/London` and the
///   calendar its `VTIMEZONE`; any other zone is written in UTC (`Z`).
/// - `DTSTAMP` is when the screening's data last changed (the CloudEvents
///   `time` of the event that last changed it), the revision RFC 5545
///   §3.8.7.2 asks for, rather than "now": the same input always renders
///   the same bytes (stable ETags).
/// - `DURATION` is the film's running time, from the listing or else from
///   the matched review. Without one the event has no `DURATION` or
///   `DTEND`: RFC 5545 §3.6.1 reads a date-time `DTSTART` alone as an
///   event at that instant, which is what is known, where a made-up length
///   would end a long film early in every calendar.
/// - `LOCATION` is the venue, the screen and the address, each piece once
///   (listings often repeat the venue in the screen or the address).
/// - Lines are folded at 75 octets (never inside a UTF-8 character) and end
///   in CRLF.
pub fn render_calendar(
    name: &str,
    screenings: &[StoredScreening],
    reviews: &HashMap<ReviewId, Review>,
    refresh_interval: Duration,
) -> String {
    let mut lines: Vec<String> = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Marquee//feeds//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        format!("NAME:{}", escape(name)),
        format!("X-WR-CALNAME:{}", escape(name)),
        format!(
            "REFRESH-INTERVAL;VALUE=DURATION:{}",
            duration(refresh_interval)
        ),
        format!("X-PUBLISHED-TTL:{}", duration(refresh_interval)),
    ];
    if screenings.iter().any(|s| s.screening.time_zone == LONDON) {
        lines.extend(LONDON_VTIMEZONE.iter().map(|l| (*l).to_owned()));
    }
    let mut sorted: Vec<&StoredScreening> = screenings.iter().collect();
    sorted.sort_by_key(|s| (s.screening.starts_at, s.screening.id.as_str()));
    for stored in sorted {
        event(&mut lines, stored, reviews);
    }
    lines.push("END:VCALENDAR".to_owned());
    let mut out = String::new();
    for line in lines {
        fold(&mut out, &line);
    }
    out
}

fn event(lines: &mut Vec<String>, stored: &StoredScreening, reviews: &HashMap<ReviewId, Review>) {
    let s = &stored.screening;
    let utc = s.starts_at.format(UTC_FORMAT).to_string();
    lines.push("BEGIN:VEVENT".to_owned());
    lines.push(format!("UID:{}@marquee", s.id.as_str()));
    lines.push(format!("DTSTAMP:{}", stored.modified_at.format(UTC_FORMAT)));
    lines.push(format!("SEQUENCE:{}", stored.sequence));
    lines.push(format!(
        "STATUS:{}",
        if stored.cancelled {
            "CANCELLED"
        } else {
            "CONFIRMED"
        }
    ));
    if s.time_zone == LONDON {
        lines.push(format!(
            "DTSTART;TZID={LONDON}:{}",
            s.starts_at_local.format("%Y%m%dT%H%M%S")
        ));
    } else {
        lines.push(format!("DTSTART:{utc}"));
    }
    if let Some(minutes) = runtime_minutes(s, reviews) {
        lines.push(format!("DURATION:PT{minutes}M"));
    }
    let mut summary = s.film.title.clone();
    if let Some(format) = &s.format {
        let _ = write!(summary, " ({format})");
    }
    for extra in &s.extras {
        let _ = write!(summary, " + {extra}");
    }
    lines.push(format!("SUMMARY:{}", escape(&summary)));
    lines.push(format!("LOCATION:{}", escape(&location(s))));
    if let Some(strand) = &s.strand {
        lines.push(format!("CATEGORIES:{}", escape(strand)));
    }
    if let Some(url) = &s.booking_url {
        lines.push(format!("URL:{url}"));
    }
    let mut description = Vec::new();
    if let Some(year) = s.film.year {
        description.push(format!("{} ({year})", s.film.title));
    }
    if let Some(director) = &s.film.director {
        description.push(format!("Director: {director}"));
    }
    if let Some(strand) = &s.strand {
        description.push(format!("Season: {strand}"));
    }
    if !s.accessibility.is_empty() {
        let access: Vec<&str> = s
            .accessibility
            .iter()
            .map(|a| match a {
                marquee_events::Accessibility::Subtitled => "subtitled",
                marquee_events::Accessibility::AudioDescribed => "audio described",
                marquee_events::Accessibility::Relaxed => "relaxed screening",
                marquee_events::Accessibility::BabyFriendly => "parent & baby",
            })
            .collect();
        description.push(format!("Access: {}", access.join(", ")));
    }
    if s.sold_out {
        description.push("Sold out".to_owned());
    }
    if let Some(url) = &s.booking_url {
        description.push(format!("Book: {url}"));
    }
    if !description.is_empty() {
        lines.push(format!("DESCRIPTION:{}", escape(&description.join("\n"))));
    }
    lines.push("TRANSP:OPAQUE".to_owned());
    lines.push("END:VEVENT".to_owned());
}

/// A UTC DATE-TIME (RFC 5545 §3.3.5, form 2).
const UTC_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// The film's running time: the listing's, else the matched review's.
fn runtime_minutes(s: &Screening, reviews: &HashMap<ReviewId, Review>) -> Option<u16> {
    let review = || {
        let review = reviews.get(s.review_id.as_ref()?)?;
        review.film.runtime_minutes
    };
    s.film
        .runtime_minutes
        .filter(|m| *m > 0)
        .or_else(|| review().filter(|m| *m > 0))
}

/// Venue, screen and address joined by commas, each comma-separated piece
/// once: a piece already said by an earlier one (as whole words, in any
/// case) is left out, and one that starts with an earlier piece keeps only
/// the rest. Venue calendars write `LOCATION:BFI Southbank, NFT1` and
/// addresses often start with the venue's name, which was repeated.
fn location(s: &Screening) -> String {
    let parts = [
        Some(s.venue.name.as_str()),
        s.screen.as_deref(),
        s.venue.address.as_deref(),
    ];
    let mut kept: Vec<&str> = Vec::new();
    for piece in parts.into_iter().flatten().flat_map(|part| part.split(',')) {
        let mut piece = piece.trim();
        for earlier in &kept {
            if let Some(rest) = strip_words(piece, earlier) {
                piece = rest;
            }
        }
        let said = words(piece);
        if said.is_empty()
            || kept
                .iter()
                .any(|earlier| words(earlier).windows(said.len()).any(|w| w == said))
        {
            continue;
        }
        kept.push(piece);
    }
    kept.join(", ")
}

/// `text` without a leading `prefix` (in any case) that ends on a word
/// boundary, and without the separators after it.
fn strip_words<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    let rest = &text[prefix.len()..];
    if head.to_lowercase() != prefix.to_lowercase()
        || rest.chars().next().is_some_and(char::is_alphanumeric)
    {
        return None;
    }
    Some(rest.trim_start_matches(|c: char| c.is_whitespace() || "-–—:/·|".contains(c)))
}

/// The lowercased words of `text`.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// TEXT escaping (RFC 5545 §3.3.11).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `PT1H30M`-style DURATION of whole seconds.
fn duration(interval: Duration) -> String {
    let secs = interval.as_secs();
    if secs == 0 {
        return "PT0S".to_owned();
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = "PT".to_owned();
    for (value, unit) in [(h, 'H'), (m, 'M'), (s, 'S')] {
        if value > 0 {
            let _ = write!(out, "{value}{unit}");
        }
    }
    out
}

/// Appends `line` folded at 75 octets, each physical line ending in CRLF.
fn fold(out: &mut String, line: &str) {
    let mut rest = line;
    let mut limit = FOLD_AT;
    loop {
        if rest.len() <= limit {
            out.push_str(rest);
            out.push_str("\r\n");
            return;
        }
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        // The leading space counts towards the next line's 75 octets.
        limit = FOLD_AT - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_characters() {
        let mut out = String::new();
        let line = format!("SUMMARY:{}", "é".repeat(100));
        fold(&mut out, &line);
        for physical in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(
                physical.len() <= 75,
                "{} octets: {physical}",
                physical.len()
            );
        }
        let unfolded = out.trim_end_matches("\r\n").replace("\r\n ", "");
        assert_eq!(unfolded, line);
    }

    #[test]
    fn durations_and_text_are_written_the_rfc_5545_way() {
        assert_eq!(duration(Duration::from_secs(3600)), "PT1H");
        assert_eq!(duration(Duration::from_secs(5400)), "PT1H30M");
        assert_eq!(duration(Duration::from_secs(0)), "PT0S");
        assert_eq!(escape("a, b; c\\d\ne"), "a\\, b\\; c\\\\d\\ne");
    }

    /// TEXT unescaping, as a client reads a property value back.
    fn unescape(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            }
        }
        out
    }

    proptest::proptest! {
        /// Whatever the text, folding and escaping are undone by unfolding
        /// and unescaping, and no physical line exceeds 75 octets.
        #[test]
        fn text_survives_folding_and_escaping(text in "[^\\p{Cc}]{0,200}") {
            let mut out = String::new();
            fold(&mut out, &format!("SUMMARY:{}", escape(&text)));
            for physical in out.split("\r\n") {
                proptest::prop_assert!(physical.len() <= 75);
            }
            let unfolded = out.trim_end_matches("\r\n").replace("\r\n ", "");
            let value = unfolded.strip_prefix("SUMMARY:").unwrap_or_default();
            proptest::prop_assert_eq!(unescape(value), text);
        }
    }
}
