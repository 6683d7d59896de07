//! Composing a digest: what goes in (new reviews, next week's screenings by
//! day and venue), filtered by a subscriber's preferences, rendered through
//! operator-editable minijinja templates into a subject, HTML and text.
//!
//! [`templates`] holds the templates and renders them; `view` shapes the
//! content for them.

mod templates;
mod view;

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use marquee_events::{Review, Screening};
use serde::Serialize;

pub use templates::{TemplateError, Templates};

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
}

impl DigestContent {
    /// Whether there is nothing to tell anyone.
    pub fn is_empty(&self) -> bool {
        self.reviews.is_empty() && self.screenings.is_empty()
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
        let screenings = self
            .screenings
            .iter()
            .filter(|s| preferences.venues.is_empty() || preferences.venues.contains(&s.venue.id))
            .filter(|s| format_matches(&preferences.formats, s.format.as_deref()))
            .cloned()
            .collect();
        DigestContent {
            week_start: self.week_start,
            reviews,
            screenings,
            ratings: self.ratings.clone(),
        }
    }
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

/// "What to watch: 23–29 November 2026", spanning months and years as needed.
pub fn subject(week_start: NaiveDate) -> String {
    format!("What to watch: {}", week_range(week_start))
}

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
    fn subjects_carry_the_weeks_dates() {
        assert_eq!(
            subject(day(2026, 11, 23)),
            "What to watch: 23–29 November 2026"
        );
        assert_eq!(
            subject(day(2026, 11, 30)),
            "What to watch: 30 November – 6 December 2026"
        );
        assert_eq!(
            subject(day(2026, 12, 28)),
            "What to watch: 28 December 2026 – 3 January 2027"
        );
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
}
