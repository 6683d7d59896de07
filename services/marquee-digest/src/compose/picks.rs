//! Editors' picks: the films an editor marked for a schedule, then those
//! the latest "Repertory Rundown" feature names, matched to the week's
//! screenings.
//!
//! The rule, from how the publication writes a Rundown: each entry is a
//! paragraph (or list item or subheading) that opens with the film's title
//! and its year in brackets, "A Matter of Life and Death (1946) – BFI
//! Southbank. …". Prose that does not open that way names no pick. A
//! screening is of the pick when its title is the same once case,
//! punctuation and spacing are set aside ("&" reads "and"), and its year is
//! the same when both give one; two picks are the same film by that rule
//! too, and the first one named is kept.

use std::ops::RangeInclusive;

use marquee_admin::digest::EditorPick;
use marquee_events::{Review, Screening};
use scraper::{Html, Selector};

/// The section and headline that make a review the Repertory Rundown.
const RUNDOWN_SECTION: &str = "Features";
const RUNDOWN_HEADLINE: &str = "Repertory Rundown";

/// Years a film can have: from the first films to well past now.
const YEARS: RangeInclusive<u16> = 1870..=2100;

/// Most picks an editor marks for one schedule: the email leads with them.
pub const MAX_EDITOR_PICKS: usize = 12;
/// Longest title and note, in characters.
const MAX_TITLE: usize = 200;
const MAX_NOTE: usize = 500;

/// One picked film, and its screenings this week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    /// The title as the editor or the Rundown writes it.
    pub title: String,
    /// Its year, when the pick gives one.
    pub year: Option<u16>,
    /// The editor's line about it (the Rundown's picks have none).
    pub note: Option<String>,
    /// Its screenings among the digest's, earliest first.
    pub screenings: Vec<Screening>,
}

impl Pick {
    /// "A Matter of Life and Death (1946)".
    pub fn label(&self) -> String {
        match self.year {
            Some(year) => format!("{} ({year})", self.title),
            None => self.title.clone(),
        }
    }
}

/// Why an editor's picks were refused; each names the pick, counting from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PickError {
    /// More than [`MAX_EDITOR_PICKS`].
    #[error("{0} picks is too many: a digest leads with at most {MAX_EDITOR_PICKS}")]
    TooMany(usize),
    /// A blank title.
    #[error("pick {0} has no title")]
    NoTitle(usize),
    /// A title or note past its length.
    #[error("pick {index}: the {field} is longer than {max} characters")]
    TooLong {
        /// Which pick.
        index: usize,
        /// `title` or `note`.
        field: &'static str,
        /// The most allowed.
        max: usize,
    },
    /// A year no film has.
    #[error("pick {index} (`{title}`): year {year} is not between 1870 and 2100")]
    Year {
        /// Which pick.
        index: usize,
        /// Its title.
        title: String,
        /// The year given.
        year: u16,
    },
    /// The same film as an earlier pick.
    #[error("pick {index} (`{title}`) is the same film as pick {earlier}")]
    Repeated {
        /// Which pick.
        index: usize,
        /// Its title.
        title: String,
        /// The pick it repeats.
        earlier: usize,
    },
}

/// An editor's picks for one schedule, checked: titles and notes trimmed
/// (a blank note is none), at most [`MAX_EDITOR_PICKS`], no film twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditorPicks(Vec<EditorPick>);

impl EditorPicks {
    /// Checks `picks` as an editor sent them.
    pub fn parse(picks: Vec<EditorPick>) -> Result<Self, PickError> {
        if picks.len() > MAX_EDITOR_PICKS {
            return Err(PickError::TooMany(picks.len()));
        }
        let mut checked: Vec<EditorPick> = Vec::with_capacity(picks.len());
        for (index, pick) in (1..).zip(picks) {
            let title = pick.title.trim().to_owned();
            if title.is_empty() {
                return Err(PickError::NoTitle(index));
            }
            let too_long = |field, max| PickError::TooLong { index, field, max };
            if title.chars().count() > MAX_TITLE {
                return Err(too_long("title", MAX_TITLE));
            }
            let note = pick
                .note
                .map(|note| note.trim().to_owned())
                .filter(|note| !note.is_empty());
            if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
                return Err(too_long("note", MAX_NOTE));
            }
            if let Some(year) = pick.year.filter(|year| !YEARS.contains(year)) {
                return Err(PickError::Year { index, title, year });
            }
            if let Some(earlier) = checked
                .iter()
                .position(|p| same_film(&p.title, p.year, &title, pick.year))
            {
                return Err(PickError::Repeated {
                    index,
                    title,
                    earlier: earlier + 1,
                });
            }
            checked.push(EditorPick {
                title,
                year: pick.year,
                note,
            });
        }
        Ok(Self(checked))
    }

    /// The picks, in the editor's order.
    pub fn as_slice(&self) -> &[EditorPick] {
        &self.0
    }
}

/// Whether `review` is a Repertory Rundown feature.
pub(crate) fn is_rundown(review: &Review) -> bool {
    review.section.eq_ignore_ascii_case(RUNDOWN_SECTION)
        && review.headline.trim_start().starts_with(RUNDOWN_HEADLINE)
}

/// The editors' picks, then the films the Rundown (its `rundown_html`)
/// names that they did not, each with its `screenings`.
pub(crate) fn picks(
    editors: &[EditorPick],
    rundown_html: Option<&str>,
    screenings: &[Screening],
) -> Vec<Pick> {
    let editors = editors
        .iter()
        .map(|p| (p.title.clone(), p.year, p.note.clone()));
    let named = rundown_html
        .map(named_films)
        .unwrap_or_default()
        .into_iter()
        .map(|(title, year)| (title, Some(year), None));
    let mut picks: Vec<Pick> = Vec::new();
    for (title, year, note) in editors.chain(named) {
        if picks
            .iter()
            .any(|p| same_film(&p.title, p.year, &title, year))
        {
            continue;
        }
        let screenings = screenings
            .iter()
            .filter(|s| same_film(&s.film.title, s.film.year, &title, year))
            .cloned()
            .collect();
        picks.push(Pick {
            title,
            year,
            note,
            screenings,
        });
    }
    picks
}

/// The matching rule: the same folded title, and the same year when both give one.
fn same_film(title: &str, year: Option<u16>, other: &str, other_year: Option<u16>) -> bool {
    fold(title) == fold(other) && (year.is_none() || other_year.is_none() || year == other_year)
}

/// `(title, year)` of every entry of `body_html` that opens "Title (YYYY)".
fn named_films(body_html: &str) -> Vec<(String, u16)> {
    let document = Html::parse_fragment(body_html);
    let entries = Selector::parse("p, li, h2, h3, h4").expect("a valid selector");
    document
        .select(&entries)
        .filter_map(|entry| {
            let text = entry.text().collect::<String>();
            opening_film(text.trim())
        })
        .collect()
}

/// The title and year `text` opens with, as in "Paris, Texas (1984) – …".
fn opening_film(text: &str) -> Option<(String, u16)> {
    let open = text.find(" (")?;
    let (title, rest) = text.split_at(open);
    let year = rest.get(2..6)?;
    if rest.get(6..7) != Some(")") || !year.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: u16 = year.parse().ok()?;
    let title = title.trim();
    (YEARS.contains(&year) && !title.is_empty()).then(|| (title.to_owned(), year))
}

/// `title` with case, punctuation and spacing set aside.
fn fold(title: &str) -> String {
    title
        .replace('&', " and ")
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_open_with_a_title_and_its_year() {
        let body = "<p>A Matter of Life and Death (1946) – BFI Southbank. The Archers’ romance.</p>\
            <p>Our team picked a mix this week (2026 has been busy).</p>\
            <p><strong>Paris, Texas</strong> (1984) – Barbican.</p>\
            <ul><li>In the Mood for Love (2000)</li></ul>";
        assert_eq!(
            named_films(body),
            vec![
                ("A Matter of Life and Death".to_owned(), 1946),
                ("Paris, Texas".to_owned(), 1984),
                ("In the Mood for Love".to_owned(), 2000),
            ]
        );
        assert_eq!(opening_film("Heat (19xx) – no"), None);
        assert_eq!(opening_film("(1999) – no title"), None);
    }

    #[test]
    fn titles_match_without_case_or_punctuation() {
        assert_eq!(fold("Paris, Texas"), fold("PARIS TEXAS"));
        assert_eq!(fold("Withnail & I"), fold("Withnail and I"));
        assert_ne!(fold("Heat"), fold("The Heat"));
        assert!(same_film("Heat", Some(1995), "HEAT", None));
        assert!(!same_film("Heat", Some(1995), "Heat", Some(2013)));
    }

    fn pick(title: &str, year: Option<u16>) -> EditorPick {
        EditorPick {
            title: title.to_owned(),
            year,
            note: None,
        }
    }

    #[test]
    fn an_editors_picks_lead_and_the_rundown_adds_only_other_films() {
        let rundown = "<p>Heat (1995) – Prince Charles.</p><p>Paris, Texas (1984) – BFI.</p>";
        let editors = [pick("Withnail & I", None), pick("paris texas", None)];
        let labels: Vec<String> = picks(&editors, Some(rundown), &[])
            .iter()
            .map(Pick::label)
            .collect();
        assert_eq!(labels, ["Withnail & I", "paris texas", "Heat (1995)"]);
    }

    #[test]
    fn bad_picks_are_refused_naming_the_pick() {
        let refused =
            |picks: Vec<EditorPick>| EditorPicks::parse(picks).expect_err("refused").to_string();
        assert_eq!(
            refused(vec![pick("Heat", None), pick("  ", None)]),
            "pick 2 has no title"
        );
        assert_eq!(
            refused(vec![pick("Heat", Some(1850))]),
            "pick 1 (`Heat`): year 1850 is not between 1870 and 2100"
        );
        assert_eq!(
            refused(vec![pick("Heat", Some(1995)), pick("heat", None)]),
            "pick 2 (`heat`) is the same film as pick 1"
        );
        assert_eq!(
            refused(vec![pick("Heat", None); 13]),
            "13 picks is too many: a digest leads with at most 12"
        );
        let kept = EditorPicks::parse(vec![EditorPick {
            note: Some("  ".to_owned()),
            ..pick(" Heat ", Some(1995))
        }])
        .expect("a good pick");
        assert_eq!(kept.as_slice(), [pick("Heat", Some(1995))]);
    }
}
