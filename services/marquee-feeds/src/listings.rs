//! Pure rendering of screenings: feed items for the venue, strand and
//! this-week feeds, and the documents each of those URLs serves.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use marquee_events::{Accessibility, Review, ReviewId, ScreeningId};

use crate::calendar::render_calendar;
use crate::render::{
    Channel, Entry, Fragments, RenderError, Rendered, Site, name_based_id, render_entries,
};
use crate::store::screenings::StoredScreening;
use crate::templates;

/// Stable, URI-shaped GUID of a screening: a name-based UUID of its id.
pub fn screening_guid(id: &ScreeningId) -> String {
    name_based_id(&format!("screening:{}", id.as_str()))
}

/// What one screenings URL family serves, with its texts.
#[derive(Debug, Clone)]
pub(crate) struct ListingDocument {
    /// URL folder: `venues`, `strands`, `repertory` or `calendars`.
    pub(crate) folder: &'static str,
    /// File stem: venue id, strand slug, `this-week` or `all`.
    pub(crate) name: String,
    pub(crate) title: String,
    pub(crate) description: String,
    /// Whether the feed formats are served.
    pub(crate) feeds: bool,
    /// Whether `.ics` is served.
    pub(crate) calendar: bool,
}

/// A listing document's content, read from the store at `now`.
pub(crate) struct Listing {
    pub(crate) document: ListingDocument,
    pub(crate) screenings: Vec<StoredScreening>,
    /// The live reviews the screenings link.
    pub(crate) reviews: HashMap<ReviewId, Review>,
    pub(crate) now: DateTime<Utc>,
}

/// Bodies by file extension.
pub(crate) type Bodies = Vec<(&'static str, Vec<u8>)>;

/// Renders every format of `listing`'s document: the feeds carry the
/// screenings not cancelled that start at or after `now`, soonest first, at
/// most `limit`; the calendar carries all of them, cancelled included.
/// Returns the bodies and the feed items' fragments; items `kept` holds
/// unchanged are not rendered again.
pub(crate) fn render_listing(
    site: &Site,
    listing: &Listing,
    limit: usize,
    refresh_interval: Duration,
    kept: &Fragments,
) -> Result<(Bodies, Fragments), RenderError> {
    let Listing {
        document,
        screenings,
        reviews,
        now,
    } = listing;
    let now = *now;
    let mut out = Vec::new();
    let mut fragments = Fragments::default();
    if document.feeds {
        let live: Vec<&StoredScreening> = screenings
            .iter()
            .filter(|s| !s.cancelled && s.screening.starts_at >= now)
            .take(limit)
            .collect();
        // Cancelled screenings count: their leaving changed the feed.
        let updated = screenings
            .iter()
            .map(|s| s.modified_at)
            .max()
            .unwrap_or(DateTime::UNIX_EPOCH);
        let entries = live
            .iter()
            .map(|s| entry(s, reviews))
            .collect::<Result<Vec<Entry>, _>>()?;
        let channel = Channel {
            title: &document.title,
            description: &document.description,
            id: name_based_id(&format!("{}:{}", document.folder, document.name)),
            folder: document.folder,
            name: &document.name,
        };
        let rendered: Rendered = render_entries(site, &channel, entries, updated, kept)?;
        out.extend(
            rendered
                .bodies
                .into_iter()
                .map(|(format, body)| (format.extension(), body)),
        );
        fragments = rendered.fragments;
    }
    if document.calendar {
        out.push((
            CALENDAR_EXTENSION,
            render_calendar(&document.title, screenings, reviews, refresh_interval).into_bytes(),
        ));
    }
    Ok((out, fragments))
}

/// File extension of calendars.
pub(crate) const CALENDAR_EXTENSION: &str = "ics";

fn entry(
    stored: &StoredScreening,
    reviews: &HashMap<ReviewId, Review>,
) -> Result<Entry, RenderError> {
    let s = &stored.screening;
    let review = s.review_id.as_ref().and_then(|id| reviews.get(id));
    let film = match s.film.year {
        Some(year) => format!("{} ({year})", s.film.title),
        None => s.film.title.clone(),
    };
    let when = s.starts_at_local.format("%a %-d %b %Y, %H:%M").to_string();
    let mut title = format!("{film} at {}, {when}", s.venue.name);
    if s.sold_out {
        title.push_str(" (sold out)");
    }
    let mut summary = vec![s.venue.name.clone(), when.clone()];
    summary.extend(s.screen.clone());
    summary.extend(s.format.clone());

    // Borrowed where the screening holds the text: the template reads them.
    let mut facts: Vec<(&str, Cow<'_, str>)> = vec![
        ("Film", Cow::Owned(film)),
        ("Venue", Cow::Borrowed(&s.venue.name)),
        ("When", Cow::Owned(format!("{when} ({})", s.time_zone))),
    ];
    let optional = [
        ("Screen", &s.screen),
        ("Format", &s.format),
        ("Strand", &s.strand),
    ];
    facts.extend(
        optional
            .into_iter()
            .filter_map(|(label, value)| Some((label, Cow::Borrowed(value.as_deref()?)))),
    );
    if !s.extras.is_empty() {
        facts.push(("Extras", Cow::Owned(s.extras.join(", "))));
    }
    if !s.accessibility.is_empty() {
        let access: Vec<&str> = s.accessibility.iter().map(|a| accessibility(*a)).collect();
        facts.push(("Access", Cow::Owned(access.join(", "))));
    }
    if s.sold_out {
        facts.push(("Tickets", Cow::Borrowed("Sold out")));
    }
    let content_html = templates::render(
        "screening.html",
        minijinja::context! {
            facts,
            booking_url => s.booking_url.as_ref().map(url::Url::as_str),
            review => review.map(|review| minijinja::context! {
                url => review.url.as_str(),
                headline => &review.headline,
                stars => review.rating.map(|rating| rating.stars()),
            }),
        },
    )?;

    let mut categories = vec![s.venue.name.clone()];
    categories.extend(s.strand.clone());
    Ok(Entry {
        id: screening_guid(&s.id),
        url: s
            .booking_url
            .as_ref()
            .map(ToString::to_string)
            .or_else(|| review.map(|r| r.url.to_string())),
        title,
        summary: summary.join(" · "),
        content_html,
        image: review
            .and_then(|r| r.image.as_ref())
            .map(|image| (image.url.to_string(), image.alt.clone())),
        published: stored.listed_at,
        updated: stored.modified_at,
        author: None,
        categories,
    })
}

fn accessibility(a: Accessibility) -> &'static str {
    match a {
        Accessibility::Subtitled => "subtitled",
        Accessibility::AudioDescribed => "audio described",
        Accessibility::Relaxed => "relaxed screening",
        Accessibility::BabyFriendly => "parent & baby",
    }
}
