use crate::helpers::{TestApp, feed, fixture, published};

const RSS: &str = "application/rss+xml";

#[tokio::test]
async fn malformed_sources_are_rejected_and_the_others_keep_flowing() {
    let expected = [
        ("broken", "malformed_feed"),
        ("bomb", "xml_entities"),
        ("oversize", "too_large"),
        ("error", "http_status"),
        ("loop", "redirect"),
        ("klingon", "encoding"),
        ("latin", "encoding"),
        ("not-a-feed", "malformed_feed"),
        ("missing", "http_status"),
    ];
    let names = expected.map(|(name, _)| name);
    let mut app = TestApp::spawn(
        |up| {
            let mut sources: Vec<_> = names
                .iter()
                .map(|name| feed(name, up.url(&format!("/{name}.xml"))))
                .collect();
            sources.push(feed("good", up.url("/feed.rss")));
            sources
        },
        |s| s.max_body_bytes = 64 * 1024,
    )
    .await;
    let up = &app.upstream;
    up.serve("/broken.xml", RSS, &fixture("broken.xml"));
    up.serve("/bomb.xml", RSS, &fixture("entity-bomb.xml"));
    up.respond(
        "/oversize.xml",
        200,
        &[("content-type", RSS)],
        vec![b' '; 200 * 1024],
    );
    up.respond("/error.xml", 500, &[], "boom");
    up.respond("/loop.xml", 302, &[("location", "/loop-back.xml")], "");
    up.respond("/loop-back.xml", 301, &[("location", "/loop.xml")], "");
    up.respond(
        "/klingon.xml",
        200,
        &[("content-type", "application/rss+xml; charset=x-klingon")],
        "<rss/>",
    );
    up.respond(
        "/latin.xml",
        200,
        &[("content-type", "application/rss+xml; charset=utf-8")],
        b"<rss>caf\xe9</rss>".to_vec(),
    );
    up.serve(
        "/not-a-feed.xml",
        "text/html",
        "<html><body>Hello</body></html>",
    );
    up.serve("/feed.rss", RSS, &fixture("feed.rss"));

    let reports = app.poll().await;
    for (name, kind) in expected {
        assert_eq!(
            reports[name].rejection_kinds,
            vec![kind],
            "{name}: {:?}",
            reports[name]
        );
        assert_eq!(reports[name].new, 0, "{name}");
    }
    assert_eq!(reports["good"].new, 3);
    assert_eq!(reports["good"].rejected, 0);
    let events = app.events().await;
    assert_eq!(published(&events).len(), 3);
    assert!(
        events
            .iter()
            .all(|e| e.source == "marquee/reviews-ingest/good")
    );
}

#[tokio::test]
async fn a_bad_item_is_rejected_alone() {
    let mut app = TestApp::spawn(|up| vec![feed("cms", up.url("/feed.rss"))], |_| {}).await;
    let feed_with_bad_items = crate::helpers::fixture("feed.rss").replace(
        "<item>",
        "<item><title>No link, no guid</title></item><item><title></title><link>{{BASE}}/x</link></item><item>",
    );
    app.upstream.serve("/feed.rss", RSS, &feed_with_bad_items);
    let report = &app.poll().await["cms"];
    assert_eq!(report.new, 3);
    // Each bad item before each of the three good ones.
    assert_eq!(report.rejected, 6);
    assert_eq!(app.events().await.len(), 3);
}

#[tokio::test]
async fn loopback_sources_are_refused_unless_allowed() {
    let mut app = TestApp::spawn(
        |up| {
            let localhost = up.base.replace("127.0.0.1", "localhost");
            vec![
                feed("loopback", up.url("/feed.rss")),
                feed(
                    "localhost",
                    url::Url::parse(&format!("{localhost}/feed.rss")).unwrap(),
                ),
            ]
        },
        |s| s.allow_private_addresses = false,
    )
    .await;
    app.upstream.serve("/feed.rss", RSS, &fixture("feed.rss"));
    let reports = app.poll().await;
    assert_eq!(reports["loopback"].rejection_kinds, vec!["private_address"]);
    assert_eq!(
        reports["localhost"].rejection_kinds,
        vec!["private_address"]
    );
    assert!(
        app.upstream.answers("/feed.rss").is_empty(),
        "the upstream was contacted"
    );
    assert!(app.events().await.is_empty());
}
