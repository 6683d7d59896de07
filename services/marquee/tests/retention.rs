//! `replay --rebuild` on Kafka restores every review ever published, however
//! old: the feeds are emptied and rebuilt from a `reviews` topic Marquee
//! created keeping its whole history.
//!
//! The broker is tansu, which keeps what a topic's settings would let Kafka
//! delete (it does not enforce `retention.ms`), so this shows the topic is
//! made right and that a rebuild restores all of it; that the settings stop
//! Kafka from deleting is Kafka's promise (docs/operators.md, "Topic
//! retention").

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use chrono::{DateTime, Duration};
use common::{Demo, TOKEN};
use marquee_admin::feeds::ReplayRequest;
use marquee_admin::jobs::{JobState, JobStatus};
use marquee_bus::{Bus, BusSettings};
use marquee_runtime::clock::{Clock as _, SystemClock};
use marquee_test_support::events::{published, review};
use marquee_test_support::{DurableBroker, ManualClock};

/// Weekly reviews from two years ago to last week: all older than Kafka's
/// default retention of a week, most far older.
const WEEKS: i64 = 100;

fn url(week: i64) -> String {
    format!("https://example.org/reviews/old-{week}")
}

/// Which of the old reviews `feed` holds.
fn old_reviews_in(feed: &str) -> Vec<i64> {
    (0..WEEKS)
        .filter(|week| feed.contains(&format!("\"{}\"", url(*week))))
        .collect()
}

/// A plain test with its own runtime, dropped before the broker stops (the
/// Kafka consumers close against a broker that still answers).
#[test]
fn a_rebuild_on_kafka_restores_every_review_ever_published() {
    let broker = DurableBroker::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(rebuild_restores_everything(&broker.address));
    drop(runtime);
    drop(broker);
}

async fn rebuild_restores_everything(brokers: &str) {
    // Each record stamped with its review's publication, as a producer
    // whose clock read that time would have stamped it.
    let first = DateTime::from_timestamp_millis(
        (SystemClock.now() - Duration::weeks(WEEKS + 1)).timestamp_millis(),
    )
    .unwrap();
    let clock = ManualClock::new(first);
    let producer = Bus::connect_with_clock(&BusSettings::kafka(brokers), clock.shared())
        .await
        .unwrap();
    producer.ensure_marquee_topics(1).await.unwrap();
    assert_eq!(
        producer.history_warnings(&marquee_bus::ITEM_TOPICS).await,
        []
    );
    for week in 0..WEEKS {
        let at = first + Duration::weeks(week);
        clock.set(at);
        let mut old = review(&format!("old-{week}"), at);
        old.url = url(week).parse().unwrap();
        producer
            .publish_event(&published("test", old))
            .await
            .unwrap();
    }

    let demo = Demo::start_with(|settings| {
        settings.bus = BusSettings::kafka(brokers);
        settings.bus.partitions = 1;
        settings.feeds.item_limit = 1_000;
    })
    .await;
    let every_week: Vec<i64> = (0..WEEKS).collect();
    demo.until("/feeds/all.json", None, |feed| {
        old_reviews_in(feed) == every_week
    })
    .await;

    let rebuild = ReplayRequest {
        rebuild: true,
        ..ReplayRequest::default()
    };
    let started = demo
        .http
        .post(format!("{}/admin/feeds/replay", demo.base))
        .bearer_auth(TOKEN)
        .json(&rebuild)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let job: JobStatus = serde_json::from_str(
        &demo
            .until(&location, Some(TOKEN), |job| {
                serde_json::from_str::<JobStatus>(job).unwrap().state != JobState::Running
            })
            .await,
    )
    .unwrap();
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    assert_eq!(Some(job.processed), job.total, "{job:?}");
    assert!(job.processed >= u64::try_from(WEEKS).unwrap(), "{job:?}");

    let rebuilt = demo.get("/feeds/all.json", None).await.1;
    assert_eq!(old_reviews_in(&rebuilt), every_week, "{rebuilt}");
}
