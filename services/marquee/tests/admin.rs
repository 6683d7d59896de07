//! The admin API on the one-process demo, over HTTP and through the
//! `marquee admin` CLI: authentication, the OpenAPI document, the bus's
//! endpoints and the feeds replay.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::{Demo, TOKEN, items};
use serde_json::Value;

const SAMPLE_ITEMS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_refuse_a_missing_or_wrong_token() {
    let demo = Demo::start().await;
    for path in [
        "/admin/openapi.json",
        "/admin/bus/lag",
        "/admin/bus/dead-letters",
    ] {
        assert_eq!(demo.get(path, None).await.0, 401, "{path} without a token");
        assert_eq!(
            demo.get(path, Some("wrong")).await.0,
            401,
            "{path} with a wrong token"
        );
        assert_eq!(
            demo.get(path, Some(TOKEN)).await.0,
            200,
            "{path} with the token"
        );
    }
    let refused = demo
        .http
        .post(format!("{}/admin/bus/dead-letters/0/0/redrive", demo.base))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_the_admin_api() {
    let demo = Demo::start().await;
    let document = demo.admin("/admin/openapi.json").await;
    assert_eq!(document["info"]["title"], "Marquee admin API");
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
    let paths = document["paths"].as_object().unwrap();
    for path in [
        "/admin/bus/lag",
        "/admin/bus/dead-letters",
        "/admin/bus/dead-letters/{partition}/{offset}/redrive",
        "/admin/feeds/replay",
        "/admin/reviews-ingest/sources",
        "/admin/reviews-ingest/backfill",
        "/admin/listings-ingest/sources",
        "/admin/listings-ingest/backfill",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_reaches_zero_once_the_feeds_caught_up() {
    let demo = Demo::start().await;
    demo.until("/feeds/all.rss", None, |f| items(f) >= SAMPLE_ITEMS)
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let lags = demo.admin("/admin/bus/lag").await;
        let feeds: Vec<&Value> = lags
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["group"] == "feeds")
            .collect();
        assert_eq!(feeds.len(), 3, "one row per partition of reviews: {lags}");
        let groups: std::collections::BTreeSet<&str> = lags
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["group"].as_str().unwrap())
            .collect();
        assert_eq!(
            groups.into_iter().collect::<Vec<_>>(),
            [
                "digest",
                "feeds",
                "feeds-screenings",
                "listings-ingest",
                "social"
            ]
        );
        if feeds.iter().all(|l| l["lag"] == 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "feeds lag stayed above 0: {lags}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let output = demo.cli(&["lag"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        printed
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["group"] == "social")
    );

    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_marquee"))
        .args(["admin", "--api", &demo.base, "--token", "wrong", "lag"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

fn guids(feed: &str) -> Vec<String> {
    let mut guids: Vec<String> = feed
        .split("<guid")
        .skip(1)
        .map(|rest| rest.split("</guid>").next().unwrap().to_owned())
        .collect();
    guids.sort();
    guids
}

fn posts(outbox: &str) -> usize {
    let outbox: Value = serde_json::from_str(outbox).unwrap();
    outbox["posts"].as_array().unwrap().len()
}

/// The social group's `(committed, end)` per partition, once it has caught up.
async fn social_lag(demo: &Demo) -> Vec<(Value, Value)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let lags = demo.admin("/admin/bus/lag").await;
        let social: Vec<&Value> = lags
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["group"] == "social")
            .collect();
        if social.iter().all(|l| l["lag"] == 0) {
            return social
                .iter()
                .map(|l| (l["committed"].clone(), l["end"].clone()))
                .collect();
        }
        assert!(Instant::now() < deadline, "social stayed behind: {lags}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_replay_restores_the_feeds_and_posts_nothing_again() {
    let demo = Demo::start().await;
    let feed = demo
        .until("/feeds/all.rss", None, |f| items(f) >= SAMPLE_ITEMS)
        .await;
    let outbox = demo
        .until("/social/outbox.json", None, |o| {
            posts(o) >= SAMPLE_ITEMS * 3
        })
        .await;
    let social_before = social_lag(&demo).await;

    let started = demo
        .http
        .post(format!("{}/admin/feeds/replay", demo.base))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "rebuild": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let job = demo
        .until(&location, Some(TOKEN), |job| !job.contains("\"running\""))
        .await;
    let job: Value = serde_json::from_str(&job).unwrap();
    assert_eq!(job["state"], "succeeded", "{job}");
    assert!(job["processed"].as_u64().unwrap() >= SAMPLE_ITEMS as u64);
    assert_eq!(job["processed"], job["total"]);

    let rebuilt = demo.get("/feeds/all.rss", None).await.1;
    assert_eq!(
        guids(&rebuilt),
        guids(&feed),
        "the same items after the rebuild"
    );
    // The replay published nothing and moved no other group: the social
    // consumer has nothing new to read, so its outbox cannot grow.
    assert_eq!(social_lag(&demo).await, social_before);
    let after = demo.get("/social/outbox.json", None).await.1;
    assert_eq!(posts(&after), posts(&outbox), "a replay posts nothing");

    // The CLI follows the same job to the end, from a time this time.
    let output = demo.cli(&["replay", "--from-time", "2000-01-01T00:00:00Z"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["state"], "succeeded");
    assert_eq!(printed["kind"], "replay");

    let both = demo
        .http
        .post(format!("{}/admin/feeds/replay", demo.base))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "from_offset": 0, "from_time": "2026-01-01T00:00:00Z" }))
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_report_their_health_and_backfill_as_a_job() {
    let demo = Demo::start_with(|settings| {
        let mut broken = settings.listings_ingest.sources[0].clone();
        broken.name = "gone-ics".to_owned();
        broken.url = broken.url.join("gone.ics").unwrap();
        settings.listings_ingest.sources.push(broken);
    })
    .await;
    let listings = demo
        .until("/admin/listings-ingest/sources", Some(TOKEN), |body| {
            let sources: Value = serde_json::from_str(body).unwrap();
            sources
                .as_array()
                .unwrap()
                .iter()
                .all(|s| !s["last_poll"].is_null())
        })
        .await;
    let listings: Value = serde_json::from_str(&listings).unwrap();
    let listings = listings.as_array().unwrap();
    assert_eq!(listings.len(), 5);
    let bfi = listings
        .iter()
        .find(|s| s["name"] == "bfi-southbank-ics")
        .unwrap();
    assert_eq!(bfi["kind"], "ics");
    assert!(bfi["last_success"].is_string(), "{bfi}");
    assert!(bfi["items_seen"].as_u64().unwrap() > 0, "{bfi}");
    assert!(bfi["events_published"].as_u64().unwrap() > 0, "{bfi}");
    let gone = listings.iter().find(|s| s["name"] == "gone-ics").unwrap();
    assert!(gone["last_success"].is_null(), "{gone}");
    assert!(
        gone["last_error"].as_str().unwrap().contains("404"),
        "{gone}"
    );
    assert_eq!(gone["rejected"], 1);

    let reviews = demo
        .until("/admin/reviews-ingest/sources", Some(TOKEN), |body| {
            body.contains("last_success\":\"")
        })
        .await;
    let reviews: Value = serde_json::from_str(&reviews).unwrap();
    assert_eq!(reviews[0]["name"], "sample-cms-feed");
    assert_eq!(reviews[0]["items_seen"], SAMPLE_ITEMS);

    let started = demo
        .http
        .post(format!(
            "{}/admin/listings-ingest/backfill?source=bfi-southbank-ics",
            demo.base
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let job = demo
        .until(&location, Some(TOKEN), |job| !job.contains("\"running\""))
        .await;
    let job: Value = serde_json::from_str(&job).unwrap();
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(
        (job["processed"].as_u64(), job["total"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(
        job["summary"].as_str().unwrap().starts_with("1 sources"),
        "{job}"
    );

    let unknown = demo
        .http
        .post(format!(
            "{}/admin/listings-ingest/backfill?source=nowhere",
            demo.base
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    let output = demo.cli(&["backfill", "reviews-ingest"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["state"], "succeeded");
    let output = demo.cli(&["sources"]);
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        printed.as_array().unwrap().len(),
        6,
        "both services' sources"
    );
}
