//! Composes 1,000 reviews for every network, as dry-run does, and prints
//! posts per second. `cargo bench -p marquee-social --bench compose`.
#![allow(missing_docs)]

use std::time::Instant;

use chrono::{TimeZone, Utc};
use marquee_events::{Film, Rating, Review, ReviewId};
use marquee_social::{Composer, Network};

fn review(n: usize) -> Review {
    let at = Utc
        .with_ymd_and_hms(2025, 1, 10, 9, 0, 0)
        .single()
        .expect("valid date");
    Review {
        id: ReviewId::parse(&format!("review-{n}")).expect("valid id"),
        url: url::Url::parse(&format!("https://films.example/reviews/{n}")).expect("URL"),
        headline: format!("Film {n} review – a raw, aching portrait of grief, grief, grief"),
        film: Film {
            title: format!("Film {n}"),
            year: Some(2025),
            runtime_minutes: None,
        },
        standfirst: "Chloé Zhao’s adaptation of Maggie O’Farrell’s novel is a tender, \
                     overwhelming study of loss that stays with you for days. "
            .repeat(1 + n % 6),
        body_html: String::new(),
        author: None,
        rating: Rating::try_from(u8::try_from(n % 6).expect("small")).ok(),
        section: "In Cinemas".to_owned(),
        image: None,
        published_at: at,
        updated_at: at,
    }
}

fn main() {
    let hashtags = ["film".to_owned(), "review".to_owned()];
    let composers: Vec<Composer> = Network::ALL
        .iter()
        .map(|&network| Composer::new(network, None, &hashtags).expect("default template"))
        .collect();
    let reviews: Vec<Review> = (0..1000).map(review).collect();
    let compose_all = || {
        let mut bytes = 0;
        for review in &reviews {
            for composer in &composers {
                bytes += composer.compose(review).expect("composes").text.len();
            }
        }
        bytes
    };
    let bytes = compose_all();
    // Five timed rounds after a warm-up, the median reported: one round on
    // the shared two cores varied by half from run to run.
    let mut rounds: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(compose_all());
            started.elapsed().as_secs_f64()
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    let median = rounds[rounds.len() / 2];
    let posts = reviews.len() * composers.len();
    println!(
        "composed {posts} posts ({} reviews x {} networks, {bytes} bytes) in {:.1} ms (median of 5): {:.0} posts/s",
        reviews.len(),
        composers.len(),
        median * 1e3,
        posts as f64 / median
    );
}
