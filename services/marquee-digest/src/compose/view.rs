//! The content as the templates see it: editors' picks, reviews with where
//! they play, screenings by day and venue, changes since the last digest,
//! with stars and access provisions spelled out, and the edition's links.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use marquee_events::{Accessibility, Screening};
use serde::Serialize;

use super::templates::Edition;
use super::{ChangeKind, DigestContent, is_celluloid, week_range};
use crate::archive::FeedLink;

#[derive(Serialize)]
pub(super) struct TemplateContext<'a> {
    subject: &'a str,
    week: String,
    /// What inboxes show after the subject.
    pub(super) preheader: String,
    picks: Vec<PickView<'a>>,
    reviews: Vec<ReviewView<'a>>,
    days: Vec<DayView<'a>>,
    changes: Vec<ChangeView<'a>>,
    /// "subtitled and relaxed": the reader's needs every screening listed
    /// meets; absent when they have none, and in the web version.
    needs: Option<String>,
    web_version_url: &'a str,
    /// The reader's own links; absent in the web version.
    unsubscribe_url: Option<&'a str>,
    preferences_url: Option<&'a str>,
    /// The web version's: the archive and its feeds.
    archive_url: Option<&'a str>,
    feeds: &'a [FeedLink],
    /// The preview's: picks an editor should know match no screening.
    pub(super) unmatched_picks: Vec<String>,
}

#[derive(Serialize)]
struct PickView<'a> {
    title: &'a str,
    year: Option<u16>,
    /// The editor's line about it.
    note: Option<&'a str>,
    screenings: Vec<ScreeningView<'a>>,
}

#[derive(Serialize)]
struct ReviewView<'a> {
    headline: &'a str,
    url: &'a str,
    film: &'a str,
    year: Option<u16>,
    standfirst: &'a str,
    author: Option<&'a str>,
    stars: Option<String>,
    image_url: Option<&'a str>,
    image_alt: &'a str,
    /// Where it plays this week: the screenings linked to the review.
    playing: Vec<ScreeningView<'a>>,
}

#[derive(Serialize)]
struct DayView<'a> {
    label: String,
    venues: Vec<VenueView<'a>>,
}

#[derive(Serialize)]
struct VenueView<'a> {
    name: &'a str,
    screenings: Vec<ScreeningView<'a>>,
}

#[derive(Serialize)]
struct ScreeningView<'a> {
    /// "Friday 27 November", the venue's wall clock.
    day: String,
    time: String,
    venue: &'a str,
    title: &'a str,
    year: Option<u16>,
    format: Option<&'a str>,
    celluloid: bool,
    strand: Option<&'a str>,
    extras: &'a [String],
    accessibility: Vec<&'static str>,
    stars: Option<String>,
    booking_url: Option<&'a str>,
    sold_out: bool,
}

#[derive(Serialize)]
struct ChangeView<'a> {
    /// "Cancelled", "Moved from Friday 27 November 19:30", "Sold out".
    what: String,
    screening: ScreeningView<'a>,
}

fn stars(n: u8) -> String {
    let n = usize::from(n.min(5));
    format!("{}{}", "★".repeat(n), "☆".repeat(5 - n))
}

fn day_label(day: NaiveDate) -> String {
    day.format("%A %-d %B").to_string()
}

fn moment_label(at: NaiveDateTime) -> String {
    format!("{} {}", day_label(at.date()), at.format("%H:%M"))
}

fn accessibility_label(provision: Accessibility) -> &'static str {
    match provision {
        Accessibility::Subtitled => "Subtitled",
        Accessibility::AudioDescribed => "Audio described",
        Accessibility::Relaxed => "Relaxed screening",
        Accessibility::BabyFriendly => "Parent and baby",
    }
}

/// A need as a sentence names it: "Showing audio-described screenings".
fn need_label(provision: Accessibility) -> &'static str {
    match provision {
        Accessibility::Subtitled => "subtitled",
        Accessibility::AudioDescribed => "audio-described",
        Accessibility::Relaxed => "relaxed",
        Accessibility::BabyFriendly => "parent and baby",
    }
}

/// "a", "a and b", "a, b and c".
fn spoken_list(items: &[&str]) -> Option<String> {
    match items {
        [] => None,
        [one] => Some((*one).to_owned()),
        [first @ .., last] => Some(format!("{} and {last}", first.join(", "))),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl<'a> TemplateContext<'a> {
    pub(super) fn new(
        subject: &'a str,
        content: &'a DigestContent,
        web_version_url: &'a str,
        edition: Edition<'a>,
    ) -> Self {
        let screening = |s: &'a Screening| ScreeningView {
            day: day_label(s.starts_at_local.date()),
            time: s.starts_at_local.format("%H:%M").to_string(),
            venue: &s.venue.name,
            title: &s.film.title,
            year: s.film.year,
            format: s.format.as_deref(),
            celluloid: s.format.as_deref().is_some_and(is_celluloid),
            strand: s.strand.as_deref(),
            extras: &s.extras,
            accessibility: s
                .accessibility
                .iter()
                .copied()
                .map(accessibility_label)
                .collect(),
            stars: s
                .review_id
                .as_ref()
                .and_then(|id| content.ratings.get(id.as_str()))
                .map(|n| stars(*n)),
            booking_url: s.booking_url.as_ref().map(url::Url::as_str),
            sold_out: s.sold_out,
        };
        // Picks that match nothing are the editor's business, not the reader's.
        let picks: Vec<PickView> = content
            .picks
            .iter()
            .filter(|pick| !pick.screenings.is_empty())
            .map(|pick| PickView {
                title: &pick.title,
                year: pick.year,
                note: pick.note.as_deref(),
                screenings: pick.screenings.iter().map(screening).collect(),
            })
            .collect();
        let reviews = content
            .reviews
            .iter()
            .map(|r| ReviewView {
                headline: &r.headline,
                url: r.url.as_str(),
                film: &r.film.title,
                year: r.film.year,
                standfirst: &r.standfirst,
                author: r.author.as_deref(),
                stars: r.rating.map(|r| stars(r.stars())),
                image_url: r.image.as_ref().map(|i| i.url.as_str()),
                image_alt: r
                    .image
                    .as_ref()
                    .and_then(|i| i.alt.as_deref())
                    .unwrap_or(&r.film.title),
                playing: content
                    .screenings
                    .iter()
                    .filter(|s| s.review_id.as_ref() == Some(&r.id))
                    .map(screening)
                    .collect(),
            })
            .collect();
        // Day (venue's wall clock) → venue name → screenings, in order.
        let mut days: BTreeMap<NaiveDate, BTreeMap<&str, Vec<&Screening>>> = BTreeMap::new();
        for s in &content.screenings {
            days.entry(s.starts_at_local.date())
                .or_default()
                .entry(&s.venue.name)
                .or_default()
                .push(s);
        }
        let days = days
            .into_iter()
            .map(|(day, venues)| DayView {
                label: day_label(day),
                venues: venues
                    .into_iter()
                    .map(|(name, mut screenings)| {
                        screenings.sort_by_key(|s| s.starts_at_local);
                        VenueView {
                            name,
                            screenings: screenings.into_iter().map(screening).collect(),
                        }
                    })
                    .collect(),
            })
            .collect();
        let changes = content
            .changes
            .iter()
            .map(|change| ChangeView {
                what: match change.kind {
                    ChangeKind::Cancelled => "Cancelled".to_owned(),
                    ChangeKind::Rescheduled(from) => format!("Moved from {}", moment_label(from)),
                    ChangeKind::SoldOut => "Sold out".to_owned(),
                },
                screening: screening(&change.screening),
            })
            .collect();
        let week = week_range(content.week_start);
        let preheader = format!(
            "{}, {} and {} for {week}",
            plural(picks.len(), "editors' pick", "editors' picks"),
            plural(content.reviews.len(), "new review", "new reviews"),
            plural(content.screenings.len(), "screening", "screenings"),
        );
        let needs: Vec<&str> = content.needs.iter().copied().map(need_label).collect();
        let needs = spoken_list(&needs);
        let (reader, archive_url, feeds, unmatched_picks) = match edition {
            Edition::Email(links) => (Some(links), None, &[][..], Vec::new()),
            Edition::Preview(links, unmatched) => (Some(links), None, &[][..], unmatched.to_vec()),
            Edition::Web { archive_url, feeds } => (None, Some(archive_url), feeds, Vec::new()),
        };
        // The web version is everyone's: no reader's choices show in it.
        let needs = reader.and(needs);
        Self {
            subject,
            week,
            preheader,
            picks,
            reviews,
            days,
            changes,
            needs,
            web_version_url,
            unsubscribe_url: reader.map(|links| links.unsubscribe_url),
            preferences_url: reader.map(|links| links.preferences_url),
            archive_url,
            feeds,
            unmatched_picks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_are_listed_as_a_sentence_says_them() {
        assert_eq!(spoken_list(&[]), None);
        assert_eq!(spoken_list(&["relaxed"]).as_deref(), Some("relaxed"));
        assert_eq!(
            spoken_list(&["subtitled", "relaxed", "parent and baby"]).as_deref(),
            Some("subtitled, relaxed and parent and baby")
        );
    }
}
