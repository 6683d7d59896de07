//! From what a source says to a [`Screening`]: the film title cleaned of
//! format, extras and access notes, the start resolved on the venue's wall
//! clock, and a stable id.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use marquee_events::{Accessibility, Screening, ScreeningFilm, ScreeningId, Venue};
use regex::Regex;
use url::Url;
use uuid::Uuid;

use crate::error::IngestError;
use crate::localtime::resolve_local;
use crate::settings::VenueSettings;

/// A venue as the pipeline uses it: the event's [`Venue`] and its parsed zone.
#[derive(Debug, Clone)]
pub(crate) struct VenueZone {
    pub(crate) venue: Venue,
    pub(crate) tz: Tz,
}

impl VenueZone {
    /// Parses the configured time zone.
    pub(crate) fn parse(settings: &VenueSettings) -> anyhow::Result<Self> {
        let tz: Tz = settings.time_zone.parse().map_err(|_| {
            anyhow::anyhow!(
                "venue {:?}: {:?} is not an IANA time zone (e.g. Europe/London)",
                settings.id,
                settings.time_zone
            )
        })?;
        anyhow::ensure!(!settings.id.trim().is_empty(), "a venue id cannot be blank");
        Ok(Self {
            venue: Venue {
                id: settings.id.trim().to_owned(),
                name: settings.name.trim().to_owned(),
                address: settings.address.clone(),
            },
            tz,
        })
    }
}

/// When a listing starts, as its source wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// Wall-clock time in a zone (the venue's unless the source named another).
    Local(NaiveDateTime, Tz),
    /// An instant (UTC or with an offset).
    Instant(DateTime<Utc>),
}

/// One listing as read from a source, before normalization.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    /// Where in the document, for rejections.
    pub(crate) location: String,
    /// The source's own id (ICS UID, JSON id), when it has one.
    pub(crate) source_uid: Option<String>,
    /// For an occurrence of a recurring event: its original start (RECURRENCE-ID).
    pub(crate) occurrence: Option<NaiveDateTime>,
    /// The title as listed, e.g. `Once Upon a Time in the West [35mm] + Q&A`.
    pub(crate) title: String,
    pub(crate) start: Start,
    pub(crate) screen: Option<String>,
    pub(crate) format: Option<String>,
    pub(crate) strand: Option<String>,
    pub(crate) extras: Vec<String>,
    pub(crate) accessibility: Vec<Accessibility>,
    /// Free-form labels (ICS CATEGORIES): formats, extras, access notes,
    /// "sold out"; the first other label is the strand.
    pub(crate) labels: Vec<String>,
    pub(crate) booking_url: Option<Url>,
    pub(crate) sold_out: bool,
    pub(crate) cancelled: bool,
    pub(crate) year: Option<u16>,
    pub(crate) director: Option<String>,
    pub(crate) runtime_minutes: Option<u16>,
}

impl Draft {
    pub(crate) fn new(location: impl Into<String>, title: String, start: Start) -> Self {
        Self {
            location: location.into(),
            source_uid: None,
            occurrence: None,
            title,
            start,
            screen: None,
            format: None,
            strand: None,
            extras: Vec::new(),
            accessibility: Vec::new(),
            labels: Vec::new(),
            booking_url: None,
            sold_out: false,
            cancelled: false,
            year: None,
            director: None,
            runtime_minutes: None,
        }
    }
}

/// What a document yielded: listings, and rows rejected on the way.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub(crate) drafts: Vec<Draft>,
    pub(crate) rejected: Vec<IngestError>,
}

/// Reads a start written as ISO 8601: with an offset or `Z` it is an
/// instant; without, a wall-clock time in `tz`.
pub(crate) fn parse_start(text: &str, tz: Tz) -> Result<Start, String> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Start::Instant(at.to_utc()));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(local) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(Start::Local(local, tz));
        }
    }
    Err(format!(
        "start {text:?} is not an ISO 8601 local date-time like 2026-12-05T19:30"
    ))
}

/// A normalized listing: the screening (without its review yet), whether the
/// source marks it cancelled, and the key its film is matched to reviews by.
#[derive(Debug, Clone)]
pub(crate) struct Normalized {
    pub(crate) location: String,
    pub(crate) screening: Screening,
    pub(crate) cancelled: bool,
    pub(crate) title_key: String,
}

/// What a label or a bracketed note in a title means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Label {
    Format(&'static str),
    Extra(String),
    Access(Accessibility),
    SoldOut,
    Cancelled,
}

/// Classifies one label ("35mm", "Q&A", "audio described", "sold out").
pub(crate) fn classify(label: &str) -> Option<Label> {
    let lower = collapse(label).to_lowercase();
    let bare = lower
        .trim_start_matches(['+', '&'])
        .trim()
        .trim_start_matches("plus ")
        .trim_start_matches("with ")
        .trim()
        .trim_end_matches(" print")
        .trim_end_matches(" screening")
        .trim();
    let format = match bare {
        "35mm" | "35 mm" => Some("35mm"),
        "70mm" | "70 mm" => Some("70mm"),
        "16mm" | "16 mm" => Some("16mm"),
        "dcp" | "digital" => Some("DCP"),
        "4k" | "4k restoration" | "new 4k restoration" | "4k restored" | "4k remaster"
        | "4k remastered" | "restored in 4k" => Some("4K restoration"),
        _ => None,
    };
    if let Some(format) = format {
        return Some(Label::Format(format));
    }
    let access = match bare {
        "subtitled"
        | "captioned"
        | "hoh"
        | "sdh"
        | "cc"
        | "hoh subtitles"
        | "hoh subtitled"
        | "open captions"
        | "closed captions"
        | "captions"
        | "descriptive subtitles" => Some(Accessibility::Subtitled),
        "audio described" | "audio description" | "audiodescription" | "ad" => {
            Some(Accessibility::AudioDescribed)
        }
        "relaxed" | "relaxed performance" => Some(Accessibility::Relaxed),
        "parent & baby" | "parent and baby" | "parents & babies" | "parents and babies"
        | "carers & babies" | "carers and babies" | "baby-friendly" | "baby friendly" => {
            Some(Accessibility::BabyFriendly)
        }
        _ => None,
    };
    if let Some(access) = access {
        return Some(Label::Access(access));
    }
    match bare {
        "sold out" => return Some(Label::SoldOut),
        "cancelled" | "canceled" => return Some(Label::Cancelled),
        _ => {}
    }
    let canonical = match bare {
        "q&a" | "q & a" | "q and a" | "qa" | "q+a" => Some("Q&A"),
        "intro" | "introduction" | "introduced" | "live intro" => Some("intro"),
        "discussion" | "panel" | "panel discussion" | "post-screening discussion" => {
            Some("discussion")
        }
        "talk" | "director's talk" => Some("talk"),
        _ => None,
    };
    if let Some(extra) = canonical {
        return Some(Label::Extra(extra.to_owned()));
    }
    // "Q&A with Sir Christopher Frayling", "intro by …": an extra, kept verbatim.
    let verbatim = collapse(label);
    let verbatim = verbatim.trim_start_matches(['+', '&']).trim().to_owned();
    [
        "q&a ",
        "intro ",
        "introduction ",
        "introduced ",
        "discussion ",
        "panel ",
        "talk ",
    ]
    .iter()
    .any(|prefix| bare.starts_with(prefix))
    .then_some(Label::Extra(verbatim))
}

/// A title taken apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CleanTitle {
    pub(crate) title: String,
    pub(crate) year: Option<u16>,
    pub(crate) format: Option<String>,
    pub(crate) extras: Vec<String>,
    pub(crate) accessibility: Vec<Accessibility>,
    pub(crate) sold_out: bool,
    pub(crate) cancelled: bool,
}

impl CleanTitle {
    fn take(&mut self, label: Label) {
        match label {
            Label::Format(format) => {
                self.format.get_or_insert_with(|| format.to_owned());
            }
            Label::Extra(extra) => push_unique(&mut self.extras, extra),
            Label::Access(access) => push_unique(&mut self.accessibility, access),
            Label::SoldOut => self.sold_out = true,
            Label::Cancelled => self.cancelled = true,
        }
    }

    /// Takes every piece of `note` if each one is a known label.
    fn take_all(&mut self, note: &str) -> bool {
        self.take_labels(note, false)
    }

    /// Like [`CleanTitle::take_all`], but `strict` refuses free-form extras
    /// ("Talk to Her" reads like "talk …" yet is a film).
    fn take_labels(&mut self, note: &str, strict: bool) -> bool {
        let labels: Option<Vec<Label>> = note
            .split([',', '/', '|', ';', '+'])
            .map(str::trim)
            .filter(|piece| !piece.is_empty())
            .map(|piece| {
                classify(piece)
                    .filter(|label| !strict || !matches!(label, Label::Extra(e) if e.contains(' ')))
            })
            .collect();
        match labels {
            Some(labels) if !labels.is_empty() => {
                labels.into_iter().for_each(|label| self.take(label));
                true
            }
            _ => false,
        }
    }
}

/// Takes a venue's title apart: "Once Upon a Time in the West (1968) [35mm] +
/// Q&A" → "Once Upon a Time in the West", 1968, "35mm", ["Q&A"].
///
/// Recognised: `[…]` notes anywhere; trailing `(…)` notes that are a year or
/// known labels (others, like "(Director's Cut)", stay in the title);
/// ` + …` extras; a trailing ` - 35mm` / `: Q&A` when it is a known label; a
/// leading `SOLD OUT:` / `35mm:` likewise; a trailing "in 70mm".
pub(crate) fn clean_title(raw: &str) -> CleanTitle {
    static SQUARE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\[([^\]]*)\]").ok());
    static TRAILING_PAREN: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"^(?P<rest>.*?)\s*\((?P<note>[^()]*)\)$").ok());
    static YEAR: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^(?:18|19|20)\d\d$").ok());
    static IN_FORMAT: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"(?i)^(?P<rest>.*\S)\s+in\s+(?P<note>35mm|70mm|16mm|4k)$").ok()
    });

    let mut clean = CleanTitle::default();
    let mut title = collapse(raw);

    // " + Q&A + intro": everything after the first " + " is extras.
    if let Some((head, tail)) = title.split_once(" + ") {
        for piece in tail.split(" + ").map(str::trim).filter(|p| !p.is_empty()) {
            match classify(piece) {
                Some(label) => clean.take(label),
                None => push_unique(&mut clean.extras, piece.to_owned()),
            }
        }
        title = head.trim().to_owned();
    }
    // Square brackets are always notes, never part of a film's title.
    if let Some(square) = SQUARE.as_ref() {
        let notes: Vec<String> = square
            .captures_iter(&title)
            .filter_map(|c| c.get(1).map(|m| m.as_str().to_owned()))
            .collect();
        for note in notes {
            if !clean.take_all(&note) {
                let note = note.trim();
                if YEAR.as_ref().is_some_and(|y| y.is_match(note)) {
                    clean.year = note.parse().ok();
                } else if !note.is_empty() {
                    push_unique(&mut clean.extras, note.to_owned());
                }
            }
        }
        title = collapse(&square.replace_all(&title, " "));
    }
    loop {
        let before = title.clone();
        if let Some(caps) = TRAILING_PAREN.as_ref().and_then(|re| re.captures(&title)) {
            let note = caps["note"].trim().to_owned();
            let rest = caps["rest"].trim().to_owned();
            if YEAR.as_ref().is_some_and(|y| y.is_match(&note)) && clean.year.is_none() {
                clean.year = note.parse().ok();
                title = rest;
            } else if clean.take_all(&note) {
                title = rest;
            }
        }
        for separator in [" - ", " – ", " — ", ": "] {
            if let Some((head, tail)) = title.rsplit_once(separator)
                && !head.trim().is_empty()
                && clean.take_all(tail)
            {
                title = head.trim().to_owned();
            }
        }
        if let Some((head, tail)) = title.split_once(": ")
            && !tail.trim().is_empty()
            && clean.take_labels(head, true)
        {
            title = tail.trim().to_owned();
        }
        if let Some(caps) = IN_FORMAT.as_ref().and_then(|re| re.captures(&title)) {
            let note = caps["note"].to_owned();
            let rest = caps["rest"].to_owned();
            if clean.take_all(&note) {
                title = rest;
            }
        }
        if title == before {
            break;
        }
    }
    let quotes: &[char] = &['"', '\'', '‘', '’', '“', '”'];
    clean.title = title.trim_matches(quotes).trim().to_owned();
    if clean.title.is_empty() {
        clean.title = collapse(raw);
    }
    clean
}

/// The key films are matched by: lower case, "&" as "and", punctuation
/// dropped, a leading article dropped ("The Godfather" = "Godfather, The").
pub fn title_key(title: &str) -> String {
    let mut lowered = title.to_lowercase().replace('&', " and ");
    for article in [", the", ", a", ", an"] {
        if let Some(head) = lowered.trim_end().strip_suffix(article) {
            lowered = head.to_owned();
            break;
        }
    }
    let words: String = lowered
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut words: Vec<&str> = words.split_whitespace().collect();
    if words.len() > 1 && matches!(words.first(), Some(&("the" | "a" | "an"))) {
        words.remove(0);
    }
    words.join(" ")
}

/// Stable id of a screening, a UUID v5 (namespace URL) of:
/// - `urn:marquee:screening:uid:{venue id}:{source uid}` when the source
///   gives its own id (ICS UID, JSON `id`, JSON-LD `identifier`), with
///   `:{original start, YYYYMMDDTHHMMSS}` appended for an occurrence of a
///   recurring event; a time change then keeps the id and is a `changed`;
/// - else `urn:marquee:screening:slot:{venue id}:{title key}:{local start,
///   YYYY-MM-DDTHH:MM}`, so a re-poll finds the same id (and a moved
///   screening is a cancel plus a new listing).
pub fn screening_id(
    venue_id: &str,
    source_uid: Option<&str>,
    occurrence: Option<NaiveDateTime>,
    title_key: &str,
    local_start: NaiveDateTime,
) -> ScreeningId {
    let name = match source_uid {
        Some(uid) => {
            let mut name = format!("urn:marquee:screening:uid:{venue_id}:{uid}");
            if let Some(occurrence) = occurrence {
                name.push_str(&occurrence.format(":%Y%m%dT%H%M%S").to_string());
            }
            name
        }
        None => format!(
            "urn:marquee:screening:slot:{venue_id}:{title_key}:{}",
            local_start.format("%Y-%m-%dT%H:%M")
        ),
    };
    let id = Uuid::new_v5(&Uuid::NAMESPACE_URL, name.as_bytes()).to_string();
    ScreeningId::parse(&id).unwrap_or_else(|_| unreachable!("a UUID is never blank"))
}

/// Normalizes `draft` for `venue`.
pub(crate) fn normalize(draft: Draft, venue: &VenueZone) -> Result<Normalized, IngestError> {
    let mut clean = clean_title(&draft.title);
    if clean.title.is_empty() {
        return Err(IngestError::row(
            &draft.location,
            "missing_title",
            "the screening has no film title",
        ));
    }
    let mut strand = draft
        .strand
        .as_deref()
        .map(collapse)
        .filter(|s| !s.is_empty());
    for label in &draft.labels {
        match classify(label) {
            Some(label) => clean.take(label),
            None if strand.is_none() && !label.trim().is_empty() => strand = Some(collapse(label)),
            None => {}
        }
    }
    let format = match draft
        .format
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        Some(format) => match classify(format) {
            Some(Label::Format(canonical)) => Some(canonical.to_owned()),
            _ => Some(format.to_owned()),
        },
        None => clean.format.take(),
    };
    let mut extras = Vec::new();
    for extra in draft
        .extras
        .iter()
        .map(|e| collapse(e))
        .filter(|e| !e.is_empty())
    {
        match classify(&extra) {
            Some(Label::Extra(canonical)) => push_unique(&mut extras, canonical),
            _ => push_unique(&mut extras, extra),
        }
    }
    for extra in clean.extras.drain(..) {
        push_unique(&mut extras, extra);
    }
    let mut accessibility = draft.accessibility.clone();
    for access in clean.accessibility.drain(..) {
        push_unique(&mut accessibility, access);
    }
    accessibility.sort_by_key(|a| *a as u8);

    let instant = match draft.start {
        Start::Local(local, tz) => resolve_local(tz, local).to_utc(),
        Start::Instant(at) => at,
    };
    let local = instant.with_timezone(&venue.tz).naive_local();
    let key = title_key(&clean.title);
    let id = screening_id(
        &venue.venue.id,
        draft.source_uid.as_deref(),
        draft.occurrence,
        &key,
        local,
    );
    let screening = Screening {
        id,
        venue: venue.venue.clone(),
        film: ScreeningFilm {
            title: clean.title,
            year: draft.year.or(clean.year),
            director: draft
                .director
                .map(|d| collapse(&d))
                .filter(|d| !d.is_empty()),
            runtime_minutes: draft.runtime_minutes,
        },
        starts_at: instant,
        starts_at_local: local,
        time_zone: venue.tz.name().to_owned(),
        screen: draft.screen.map(|s| collapse(&s)).filter(|s| !s.is_empty()),
        format,
        strand,
        extras,
        accessibility,
        booking_url: draft.booking_url,
        sold_out: draft.sold_out || clean.sold_out,
        review_id: None,
    };
    Ok(Normalized {
        location: draft.location,
        screening,
        cancelled: draft.cancelled || clean.cancelled,
        title_key: key,
    })
}

/// Whitespace runs as single spaces, trimmed.
pub(crate) fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn push_unique<T: PartialEq>(items: &mut Vec<T>, item: T) {
    if !items.contains(&item) {
        items.push(item);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn formats_and_extras_come_out_of_titles() {
        let clean = clean_title("Once Upon a Time in the West [35mm] + Q&A");
        assert_eq!(clean.title, "Once Upon a Time in the West");
        assert_eq!(clean.format.as_deref(), Some("35mm"));
        assert_eq!(clean.extras, vec!["Q&A"]);

        let clean = clean_title(
            "Once Upon a Time in the West (1968) [35mm] + intro + Q&A with Sir Christopher Frayling",
        );
        assert_eq!(clean.title, "Once Upon a Time in the West");
        assert_eq!(clean.year, Some(1968));
        assert_eq!(
            clean.extras,
            vec!["intro", "Q&A with Sir Christopher Frayling"]
        );

        let clean = clean_title("2001: A Space Odyssey - 70mm");
        assert_eq!(clean.title, "2001: A Space Odyssey");
        assert_eq!(clean.format.as_deref(), Some("70mm"));

        let clean = clean_title("Lawrence of Arabia in 70mm");
        assert_eq!(
            (clean.title.as_str(), clean.format.as_deref()),
            ("Lawrence of Arabia", Some("70mm"))
        );

        let clean = clean_title("SOLD OUT: The Good, the Bad and the Ugly (4K restoration)");
        assert_eq!(clean.title, "The Good, the Bad and the Ugly");
        assert_eq!(clean.format.as_deref(), Some("4K restoration"));
        assert!(clean.sold_out);

        let clean = clean_title("Paddington 2 (Parent & Baby, Audio Described)");
        assert_eq!(clean.title, "Paddington 2");
        assert_eq!(
            clean.accessibility,
            vec![Accessibility::BabyFriendly, Accessibility::AudioDescribed]
        );

        // Notes that are part of a title stay.
        assert_eq!(
            clean_title("Blade Runner (The Final Cut)").title,
            "Blade Runner (The Final Cut)"
        );
        assert_eq!(
            clean_title("Mission: Impossible").title,
            "Mission: Impossible"
        );
        assert_eq!(clean_title("  Jaws  (1975) ").year, Some(1975));
    }

    #[test]
    fn title_keys_ignore_case_punctuation_and_articles() {
        assert_eq!(
            title_key("The Good, the Bad & the Ugly"),
            "good the bad and the ugly"
        );
        assert_eq!(
            title_key("Good, the Bad and the Ugly, The"),
            "good the bad and the ugly"
        );
        assert_eq!(
            title_key("Once upon a time in the West"),
            title_key("ONCE UPON A TIME IN THE WEST")
        );
    }

    #[test]
    fn ids_prefer_the_source_uid_and_are_stable() {
        let t = |s| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap();
        let a = screening_id("pcc", Some("ev-1"), None, "jaws", t("2026-12-01T20:00"));
        let moved = screening_id("pcc", Some("ev-1"), None, "jaws", t("2026-12-02T18:00"));
        assert_eq!(a, moved);
        let b = screening_id("pcc", None, None, "jaws", t("2026-12-01T20:00"));
        assert_ne!(a, b);
        assert_eq!(
            b,
            screening_id("pcc", None, None, "jaws", t("2026-12-01T20:00"))
        );
        assert_ne!(
            b,
            screening_id("bfi", None, None, "jaws", t("2026-12-01T20:00"))
        );
        assert_eq!(
            b.as_str(),
            Uuid::new_v5(
                &Uuid::NAMESPACE_URL,
                b"urn:marquee:screening:slot:pcc:jaws:2026-12-01T20:00"
            )
            .to_string()
        );
    }
}
