//! `POST /admin/feeds/replay`: the feeds emptied (`rebuild`) and replayed
//! from an embedded log come back exactly as the live consumers left them.
//! Runs on SQLite and on PostgreSQL.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use marquee_bus::{Bus, BusSettings, Record, Subscription};
use marquee_events::topics;
use marquee_test_support::POSTGRES_ADMIN;
use marquee_test_support::wait::until_value;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Engine, TestApp, at, listed, published, review, updated, west, withdrawn};

on_both_engines!(a_rebuild_replays_the_feeds_back_from_the_log);

/// Pinned, so the documents rendered before and after are comparable byte for byte.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0)
        .single()
        .expect("valid date")
}

/// The documents a replay must restore.
const DOCUMENTS: [&str; 4] = [
    "/feeds/all.json",
    "/feeds/all.rss",
    "/venues/bfi-southbank.ics",
    "/calendars/all.ics",
];

async fn a_rebuild_replays_the_feeds_back_from_the_log(engine: Engine) {
    let app = TestApp::spawn_at(engine, now()).await;
    let log = tempfile::tempdir().unwrap();
    let bus = Bus::connect(&BusSettings::embedded(log.path().join("bus.sqlite")))
        .await
        .unwrap();
    bus.ensure_marquee_topics(2).await.unwrap();

    let mut first = review("cms-1", "In Cinemas", 1);
    bus.publish_event(&published(&first, at(1))).await.unwrap();
    bus.publish_event(&published(&review("cms-2", "Features", 2), at(2)))
        .await
        .unwrap();
    first.headline = "Return to Dust review – revised".to_owned();
    bus.publish_event(&updated(&first, at(3))).await.unwrap();
    bus.publish_event(&published(&review("cms-3", "In Cinemas", 4), at(4)))
        .await
        .unwrap();
    bus.publish_event(&withdrawn("cms-3", at(5))).await.unwrap();
    let west = west();
    bus.publish_event(&listed(&west, at(6))).await.unwrap();

    // The live consumers, as `marquee up` runs them.
    let stop = CancellationToken::new();
    let reviews = Subscription::new("feeds", &[topics::REVIEWS]);
    let screenings = Subscription::new("feeds-screenings", &[topics::SCREENINGS]);
    let consumers = [
        tokio::spawn({
            let (bus, handler, stop) = (bus.clone(), app.service.handler(), stop.clone());
            async move { bus.consume(reviews, handler, stop).await }
        }),
        tokio::spawn({
            let (bus, handler, stop) =
                (bus.clone(), app.service.screenings_handler(), stop.clone());
            async move { bus.consume(screenings, handler, stop).await }
        }),
    ];
    caught_up(&bus, "feeds", topics::REVIEWS).await;
    caught_up(&bus, "feeds-screenings", topics::SCREENINGS).await;
    stop.cancel();
    for consumer in consumers {
        consumer.await.unwrap().unwrap();
    }
    app.service.published().await;
    let mut live = Vec::new();
    for document in DOCUMENTS {
        live.push(app.body(document).await);
    }
    assert_eq!(items(&live[0]).len(), 2, "cms-3 was withdrawn: {}", live[0]);
    assert!(live[0].contains("revised"), "{}", live[0]);
    assert!(live[2].contains("BEGIN:VEVENT"), "{}", live[2]);

    let admin = Admin::serve(&app, bus).await;

    // Rebuilding from past the end leaves nothing: the state is gone.
    let emptied = admin
        .replay(json!({ "from_offset": 1_000_000, "rebuild": true }))
        .await;
    assert_eq!(
        (emptied["processed"].as_u64(), emptied["total"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(
        items(&app.body("/feeds/all.json").await),
        Vec::<String>::new()
    );
    assert!(
        !app.body("/calendars/all.ics")
            .await
            .contains("BEGIN:VEVENT")
    );

    // Rebuilding from the beginning brings back exactly what was there.
    let rebuilt = admin.replay(json!({ "rebuild": true })).await;
    assert_eq!(
        (rebuilt["processed"].as_u64(), rebuilt["total"].as_u64()),
        (Some(6), Some(6))
    );
    assert_eq!(rebuilt["summary"], "6 events replayed into emptied feeds");
    for (document, before) in DOCUMENTS.into_iter().zip(&live) {
        assert_eq!(
            &app.body(document).await,
            before,
            "{document} after the rebuild"
        );
    }
}

/// A replay applies its events hundreds to a transaction. One whose
/// database connection is cut mid-batch loses the batch's uncommitted
/// events with it; the bus retries the event that failed, and the replay
/// applies the whole batch again on a new connection: the rebuilt feeds
/// miss none.
#[tokio::test]
async fn a_rebuild_cut_off_mid_batch_applies_the_batch_again() {
    const REVIEWS: i64 = 3_000;
    let app = TestApp::spawn_at(Engine::Postgres, now()).await;
    let log = tempfile::tempdir().unwrap();
    let bus = Bus::connect(&BusSettings::embedded(log.path().join("bus.sqlite")))
        .await
        .unwrap();
    bus.ensure_marquee_topics(2).await.unwrap();
    let records = (0..REVIEWS)
        .map(|n| {
            let review = review(&format!("cms-{n}"), "In Cinemas", n);
            Record::from_event(&published(&review, at(n)))
        })
        .collect();
    for published in bus.publish_all(records).await {
        published.unwrap();
    }
    let admin = Admin::serve(&app, bus).await;

    let feeds = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let server = sqlx::PgPool::connect(POSTGRES_ADMIN).await.unwrap();
    let database = app.database_url.rsplit('/').next().unwrap().to_owned();
    // Once the first batch is stored, the replay's connection is cut while
    // it holds the next one.
    let cut = tokio::spawn(async move {
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM feed_items")
                .fetch_one(&feeds)
                .await
                .unwrap_or(0);
            if stored > 0 {
                let terminated: Vec<bool> = sqlx::query_scalar(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE datname = $1 AND xact_start IS NOT NULL
                       AND pid <> pg_backend_pid()",
                )
                .bind(&database)
                .fetch_all(&server)
                .await
                .unwrap();
                if terminated.contains(&true) {
                    return Ok(stored);
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Err("no replay transaction was open after the first batch")
    });

    let rebuilt = admin.replay(json!({ "rebuild": true })).await;
    let stored_when_cut = cut.await.unwrap().unwrap();
    assert!(
        stored_when_cut < REVIEWS,
        "cut after the last batch: {stored_when_cut}"
    );
    assert_eq!(rebuilt["processed"].as_i64(), Some(REVIEWS));
    let feeds = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let live: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM feed_items WHERE withdrawn = 0")
        .fetch_one(&feeds)
        .await
        .unwrap();
    assert_eq!(live, REVIEWS, "reviews live after the rebuild");
}

/// Waits until `group` has finished every message of `topic`.
async fn caught_up(bus: &Bus, group: &str, topic: &str) {
    until_value(
        &format!("{group} caught up on {topic}"),
        Duration::from_secs(30),
        || async { bus.lag(group, &[topic]).await.unwrap() },
        |lag| lag.iter().all(|partition| partition.lag == 0),
    )
    .await;
}

/// The item ids of a JSON Feed.
fn items(json_feed: &str) -> Vec<String> {
    let feed: Value = serde_json::from_str(json_feed).unwrap();
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The feeds' admin routes on a listener of their own.
struct Admin {
    base: String,
    client: reqwest::Client,
}

impl Admin {
    async fn serve(app: &TestApp, bus: Bus) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = app.service.admin_router(bus);
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self {
            base,
            client: reqwest::Client::new(),
        }
    }

    /// Starts a replay with `body` and follows its job to the end; it must succeed.
    async fn replay(&self, body: Value) -> Value {
        let started = self
            .client
            .post(format!("{}/admin/feeds/replay", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 202, "replay {body}");
        let location = started.headers()["location"].to_str().unwrap().to_owned();
        let job = until_value(
            &format!("replay {body} finished"),
            Duration::from_secs(30),
            || async {
                let job = self
                    .client
                    .get(format!("{}{location}", self.base))
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                serde_json::from_str::<Value>(&job).unwrap()
            },
            |job| job["state"] != "running",
        )
        .await;
        assert_eq!(job["state"], "succeeded", "replay {body}: {job}");
        job
    }
}
