//! The item topics keep their whole history: created so, described back
//! from the broker, warned about when an existing one would lose events, and
//! replayed in full however old the events are.
//!
//! tansu (the test broker) answers DescribeConfigs with the settings a topic
//! was created with, and never deletes by retention; so on it these cases
//! show the settings are right and that a replay restores every event ever
//! published, not that a broker honouring `retention.ms` keeps them.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration};
use marquee_bus::{Bus, HistoryWarning, Position, Record};
use marquee_runtime::clock::{Clock as _, SystemClock};
use marquee_test_support::ManualClock;
use marquee_test_support::events::{published, review};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;

use crate::harness::{Recorder, TestBus};

/// Kafka's default `retention.ms`: a week.
const A_WEEK_MS: &str = "604800000";

fn admin() -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", marquee_test_support::kafka_brokers())
        .create()
        .unwrap()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

/// The settings the broker reports for `topic`, read with rdkafka directly
/// (not through the bus's own check).
async fn described(topic: &str) -> HashMap<String, Option<String>> {
    let answers = admin()
        .describe_configs(&[ResourceSpecifier::Topic(topic)], &AdminOptions::new())
        .await
        .unwrap();
    let resource = answers.into_iter().next().unwrap().unwrap();
    resource
        .entries
        .into_iter()
        .map(|entry| (entry.name, entry.value))
        .collect()
}

/// Log lines written while `work` runs, as the process's log would show them.
async fn logged<T>(work: impl std::future::Future<Output = T>) -> (T, String) {
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);
    impl Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // Current-thread runtime: the work runs on this thread, under this subscriber.
    let guard = tracing::subscriber::set_default(subscriber);
    let result = work.await;
    drop(guard);
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    (result, text)
}

#[tokio::test]
async fn a_new_item_topic_is_created_keeping_every_event_for_ever() {
    let test = TestBus::kafka().await;
    let topic = unique("items");
    let warnings = test.bus.ensure_item_topics(&[&topic], 2).await.unwrap();
    assert_eq!(warnings, [], "{topic}");

    let settings = described(&topic).await;
    for (setting, wanted) in [
        ("cleanup.policy", "delete"),
        ("retention.ms", "-1"),
        ("retention.bytes", "-1"),
    ] {
        assert_eq!(
            settings.get(setting).cloned().flatten().as_deref(),
            Some(wanted),
            "{setting} of {topic}: {settings:?}"
        );
    }
    // Ensuring again changes nothing and finds nothing wrong.
    assert_eq!(test.bus.ensure_item_topics(&[&topic], 2).await.unwrap(), []);
}

#[tokio::test]
async fn an_existing_item_topic_kept_for_a_week_is_warned_about_at_start() {
    let test = TestBus::kafka().await;
    let topic = unique("items");
    let kept_a_week = NewTopic::new(&topic, 1, TopicReplication::Fixed(1))
        .set("cleanup.policy", "delete")
        .set("retention.ms", A_WEEK_MS)
        .set("retention.bytes", "-1");
    let created = admin()
        .create_topics(&[kept_a_week], &AdminOptions::new())
        .await
        .unwrap();
    assert!(created.iter().all(Result::is_ok), "{created:?}");

    let (warnings, log) = logged(test.bus.ensure_item_topics(&[&topic], 1)).await;
    let warnings = warnings.unwrap();
    assert!(
        matches!(
            warnings.as_slice(),
            [HistoryWarning::LosesHistory { topic: t, setting, value, .. }]
                if *t == topic && setting == "retention.ms" && value == A_WEEK_MS
        ),
        "{warnings:?}"
    );
    // One line: the topic, the setting and its value, the command to fix it.
    let lines: Vec<&str> = log.lines().filter(|line| line.contains(&topic)).collect();
    assert_eq!(lines.len(), 1, "{log}");
    for wanted in [
        "WARN",
        "retention.ms=604800000",
        &format!("--entity-name {topic} --add-config retention.ms=-1"),
        &format!("rpk topic alter-config {topic} --set retention.ms=-1"),
    ] {
        assert!(lines[0].contains(wanted), "{wanted} in {}", lines[0]);
    }
    // The topic is left as the operator made it: fixing it is their call.
    assert_eq!(
        described(&topic).await["retention.ms"].as_deref(),
        Some(A_WEEK_MS)
    );
    // Readiness and the console ask the same question later.
    assert_eq!(test.bus.history_warnings(&[&topic]).await, warnings);
}

#[tokio::test]
async fn a_topic_the_broker_does_not_know_cannot_be_verified() {
    let test = TestBus::kafka().await;
    let topic = unique("missing");
    let warnings = test.bus.history_warnings(&[&topic]).await;
    assert!(
        matches!(
            warnings.as_slice(),
            [HistoryWarning::Unverified { topic: t, .. }] if *t == topic
        ),
        "{warnings:?}"
    );
    assert!(
        warnings[0].to_string().starts_with(&format!(
            "could not verify that topic `{topic}` keeps its history: "
        )),
        "{}",
        warnings[0]
    );
}

/// How many reviews a replay must restore: a little under two years of
/// weekly ones, every one older than Kafka's default retention.
const REVIEWS: i64 = 100;

/// On both transports: reviews published over the past two years (each
/// stamped with its publication time, as the producer's clock stamps the
/// Kafka record) are all replayed.
pub async fn a_replay_restores_every_event_ever_published(test: TestBus) {
    let topic = unique("items");
    assert_eq!(test.bus.ensure_item_topics(&[&topic], 2).await.unwrap(), []);
    // Whole milliseconds, as Kafka stores a record's timestamp.
    let first = DateTime::from_timestamp_millis(
        (SystemClock.now() - Duration::weeks(REVIEWS + 1)).timestamp_millis(),
    )
    .unwrap();
    let clock = ManualClock::new(first);
    let producer = Bus::connect_with_clock(&test.settings, clock.shared())
        .await
        .unwrap();
    let mut ids = Vec::new();
    for week in 0..REVIEWS {
        let at = first + Duration::weeks(week);
        clock.set(at);
        let id = format!("cms-{week}");
        let mut record = Record::from_event(&published("test", review(&id, at)));
        record.topic.clone_from(&topic);
        producer.publish(record).await.unwrap();
        ids.push(id);
    }

    let kept = test
        .bus
        .read(&topic, Position::Beginning, usize::MAX)
        .await
        .unwrap();
    let oldest = kept.iter().filter_map(|logged| logged.timestamp).min();
    assert_eq!(oldest, Some(first), "the log keeps the publication times");

    let recorder = Recorder::default();
    let replayed = test
        .bus
        .replay(&[&topic], Position::Beginning, &recorder, |_, _| {})
        .await
        .unwrap();
    assert_eq!(replayed, u64::try_from(REVIEWS).unwrap());
    let mut keys: Vec<String> = recorder
        .handled
        .lock()
        .unwrap()
        .iter()
        .map(|message| message.key.clone().unwrap())
        .collect();
    keys.sort_by_key(|key| key[4..].parse::<i64>().unwrap());
    assert_eq!(keys, ids);
}

#[tokio::test]
async fn a_topic_on_the_brokers_defaults_is_never_taken_for_one_keeping_history() {
    let test = TestBus::kafka().await;
    // Created as the dead letters are: no settings of its own.
    let topic = test.topic(1).await;
    let warnings = test.bus.history_warnings(&[&topic]).await;
    // Kafka reports its default `retention.ms=604800000`; tansu reports no
    // setting it was not given, which cannot be verified. Either is a warning.
    assert!(!warnings.is_empty(), "{topic}");
    assert!(
        warnings.iter().all(|warning| warning.topic() == topic),
        "{warnings:?}"
    );
}
