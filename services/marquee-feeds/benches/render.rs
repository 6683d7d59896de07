//! Rendering RSS + Atom + JSON Feed for 50 and 500 items, beside Python
//! `feedgen` rendering the same items in the same run (`benches/feedgen_peer.py`).
//!
//! `cargo bench -p marquee-feeds --bench render` (needs `pip install feedgen`).

#![allow(clippy::unwrap_used, missing_docs)]

use std::process::Command;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use marquee_events::{Film, Rating, Review, ReviewId};
use marquee_feeds::{FeedDefinition, FeedSlug, Format, Site, render, review_guid};

fn reviews(count: usize) -> Vec<Review> {
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap();
    let paragraph = "<p>A raw, aching portrait of grief, with performances that \
                     linger long after the credits &amp; a score to match.</p>";
    (0..count)
        .map(|n| Review {
            id: ReviewId::parse(&format!("cms-{n}")).unwrap(),
            url: format!("https://marquee.example/reviews/film-{n}")
                .parse()
                .unwrap(),
            headline: format!("Film {n} review – a raw, aching portrait of grief"),
            film: Film {
                title: format!("Film {n}"),
                year: Some(2026),
                runtime_minutes: None,
            },
            standfirst: "Four stars for a film about love, loss and the theatre.".into(),
            body_html: paragraph.repeat(12),
            author: Some("A Critic".into()),
            rating: Some(Rating::try_from((n % 6) as u8).unwrap()),
            section: "In Cinemas".into(),
            image: None,
            published_at: start + Duration::hours(n as i64),
            updated_at: start + Duration::hours(n as i64),
        })
        .collect()
}

fn main() {
    let site = Site {
        base_url: "https://marquee.example/".parse().unwrap(),
        websub_hub: None,
    };
    let feed = FeedDefinition {
        slug: FeedSlug::parse("all").unwrap(),
        title: "Marquee".into(),
        description: "Every review and feature, newest first.".into(),
        section: None,
    };
    println!("| items | Marquee (ms per RSS+Atom+JSON) | feedgen (ms) | speed-up |");
    println!("|---:|---:|---:|---:|");
    for (count, repetitions) in [(50, 200), (500, 20)] {
        let items = reviews(count);
        let render_all = || {
            Format::ALL
                .iter()
                .map(|format| render(&site, &feed, &items, None, *format).unwrap().len())
                .sum::<usize>()
        };
        render_all();
        let started = Instant::now();
        for _ in 0..repetitions {
            std::hint::black_box(render_all());
        }
        let ours = started.elapsed().as_secs_f64() / f64::from(repetitions);

        let peer = feedgen_seconds(&items, repetitions);
        println!(
            "| {count} | {:.3} | {:.3} | {:.1}x |",
            ours * 1e3,
            peer * 1e3,
            peer / ours
        );
    }
}

fn feedgen_seconds(items: &[Review], repetitions: u32) -> f64 {
    let input: Vec<serde_json::Value> = items
        .iter()
        .map(|r| {
            serde_json::json!({
                "guid": review_guid(&r.id),
                "url": r.url.as_str(),
                "headline": r.headline,
                "standfirst": r.standfirst,
                "body_html": r.body_html,
                "author": r.author,
                "published_at": r.published_at.to_rfc3339(),
                "updated_at": r.updated_at.to_rfc3339(),
            })
        })
        .collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_vec(&input).unwrap()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/feedgen_peer.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(file.path())
        .arg(repetitions.to_string())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "feedgen peer failed (pip install feedgen): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}
