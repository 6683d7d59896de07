//! The Kafka transport, over rdkafka.
//!
//! Producer: idempotent, `acks=all`, every publish awaits its delivery report.
//! Consumer: offsets are *stored* only after the handler finished (or the
//! message was dead-lettered) and auto-committed from there, the
//! at-least-once pattern of rust-rdkafka's `at_least_once` example.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::Message as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use tokio_util::sync::CancellationToken;

use crate::delivery::{Outcome, deliver};
use crate::{BusError, Handler, KafkaSettings, Message, Record, Subscription};

const TRANSPORT: &str = "kafka";
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
}

impl KafkaBus {
    /// Creates the producer; librdkafka connects lazily, so this succeeds
    /// while the broker is down and publishing waits for it.
    pub fn connect(settings: &KafkaSettings) -> Result<Self, BusError> {
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
        Ok(Self {
            inner: Arc::new(Inner {
                settings: settings.clone(),
                producer,
            }),
        })
    }

    pub(crate) async fn ensure_topics(
        &self,
        topics: &[&str],
        partitions: i32,
    ) -> Result<(), BusError> {
        let admin: AdminClient<DefaultClientContext> = self
            .inner
            .settings
            .client_config(&[])
            .create()
            .map_err(connect_error)?;
        let replication = self.inner.settings.replication_factor;
        let new_topics: Vec<NewTopic> = topics
            .iter()
            .map(|name| NewTopic::new(name, partitions, TopicReplication::Fixed(replication)))
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
            .headers(headers);
        // The timeout bounds waiting for room in a full local queue; delivery
        // itself is bounded by `message.timeout.ms`.
        self.inner
            .producer
            .send(future_record, Timeout::After(Duration::from_secs(30)))
            .await
            .map(drop)
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
            let message = Message {
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
                                let value =
                                    h.value.map(String::from_utf8_lossy).unwrap_or_default();
                                (h.key.to_owned(), value.into_owned())
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                payload: borrowed.payload().unwrap_or_default().to_vec(),
            };
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
        let mut backoff = Duration::from_millis(100);
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
            backoff = (backoff * 2).min(Duration::from_secs(10));
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
