//! The Kafka transport, over rdkafka.
//!
//! Producer: idempotent, `acks=all`, every publish awaits its delivery report.
//! Consumer: offsets are *stored* only after the handler finished (or the
//! message was dead-lettered) and auto-committed from there, the
//! at-least-once pattern of rust-rdkafka's `at_least_once` example.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use marquee_runtime::clock::SharedClock;
use rdkafka::Message as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::{ClientConfig, FromClientConfig};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use crate::delivery::{Outcome, deliver};
use crate::history::Range;
use crate::retention::{HistoryWarning, judge};
use crate::{
    BusError, Handler, KafkaSettings, Logged, Message, PartitionLag, Position, Record, RetryPolicy,
    Subscription, Transport,
};

const TRANSPORT: Transport = Transport::Kafka;
/// How long a readiness or admin call may wait for the cluster.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A Kafka cluster. Clones share one producer.
#[derive(Clone)]
pub struct KafkaBus {
    inner: Arc<Inner>,
}

struct Inner {
    settings: KafkaSettings,
    producer: FutureProducer,
    /// Creates and describes topics; one for the process, since readiness
    /// probes describe the item topics every few seconds.
    admin: AdminClient<DefaultClientContext>,
    /// Stamps each record's timestamp (`CreateTime`).
    clock: SharedClock,
}

impl KafkaBus {
    /// Creates the producer; librdkafka connects lazily, so this succeeds
    /// while the broker is down and publishing waits for it. `clock` stamps
    /// each record's timestamp.
    pub fn connect(settings: &KafkaSettings, clock: SharedClock) -> Result<Self, BusError> {
        let producer = settings
            .client_config(&[
                ("enable.idempotence", "true"),
                ("acks", "all"),
                // Short batching delay: events are small and latency matters
                // more than the last bit of throughput.
                ("linger.ms", "5"),
            ])
            .create()
            .map_err(connect_error)?;
        let admin = settings
            .client_config(&[])
            .create()
            .map_err(connect_error)?;
        Ok(Self {
            inner: Arc::new(Inner {
                settings: settings.clone(),
                producer,
                admin,
                clock,
            }),
        })
    }

    /// Creates the `topics` that do not exist yet, with `config` (topic
    /// settings such as `retention.ms`); existing topics are left as they are.
    pub(crate) async fn ensure_topics(
        &self,
        topics: &[&str],
        partitions: i32,
        config: &[(&str, &str)],
    ) -> Result<(), BusError> {
        let admin = &self.inner.admin;
        let replication = self.inner.settings.replication_factor;
        let new_topics: Vec<NewTopic> = topics
            .iter()
            .map(|name| {
                config.iter().fold(
                    NewTopic::new(name, partitions, TopicReplication::Fixed(replication)),
                    |topic, (key, value)| topic.set(key, value),
                )
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
        let results = admin
            .create_topics(&new_topics, &options)
            .await
            .map_err(connect_error)?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(BusError::Connect {
                        transport: TRANSPORT,
                        reason: format!("creating topic `{topic}` failed: {code}"),
                    });
                }
            }
        }
        Ok(())
    }

    /// Describes each of `topics` (DescribeConfigs) and says which would lose
    /// history; a broker that cannot say is an [`HistoryWarning::Unverified`]
    /// with its error, never a failure.
    pub(crate) async fn verify_history(&self, topics: &[&str]) -> Vec<HistoryWarning> {
        let brokers = &self.inner.settings.brokers;
        let unverified = |topic: &str, reason: String| HistoryWarning::Unverified {
            topic: topic.to_owned(),
            reason,
        };
        let admin = &self.inner.admin;
        let options = AdminOptions::new().request_timeout(Some(ADMIN_TIMEOUT));
        let mut warnings = Vec::new();
        // One topic per request, so each answer is known to be its topic's.
        for topic in topics {
            let described = admin
                .describe_configs(&[ResourceSpecifier::Topic(topic)], &options)
                .await;
            match described.as_deref() {
                Ok([Ok(resource)]) => {
                    let reported: HashMap<String, Option<String>> = resource
                        .entries
                        .iter()
                        .map(|entry| (entry.name.clone(), entry.value.clone()))
                        .collect();
                    warnings.extend(judge(topic, brokers, &reported));
                }
                Ok([Err(code)]) => warnings.push(unverified(topic, code.to_string())),
                Ok(other) => warnings.push(unverified(
                    topic,
                    format!("DescribeConfigs answered {} resources for one", other.len()),
                )),
                Err(error) => warnings.push(unverified(topic, error.to_string())),
            }
        }
        warnings
    }

    pub(crate) async fn publish(&self, record: Record) -> Result<(), BusError> {
        let headers = record.headers.iter().fold(
            OwnedHeaders::new_with_capacity(record.headers.len()),
            |headers, (key, value)| {
                headers.insert(Header {
                    key,
                    value: Some(value.as_bytes()),
                })
            },
        );
        let future_record = FutureRecord::to(&record.topic)
            .key(&record.key)
            .payload(&record.payload)
            .headers(headers)
            .timestamp(self.inner.clock.now().timestamp_millis());
        // The timeout bounds waiting for room in a full local queue; delivery
        // itself is bounded by `message.timeout.ms`.
        self.inner
            .producer
            .send(future_record, Timeout::After(Duration::from_secs(30)))
            .await
            .map(|_| crate::published(&record.topic))
            .map_err(|(error, _)| BusError::Publish {
                topic: record.topic.clone(),
                retriable: is_retriable(&error),
                reason: error.to_string(),
            })
    }

    pub(crate) async fn consume<H: Handler>(
        &self,
        subscription: Subscription,
        handler: H,
        shutdown: CancellationToken,
    ) -> Result<(), BusError> {
        let group = subscription.group.as_str();
        let consume_error = |error: KafkaError| BusError::Consume {
            group: group.to_owned(),
            reason: error.to_string(),
        };
        let consumer: StreamConsumer = self
            .inner
            .settings
            .client_config(&[
                ("group.id", group),
                ("enable.auto.commit", "true"),
                ("enable.auto.offset.store", "false"),
                ("auto.offset.reset", "earliest"),
                // librdkafka's 500 ms default dominates end-to-end latency
                // when a topic is quiet; 10 ms costs little.
                ("fetch.wait.max.ms", "10"),
                // A consumer killed without leaving holds its partitions
                // until its session lapses (10 s, not the default 45 s), or,
                // on brokers that wait out a rebalance instead (tansu),
                // until the rebalance timeout, which librdkafka takes from
                // the poll interval: 60 s, not 5 minutes, still above the
                // ~33 s a message's retries can take (RetryPolicy).
                ("session.timeout.ms", "10000"),
                ("max.poll.interval.ms", "60000"),
            ])
            .create()
            .map_err(consume_error)?;
        let topics: Vec<&str> = subscription.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics).map_err(consume_error)?;
        tracing::info!(group, ?topics, brokers = %self.inner.settings.brokers, "Consuming from Kafka");

        loop {
            let received = tokio::select! {
                () = shutdown.cancelled() => break,
                received = consumer.recv() => received,
            };
            let borrowed = match received {
                Ok(message) => message,
                Err(error) => {
                    tracing::warn!(group, %error, "Kafka consumer error; continuing");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let message = to_message(&borrowed);
            match deliver(&handler, &message, group, subscription.retry, &shutdown).await {
                Ok(Outcome::Done) => {}
                Ok(Outcome::Interrupted) => break,
                Err(dead_letter) => {
                    if !self.publish_until_accepted(dead_letter, &shutdown).await {
                        break;
                    }
                }
            }
            // Fails when a rebalance took the partition away meanwhile: the new
            // owner then redelivers the message, which at-least-once allows.
            if let Err(error) = consumer.store_offset_from_message(&borrowed) {
                tracing::warn!(group, topic = %message.topic, partition = message.partition,
                    offset = message.offset, %error, "Could not store the offset; it will be redelivered");
            }
        }
        // Commit what was stored before leaving, so the next member of the
        // group starts exactly after the last finished message.
        match consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => Ok(()),
            Err(error) => Err(consume_error(error)),
        }
    }

    /// Publishes a dead letter, retrying while the broker is unavailable;
    /// false if shutdown came first.
    async fn publish_until_accepted(&self, record: Record, shutdown: &CancellationToken) -> bool {
        // The consumers' backoff, for as many attempts as it takes.
        let retry = RetryPolicy::default();
        let mut backoff = retry.initial_backoff;
        loop {
            match self.publish(record.clone()).await {
                Ok(()) => return true,
                Err(error) => {
                    tracing::warn!(%error, "Publishing a dead letter failed; retrying");
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return false,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = retry.after(backoff);
        }
    }

    pub(crate) async fn check(&self) -> Result<(), BusError> {
        let producer = self.inner.producer.clone();
        tokio::task::spawn_blocking(move || producer.client().fetch_metadata(None, ADMIN_TIMEOUT))
            .await
            .map_err(|e| BusError::Connect {
                transport: TRANSPORT,
                reason: e.to_string(),
            })?
            .map(drop)
            .map_err(connect_error)
    }

    pub(crate) fn describe(&self) -> String {
        format!("Kafka at {}", self.inner.settings.brokers)
    }

    /// A consumer that joins no group and commits nothing, for reading
    /// history; `group` only names whose committed offsets it may look up.
    fn reader<C: FromClientConfig>(&self, group: &str) -> Result<C, BusError> {
        self.inner
            .settings
            .client_config(&[
                ("group.id", group),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
                ("fetch.wait.max.ms", "10"),
            ])
            .create()
            .map_err(connect_error)
    }

    pub(crate) async fn plan(
        &self,
        topics: &[&str],
        from: Position,
        only: Option<i32>,
    ) -> Result<Vec<Range>, BusError> {
        let consumer: BaseConsumer = self.reader(READER_GROUP)?;
        let topics: Vec<String> = topics.iter().map(|t| (*t).to_owned()).collect();
        blocking(move || {
            let mut ranges = Vec::new();
            for topic in topics {
                let partitions: Vec<i32> = partitions(&consumer, &topic)?
                    .into_iter()
                    .filter(|p| only.is_none_or(|only| only == *p))
                    .collect();
                let by_time = match from {
                    Position::Time(time) => {
                        let mut wanted = TopicPartitionList::new();
                        for partition in &partitions {
                            wanted
                                .add_partition_offset(
                                    &topic,
                                    *partition,
                                    Offset::Offset(time.timestamp_millis()),
                                )
                                .map_err(connect_error)?;
                        }
                        Some(
                            consumer
                                .offsets_for_times(wanted, ADMIN_TIMEOUT)
                                .map_err(connect_error)?,
                        )
                    }
                    _ => None,
                };
                for partition in partitions {
                    let (low, high) = consumer
                        .fetch_watermarks(&topic, partition, ADMIN_TIMEOUT)
                        .map_err(connect_error)?;
                    let start = match (from, &by_time) {
                        (Position::Offset(offset), _) => offset.max(low),
                        (Position::Time(_), Some(found)) => {
                            match found.find_partition(&topic, partition).map(|p| p.offset()) {
                                Some(Offset::Offset(offset)) => offset.max(low),
                                // No message that late.
                                _ => high,
                            }
                        }
                        _ => low,
                    };
                    if start < high {
                        ranges.push(Range {
                            topic: topic.clone(),
                            partition,
                            start,
                            end: high,
                            count: u64::try_from(high - start).unwrap_or(0),
                        });
                    }
                }
            }
            Ok(ranges)
        })
        .await
    }

    pub(crate) async fn scan<F, Fut>(&self, ranges: &[Range], mut visit: F) -> Result<(), BusError>
    where
        F: FnMut(Logged) -> Fut,
        Fut: Future<Output = bool>,
    {
        if ranges.is_empty() {
            return Ok(());
        }
        let consumer: StreamConsumer = self.reader(READER_GROUP)?;
        let mut assignment = TopicPartitionList::new();
        let mut ends = HashMap::new();
        for range in ranges {
            assignment
                .add_partition_offset(&range.topic, range.partition, Offset::Offset(range.start))
                .map_err(connect_error)?;
            ends.insert((range.topic.clone(), range.partition), range.end);
        }
        consumer.assign(&assignment).map_err(connect_error)?;
        while !ends.is_empty() {
            let received = tokio::time::timeout(SCAN_STALL, consumer.recv()).await;
            let borrowed = match received {
                Ok(Ok(message)) => message,
                Ok(Err(error)) => return Err(connect_error(error)),
                Err(_) => {
                    return Err(BusError::Connect {
                        transport: TRANSPORT,
                        reason: format!(
                            "reading history stalled for {}s with {} partitions unfinished",
                            SCAN_STALL.as_secs(),
                            ends.len()
                        ),
                    });
                }
            };
            let key = (borrowed.topic().to_owned(), borrowed.partition());
            let Some(end) = ends.get(&key).copied() else {
                continue;
            };
            if borrowed.offset() + 1 >= end {
                ends.remove(&key);
            }
            if borrowed.offset() >= end {
                continue;
            }
            let logged = Logged::stamped(to_message(&borrowed), borrowed.timestamp().to_millis());
            if !visit(logged).await {
                return Ok(());
            }
        }
        Ok(())
    }

    pub(crate) async fn lag(
        &self,
        group: &str,
        topics: &[&str],
    ) -> Result<Vec<PartitionLag>, BusError> {
        let consumer: BaseConsumer = self.reader(group)?;
        let group = group.to_owned();
        let topics: Vec<String> = topics.iter().map(|t| (*t).to_owned()).collect();
        blocking(move || {
            let mut lags = Vec::new();
            for topic in topics {
                let mut wanted = TopicPartitionList::new();
                let partitions = partitions(&consumer, &topic)?;
                for partition in &partitions {
                    wanted.add_partition(&topic, *partition);
                }
                let committed = consumer
                    .committed_offsets(wanted, ADMIN_TIMEOUT)
                    .map_err(connect_error)?;
                for partition in partitions {
                    let (low, high) = consumer
                        .fetch_watermarks(&topic, partition, ADMIN_TIMEOUT)
                        .map_err(connect_error)?;
                    let committed = match committed
                        .find_partition(&topic, partition)
                        .map(|p| p.offset())
                    {
                        Some(Offset::Offset(offset)) => Some(offset),
                        _ => None,
                    };
                    lags.push(PartitionLag {
                        group: group.clone(),
                        topic: topic.clone(),
                        partition,
                        committed,
                        end: high,
                        lag: (high - committed.unwrap_or(low)).max(0),
                    });
                }
            }
            Ok(lags)
        })
        .await
    }
}

/// Names the history readers' client; they never join it.
const READER_GROUP: &str = "marquee-history-reader";
/// How long reading history may see nothing before it gives up.
const SCAN_STALL: Duration = Duration::from_secs(30);

/// The partitions of `topic`; an unknown topic is an error.
fn partitions(consumer: &BaseConsumer, topic: &str) -> Result<Vec<i32>, BusError> {
    let metadata = consumer
        .fetch_metadata(Some(topic), ADMIN_TIMEOUT)
        .map_err(connect_error)?;
    let found = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
        .ok_or_else(|| BusError::UnknownTopic(topic.to_owned()))?;
    Ok(found.partitions().iter().map(|p| p.id()).collect())
}

/// Runs librdkafka's blocking calls off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BusError> + Send + 'static,
) -> Result<T, BusError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| BusError::Connect {
            transport: TRANSPORT,
            reason: e.to_string(),
        })?
}

fn to_message(borrowed: &BorrowedMessage<'_>) -> Message {
    Message {
        topic: borrowed.topic().to_owned(),
        partition: borrowed.partition(),
        offset: borrowed.offset(),
        key: borrowed
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned()),
        headers: borrowed
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|h| {
                        let value = h.value.map(String::from_utf8_lossy).unwrap_or_default();
                        (h.key.to_owned(), value.into_owned())
                    })
                    .collect()
            })
            .unwrap_or_default(),
        payload: borrowed.payload().unwrap_or_default().to_vec(),
    }
}

impl KafkaSettings {
    /// The client configuration: ours, then the operator's `librdkafka` overrides.
    fn client_config(&self, ours: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        for (key, value) in ours {
            config.set(*key, *value);
        }
        for (key, value) in &self.librdkafka {
            config.set(key, value);
        }
        config
    }
}

fn connect_error(error: KafkaError) -> BusError {
    BusError::Connect {
        transport: TRANSPORT,
        reason: error.to_string(),
    }
}

/// Whether a failed publish may succeed if tried again later.
fn is_retriable(error: &KafkaError) -> bool {
    use RDKafkaErrorCode as Code;
    matches!(
        error.rdkafka_error_code(),
        Some(
            Code::MessageTimedOut
                | Code::QueueFull
                | Code::BrokerTransportFailure
                | Code::AllBrokersDown
                | Code::NotEnoughReplicas
                | Code::NotEnoughReplicasAfterAppend
                | Code::LeaderNotAvailable
                | Code::NotLeaderForPartition
                | Code::RequestTimedOut
                | Code::NetworkException
        )
    )
}
