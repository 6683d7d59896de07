//! Reading the film and the star rating out of the publication's own
//! conventions: "Hamnet review – a raw portrait of grief", "★★★★☆", "4/5".

use std::sync::LazyLock;

use marquee_events::{Film, Rating};
use regex::Regex;

/// The film a headline is about, by the publication's "Title review – …"
/// convention (also "Review: Title – …"); a trailing "(2024)" is the year.
pub(crate) fn film_from_headline(headline: &str) -> Option<Film> {
    static SUFFIX: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"(?i)^(?P<title>.+?)\s+review\b(?:\s*[–—\-:|].*)?$").ok());
    static PREFIX: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"(?i)^review\s*:\s*(?P<title>.+?)(?:\s+[–—\-|]\s+.*)?$").ok());
    let title = [&*SUFFIX, &*PREFIX]
        .into_iter()
        .flatten()
        .find_map(|re| re.captures(headline.trim()))?
        .name("title")?
        .as_str();
    Some(split_year(title))
}

/// "Title (2024)" → title and year; quotes around the title dropped.
pub(crate) fn split_year(title: &str) -> Film {
    static YEAR: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"^(?P<title>.*?)\s*\((?P<year>(?:18|19|20)\d\d)\)$").ok());
    let title = title.trim();
    let (title, year) = match YEAR.as_ref().and_then(|re| re.captures(title)) {
        Some(caps) => (
            caps.name("title").map_or(title, |m| m.as_str()),
            caps.name("year").and_then(|y| y.as_str().parse().ok()),
        ),
        None => (title, None),
    };
    let quotes: &[char] = &['"', '\'', '‘', '’', '“', '”'];
    Film {
        title: title.trim_matches(quotes).trim().to_owned(),
        year,
        runtime_minutes: None,
    }
}

/// A year from a date-ish string such as "2024" or "2024-09-01".
pub(crate) fn year_of(date: &str) -> Option<u16> {
    let year: u16 = date.trim().get(..4)?.parse().ok()?;
    (1870..=2200).contains(&year).then_some(year)
}

/// The first rating found in `text`: stars ("★★★★☆"), "4/5", "8 out of 10",
/// "4 stars"; scaled to five stars.
pub(crate) fn rating_from_text(text: &str) -> Option<Rating> {
    static FRACTION: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"(?i)\b(?P<value>\d{1,3}(?:\.\d)?)\s*(?:/|out of)\s*(?P<best>\d{1,3})\b").ok()
    });
    static STARS: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"(?i)\b(?P<value>[0-5](?:\.5)?)[\s-]*stars?\b").ok());
    let filled = text.chars().filter(|c| *c == '★').count();
    let empty = text.chars().filter(|c| *c == '☆').count();
    if filled + empty > 0 && filled + empty <= 5 {
        // A row of five glyphs; a lone "★★★★" means four of five.
        return Rating::try_from(u8::try_from(filled).ok()?).ok();
    }
    if let Some(caps) = FRACTION.as_ref().and_then(|re| re.captures(text)) {
        return scaled(caps.name("value")?.as_str(), caps.name("best")?.as_str());
    }
    let caps = STARS.as_ref()?.captures(text)?;
    scaled(caps.name("value")?.as_str(), "5")
}

/// `value` out of `best`, rounded to whole stars out of five.
pub(crate) fn scaled(value: &str, best: &str) -> Option<Rating> {
    let value: f64 = value.trim().parse().ok()?;
    let best: f64 = best.trim().parse().ok()?;
    if !(best > 0.0 && (0.0..=best).contains(&value)) {
        return None;
    }
    let stars = (value / best * f64::from(Rating::MAX)).round();
    // In 0..=5 by the check above, so the cast cannot truncate.
    Rating::try_from(stars as u8).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn film(title: &str, year: Option<u16>) -> Option<Film> {
        Some(Film {
            title: title.to_owned(),
            year,
            runtime_minutes: None,
        })
    }

    #[test]
    fn film_titles_come_from_review_headlines() {
        assert_eq!(
            film_from_headline("Return to Dust review – slow but movingly personal story"),
            film("Return to Dust", None)
        );
        assert_eq!(film_from_headline("Hamnet review"), film("Hamnet", None));
        assert_eq!(
            film_from_headline("‘Anora’ (2024) review: a screwball fairy tale"),
            film("Anora", Some(2024))
        );
        assert_eq!(
            film_from_headline("Review: The Brutalist – an epic"),
            film("The Brutalist", None)
        );
        assert_eq!(film_from_headline("20 Best Films of 2023 (So Far)"), None);
    }

    #[test]
    fn ratings_in_any_usual_notation() {
        let stars = |t: &str| rating_from_text(t).map(Rating::stars);
        assert_eq!(stars("★★★★☆"), Some(4));
        assert_eq!(stars("Rating: ★★★"), Some(3));
        assert_eq!(stars("4/5"), Some(4));
        assert_eq!(stars("8 out of 10"), Some(4));
        assert_eq!(stars("3 stars"), Some(3));
        assert_eq!(stars("open 24/7"), None);
        assert_eq!(stars("no rating here"), None);
    }

    #[test]
    fn years_from_dates() {
        assert_eq!(year_of("2024-09-01"), Some(2024));
        assert_eq!(year_of("soon"), None);
    }
}
