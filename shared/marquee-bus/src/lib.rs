//! The event bus: publish and subscribe through one small interface, over
//! Kafka (rdkafka, for distributed runs) or an embedded append-only SQLite log
//! (for the one-process default). Handlers are written once and never learn
//! which transport runs them.
//!
//! Semantics shared by both transports:
//! - order is kept per partition, and a key always maps to the same partition;
//! - at least once: a consumer's position advances only after its handler
//!   succeeded, so a crash redelivers what was unfinished (handlers must be
//!   idempotent);
//! - a transient failure is retried with exponential backoff; a poison message
//!   (undecodable, or still failing after the last attempt) goes to
//!   [`topics::DEAD_LETTERS`] with headers saying why and from where, and the
//!   rest keeps flowing.
//!
//! The item topics (`reviews`, `screenings`) keep every event for ever, so a
//! replay restores everything ever published ([`retention`] says why not
//! compaction); [`Bus::ensure_marquee_topics`] creates them so and warns
//! about existing ones that would lose history.

mod delivery;
mod embedded;
mod history;
mod kafka;
pub mod retention;
mod settings;

use std::future::Future;

use marquee_events::{Envelope, EventData, topics};
use marquee_runtime::clock::{SharedClock, SystemClock};
use tokio_util::sync::CancellationToken;

pub use delivery::{DeadLetter, RetryPolicy, dead_letter_header};
pub use embedded::EmbeddedBus;
pub use history::{Logged, PartitionLag, Position};
pub use kafka::KafkaBus;
pub use retention::{HistoryWarning, ITEM_TOPICS};
pub use settings::{BusSettings, EmbeddedSettings, KafkaSettings, Transport};

/// A message to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Destination topic.
    pub topic: String,
    /// Partitioning key: the item id.
    pub key: String,
    /// Headers, e.g. CloudEvents attributes.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub payload: Vec<u8>,
}

impl Record {
    /// The record carrying an event, on its topic, keyed by its item id.
    pub fn from_event<T: EventData>(event: &Envelope<T>) -> Self {
        let wire = event.to_wire();
        Self {
            topic: T::TOPIC.to_owned(),
            key: wire.key,
            headers: wire.headers,
            payload: wire.body,
        }
    }
}

/// A message received by a consumer.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Topic it was read from.
    pub topic: String,
    /// Partition it was read from.
    pub partition: i32,
    /// Its offset in that partition.
    pub offset: i64,
    /// Partitioning key.
    pub key: Option<String>,
    /// Headers; values that are not UTF-8 are replaced lossily.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub payload: Vec<u8>,
}

impl Message {
    /// The message a consumer would receive for `event` at `offset` of
    /// partition 0, keyed by its item id: what a test hands a handler in
    /// place of a transport.
    pub fn delivered<T: EventData>(event: &Envelope<T>, offset: i64) -> Self {
        let record = Record::from_event(event);
        Self {
            topic: record.topic,
            partition: 0,
            offset,
            key: Some(record.key),
            headers: record.headers,
            payload: record.payload,
        }
    }

    /// The first header called `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.as_str())
    }

    /// Decodes the message as a CloudEvent of family `T`; a failure is poison.
    pub fn decode<T: marquee_events::EventFamily>(&self) -> Result<Envelope<T>, HandlerError> {
        Envelope::from_wire(&self.headers, &self.payload)
            .map_err(|e| HandlerError::Poison(anyhow::anyhow!("undecodable event: {e}")))
    }
}

/// What a handler says when it could not handle a message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying: a database or network hiccup.
    #[error("transient failure: {0:#}")]
    Transient(anyhow::Error),
    /// Will never succeed: dead-letter it at once.
    #[error("poison message: {0:#}")]
    Poison(anyhow::Error),
}

impl HandlerError {
    /// [`HandlerError::Transient`] of any error, for `map_err`.
    pub fn transient(error: impl Into<anyhow::Error>) -> Self {
        Self::Transient(error.into())
    }
}

/// Handles one message at a time; must be idempotent (keyed by event id),
/// since delivery is at least once. The bus calls it inside a `handle` span
/// that names the message's topic, partition and offset.
pub trait Handler: Send + Sync + 'static {
    /// Handles `message`; `Ok` lets the consumer move past it.
    fn handle(&self, message: &Message) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// Counts a message the transport durably accepted.
fn published(topic: &str) {
    metrics::counter!("marquee_events_published_total", "topic" => topic.to_owned()).increment(1);
}

/// Who consumes what.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Consumer group: consumers of one group share the partitions.
    pub group: String,
    /// Topics to read.
    pub topics: Vec<String>,
    /// Retries before a failing message is dead-lettered.
    pub retry: RetryPolicy,
}

impl Subscription {
    /// A subscription with the default retry policy.
    pub fn new(group: impl Into<String>, topics: &[&str]) -> Self {
        Self {
            group: group.into(),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            retry: RetryPolicy::default(),
        }
    }
}

/// Why the bus failed.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The broker or log could not be reached or configured.
    #[error("cannot connect to the event bus ({transport}): {reason}")]
    Connect {
        /// Which transport.
        transport: Transport,
        /// What went wrong.
        reason: String,
    },
    /// A record was not durably accepted.
    #[error("publishing to `{topic}` failed{}: {reason}", if *.retriable { " (retriable)" } else { "" })]
    Publish {
        /// Destination topic.
        topic: String,
        /// What went wrong.
        reason: String,
        /// Whether the same publish may succeed later.
        retriable: bool,
    },
    /// The topic does not exist; topics are created up front.
    #[error("topic `{0}` does not exist: create it first (`ensure_topics`)")]
    UnknownTopic(String),
    /// What an operator asked for is not in the log.
    #[error("{0}")]
    NotFound(String),
    /// A replay's handler still failed on a message after the last attempt.
    #[error(
        "replay stopped at `{topic}` partition {partition} offset {offset}: the handler \
         failed {attempts} times ({reason}); fix the cause and replay again"
    )]
    Replay {
        /// Topic of the message.
        topic: String,
        /// Its partition.
        partition: i32,
        /// Its offset.
        offset: i64,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        reason: String,
    },
    /// Consuming failed in a way the consumer cannot ride out.
    #[error("consumer of group `{group}` failed: {reason}")]
    Consume {
        /// Consumer group.
        group: String,
        /// What went wrong.
        reason: String,
    },
}

/// The event bus, over one of two transports.
#[derive(Clone)]
pub enum Bus {
    /// A Kafka cluster (any Kafka-protocol broker).
    Kafka(KafkaBus),
    /// The embedded SQLite log.
    Embedded(EmbeddedBus),
}

impl Bus {
    /// Connects the transport `settings` choose; messages are stamped with
    /// the system clock.
    pub async fn connect(settings: &BusSettings) -> Result<Self, BusError> {
        Self::connect_with_clock(settings, SystemClock::shared()).await
    }

    /// [`Bus::connect`], stamping each message's publish time with `clock`
    /// (the embedded log's `published_at`, the Kafka record's timestamp),
    /// which reading from a [`Position::Time`] compares with.
    pub async fn connect_with_clock(
        settings: &BusSettings,
        clock: SharedClock,
    ) -> Result<Self, BusError> {
        Ok(match settings.transport {
            Transport::Kafka => Self::Kafka(KafkaBus::connect(&settings.kafka, clock)?),
            Transport::Embedded => {
                Self::Embedded(EmbeddedBus::open(&settings.embedded, clock).await?)
            }
        })
    }

    /// Creates the topics that do not exist yet, with `partitions` each and
    /// the broker's default retention.
    pub async fn ensure_topics(&self, topics: &[&str], partitions: i32) -> Result<(), BusError> {
        match self {
            Self::Kafka(bus) => bus.ensure_topics(topics, partitions, &[]).await,
            Self::Embedded(bus) => bus.ensure_topics(topics, partitions).await,
        }
    }

    /// Creates the item `topics` that do not exist yet, keeping every event
    /// for ever (`retention.ms=-1`, `retention.bytes=-1`,
    /// `cleanup.policy=delete`), then checks them all: each existing topic
    /// that would lose history is logged (with the command that fixes it)
    /// and returned. A warning, not an error: the bus works either way.
    pub async fn ensure_item_topics(
        &self,
        topics: &[&str],
        partitions: i32,
    ) -> Result<Vec<HistoryWarning>, BusError> {
        if let Self::Kafka(bus) = self {
            bus.ensure_topics(topics, partitions, &retention::KEEP_FOREVER)
                .await?;
        } else {
            self.ensure_topics(topics, partitions).await?;
        }
        let warnings = self.history_warnings(topics).await;
        for warning in &warnings {
            warning.log();
        }
        Ok(warnings)
    }

    /// Which of the item `topics` would lose history, as the broker
    /// describes them now; never any on the embedded log, which deletes
    /// nothing. For readiness details and the console.
    pub async fn history_warnings(&self, topics: &[&str]) -> Vec<HistoryWarning> {
        match self {
            Self::Kafka(bus) => bus.verify_history(topics).await,
            Self::Embedded(_) => Vec::new(),
        }
    }

    /// Creates every topic Marquee uses, with `partitions` each: the item
    /// topics keeping their history ([`Bus::ensure_item_topics`], warnings
    /// logged), the dead letters with the broker's default retention.
    pub async fn ensure_marquee_topics(&self, partitions: i32) -> Result<(), BusError> {
        self.ensure_item_topics(&ITEM_TOPICS, partitions).await?;
        self.ensure_topics(&[topics::DEAD_LETTERS], partitions)
            .await
    }

    /// Publishes `record` and waits until it is durably accepted.
    pub async fn publish(&self, record: Record) -> Result<(), BusError> {
        match self {
            Self::Kafka(bus) => bus.publish(record).await,
            Self::Embedded(bus) => bus.publish(record).await,
        }
    }

    /// Publishes `records` together, handed to the transport in their
    /// order, and waits until each is durably accepted or refused, its
    /// outcome at its index: on the embedded log they share transactions,
    /// on Kafka produce requests.
    pub async fn publish_all(&self, records: Vec<Record>) -> Vec<Result<(), BusError>> {
        match self {
            Self::Kafka(bus) => {
                futures::future::join_all(records.into_iter().map(|record| bus.publish(record)))
                    .await
            }
            Self::Embedded(bus) => bus.publish_all(records).await,
        }
    }

    /// Publishes an event on its topic, keyed by its item id.
    pub async fn publish_event<T: EventData>(&self, event: &Envelope<T>) -> Result<(), BusError> {
        self.publish(Record::from_event(event)).await
    }

    /// Runs `handler` over `subscription` until `shutdown` is cancelled.
    pub async fn consume<H: Handler>(
        &self,
        subscription: Subscription,
        handler: H,
        shutdown: CancellationToken,
    ) -> Result<(), BusError> {
        // From zero, so an alert's `increase()` sees the first dead letter.
        for topic in &subscription.topics {
            metrics::counter!("marquee_dead_letters_total", "topic" => topic.clone(), "group" => subscription.group.clone()).increment(0);
        }
        match self {
            Self::Kafka(bus) => bus.consume(subscription, handler, shutdown).await,
            Self::Embedded(bus) => bus.consume(subscription, handler, shutdown).await,
        }
    }

    /// Whether the broker or log answers now; for readiness probes.
    pub async fn check(&self) -> Result<(), BusError> {
        match self {
            Self::Kafka(bus) => bus.check().await,
            Self::Embedded(bus) => bus.check().await,
        }
    }

    /// A short description for logs and test output, e.g. the broker address.
    pub fn describe(&self) -> String {
        match self {
            Self::Kafka(bus) => bus.describe(),
            Self::Embedded(bus) => bus.describe(),
        }
    }
}
