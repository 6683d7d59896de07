//! Rendering RSS + Atom + JSON Feed for 50 and 500 items, beside Python
//! `feedgen` (`benches/feedgen_peer.py`) and the npm `feed` package
//! (`benches/feed-peer/feed_peer.mjs`) rendering the same items in the same
//! run.
//!
//! Marquee is timed the way the service renders: after one new review, with
//! the other items' fragments kept from the rendering before (the peers
//! keep nothing between renderings); and, beside it, from nothing.
//!
//! `FEED_PEER_DIR=… cargo bench -p marquee-feeds --bench render` (needs
//! `pip install feedgen` and `npm ci` of `benches/feed-peer` in
//! `FEED_PEER_DIR`; `scripts/bench` does both).

#![allow(clippy::unwrap_used, missing_docs)]

use std::process::Command;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use marquee_events::{Film, Rating, Review, ReviewId};
use marquee_feeds::{FeedDefinition, FeedSlug, Fragments, Site, render, review_guid};

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
    println!(
        "| items | Marquee, one new item (ms) | Marquee, from nothing (ms) | feedgen (ms) | npm feed (ms) | vs feedgen | vs npm feed |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (count, repetitions) in [(50, 200), (500, 20)] {
        // One more review than the feed holds: each rendering takes the
        // newest `count`, after the feed held the `count` before them.
        let all = reviews(count + 1);
        let (before, after) = (&all[1..], &all[..count]);
        let kept = render(&site, &feed, before, None, &Fragments::default())
            .unwrap()
            .fragments;
        let bytes = |kept: &Fragments| {
            let rendered = render(&site, &feed, after, None, kept).unwrap();
            rendered.bodies.iter().map(|(_, b)| b.len()).sum::<usize>()
        };
        let time = |kept: &Fragments| {
            bytes(kept);
            let started = Instant::now();
            for _ in 0..repetitions {
                std::hint::black_box(bytes(kept));
            }
            started.elapsed().as_secs_f64() / f64::from(repetitions)
        };
        let incremental = time(&kept);
        let afresh = time(&Fragments::default());

        let input = peer_input(after);
        let feedgen = peer_seconds(
            Command::new("python3").arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/benches/feedgen_peer.py"
            )),
            input.path(),
            repetitions,
        );
        let feed_dir = std::env::var("FEED_PEER_DIR")
            .expect("FEED_PEER_DIR: where benches/feed-peer was installed (scripts/bench)");
        let npm_feed = peer_seconds(
            Command::new("node")
                .arg(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/benches/feed-peer/feed_peer.mjs"
                ))
                .arg(feed_dir),
            input.path(),
            repetitions,
        );
        println!(
            "| {count} | {:.3} | {:.3} | {:.3} | {:.3} | {:.1}x | {:.1}x |",
            incremental * 1e3,
            afresh * 1e3,
            feedgen * 1e3,
            npm_feed * 1e3,
            feedgen / incremental,
            npm_feed / incremental,
        );
    }
}

/// The items as the peers read them, in a JSON file.
fn peer_input(items: &[Review]) -> tempfile::NamedTempFile {
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
    file
}

/// Mean seconds per rendering the peer `command` prints for `input`.
fn peer_seconds(command: &mut Command, input: &std::path::Path, repetitions: u32) -> f64 {
    let output = command
        .arg(input)
        .arg(repetitions.to_string())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}
