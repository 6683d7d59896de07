//! What the feeds contain: golden files, feedparser's reading, escaping.

use marquee_events::Review;
use marquee_feeds::{Fragments, Site, render, review_guid};
use marquee_test_support::assert_golden;
use url::Url;

use crate::helpers::{Engine, TestApp, at, feed, feedparser, published, review};

fn golden_site() -> Site {
    Site {
        base_url: Url::parse("https://feeds.example/").unwrap(),
        websub_hub: Some(Url::parse("https://hub.example/").unwrap()),
    }
}

/// Two reviews, one edited, one without byline or image.
fn golden_items() -> Vec<Review> {
    let mut edited = review("return-to-dust", "In Cinemas", 0);
    edited.updated_at = at(90);
    let mut feature = review("repertory-rundown", "Features", 60);
    feature.headline = "Repertory Rundown: What to Watch in London This Week".to_owned();
    feature.standfirst = "Leone at the Prince Charles, Powell & Pressburger at the BFI".to_owned();
    feature.body_html = "<p>Our pick of the week&#39;s repertory screenings.</p>".to_owned();
    feature.author = None;
    feature.image = None;
    feature.rating = None;
    vec![feature, edited]
}

#[test]
fn rendered_feeds_match_their_golden_files() {
    let site = golden_site();
    let definition = feed("all", "Marquee", None);
    let rendered = render(
        &site,
        &definition,
        &golden_items(),
        Some(at(95)),
        &Fragments::default(),
    )
    .unwrap();
    for (format, body) in rendered.bodies {
        assert_golden(
            env!("CARGO_MANIFEST_DIR"),
            &format!("all.{}", format.extension()),
            &body,
        );
    }
}

/// A feed assembled from the fragments of an earlier rendering is byte for
/// byte the feed rendered from nothing: kept items are reused only while
/// unchanged, and a changed or new one is rendered again.
#[test]
fn a_feed_assembled_from_kept_fragments_is_the_feed_rendered_afresh() {
    let site = golden_site();
    let definition = feed("all", "Marquee", None);
    let items = golden_items();
    let first = render(&site, &definition, &items[1..], None, &Fragments::default()).unwrap();

    // A new item on top, and the kept one edited in place.
    let mut next = items.clone();
    next[1].body_html = "<p>Revised after the festival.</p>".to_owned();
    let reused = render(&site, &definition, &next, Some(at(99)), &first.fragments).unwrap();
    let afresh = render(
        &site,
        &definition,
        &next,
        Some(at(99)),
        &Fragments::default(),
    )
    .unwrap();
    for ((format, reused), (_, afresh)) in reused.bodies.iter().zip(&afresh.bodies) {
        assert_eq!(
            String::from_utf8_lossy(reused),
            String::from_utf8_lossy(afresh),
            "{format:?}"
        );
        let text = String::from_utf8_lossy(reused);
        assert!(
            text.contains("Revised after the festival."),
            "{format:?}: {text}"
        );
        assert!(!text.contains("Gansu"), "{format:?} kept the old body");
    }
}

#[test]
fn an_empty_feed_is_still_valid() {
    let site = golden_site();
    let definition = feed("features", "Marquee: Features", Some("Features"));
    let rendered = render(&site, &definition, &[], None, &Fragments::default()).unwrap();
    for (format, body) in rendered.bodies {
        let parsed = feedparser(&body);
        assert!(!parsed.bozo, "{format:?}: {:?}", parsed.bozo_exception);
        assert_eq!(parsed.title, "Marquee: Features");
        assert!(parsed.entries.is_empty());
    }
}

#[tokio::test]
async fn feedparser_reads_every_format_with_the_ingested_fields() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let items = golden_items();
    for (i, item) in items.iter().enumerate() {
        app.deliver(&published(item, at(100 + i as i64)))
            .await
            .unwrap();
    }
    let expected_versions = [("rss", "rss20"), ("atom", "atom10"), ("json", "json11")];
    for (extension, version) in expected_versions {
        let parsed = feedparser(
            app.body(&format!("/feeds/all.{extension}"))
                .await
                .as_bytes(),
        );
        assert!(!parsed.bozo, "{extension}: {:?}", parsed.bozo_exception);
        assert_eq!(parsed.version, version);
        assert_eq!(parsed.title, "Marquee");
        assert_eq!(parsed.entries.len(), 2, "{extension}");
        // Newest publication first: the feature.
        for (entry, item) in parsed.entries.iter().zip(&items) {
            assert_eq!(entry.title, item.headline, "{extension}");
            assert_eq!(entry.link, item.url.as_str(), "{extension}");
            assert_eq!(entry.id, review_guid(&item.id), "{extension}");
            assert_eq!(entry.summary, item.standfirst, "{extension}");
            let content = entry
                .content
                .first()
                .map(String::as_str)
                .unwrap_or_default();
            assert!(
                content.contains("repertory screenings") || content.contains("Gansu"),
                "{extension}: content {content:?}"
            );
        }
        assert_eq!(
            parsed.entries[1].author.as_deref(),
            Some("Ella Kemp"),
            "{extension}"
        );
    }
}

#[tokio::test]
async fn hostile_text_is_escaped_in_every_format() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let mut hostile = review("hostile", "In Cinemas", 0);
    hostile.headline = "Nope <script>alert(1)</script> & \"quotes\"]]>".to_owned();
    hostile.standfirst = "<script>alert(2)</script><img src=x onerror=alert(3)>".to_owned();
    hostile.author = Some("<script>alert(4)</script>".to_owned());
    hostile.film.title = "<script>alert(5)</script>".to_owned();
    // Sanitized upstream, but a buggy producer must not reach readers.
    hostile.body_html =
        "<p>ok</p><script>alert(6)</script><a href=\"javascript:alert(7)\">x</a>\u{0}\u{1b}"
            .to_owned();
    hostile.section = "In Cinemas".to_owned();
    app.deliver(&published(&hostile, at(1))).await.unwrap();

    for extension in ["rss", "atom", "json"] {
        for slug in ["all", "in-cinemas"] {
            let body = app.body(&format!("/feeds/{slug}.{extension}")).await;
            let lower = body.to_lowercase();
            assert!(
                !lower.contains("<script"),
                "{slug}.{extension} carries a raw <script>:\n{body}"
            );
            assert!(
                !lower.contains("<img"),
                "{slug}.{extension} carries a raw <img>"
            );
            assert!(
                !lower.contains("javascript:"),
                "{slug}.{extension} carries a javascript: URL"
            );
            let parsed = feedparser(body.as_bytes());
            assert!(
                !parsed.bozo,
                "{slug}.{extension}: {:?}",
                parsed.bozo_exception
            );
            assert_eq!(parsed.entries.len(), 1);
            assert!(parsed.entries[0].title.starts_with("Nope"));
        }
    }
}
