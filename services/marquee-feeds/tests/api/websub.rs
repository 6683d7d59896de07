//! Publishing beyond HTTP: WebSub notifications and feed files on disk.

use std::time::Duration;

use marquee_test_support::wait::until_value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Engine, TestApp, at, published, review};

/// Waits until the hub received `count` requests, or fails after a deadline.
async fn hub_requests(hub: &MockServer, count: usize) -> Vec<wiremock::Request> {
    until_value(
        &format!("the hub got {count} requests"),
        Duration::from_secs(10),
        || async { hub.received_requests().await.unwrap_or_default() },
        |received| received.len() >= count,
    )
    .await
}

#[tokio::test]
async fn the_hub_is_advertised_and_notified_of_every_changed_feed() {
    let hub = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&hub)
        .await;
    let hub_url = url::Url::parse(&hub.uri()).unwrap();
    let app = TestApp::spawn_with(Engine::Sqlite, |s| s.websub_hub = Some(hub_url.clone())).await;

    app.deliver(&published(&review("hamnet", "Features", 0), at(1)))
        .await
        .unwrap();

    // `all` and `features` changed, in three formats each; `in-cinemas` did not.
    let received = hub_requests(&hub, 6).await;
    let mut topics: Vec<String> = received
        .iter()
        .map(|request| {
            assert_eq!(
                request.headers.get("content-type").unwrap(),
                "application/x-www-form-urlencoded"
            );
            let form: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
                .into_owned()
                .collect();
            assert_eq!(form[0], ("hub.mode".to_owned(), "publish".to_owned()));
            assert_eq!(form[1].0, "hub.url");
            form[1].1.clone()
        })
        .collect();
    topics.sort();
    let expected: Vec<String> = [
        "all.atom",
        "all.json",
        "all.rss",
        "features.atom",
        "features.json",
        "features.rss",
    ]
    .iter()
    .map(|file| format!("{}feeds/{file}", app.base_url))
    .collect();
    assert_eq!(topics, expected);

    let rss = app.body("/feeds/all.rss").await;
    assert!(
        rss.contains(&format!("<atom:link href=\"{hub_url}\" rel=\"hub\"/>")),
        "{rss}"
    );
    let atom = app.body("/feeds/all.atom").await;
    assert!(
        atom.contains(&format!("<link href=\"{hub_url}\" rel=\"hub\"/>")),
        "{atom}"
    );
    let json = app.body("/feeds/all.json").await;
    assert!(json.contains("\"hubs\":[{\"type\":\"WebSub\""), "{json}");
}

#[tokio::test]
async fn a_failing_hub_never_fails_the_handler() {
    let hub = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&hub)
        .await;
    let hub_url = url::Url::parse(&hub.uri()).unwrap();
    let app = TestApp::spawn_with(Engine::Sqlite, |s| s.websub_hub = Some(hub_url)).await;
    app.deliver(&published(&review("hamnet", "Features", 0), at(1)))
        .await
        .unwrap();
    hub_requests(&hub, 6).await;
    assert!(app.body("/feeds/all.rss").await.contains("reviews/hamnet"));
}

#[tokio::test]
async fn feed_files_are_written_to_the_output_dir_after_changes() {
    let output = tempfile::tempdir().unwrap();
    let dir = output.path().join("public");
    let app = TestApp::spawn_with(Engine::Sqlite, |s| s.output_dir = Some(dir.clone())).await;

    // Written at startup, empty but valid.
    assert!(dir.join("all.rss").exists());
    app.deliver(&published(&review("hamnet", "In Cinemas", 0), at(1)))
        .await
        .unwrap();

    for slug in ["all", "in-cinemas", "features"] {
        for extension in ["rss", "atom", "json"] {
            let file = std::fs::read_to_string(dir.join(format!("{slug}.{extension}"))).unwrap();
            assert_eq!(file, app.body(&format!("/feeds/{slug}.{extension}")).await);
        }
    }
    assert!(
        std::fs::read_to_string(dir.join("in-cinemas.atom"))
            .unwrap()
            .contains("reviews/hamnet")
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}
