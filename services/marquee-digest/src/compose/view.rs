//! The content as the templates see it: reviews, and screenings by day
//! and venue, with stars spelled out.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::{DigestContent, is_celluloid, week_range};

#[derive(Serialize)]
pub(super) struct TemplateContext<'a> {
    subject: &'a str,
    week: String,
    reviews: Vec<ReviewView<'a>>,
    days: Vec<DayView<'a>>,
    unsubscribe_url: &'a str,
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
    time: String,
    title: &'a str,
    year: Option<u16>,
    format: Option<&'a str>,
    celluloid: bool,
    strand: Option<&'a str>,
    extras: &'a [String],
    stars: Option<String>,
    booking_url: Option<&'a str>,
    sold_out: bool,
}

fn stars(n: u8) -> String {
    let n = usize::from(n.min(5));
    format!("{}{}", "★".repeat(n), "☆".repeat(5 - n))
}

impl<'a> TemplateContext<'a> {
    pub(super) fn new(
        subject: &'a str,
        content: &'a DigestContent,
        unsubscribe_url: &'a str,
    ) -> Self {
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
            })
            .collect();
        // Day (venue's wall clock) → venue name → screenings, in order.
        let mut days: BTreeMap<NaiveDate, BTreeMap<&str, Vec<ScreeningView>>> = BTreeMap::new();
        for s in &content.screenings {
            days.entry(s.starts_at_local.date())
                .or_default()
                .entry(&s.venue.name)
                .or_default()
                .push(ScreeningView {
                    time: s.starts_at_local.format("%H:%M").to_string(),
                    title: &s.film.title,
                    year: s.film.year,
                    format: s.format.as_deref(),
                    celluloid: s.format.as_deref().is_some_and(is_celluloid),
                    strand: s.strand.as_deref(),
                    extras: &s.extras,
                    stars: s
                        .review_id
                        .as_ref()
                        .and_then(|id| content.ratings.get(id.as_str()))
                        .map(|n| stars(*n)),
                    booking_url: s.booking_url.as_ref().map(url::Url::as_str),
                    sold_out: s.sold_out,
                });
        }
        let days = days
            .into_iter()
            .map(|(day, venues)| DayView {
                label: day.format("%A %-d %B").to_string(),
                venues: venues
                    .into_iter()
                    .map(|(name, mut screenings)| {
                        screenings.sort_by(|a, b| a.time.cmp(&b.time));
                        VenueView { name, screenings }
                    })
                    .collect(),
            })
            .collect();
        Self {
            subject,
            week: week_range(content.week_start),
            reviews,
            days,
            unsubscribe_url,
        }
    }
}
