//! What an event changes, decided without I/O: which bodies to clean, and
//! which documents a stored change touches. The consumers
//! ([`crate::consumer`]) do the store and the publishing around it.

use marquee_events::ReviewEvent;

use crate::documents::Document;
use crate::settings::FeedDefinition;

/// Ingest sanitizes bodies, but a feed reader renders them as HTML: clean
/// them again rather than trust every producer on the topic.
pub(crate) fn sanitize(event: &mut ReviewEvent) {
    let review = match event {
        ReviewEvent::Published(e) => &mut e.review,
        ReviewEvent::Updated(e) => &mut e.review,
        ReviewEvent::Withdrawn(_) => return,
    };
    review.body_html = ammonia::clean(&review.body_html);
}

/// The review feeds a change of a review in `sections` (before and after)
/// touches, in the order they are configured.
pub(crate) fn review_documents(feeds: &[FeedDefinition], sections: &[&str]) -> Vec<Document> {
    feeds
        .iter()
        .filter(|feed| sections.iter().any(|section| feed.includes(section)))
        .map(|feed| Document::Reviews(feed.slug.clone()))
        .collect()
}

/// The documents a change of a screening at `venue_id` in `strands`
/// (before and after; `None`: no strand) touches.
pub(crate) fn screening_documents(venue_id: &str, strands: &[Option<String>]) -> Vec<Document> {
    let mut documents = vec![
        Document::Venue(venue_id.to_owned()),
        Document::ThisWeek,
        Document::AllCalendar,
    ];
    documents.extend(strands.iter().flatten().cloned().map(Document::Strand));
    documents
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::FeedSlug;

    fn feed(slug: &str, section: Option<&str>) -> FeedDefinition {
        FeedDefinition {
            slug: FeedSlug::parse(slug).expect("valid slug"),
            title: slug.to_owned(),
            description: String::new(),
            section: section.map(str::to_owned),
        }
    }

    #[test]
    fn a_review_touches_the_site_feed_and_the_feeds_of_its_sections() {
        let feeds = [
            feed("all", None),
            feed("in-cinemas", Some("In Cinemas")),
            feed("features", Some("Features")),
        ];
        let slugs = |sections: &[&str]| -> Vec<String> {
            review_documents(&feeds, sections)
                .iter()
                .map(Document::label)
                .collect()
        };
        assert_eq!(slugs(&["In Cinemas"]), ["feeds/all", "feeds/in-cinemas"]);
        assert_eq!(
            slugs(&["Features", "In Cinemas"]),
            ["feeds/all", "feeds/in-cinemas", "feeds/features"]
        );
    }

    #[test]
    fn a_screening_touches_its_venue_the_week_the_calendar_and_its_strands() {
        let strands = [Some("leone".to_owned()), None];
        assert_eq!(
            screening_documents("bfi", &strands),
            [
                Document::Venue("bfi".to_owned()),
                Document::ThisWeek,
                Document::AllCalendar,
                Document::Strand("leone".to_owned()),
            ]
        );
    }
}
