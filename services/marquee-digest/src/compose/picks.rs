//! Editors' picks: the films the latest "Repertory Rundown" feature names,
//! matched to the week's screenings.
//!
//! The rule, from how the publication writes a Rundown: each entry is a
//! paragraph (or list item or subheading) that opens with the film's title
//! and its year in brackets, "A Matter of Life and Death (1946) – BFI
//! Southbank. …". Prose that does not open that way names no pick. A
//! screening is of the pick when its title is the same once case,
//! punctuation and spacing are set aside ("&" reads "and"), and its year is
//! the same when both give one.

use marquee_events::{Review, Screening};
use scraper::{Html, Selector};

/// The section and headline that make a review the Repertory Rundown.
const RUNDOWN_SECTION: &str = "Features";
const RUNDOWN_HEADLINE: &str = "Repertory Rundown";

/// One film the Rundown names, and its screenings this week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    /// The title as the Rundown writes it.
    pub title: String,
    /// Its year, from the brackets.
    pub year: u16,
    /// Its screenings among the digest's, earliest first.
    pub screenings: Vec<Screening>,
}

impl Pick {
    /// "A Matter of Life and Death (1946)".
    pub fn label(&self) -> String {
        format!("{} ({})", self.title, self.year)
    }
}

/// Whether `review` is a Repertory Rundown feature.
pub(crate) fn is_rundown(review: &Review) -> bool {
    review.section.eq_ignore_ascii_case(RUNDOWN_SECTION)
        && review.headline.trim_start().starts_with(RUNDOWN_HEADLINE)
}

/// The films `rundown` names, in its order, each with its `screenings`.
pub(crate) fn picks(rundown: &Review, screenings: &[Screening]) -> Vec<Pick> {
    let mut picks: Vec<Pick> = Vec::new();
    for (title, year) in named_films(&rundown.body_html) {
        if picks
            .iter()
            .any(|p| p.year == year && fold(&p.title) == fold(&title))
        {
            continue;
        }
        let wanted = fold(&title);
        let screenings = screenings
            .iter()
            .filter(|s| fold(&s.film.title) == wanted && s.film.year.is_none_or(|y| y == year))
            .cloned()
            .collect();
        picks.push(Pick {
            title,
            year,
            screenings,
        });
    }
    picks
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
    ((1870..=2100).contains(&year) && !title.is_empty()).then(|| (title.to_owned(), year))
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
    }
}
