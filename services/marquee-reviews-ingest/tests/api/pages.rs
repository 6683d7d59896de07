use marquee_events::Rating;
use marquee_reviews_ingest::{LinkSelector, SourceSettings};

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
    // Movie.duration "PT2H5M": calendars of screenings matched to it end.
    assert_eq!(hamnet.film.runtime_minutes, Some(125));
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

/// A pages source whose index is `/list.html`, its links picked by `links`.
fn listed_pages(up: &Upstream, links: Option<&str>) -> SourceSettings {
    let mut source = pages("site", up.url("/list.html"));
    if let SourceSettings::Pages { links: slot, .. } = &mut source {
        *slot = links.map(|css| LinkSelector::parse(css).unwrap());
    }
    source
}

const ARTICLES: [&str; 4] = [
    "plain-page.html",
    "reference-page.html",
    "og-only.html",
    "jsonld-review.html",
];

#[tokio::test]
async fn an_index_of_plain_list_links_yields_its_articles_and_not_its_menus() {
    let mut app = TestApp::spawn(|up| vec![listed_pages(up, None)], |_| {}).await;
    app.upstream
        .serve("/list.html", HTML, &fixture("list-index.html"));
    serve_pages(&app.upstream, &ARTICLES);

    let reports = app.poll().await;
    // The <ul> of links and the card; not the menus, the sidebar, the
    // footer, the next-page link or the other site (any of them fetched
    // would be a rejection: nothing else is served).
    assert_eq!(
        (reports["site"].new, reports["site"].rejected),
        (3, 0),
        "{reports:?}"
    );
    let base = app.upstream.base.clone();
    let mut ids: Vec<String> = published(&app.events().await).into_keys().collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            format!("{base}/pages/plain-page.html"),
            format!("{base}/pages/reference-page.html"),
            // og-only.html names its canonical URL.
            "https://marquee.test/reviews/the-beanie-bubble".to_owned(),
        ]
    );
    assert!(app.upstream.answers("/pages/jsonld-review.html").is_empty());
}

#[tokio::test]
async fn a_links_selector_picks_exactly_the_article_links() {
    let app = TestApp::spawn(|up| vec![listed_pages(up, Some("main .reviews"))], |_| {}).await;
    app.upstream
        .serve("/list.html", HTML, &fixture("list-index.html"));
    serve_pages(&app.upstream, &ARTICLES);

    let reports = app.poll().await;
    assert_eq!(
        (reports["site"].new, reports["site"].rejected),
        (2, 0),
        "{reports:?}"
    );
    assert!(app.upstream.answers("/pages/og-only.html").is_empty());
}

#[tokio::test]
async fn an_index_that_links_no_articles_is_unhealthy_with_the_reason() {
    let app = TestApp::spawn(|up| vec![listed_pages(up, None)], |_| {}).await;
    app.upstream
        .serve("/list.html", HTML, &fixture("nav-only-index.html"));

    let reports = app.poll().await;
    let report = &reports["site"];
    assert_eq!(report.rejected, 1, "{report:?}");
    let reason = format!(
        "the index page {} links no articles",
        app.upstream.url("/list.html")
    );
    assert!(report.rejections[0].starts_with(&reason), "{report:?}");
    assert!(report.rejections[0].contains("set `links`"), "{report:?}");

    // The operators' view of the source says so.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = app.ingest.admin_router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let health: Vec<marquee_admin::sources::SourceHealth> =
        reqwest::get(format!("http://{address}/admin/reviews-ingest/sources"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let site = health.iter().find(|s| s.name == "site").unwrap();
    assert!(
        site.last_error
            .as_deref()
            .is_some_and(|e| e.starts_with(&reason)),
        "{site:?}"
    );
    assert_eq!(site.last_success, None, "{site:?}");
}

/// The publication's reference page (/work/shared/reference/review-page.txt)
/// whole, in the plain markup its text shows: no <h1>, no structured data,
/// no meta tags; the headline a heading and the <title> with the site's
/// name. It names no author, rating, year, image or date, and its "130-minute
/// or so runtime" is prose, not a running time.
#[tokio::test]
async fn the_reference_page_is_read_field_by_field() {
    let read_at = "2026-12-02T12:00:00Z".parse().unwrap();
    let clock = marquee_test_support::ManualClock::new(read_at);
    let mut app =
        TestApp::spawn_with_clock(clock.shared(), |up| vec![listed_pages(up, None)], |_| {}).await;
    app.upstream.serve(
        "/list.html",
        HTML,
        r#"<ul><li><a href="/pages/reference-page-full.html">Return to Dust</a></li></ul>"#,
    );
    serve_pages(&app.upstream, &["reference-page-full.html"]);
    let reports = app.poll().await;
    assert_eq!(reports["site"].new, 1, "{reports:?}");
    let events = app.events().await;
    let base = app.upstream.base.clone();
    let dust = &published(&events)[&format!("{base}/pages/reference-page-full.html")];

    assert_eq!(
        dust.headline,
        "Return to Dust review – slow but movingly personal story of China’s rural poverty"
    );
    assert_eq!(
        dust.standfirst,
        "A melancholy but loving couple scratch out a living in Ruijun Li's quiet study of finding meaning in a tough and repetitive life"
    );
    assert_eq!(dust.section, "In Cinemas");
    assert_eq!(dust.author, None);
    assert_eq!(dust.rating, None);
    assert_eq!(
        (
            dust.film.title.as_str(),
            dust.film.year,
            dust.film.runtime_minutes
        ),
        ("Return to Dust", None, None)
    );
    assert_eq!(dust.image, None);
    // Undated: the time it was first read stands in, for both dates.
    assert_eq!(dust.published_at, read_at);
    assert_eq!(dust.updated_at, dust.published_at);

    let paragraphs: Vec<&str> = dust
        .body_html
        .split("</p>")
        .filter(|p| !p.trim().is_empty())
        .collect();
    assert_eq!(paragraphs.len(), 7, "{}", dust.body_html);
    assert!(paragraphs[0].starts_with("<p>Set in writer-director Ruijun Li’s home province"));
    assert!(paragraphs[3].starts_with("<p>Return to Dust is an incredibly quiet film"));
    assert_eq!(
        paragraphs[6],
        "<p>Return to Dust is now showing in UK cinemas."
    );
    for teaser in [
        "Where to watch",
        "More Reviews",
        "The Innocent",
        "Features",
        "Repertory Rundown",
        "Marquee",
    ] {
        assert!(
            !dust.body_html.contains(teaser),
            "{teaser} leaked into {}",
            dust.body_html
        );
    }
}
