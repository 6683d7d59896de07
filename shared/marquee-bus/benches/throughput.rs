//! 1 KB events produced and consumed through the bus on each transport, beside
//! raw rdkafka produce + consume on the same broker in the same run.
//!
//! `scripts/bench` starts a broker and runs this; alone:
//! `TEST_KAFKA_BROKERS=127.0.0.1:9092 cargo bench -p marquee-bus --bench throughput`.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use marquee_bus::{Bus, BusSettings, Handler, HandlerError, Message, Record, Subscription};
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

const EVENTS: usize = 20_000;
const EVENT_BYTES: usize = 1024;
/// Publishes in flight at once, the same for the bus and raw rdkafka.
const IN_FLIGHT: usize = 1_000;

const ROUNDS: usize = 3;

#[derive(Clone, Copy)]
struct Rates {
    produce: f64,
    consume: f64,
}

/// Median produce and consume rates, each taken on its own.
fn median(mut rounds: Vec<Rates>) -> Rates {
    let middle = rounds.len() / 2;
    rounds.sort_by(|a, b| a.produce.total_cmp(&b.produce));
    let produce = rounds[middle].produce;
    rounds.sort_by(|a, b| a.consume.total_cmp(&b.consume));
    Rates {
        produce,
        consume: rounds[middle].consume,
    }
}

#[tokio::main]
async fn main() {
    let brokers = marquee_test_support::kafka_brokers();
    let payload = vec![b'x'; EVENT_BYTES];

    let kafka_settings = BusSettings::kafka(&brokers);
    // Interleaved rounds, so neither path gets the warmer broker.
    let (mut raw, mut kafka, mut embedded) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        raw.push(raw_rdkafka(&brokers, &payload).await);
        kafka.push(through_bus(kafka_settings.clone(), &payload).await);
        let dir = tempfile::tempdir().unwrap();
        let embedded_settings = BusSettings::embedded(dir.path().join("bench.sqlite"));
        embedded.push(through_bus(embedded_settings, &payload).await);
    }
    let (raw, kafka, embedded) = (median(raw), median(kafka), median(embedded));

    println!(
        "{EVENTS} events of {EVENT_BYTES} B, {IN_FLIGHT} publishes in flight, broker at {brokers}\n"
    );
    println!(
        "| path | produce (events/s) | consume (events/s) | produce vs raw | consume vs raw |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (name, rates) in [
        ("raw rdkafka", &raw),
        ("bus, Kafka transport", &kafka),
        ("bus, embedded transport", &embedded),
    ] {
        println!(
            "| {name} | {:.0} | {:.0} | {:.2}x | {:.2}x |",
            rates.produce,
            rates.consume,
            rates.produce / raw.produce,
            rates.consume / raw.consume
        );
    }
}

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

async fn through_bus(settings: BusSettings, payload: &[u8]) -> Rates {
    let bus = Bus::connect(&settings).await.unwrap();
    let topic = format!("bench-{}", uuid::Uuid::new_v4());
    bus.ensure_topics(&[&topic], 3).await.unwrap();
    bus.ensure_marquee_topics(1).await.unwrap();
    // Connections and metadata first, outside the timing.
    bus.publish(Record {
        topic: topic.clone(),
        key: "warm-up".into(),
        headers: Vec::new(),
        payload: payload.to_vec(),
    })
    .await
    .unwrap();

    let started = Instant::now();
    futures::stream::iter(0..EVENTS)
        .map(|n| {
            bus.publish(Record {
                topic: topic.clone(),
                key: format!("item-{}", n % 100),
                headers: vec![("ce_id".into(), n.to_string())],
                payload: payload.to_vec(),
            })
        })
        .buffer_unordered(IN_FLIGHT)
        .for_each(|result| async { result.unwrap() })
        .await;
    let produce = rate(EVENTS, started.elapsed());

    let counter = Counter::default();
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let consumer = tokio::spawn({
        let (bus, counter, shutdown) = (bus.clone(), counter.clone(), shutdown.clone());
        async move {
            bus.consume(Subscription::new("bench", &[&topic]), counter, shutdown)
                .await
                .unwrap();
        }
    });
    counter.wait_for(EVENTS + 1).await;
    let consume = rate(EVENTS, started.elapsed());
    shutdown.cancel();
    consumer.await.unwrap();
    Rates { produce, consume }
}

async fn raw_rdkafka(brokers: &str, payload: &[u8]) -> Rates {
    let bus = Bus::connect(&BusSettings::kafka(brokers)).await.unwrap();
    let topic = format!("bench-raw-{}", uuid::Uuid::new_v4());
    bus.ensure_topics(&[&topic], 3).await.unwrap();

    // The same producer settings the bus uses: idempotent, acks=all.
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    producer
        .send(
            FutureRecord::to(&topic).key("warm-up").payload(payload),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    let started = Instant::now();
    futures::stream::iter(0..EVENTS)
        .map(|n| {
            let producer = &producer;
            let topic = &topic;
            async move {
                let key = format!("item-{}", n % 100);
                let record = FutureRecord::to(topic).key(&key).payload(payload);
                producer.send(record, Duration::from_secs(30)).await
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .for_each(|result| async {
            result.unwrap();
        })
        .await;
    let produce = rate(EVENTS, started.elapsed());

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "bench-raw")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "10")
        .create()
        .unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    let started = Instant::now();
    for _ in 0..=EVENTS {
        consumer.recv().await.unwrap();
    }
    let consume = rate(EVENTS, started.elapsed());
    Rates { produce, consume }
}

/// Counts handled events and wakes a waiter at a target.
#[derive(Clone, Default)]
struct Counter {
    seen: Arc<AtomicUsize>,
    changed: Arc<Notify>,
}

impl Counter {
    async fn wait_for(&self, target: usize) {
        loop {
            let notified = self.changed.notified();
            if self.seen.load(Ordering::Relaxed) >= target {
                return;
            }
            notified.await;
        }
    }
}

impl Handler for Counter {
    async fn handle(&self, _message: &Message) -> Result<(), HandlerError> {
        self.seen.fetch_add(1, Ordering::Relaxed);
        self.changed.notify_waiters();
        Ok(())
    }
}
