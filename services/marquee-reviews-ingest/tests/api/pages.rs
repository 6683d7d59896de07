use marquee_events::Rating;

use crate::helpers::{TestApp, Upstream, assert_hamnet, fixture, pages, published};

const HTML: &str = "text/html; charset=utf-8";

/// Serves each fixture in `files` as the article `/pages/{file}`.
fn serve_pages(up: &Upstream, files: &[&str]) {
    for file in files {
        up.serve(&format!("/pages/{file}"), HTML, &fixture(file));
    }
}

#[tokio::test]
async fn pages_like_the_reference_page_are_read_from_their_markup() {
    let mut app = TestApp::spawn(|up| vec![pages("site", up.url("/index.html"))], |_| {}).await;
    app.upstream
        .serve("/index.html", HTML, &fixture("index.html"));
    serve_pages(&app.upstream, &["reference-page.html", "plain-page.html"]);

    let reports = app.poll().await;
    assert_eq!(reports["site"].new, 2, "{reports:?}");
    // The index links the reference page twice (once with a #fragment): fetched once.
    assert_eq!(
        app.upstream.answers("/pages/reference-page.html"),
        vec![200]
    );
    let base = app.upstream.base.clone();
    let reviews = published(&app.events().await);

    let dust = &reviews[&format!("{base}/pages/reference-page.html")];
    assert_eq!(
        dust.headline,
        "Return to Dust review – slow but movingly personal story of China’s rural poverty"
    );
    assert_eq!(dust.film.title, "Return to Dust");
    assert_eq!(
        dust.standfirst,
        "A melancholy but loving couple scratch out a living in Ruijun Li's quiet study of finding meaning in a tough and repetitive life"
    );
    assert_eq!(dust.section, "In Cinemas");
    assert_eq!(dust.rating, None);
    let body = &dust.body_html;
    assert!(body.starts_with("<p>Set in writer-director"), "{body}");
    assert!(body.contains("<em>Return to Dust</em>"), "{body}");
    assert!(
        body.ends_with("<p>Return to Dust is now showing in UK cinemas.</p>"),
        "{body}"
    );
    for teaser in [
        "Where to watch",
        "More Reviews",
        "The Innocent",
        "Repertory Rundown",
        "Home",
    ] {
        assert!(!body.contains(teaser), "{teaser} leaked into {body}");
    }

    let innocent = &reviews[&format!("{base}/pages/plain-page.html")];
    assert_eq!(innocent.film.title, "The Innocent");
    assert_eq!(innocent.section, "In Cinemas");
    assert!(
        innocent
            .standfirst
            .starts_with("In his fourth feature film")
    );
    let body = &innocent.body_html;
    for bad in ["javascript:", "onerror", "tracking", "<script", "Baato"] {
        assert!(!body.contains(bad), "{bad} survived in {body}");
    }
    assert!(body.contains("It is a film of swerves"), "{body}");
}

#[tokio::test]
async fn json_ld_and_opengraph_pages_are_read_from_a_sitemap() {
    let mut app = TestApp::spawn(|up| vec![pages("site", up.url("/sitemap.xml"))], |_| {}).await;
    app.upstream
        .serve("/sitemap.xml", "application/xml", &fixture("sitemap.xml"));
    serve_pages(
        &app.upstream,
        &["reference-page.html", "jsonld-review.html", "og-only.html"],
    );

    let reports = app.poll().await;
    assert_eq!(reports["site"].new, 3, "{reports:?}");
    let reviews = published(&app.events().await);

    let hamnet = &reviews["https://marquee.test/reviews/hamnet"];
    assert_eq!(hamnet.url.as_str(), "https://marquee.test/reviews/hamnet");
    assert_hamnet(hamnet);
    assert_eq!(hamnet.film.year, Some(2025));
    assert_eq!(hamnet.updated_at.to_rfc3339(), "2025-06-11T10:30:00+00:00");
    let image = hamnet.image.as_ref().unwrap();
    assert_eq!(image.url.as_str(), "https://marquee.test/images/hamnet.jpg");
    let body = &hamnet.body_html;
    assert!(
        body.contains("Jessie Buckley gives the performance"),
        "{body}"
    );
    assert!(
        body.contains(r#"href="https://marquee.test/interviews/buckley""#),
        "{body}"
    );
    for bad in [
        "onmouseover",
        "<script",
        "alert",
        "By Ada Lee",
        "Where to watch",
    ] {
        assert!(!body.contains(bad), "{bad} survived in {body}");
    }

    let beanie = &reviews["https://marquee.test/reviews/the-beanie-bubble"];
    assert_eq!(beanie.film.title, "The Beanie Bubble");
    assert_eq!(beanie.rating, Some(Rating::try_from(1).unwrap()));
    assert_eq!(beanie.author.as_deref(), Some("Sam Okafor"));
    assert_eq!(beanie.section, "In Cinemas");
    assert!(
        beanie
            .standfirst
            .starts_with("With none of the saving graces")
    );
    assert_eq!(
        beanie.image.as_ref().unwrap().alt.as_deref(),
        Some("Zach Galifianakis in The Beanie Bubble")
    );
    assert_eq!(
        beanie.published_at.to_rfc3339(),
        "2023-07-28T09:00:00+00:00"
    );

    // A re-poll answers 304 for every article and publishes nothing.
    let reports = app.poll().await;
    assert_eq!(reports["site"].unchanged, 3, "{reports:?}");
    assert!(app.events().await.is_empty());
    assert_eq!(app.upstream.answers("/pages/og-only.html"), vec![200, 304]);
}
