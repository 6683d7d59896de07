//! Events for tests to publish or hand to a consumer: one sound review, so
//! a test states only what it changes.

use chrono::{DateTime, Utc};
use marquee_events::{Envelope, Film, Rating, Review, ReviewId, ReviewPublished};

/// A complete review with id `id`, published and last edited at `at`.
pub fn review(id: &str, at: DateTime<Utc>) -> Review {
    Review {
        id: ReviewId::parse(id).expect("a test review id is not blank"),
        url: "https://example.org/reviews/hamnet"
            .parse()
            .expect("an absolute URL"),
        headline: "Hamnet review – a raw, aching portrait of grief".into(),
        film: Film {
            title: "Hamnet".into(),
            year: Some(2025),
            runtime_minutes: None,
        },
        standfirst: "Chloé Zhao adapts Maggie O'Farrell".into(),
        body_html: "<p>Body</p>".into(),
        author: Some("A Critic".into()),
        rating: Some(Rating::try_from(4).expect("four stars is a rating")),
        section: "In Cinemas".into(),
        image: None,
        published_at: at,
        updated_at: at,
    }
}

/// `review` published at its `published_at`, from `source`.
pub fn published(source: &str, review: Review) -> Envelope<ReviewPublished> {
    let time = review.published_at;
    Envelope::new(source, ReviewPublished { review }, time)
}
