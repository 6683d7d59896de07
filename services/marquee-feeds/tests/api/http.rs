//! Serving: content types, validators, 304s, HEAD, compression, discovery.

use std::io::Read;

use marquee_runtime::html::escape;
use reqwest::header::{self, HeaderValue};

use crate::helpers::{Engine, TestApp, at, published, review, updated};

async fn app_with_one_review() -> TestApp {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let item = review("hamnet", "In Cinemas", 0);
    app.deliver(&published(&item, at(1))).await.unwrap();
    app
}

/// `GET path` with `If-None-Match: etag`.
async fn revalidate(app: &TestApp, path: &str, etag: &HeaderValue) -> reqwest::Response {
    let etag = etag.to_str().unwrap();
    app.get_with(path, &[(header::IF_NONE_MATCH.as_str(), etag)])
        .await
}

#[tokio::test]
async fn feeds_are_served_with_their_media_type_and_validators() {
    let app = app_with_one_review().await;
    let cases = [
        ("rss", "application/rss+xml; charset=utf-8"),
        ("atom", "application/atom+xml; charset=utf-8"),
        ("json", "application/feed+json; charset=utf-8"),
    ];
    for (extension, content_type) in cases {
        let response = app.get(&format!("/feeds/all.{extension}")).await;
        assert_eq!(response.status(), 200);
        let headers = response.headers().clone();
        assert_eq!(headers[header::CONTENT_TYPE], content_type);
        assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=300");
        assert_eq!(
            headers[header::LAST_MODIFIED],
            "Fri, 10 Jan 2025 09:00:00 GMT"
        );
        assert!(headers.get(header::CONTENT_ENCODING).is_none());
        let etag = headers[header::ETAG].to_str().unwrap().to_owned();
        let body = response.bytes().await.unwrap();
        let digest = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&body))
        };
        assert_eq!(etag, format!("\"{digest}\""), "strong ETag of the bytes");
    }
}

#[tokio::test]
async fn unknown_feeds_are_not_found() {
    let app = app_with_one_review().await;
    for path in [
        "/feeds/nope.rss",
        "/feeds/all.xml",
        "/feeds/all",
        "/feeds/ALL.rss",
    ] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn a_matching_etag_gets_304_until_the_feed_changes() {
    let app = app_with_one_review().await;
    let first = app.get("/feeds/all.atom").await;
    let etag = first.headers()[header::ETAG].clone();

    let revalidated = revalidate(&app, "/feeds/all.atom", &etag).await;
    assert_eq!(revalidated.status(), 304);
    assert_eq!(revalidated.headers()[header::ETAG], etag);
    assert!(revalidated.bytes().await.unwrap().is_empty());

    let mut edited = review("hamnet", "In Cinemas", 0);
    edited.headline = "Hamnet review – revised".to_owned();
    edited.updated_at = at(20);
    app.deliver(&updated(&edited, at(21))).await.unwrap();

    let changed = revalidate(&app, "/feeds/all.atom", &etag).await;
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()[header::ETAG], etag);
    assert_eq!(
        changed.headers()[header::LAST_MODIFIED],
        "Fri, 10 Jan 2025 09:20:00 GMT"
    );
    assert!(changed.text().await.unwrap().contains("revised"));
}

#[tokio::test]
async fn if_modified_since_gets_304_unless_the_feed_is_newer() {
    let app = app_with_one_review().await;
    for (since, status) in [
        ("Fri, 10 Jan 2025 09:00:00 GMT", 304),
        ("Sat, 11 Jan 2025 00:00:00 GMT", 304),
        ("Fri, 10 Jan 2025 08:59:59 GMT", 200),
        ("not a date", 200),
    ] {
        let response = app
            .get_with(
                "/feeds/all.rss",
                &[(header::IF_MODIFIED_SINCE.as_str(), since)],
            )
            .await;
        assert_eq!(response.status(), status, "If-Modified-Since: {since}");
    }

    // If-None-Match wins over If-Modified-Since.
    let response = app
        .get_with(
            "/feeds/all.rss",
            &[
                (header::IF_NONE_MATCH.as_str(), "\"stale\""),
                (
                    header::IF_MODIFIED_SINCE.as_str(),
                    "Sat, 11 Jan 2025 00:00:00 GMT",
                ),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_withdrawal_moves_last_modified() {
    let app = app_with_one_review().await;
    app.deliver(&published(&review("second", "Features", 5), at(6)))
        .await
        .unwrap();
    app.deliver(&crate::helpers::withdrawn("hamnet", at(30)))
        .await
        .unwrap();
    let response = app
        .get_with(
            "/feeds/all.json",
            &[(
                header::IF_MODIFIED_SINCE.as_str(),
                "Fri, 10 Jan 2025 09:05:00 GMT",
            )],
        )
        .await;
    assert_eq!(response.status(), 200, "the feed lost an item since then");
    assert_eq!(
        response.headers()[header::LAST_MODIFIED],
        "Fri, 10 Jan 2025 09:30:00 GMT"
    );
}

#[tokio::test]
async fn head_answers_with_the_headers_of_get_and_no_body() {
    let app = app_with_one_review().await;
    let get = app.get("/feeds/all.rss").await;
    let head = app
        .client
        .head(app.url("/feeds/all.rss"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    for name in [
        header::ETAG,
        header::LAST_MODIFIED,
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
    ] {
        assert_eq!(
            head.headers().get(&name),
            get.headers().get(&name),
            "{name}"
        );
    }
    assert!(head.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn gzip_and_brotli_are_negotiated_and_decode_to_the_same_feed() {
    let app = app_with_one_review().await;
    let plain = app.get("/feeds/all.atom").await;
    let plain_etag = plain.headers()[header::ETAG].clone();
    let plain = plain.bytes().await.unwrap();

    for (accept, coding) in [
        ("gzip", "gzip"),
        ("gzip, deflate, br", "br"),
        ("br;q=0, gzip", "gzip"),
    ] {
        let response = app
            .get_with(
                "/feeds/all.atom",
                &[(header::ACCEPT_ENCODING.as_str(), accept)],
            )
            .await;
        assert_eq!(response.status(), 200);
        let headers = response.headers().clone();
        assert_eq!(headers[header::CONTENT_ENCODING], coding, "{accept}");
        assert_eq!(headers[header::VARY], "accept-encoding");
        let etag = headers[header::ETAG].clone();
        assert_ne!(
            etag, plain_etag,
            "a compressed body has its own strong ETag"
        );
        let compressed = response.bytes().await.unwrap();
        let mut decoded = Vec::new();
        match coding {
            "gzip" => flate2::read::GzDecoder::new(&compressed[..])
                .read_to_end(&mut decoded)
                .unwrap(),
            _ => brotli::Decompressor::new(&compressed[..], 4096)
                .read_to_end(&mut decoded)
                .unwrap(),
        };
        assert_eq!(decoded, plain);

        // Revalidating with the compressed ETag still gets a 304.
        let revalidated = app
            .get_with(
                "/feeds/all.atom",
                &[
                    (header::ACCEPT_ENCODING.as_str(), accept),
                    (header::IF_NONE_MATCH.as_str(), etag.to_str().unwrap()),
                ],
            )
            .await;
        assert_eq!(revalidated.status(), 304);
    }
}

#[tokio::test]
async fn the_index_page_lists_every_feed_for_autodiscovery() {
    let app = app_with_one_review().await;
    let response = app.get("/").await;
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    let page = response.text().await.unwrap();
    for slug in ["all", "in-cinemas", "features"] {
        for (extension, media_type) in [
            ("rss", "application/rss+xml"),
            ("atom", "application/atom+xml"),
            ("json", "application/feed+json"),
        ] {
            // The attributes as the one HTML escaper writes them (`/` as `&#x2f;`).
            let href = escape(&format!("{}feeds/{slug}.{extension}", app.base_url));
            let link = format!(
                "<link rel=\"alternate\" type=\"{}\" href=\"{href}\"",
                escape(media_type)
            );
            assert!(page.contains(&link), "missing {link}");
        }
    }
    let head = &page[..page.find("</head>").unwrap()];
    // Three review feeds and this week in repertory, three formats each, and
    // the digest's archive; no venue has screenings yet.
    assert!(head.contains("href=\"/digest/archive.atom\""), "{head}");
    assert_eq!(head.matches("rel=\"alternate\"").count(), 13);
}
