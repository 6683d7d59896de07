//! The archive of sent digests: the web version at a stable URL, the list
//! page, the RSS and Atom feeds read back by feedparser and the JSON Feed's
//! required members, autodiscovery on every archive page.

use marquee_digest::RunStatus;
use marquee_test_support::python_json;
use serde::Deserialize;

use crate::helpers::{Engine, TestApp, assert_note, thursday};

on_both_engines!(
    a_sent_digest_is_archived_listed_and_in_the_feeds,
    only_a_digest_that_went_out_is_archived,
);

/// A feed as feedparser reads it.
#[derive(Debug, Deserialize)]
struct Parsed {
    bozo: bool,
    version: String,
    title: String,
    entries: Vec<ParsedEntry>,
}

#[derive(Debug, Deserialize)]
struct ParsedEntry {
    id: String,
    title: String,
    link: String,
    summary: String,
}

const FEEDPARSER: &str = r#"
import json, sys
import feedparser
d = feedparser.parse(open(sys.argv[1], "rb").read())
print(json.dumps({
    "bozo": bool(d.bozo),
    "version": d.version,
    "title": d.feed.get("title", ""),
    "entries": [{"id": e.get("id", ""), "title": e.get("title", ""),
                 "link": e.get("link", ""), "summary": e.get("summary", "")}
                for e in d.entries],
}))
"#;

fn feedparser(body: &[u8]) -> Parsed {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), body).unwrap();
    python_json(FEEDPARSER, [file.path()], "feedparser failed")
}

/// Whether `html` advertises the archive's feed of `media_type` at `href`.
fn advertises(html: &str, media_type: &str, href: &str) -> bool {
    html.contains(&format!(
        r#"<link rel="alternate" type="{media_type}" href="{href}""#
    ))
}

async fn a_sent_digest_is_archived_listed_and_in_the_feeds(engine: Engine) {
    let app = TestApp::seeded(engine, ["reader@example.com"]).await;
    let report = app.only_run_at(thursday()).await;
    assert_eq!(report.run.status, RunStatus::Sent);
    let subject = app.sink.wait_for(1).await.remove(0).subject;
    let page_url = app.url("/digest/archive/weekly/2026-11-26");
    let feeds = [
        ("rss", "application/rss+xml"),
        ("atom", "application/atom+xml"),
        ("json", "application/feed+json"),
    ];

    let list = app.get("/digest/archive").await;
    assert_eq!(list.status(), 200);
    let list = list.text().await.unwrap();
    assert!(
        list.contains(&format!(r#"<a href="{page_url}">{subject}</a>"#)),
        "{list}"
    );
    let page = app
        .get("/digest/archive/weekly/2026-11-26")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Once Upon a Time in the West"), "{page}");
    assert!(
        !page.contains("token="),
        "the web version carries a reader's link"
    );
    for (extension, media_type) in feeds {
        let href = app.url(&format!("/digest/archive.{extension}"));
        assert!(
            advertises(&list, media_type, &href),
            "list page: {media_type}"
        );
        assert!(
            advertises(&page, media_type, &href),
            "archived page: {media_type}"
        );
        let response = app.get(&format!("/digest/archive.{extension}")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], media_type);
        let body = response.bytes().await.unwrap();
        if extension == "json" {
            // feedparser 6 reads no JSON Feed: JSON Feed 1.1's members here.
            let feed: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(feed["version"], "https://jsonfeed.org/version/1.1");
            assert_eq!(feed["feed_url"], href.as_str());
            let items = feed["items"].as_array().unwrap();
            assert_eq!(items.len(), 1);
            assert_eq!(items[0]["url"], page_url.as_str());
            assert_eq!(items[0]["title"], subject.as_str());
            assert!(
                items[0]["content_text"]
                    .as_str()
                    .unwrap()
                    .contains("ON SCREEN THIS WEEK")
            );
            continue;
        }
        let parsed = feedparser(&body);
        assert!(!parsed.bozo, "{extension}: {parsed:?}");
        assert!(parsed.version.starts_with(extension), "{parsed:?}");
        assert_eq!(parsed.title, "Marquee: What to watch, past digests");
        assert_eq!(parsed.entries.len(), 1, "{parsed:?}");
        let entry = &parsed.entries[0];
        assert_eq!(entry.title, subject);
        assert_eq!(entry.link, page_url);
        assert!(entry.id.starts_with("urn:uuid:"), "{entry:?}");
        assert!(entry.summary.contains("new reviews"), "{entry:?}");
    }
    app.close().await;
}

async fn only_a_digest_that_went_out_is_archived(engine: Engine) {
    let app = TestApp::seeded_with(engine, |s| s.dry_run = true, ["reader@example.com"]).await;
    let report = app.only_run_at(thursday()).await;
    assert_eq!(report.run.status, RunStatus::DryRun);
    assert_note(&report.run, ", 1 recipients; nothing sent");
    let list = app.get("/digest/archive").await.text().await.unwrap();
    assert!(list.contains("No digest has gone out yet"), "{list}");
    let missing = app.get("/digest/archive/weekly/2026-11-26").await;
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("No digest of"));
    let not_a_date = app.get("/digest/archive/weekly/last-week").await;
    assert_eq!(not_a_date.status(), 404);
    assert!(not_a_date.text().await.unwrap().contains("is not a date"));
    let feed = app.get("/digest/archive.atom").await.bytes().await.unwrap();
    assert!(feedparser(&feed).entries.is_empty());
    app.close().await;
}
