//! A review as read from a source, before it is checked and made safe:
//! every reader (feed, page, webhook) fills a [`Draft`], and one place turns
//! it into a [`Candidate`] so the rules are the same whatever the source.

use chrono::{DateTime, NaiveDate, Utc};
use marquee_events::{Film, Image, Rating, Review, ReviewId};
use url::Url;

use crate::error::IngestError;
use crate::film::{film_from_headline, rating_from_text, split_year};
use crate::sanitize::{collapse_whitespace, plain_text, sanitize_html, strip_tracking};

/// Section used when the source names none.
pub(crate) const DEFAULT_SECTION: &str = "Reviews";

/// Loosely typed review fields; text fields may still hold HTML.
#[derive(Debug, Default, Clone)]
pub(crate) struct Draft {
    pub(crate) id: Option<String>,
    pub(crate) url: Option<String>,
    pub(crate) headline: Option<String>,
    pub(crate) film_title: Option<String>,
    pub(crate) film_year: Option<u16>,
    /// The film's running time (JSON-LD `Movie.duration`).
    pub(crate) film_runtime_minutes: Option<u16>,
    pub(crate) standfirst: Option<String>,
    pub(crate) body_html: Option<String>,
    /// A plain-text body (JSON-LD `articleBody`), used when there is no HTML one.
    pub(crate) body_text: Option<String>,
    pub(crate) author: Option<String>,
    pub(crate) rating: Option<Rating>,
    /// Texts that may carry a rating, e.g. feed categories like "★★★★☆".
    pub(crate) rating_hints: Vec<String>,
    pub(crate) section: Option<String>,
    pub(crate) image_url: Option<String>,
    pub(crate) image_alt: Option<String>,
    pub(crate) published_at: Option<DateTime<Utc>>,
    pub(crate) updated_at: Option<DateTime<Utc>>,
    /// What this item's relative URLs resolve against, when the reader knows
    /// better than the document's URL (a feed's `xml:base` or site link).
    pub(crate) base: Option<Url>,
    /// Fields the reader found but could not take (e.g. a date that is not
    /// a date), each a sentence without the item's name.
    pub(crate) problems: Vec<String>,
}

/// A checked, sanitized review, ready for change detection.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) review: Review,
    /// False when the source gave no date and "now" stands in: the ledger's
    /// first-seen date then wins, so an undated item does not look edited.
    pub(crate) dated: bool,
    /// Fields that were present but not taken, each naming the item; the
    /// item itself is still accepted.
    pub(crate) problems: Vec<String>,
}

/// How far after "now" a date may lie before it is taken for a mistake
/// (clock skew and time zones, not scheduled posts).
const FUTURE_ALLOWANCE: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// Sets `slot` to `value` unless it is already filled or `value` is blank:
/// readers run from the most to the least trustworthy markup.
pub(crate) fn fill(slot: &mut Option<String>, value: Option<impl Into<String>>) {
    if slot.is_none() {
        *slot = value.map(Into::into).filter(|v| !v.trim().is_empty());
    }
}

/// Parses RFC 3339, RFC 2822 or a bare date (midnight UTC). An RFC 2822
/// weekday that does not match the date is ignored: feeds get it wrong, and
/// the date itself is what counts.
pub(crate) fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let without_weekday = text.split_once(", ").map_or(text, |(_, rest)| rest);
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_rfc2822(text))
        .or_else(|_| DateTime::parse_from_rfc2822(without_weekday))
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            let date = NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()?;
            Some(date.and_hms_opt(0, 0, 0)?.and_utc())
        })
}

impl Draft {
    /// Checks the required fields and makes every field safe. Relative URLs
    /// resolve against the draft's own base, else `base` (body links, else
    /// against the item's URL). `now` stands in
    /// for a missing date; a date more than a day after `now` is a problem
    /// and not taken.
    pub(crate) fn finish(self, base: &Url, now: DateTime<Utc>) -> Result<Candidate, IngestError> {
        let own_base = self.base.clone();
        let base = own_base.as_ref().unwrap_or(base);
        let link = self.url.as_deref().or(self.id.as_deref()).ok_or_else(|| {
            IngestError::InvalidItem("an item has neither a link nor an id".to_owned())
        })?;
        let url = base
            .join(link.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .map(strip_tracking)
            .ok_or_else(|| {
                IngestError::InvalidItem(format!("item link {link:?} is not an http(s) URL"))
            })?;
        let id = self.id.unwrap_or_else(|| url.to_string());
        let id =
            ReviewId::parse(&id).map_err(|error| IngestError::InvalidItem(error.to_string()))?;
        let headline = self.headline.as_deref().map(plain_text).unwrap_or_default();
        if headline.is_empty() {
            return Err(IngestError::InvalidReview {
                id,
                reason: "has no headline".to_owned(),
            });
        }
        let (head, dek) = split_headline(&headline);
        let standfirst = match self.standfirst.as_deref().map(lead_text) {
            Some(text) if !text.is_empty() => text,
            _ => dek.unwrap_or_default().to_owned(),
        };
        let body = match (&self.body_html, &self.body_text) {
            (Some(html), _) if !html.trim().is_empty() => html.clone(),
            (_, Some(text)) if !text.trim().is_empty() => paragraphs(text),
            _ => self.standfirst.clone().unwrap_or_default(),
        };
        // Links in a feed item's body resolve as its link does; a page's or
        // a webhook's against the article itself.
        let body_html = sanitize_html(&body, own_base.as_ref().unwrap_or(&url));
        let mut film = match self.film_title.as_deref().map(plain_text) {
            Some(title) if !title.is_empty() => split_year(&title),
            // Features have no "… review" headline: the part before the dash
            // is the closest thing to a subject.
            _ => film_from_headline(&headline).unwrap_or_else(|| split_year(head)),
        };
        if self.film_year.is_some() {
            film.year = self.film_year;
        }
        let rating = self.rating.or_else(|| {
            std::iter::once(headline.as_str())
                .chain(self.rating_hints.iter().map(String::as_str))
                .chain(std::iter::once(standfirst.as_str()))
                .find_map(rating_from_text)
        });
        let section = self
            .section
            .as_deref()
            .map(plain_text)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_SECTION.to_owned());
        let image = self
            .image_url
            .as_deref()
            .and_then(|src| base.join(src.trim()).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .map(|image_url| Image {
                url: strip_tracking(image_url),
                alt: self
                    .image_alt
                    .as_deref()
                    .map(plain_text)
                    .filter(|a| !a.is_empty()),
            });
        let author = self
            .author
            .as_deref()
            .map(|a| plain_text(a).trim_start_matches("By ").trim().to_owned())
            .filter(|a| !a.is_empty());
        let mut problems: Vec<String> = self
            .problems
            .iter()
            .map(|problem| format!("item {:?}: {problem}", id.as_str()))
            .collect();
        let mut not_future = |field: &str, date: Option<DateTime<Utc>>| {
            date.filter(|date| {
                let future = *date > now + FUTURE_ALLOWANCE;
                if future {
                    problems.push(format!(
                        "item {:?}: {field} date {} is in the future (more than a day after {})",
                        id.as_str(),
                        date.to_rfc3339(),
                        now.to_rfc3339()
                    ));
                }
                !future
            })
        };
        let published_at = not_future("published", self.published_at);
        let updated_at = not_future("updated", self.updated_at);
        let published = published_at.or(updated_at);
        let published_at = published.unwrap_or(now);
        Ok(Candidate {
            review: Review {
                id,
                url,
                headline,
                film: Film {
                    title: film.title,
                    year: film.year,
                    runtime_minutes: self.film_runtime_minutes,
                },
                standfirst,
                body_html,
                author,
                rating,
                section,
                image,
                published_at,
                updated_at: updated_at.unwrap_or(published_at).max(published_at),
            },
            dated: published.is_some(),
            problems,
        })
    }
}

/// "Title review – the dek" → ("Title review", Some("the dek")).
fn split_headline(headline: &str) -> (&str, Option<&str>) {
    [" – ", " — ", " - ", ": "]
        .into_iter()
        .find_map(|dash| headline.split_once(dash))
        .map_or((headline, None), |(head, dek)| {
            (head.trim(), Some(dek.trim()))
        })
}

/// The first paragraph's text: feeds often put the whole article in the
/// description, while a standfirst is one line.
fn lead_text(html: &str) -> String {
    if html.contains("<p") {
        let fragment = scraper::Html::parse_fragment(html);
        if let Ok(p) = scraper::Selector::parse("p") {
            let mut paragraphs = fragment.select(&p).map(|p| {
                let mut text = String::new();
                crate::sanitize::push_text(p, &mut text);
                collapse_whitespace(&text)
            });
            if let Some(first) = paragraphs.find(|t| !t.is_empty()) {
                return first;
            }
        }
    }
    plain_text(html)
}

/// Plain text with blank-line paragraphs as HTML paragraphs, escaped.
fn paragraphs(text: &str) -> String {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>", marquee_runtime::html::escape(p)))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn base() -> Url {
        Url::parse("https://example.com/").unwrap()
    }

    fn now() -> DateTime<Utc> {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_minimal_item_gets_sensible_defaults() {
        let draft = Draft {
            url: Some("/reviews/hamnet?utm_source=rss".into()),
            headline: Some("Hamnet review &#8211; a raw portrait of grief ★★★★☆".into()),
            ..Draft::default()
        };
        let candidate = draft.finish(&base(), now()).unwrap();
        let review = candidate.review;
        assert_eq!(review.id.as_str(), "https://example.com/reviews/hamnet");
        assert_eq!(review.film.title, "Hamnet");
        assert_eq!(review.rating.map(Rating::stars), Some(4));
        assert_eq!(review.standfirst, "a raw portrait of grief ★★★★☆");
        assert_eq!(review.section, DEFAULT_SECTION);
        assert!(!candidate.dated);
    }

    #[test]
    fn items_without_link_or_headline_are_rejected() {
        assert!(Draft::default().finish(&base(), now()).is_err());
        let no_headline = Draft {
            url: Some("https://example.com/a".into()),
            headline: Some("<b> </b>".into()),
            ..Draft::default()
        };
        let err = no_headline.finish(&base(), now()).unwrap_err();
        assert!(err.to_string().contains("has no headline"), "{err}");
        let bad_scheme = Draft {
            url: Some("javascript:alert(1)".into()),
            headline: Some("x".into()),
            ..Draft::default()
        };
        assert!(bad_scheme.finish(&base(), now()).is_err());
    }

    #[test]
    fn dates_in_the_usual_formats() {
        assert!(parse_date("Tue, 10 Jun 2025 08:00:00 +0100").is_some());
        assert!(parse_date("2025-06-10T08:00:00Z").is_some());
        // 10 June 2025 was a Tuesday.
        assert_eq!(
            parse_date("Fri, 10 Jun 2025 08:00:00 GMT")
                .unwrap()
                .to_rfc3339(),
            "2025-06-10T08:00:00+00:00"
        );
        assert!(parse_date("Tomorrow-ish").is_none());
        assert_eq!(
            parse_date("2025-06-10").unwrap().to_rfc3339(),
            "2025-06-10T00:00:00+00:00"
        );
    }
}
