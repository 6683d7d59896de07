//! Composing a digest: what goes in (editors' picks, new reviews, next
//! week's screenings by day and venue, changes since the last digest),
//! filtered by a subscriber's preferences, rendered through
//! operator-editable minijinja templates into a subject, HTML and text.
//!
//! [`templates`] holds the templates and renders them; `view` shapes the
//! content for them; [`picks`] checks editors' picks and reads the
//! Repertory Rundown's films.

mod picks;
mod templates;
mod view;

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use marquee_events::{Accessibility, Review, Screening};
use serde::de::IntoDeserializer;
use serde::{Deserialize, Serialize};

pub use picks::EditorPicks;
pub(crate) use picks::{Pick, is_rundown, picks};
pub use templates::{BUILT_IN, Edition, ReaderLinks, TemplateError, Templates};

use crate::store::Preferences;

/// A digest ready to send or show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderedDigest {
    /// Subject line, e.g. "What to watch: 23–29 November 2026".
    pub subject: String,
    /// The HTML part: inline styles, no scripts.
    pub html: String,
    /// The plain-text part.
    pub text: String,
    /// The preheader: the line inboxes show after the subject.
    pub preheader: String,
    /// Editors' picks that match no screening this week (the preview
    /// shows them to the editor; readers never see them).
    pub unmatched_picks: Vec<String>,
}

/// What one run has to say, before any subscriber's preferences.
#[derive(Debug, Clone)]
pub struct DigestContent {
    /// First day of the week covered, in the schedule's zone.
    pub week_start: NaiveDate,
    /// Reviews published since the last digest, newest first.
    pub reviews: Vec<Review>,
    /// Screenings of the next 7 days, earliest first.
    pub screenings: Vec<Screening>,
    /// Star ratings of reviews the screenings link to.
    pub ratings: HashMap<String, u8>,
    /// Editors' picks (the editor's, then the Rundown's), each with its
    /// screenings among `screenings` (none when it matched nothing).
    pub picks: Vec<Pick>,
    /// Screenings the previous digest of the schedule listed that have
    /// since been cancelled, moved or sold out, in the order it listed them.
    pub changes: Vec<Change>,
    /// The access provisions the reader needs: every screening left meets
    /// one of them. Empty before preferences and for a reader with none.
    pub needs: Vec<Accessibility>,
}

/// A screening the previous digest listed, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The screening as it stands now.
    pub screening: Screening,
    /// What happened to it.
    pub kind: ChangeKind,
}

/// What became of a listed screening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Called off.
    Cancelled,
    /// Moved from this start (the venue's wall clock) to the screening's.
    Rescheduled(NaiveDateTime),
    /// No tickets left.
    SoldOut,
}

impl Change {
    /// What became of `listed` (as the previous digest showed it), now that
    /// it is `now` and `cancelled` or not; `None` when nothing worth telling.
    pub fn between(listed: &Screening, now: Screening, cancelled: bool) -> Option<Self> {
        let kind = if cancelled {
            ChangeKind::Cancelled
        } else if now.starts_at != listed.starts_at {
            ChangeKind::Rescheduled(listed.starts_at_local)
        } else if now.sold_out && !listed.sold_out {
            ChangeKind::SoldOut
        } else {
            return None;
        };
        Some(Self {
            screening: now,
            kind,
        })
    }
}

impl DigestContent {
    /// Whether there is nothing to tell anyone.
    pub fn is_empty(&self) -> bool {
        self.reviews.is_empty() && self.screenings.is_empty()
    }

    /// The picks that match no screening this week, as the editor or the
    /// Rundown names them.
    pub fn unmatched_picks(&self) -> Vec<String> {
        self.picks
            .iter()
            .filter(|pick| pick.screenings.is_empty())
            .map(Pick::label)
            .collect()
    }

    /// The content `preferences` select; [`DigestContent::is_empty`] tells
    /// whether anything is left.
    pub fn for_preferences(&self, preferences: &Preferences) -> DigestContent {
        let reviews = self
            .reviews
            .iter()
            .filter(|review| match preferences.min_rating {
                None => true,
                Some(min) => review.rating.is_some_and(|r| r.stars() >= min),
            })
            .cloned()
            .collect();
        let needs = needs(&preferences.accessibility);
        // One test for every section, so a screening a reader cannot use
        // is nowhere in their email: not listed, picked or "where it's playing".
        let wanted = |s: &&Screening| {
            (preferences.venues.is_empty() || preferences.venues.contains(&s.venue.id))
                && format_matches(&preferences.formats, s.format.as_deref())
                && (needs.is_empty() || s.accessibility.iter().any(|a| needs.contains(a)))
        };
        let screenings = self.screenings.iter().filter(wanted).cloned().collect();
        let picks = self
            .picks
            .iter()
            .map(|pick| Pick {
                title: pick.title.clone(),
                year: pick.year,
                note: pick.note.clone(),
                screenings: pick.screenings.iter().filter(wanted).cloned().collect(),
            })
            .collect();
        let changes = self
            .changes
            .iter()
            .filter(|change| wanted(&&change.screening))
            .cloned()
            .collect();
        DigestContent {
            week_start: self.week_start,
            reviews,
            screenings,
            ratings: self.ratings.clone(),
            picks,
            changes,
            needs,
        }
    }
}

/// The provisions a reader chose, as a screening spells them; a spelling
/// this build does not know (the forms refuse them) needs nothing.
fn needs(chosen: &[String]) -> Vec<Accessibility> {
    chosen
        .iter()
        .filter_map(|spelling| {
            let spelling: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
                spelling.as_str().into_deserializer();
            Accessibility::deserialize(spelling).ok()
        })
        .collect()
}

/// Film formats, as opposed to digital projection.
const CELLULOID: [&str; 3] = ["35mm", "70mm", "16mm"];

pub(crate) fn is_celluloid(format: &str) -> bool {
    let format = format.to_ascii_lowercase();
    CELLULOID.iter().any(|f| format.contains(f))
}

fn format_matches(wanted: &[String], format: Option<&str>) -> bool {
    if wanted.is_empty() {
        return true;
    }
    let Some(format) = format else {
        return false;
    };
    let lower = format.to_ascii_lowercase();
    wanted.iter().any(|w| {
        let w = w.to_ascii_lowercase();
        if w == "celluloid" {
            is_celluloid(format)
        } else {
            lower.contains(&w)
        }
    })
}

/// "23–29 November 2026", spanning months and years as needed.
pub(crate) fn week_range(start: NaiveDate) -> String {
    let end = start + chrono::Duration::days(6);
    if start.year() != end.year() {
        format!(
            "{} – {}",
            start.format("%-d %B %Y"),
            end.format("%-d %B %Y")
        )
    } else if start.month() != end.month() {
        format!("{} – {}", start.format("%-d %B"), end.format("%-d %B %Y"))
    } else {
        format!("{}–{}", start.format("%-d"), end.format("%-d %B %Y"))
    }
}

/// The local date of `at` in `zone`: a digest covers the week starting then.
pub fn week_start(at: DateTime<Utc>, zone: Tz) -> NaiveDate {
    at.with_timezone(&zone).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The date `y-m-d` (the template tests use it too).
    pub(super) fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn celluloid_means_film_prints() {
        let celluloid = vec!["celluloid".to_owned()];
        assert!(format_matches(&celluloid, Some("35mm")));
        assert!(format_matches(&celluloid, Some("70MM IMAX")));
        assert!(!format_matches(&celluloid, Some("DCP")));
        assert!(!format_matches(&celluloid, None));
        assert!(format_matches(&[], None));
        assert!(format_matches(&["dcp".to_owned()], Some("DCP")));
    }

    #[test]
    fn needs_read_as_screenings_spell_them() {
        let chosen = ["relaxed".to_owned(), "audio_described".to_owned()];
        assert_eq!(
            needs(&chosen),
            [Accessibility::Relaxed, Accessibility::AudioDescribed]
        );
        assert_eq!(needs(&["captioned".to_owned()]), []);
    }
}
