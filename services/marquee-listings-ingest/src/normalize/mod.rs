//! From what a source says to a [`Screening`]: the film title cleaned of
//! format, extras and access notes, the start resolved on the venue's wall
//! clock ([`crate::localtime`]), and a stable id ([`identity`]); titles are
//! taken apart in [`title`].

mod identity;
mod title;

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use marquee_events::{Accessibility, Screening, ScreeningFilm};
use url::Url;

use crate::error::IngestError;
use crate::localtime::resolve_local;
use crate::venue::VenueZone;

pub use identity::screening_id;
pub use title::title_key;
pub(crate) use title::{Label, classify, clean_title};

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
    /// The film titles of rejected rows, where they could be read: a
    /// rejected row is present but invalid, so no screening of its film is
    /// cancelled for its absence.
    pub(crate) invalid_titles: Vec<String>,
}

/// A start that is not an ISO 8601 date-time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("start {0:?} is not an ISO 8601 local date-time like 2026-12-05T19:30")]
pub(crate) struct BadStart(String);

/// Reads a start written as ISO 8601: with an offset or `Z` it is an
/// instant; without, a wall-clock time in `tz`.
pub(crate) fn parse_start(text: &str, tz: Tz) -> Result<Start, BadStart> {
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
    Err(BadStart(text.to_owned()))
}

/// An access note of a row (`subtitled`, `relaxed`, …), or the reason it
/// is not one; the CSV and JSON sources read theirs alike.
pub(crate) fn access_note(value: &str) -> Result<Accessibility, String> {
    match classify(value) {
        Some(Label::Access(access)) => Ok(access),
        _ => Err(format!(
            "accessibility {value:?} is not one of: subtitled, captioned, audio described, relaxed, parent & baby"
        )),
    }
}

/// A row's booking link: an http(s) URL, or the reason it is not one.
pub(crate) fn booking_url(text: &str) -> Result<Url, String> {
    Url::parse(text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| format!("booking_url {text:?} is not an http(s) URL"))
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
