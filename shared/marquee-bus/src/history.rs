//! Reading the log's history for operators, the same way on both transports:
//! inspecting dead letters, re-driving one, replaying a topic through a
//! handler outside any consumer group, and consumer lag.
//!
//! Each transport does two things: *plan* the ranges (per partition, from a
//! [`Position`] to the end as of now) and *scan* them in order. Everything
//! else lives here once.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::delivery::{Refused, attempt};
use crate::{
    Bus, BusError, Handler, HandlerError, Message, Record, RetryPolicy, dead_letter_header,
};

/// The `group` label of a replay's handled and failed counters.
const REPLAY: &str = "replay";

/// Where in a topic reading starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The oldest message kept.
    Beginning,
    /// This offset in every partition (the embedded log's offsets are one
    /// global sequence, so there it is that sequence), as
    /// `kafka-consumer-groups --reset-offsets --to-offset` reads it.
    Offset(i64),
    /// The first message published at or after this time.
    Time(DateTime<Utc>),
}

/// A message read back from the log, with when it was published.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    /// The message.
    pub message: Message,
    /// When the log accepted it, where the log knows.
    pub timestamp: Option<DateTime<Utc>>,
}

impl Logged {
    /// `message` with the publish time its log stored, in milliseconds since
    /// the epoch, if it stored one.
    pub(crate) fn stamped(message: Message, millis: Option<i64>) -> Self {
        Self {
            message,
            timestamp: millis.and_then(DateTime::from_timestamp_millis),
        }
    }
}

/// How far a consumer group is behind in one partition: the admin API's
/// type itself, so `/admin/bus/lag` answers with what the bus measured.
/// `committed` is the next offset the group will read, `end` the offset the
/// next message will get, `lag` the messages between.
pub type PartitionLag = marquee_admin::bus::ConsumerLag;

/// One partition's messages to read: offsets `start..end`, `count` of them.
#[derive(Debug, Clone)]
pub(crate) struct Range {
    pub topic: String,
    pub partition: i32,
    pub start: i64,
    pub end: i64,
    pub count: u64,
}

impl Bus {
    async fn plan(
        &self,
        topics: &[&str],
        from: Position,
        partition: Option<i32>,
    ) -> Result<Vec<Range>, BusError> {
        match self {
            Self::Kafka(bus) => bus.plan(topics, from, partition).await,
            Self::Embedded(bus) => bus.plan(topics, from, partition).await,
        }
    }

    /// Calls `visit` on each message of `ranges` in order per partition,
    /// until it answers false.
    async fn scan<F, Fut>(&self, ranges: &[Range], visit: F) -> Result<(), BusError>
    where
        F: FnMut(Logged) -> Fut + Send,
        Fut: Future<Output = bool> + Send,
    {
        match self {
            Self::Kafka(bus) => bus.scan(ranges, visit).await,
            Self::Embedded(bus) => bus.scan(ranges, visit).await,
        }
    }

    /// Up to `limit` messages of `topic` from `from` to its current end,
    /// outside any consumer group (nothing is committed): for inspection.
    pub async fn read(
        &self,
        topic: &str,
        from: Position,
        limit: usize,
    ) -> Result<Vec<Logged>, BusError> {
        let ranges = self.plan(&[topic], from, None).await?;
        let mut read = Vec::new();
        if limit > 0 {
            self.scan(&ranges, |logged| {
                read.push(logged);
                std::future::ready(read.len() < limit)
            })
            .await?;
        }
        Ok(read)
    }

    /// Runs `handler` over `topics` from `from` to their current end, in
    /// order per partition, outside any consumer group: no group's position
    /// moves, so other consumers (mail, posts) never see the replay. Transient
    /// failures are retried with [`RetryPolicy::default`]'s backoff; a poison
    /// message is logged and skipped (its consumer already dead-lettered it);
    /// a message still failing after the last attempt stops the replay with
    /// [`BusError::Replay`], since skipping it would leave a gap no consumer
    /// dead-lettered. `progress(done, total)` follows along, skipped messages
    /// counted as done. Returns the messages handled.
    pub async fn replay<H: Handler>(
        &self,
        topics: &[&str],
        from: Position,
        handler: &H,
        progress: impl Fn(u64, u64) + Send + Sync,
    ) -> Result<u64, BusError> {
        let ranges = self.plan(topics, from, None).await?;
        let total = ranges.iter().map(|range| range.count).sum();
        progress(0, total);
        // Never cancelled: a replay runs to the end or to its first failure.
        let shutdown = CancellationToken::new();
        let (done, handled) = (AtomicU64::new(0), AtomicU64::new(0));
        let stopped = OnceLock::new();
        self.scan(&ranges, |logged| {
            let (shutdown, progress, done, handled, stopped) =
                (&shutdown, &progress, &done, &handled, &stopped);
            async move {
                let message = &logged.message;
                match attempt(handler, message, REPLAY, RetryPolicy::default(), shutdown).await {
                    Ok(_) => {
                        handled.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(Refused {
                        error: HandlerError::Poison(error),
                        ..
                    }) => {
                        tracing::warn!(topic = %message.topic, partition = message.partition,
                            offset = message.offset, error = %format!("{error:#}"),
                            "Replay skipped a poison message");
                    }
                    Err(Refused { error, attempts }) => {
                        let _ = stopped.set(BusError::Replay {
                            topic: message.topic.clone(),
                            partition: message.partition,
                            offset: message.offset,
                            attempts,
                            reason: error.to_string(),
                        });
                        return false;
                    }
                }
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                true
            }
        })
        .await?;
        match stopped.into_inner() {
            Some(error) => Err(error),
            None => Ok(handled.into_inner()),
        }
    }

    /// How far `group` is behind on each partition of `topics`.
    pub async fn lag(&self, group: &str, topics: &[&str]) -> Result<Vec<PartitionLag>, BusError> {
        match self {
            Self::Kafka(bus) => bus.lag(group, topics).await,
            Self::Embedded(bus) => bus.lag(group, topics).await,
        }
    }

    /// Publishes the dead letter at `partition`/`offset` of `dead-letters`
    /// again to the topic it came from, and returns that topic: key, body and
    /// original headers, its `dlq_*` headers replaced by
    /// [`dead_letter_header::REDRIVEN_FROM`].
    /// Every group of that topic sees it again; handlers are idempotent by
    /// event id, so groups that had handled it change nothing.
    pub async fn redrive(&self, partition: i32, offset: i64) -> Result<String, BusError> {
        let dead_letters = marquee_events::topics::DEAD_LETTERS;
        let not_found = || BusError::NotFound(format!("no dead letter at {partition}/{offset}"));
        let ranges = self
            .plan(&[dead_letters], Position::Offset(offset), Some(partition))
            .await?;
        // The range starts at `offset`: its first message is the one, if any.
        let mut first = None;
        self.scan(&ranges, |logged| {
            first = Some(logged.message);
            std::future::ready(false)
        })
        .await?;
        let dead_letter = first
            .filter(|message| message.offset == offset)
            .ok_or_else(not_found)?;
        // Only the topic is needed: a dead letter whose other headers were
        // lost or edited can still go home.
        let topic = dead_letter
            .header(dead_letter_header::TOPIC)
            .ok_or_else(|| {
                BusError::NotFound(format!(
                    "the message at {partition}/{offset} has no `{}` header: not a dead letter",
                    dead_letter_header::TOPIC
                ))
            })?
            .to_owned();
        let mut headers: Vec<(String, String)> = dead_letter
            .headers
            .into_iter()
            .filter(|(name, _)| !name.starts_with("dlq_"))
            .collect();
        headers.push((
            dead_letter_header::REDRIVEN_FROM.to_owned(),
            format!("{dead_letters}/{partition}/{offset}"),
        ));
        self.publish(Record {
            topic: topic.clone(),
            key: dead_letter.key.unwrap_or_default(),
            headers,
            payload: dead_letter.payload,
        })
        .await?;
        tracing::info!(%topic, partition, offset, "Re-drove a dead letter");
        Ok(topic)
    }
}
