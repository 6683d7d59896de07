use std::path::Path;

use crate::helpers::{TestApp, feed, pages, published};

fn sample(file: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples")
            .join(file),
    )
    .unwrap()
}

#[tokio::test]
async fn the_bundled_demo_samples_ingest_cleanly() {
    let mut app = TestApp::spawn(
        |up| {
            vec![
                feed("demo-feed", up.url("/cms-feed.xml")),
                pages("demo-pages", up.url("/index.html")),
            ]
        },
        |_| {},
    )
    .await;
    for (file, content_type) in [
        ("cms-feed.xml", "application/rss+xml"),
        ("index.html", "text/html"),
        ("frankenstein.html", "text/html"),
        ("marty-supreme.html", "text/html"),
    ] {
        app.upstream
            .serve(&format!("/{file}"), content_type, &sample(file));
    }
    let reports = app.poll().await;
    assert_eq!(
        (reports["demo-feed"].new, reports["demo-feed"].rejected),
        (6, 0)
    );
    assert_eq!(
        (reports["demo-pages"].new, reports["demo-pages"].rejected),
        (2, 0)
    );
    let reviews = published(&app.events().await);
    let sections: Vec<_> = reviews.values().map(|r| r.section.as_str()).collect();
    assert_eq!(sections.iter().filter(|s| **s == "Features").count(), 2);
    assert!(
        reviews
            .values()
            .all(|r| r.author.is_some() && r.image.is_some())
    );
    let frankenstein = &reviews["https://marquee.example/reviews/frankenstein"];
    assert_eq!(
        (frankenstein.film.title.as_str(), frankenstein.film.year),
        ("Frankenstein", Some(2025))
    );
    assert_eq!(frankenstein.rating.map(|r| r.stars()), Some(4));
    assert!(!frankenstein.body_html.contains("By Cleo Marsh"));
    assert!(!frankenstein.body_html.contains("Where to watch"));
    let marty = &reviews["https://marquee.example/reviews/marty-supreme"];
    assert_eq!(marty.rating.map(|r| r.stars()), Some(5));
    assert_eq!(
        reviews["marquee-cms-3104"].rating.map(|r| r.stars()),
        Some(3)
    );
}
