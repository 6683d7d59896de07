//! An embedded log written before messages carried a publish time still
//! opens, keeps its messages, and times the new ones.

use chrono::{TimeZone, Utc};
use marquee_bus::{Bus, BusSettings, Position};
use marquee_runtime::clock::Clock as _;
use marquee_test_support::ManualClock;
use sqlx::sqlite::SqliteConnectOptions;

use crate::harness::record;

/// `bus_messages` as the first releases created it: no `published_at`.
const OLD_SCHEMA: &str = "
CREATE TABLE bus_topics (name TEXT PRIMARY KEY, partitions INTEGER NOT NULL);
CREATE TABLE bus_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    key TEXT,
    headers TEXT NOT NULL,
    payload BLOB NOT NULL
);
INSERT INTO bus_topics VALUES ('reviews', 1);
INSERT INTO bus_messages (topic, partition, key, headers, payload)
    VALUES ('reviews', 0, 'k', '[]', CAST('old' AS BLOB));
";

#[tokio::test]
async fn a_log_from_before_publish_times_opens_and_keeps_its_messages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bus.sqlite");
    let old = sqlx::SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true),
    )
    .await
    .unwrap();
    sqlx::raw_sql(OLD_SCHEMA).execute(&old).await.unwrap();
    old.close().await;

    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap());
    let bus = Bus::connect_with_clock(&BusSettings::embedded(path), clock.shared())
        .await
        .unwrap();
    bus.publish(record("reviews", "k", "new")).await.unwrap();

    let all = bus.read("reviews", Position::Beginning, 10).await.unwrap();
    let read: Vec<_> = all
        .iter()
        .map(|l| (l.message.payload.as_slice(), l.timestamp))
        .collect();
    assert_eq!(
        read,
        [(&b"old"[..], None), (&b"new"[..], Some(clock.now()))],
        "the old message has no time, the new one the bus's clock's"
    );
    let since = bus
        .read("reviews", Position::Time(clock.now()), 10)
        .await
        .unwrap();
    assert_eq!(since.len(), 1);
    assert_eq!(since[0].message.payload, b"new");
}
