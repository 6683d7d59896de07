//! Delivering one message to a handler: retries with backoff, then dead letters.
//! Both transports call [`deliver`], so they agree on what happens to a failure.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{Handler, HandlerError, Message, Record};

/// How often and how patiently a failing message is retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included, before a message is dead-lettered.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles each time.
    pub initial_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// Ten attempts, about 33 s of waiting in all: a sound message rides
    /// out a database or broker restart instead of being dead-lettered.
    fn default() -> Self {
        Self {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait after one of `backoff`: twice as long, up to the longest.
    pub(crate) fn after(&self, backoff: Duration) -> Duration {
        (backoff * 2).min(self.max_backoff)
    }
}

/// Headers a dead letter carries besides the original ones.
pub mod dead_letter_header {
    /// Why the message was dead-lettered.
    pub const REASON: &str = "dlq_reason";
    /// Topic it was read from.
    pub const TOPIC: &str = "dlq_topic";
    /// Partition it was read from.
    pub const PARTITION: &str = "dlq_partition";
    /// Offset it had there.
    pub const OFFSET: &str = "dlq_offset";
    /// Consumer group that gave up on it.
    pub const GROUP: &str = "dlq_group";
    /// Attempts made.
    pub const ATTEMPTS: &str = "dlq_attempts";
    /// On a re-driven message: `dead-letters/{partition}/{offset}` it came
    /// back from. A re-drive drops every `dlq_` header before adding it, so a
    /// message re-driven twice names only its latest dead letter.
    pub const REDRIVEN_FROM: &str = "dlq_redriven_from";
}

/// Why and from where a message was dead-lettered: what its
/// [`dead_letter_header`]s say, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Why the handler refused it.
    pub reason: String,
    /// Topic it was read from.
    pub topic: String,
    /// Partition it was read from.
    pub partition: i32,
    /// Offset it had there.
    pub offset: i64,
    /// Consumer group that gave up on it.
    pub group: String,
    /// Attempts made.
    pub attempts: u32,
}

impl DeadLetter {
    /// What `message`'s `dlq_*` headers say; `None` when it lacks one or
    /// one does not parse, i.e. it is not a dead letter.
    pub fn of(message: &Message) -> Option<Self> {
        use dead_letter_header as h;
        Some(Self {
            reason: message.header(h::REASON)?.to_owned(),
            topic: message.header(h::TOPIC)?.to_owned(),
            partition: message.header(h::PARTITION)?.parse().ok()?,
            offset: message.header(h::OFFSET)?.parse().ok()?,
            group: message.header(h::GROUP)?.to_owned(),
            attempts: message.header(h::ATTEMPTS)?.parse().ok()?,
        })
    }

    /// The headers that say it.
    fn headers(&self) -> [(String, String); 6] {
        use dead_letter_header as h;
        [
            (h::REASON, self.reason.clone()),
            (h::TOPIC, self.topic.clone()),
            (h::PARTITION, self.partition.to_string()),
            (h::OFFSET, self.offset.to_string()),
            (h::GROUP, self.group.clone()),
            (h::ATTEMPTS, self.attempts.to_string()),
        ]
        .map(|(name, value)| (name.to_owned(), value))
    }
}

/// What became of a message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Handled, or dead-lettered: the consumer may move past it.
    Done,
    /// Shutdown came first: leave it for redelivery.
    Interrupted,
}

/// A message its handler would not take: poison, or still failing after
/// the last attempt.
#[derive(Debug)]
pub(crate) struct Refused {
    /// The last error.
    pub error: HandlerError,
    /// Attempts made.
    pub attempts: u32,
}

/// Hands `message` to `handler` inside one `handle` span naming its topic,
/// partition and offset, retrying transient failures with `retry`'s
/// backoff. What happens to a refused message is the caller's: a consumer
/// dead-letters it ([`deliver`]), a replay skips or stops.
pub(crate) async fn attempt<H: Handler>(
    handler: &H,
    message: &Message,
    group: &str,
    retry: RetryPolicy,
    shutdown: &CancellationToken,
) -> Result<Outcome, Refused> {
    // One span per message, entered by each of its attempts.
    let span = tracing::info_span!(
        "handle",
        topic = %message.topic,
        partition = message.partition,
        offset = message.offset
    );
    let mut backoff = retry.initial_backoff;
    let mut attempt = 1;
    loop {
        let error = match handler.handle(message).instrument(span.clone()).await {
            Ok(()) => {
                metrics::counter!("marquee_events_handled_total", "topic" => message.topic.clone(), "group" => group.to_owned()).increment(1);
                return Ok(Outcome::Done);
            }
            Err(error) => error,
        };
        metrics::counter!("marquee_handler_errors_total", "topic" => message.topic.clone(), "group" => group.to_owned()).increment(1);
        if matches!(error, HandlerError::Poison(_)) || attempt >= retry.max_attempts {
            return Err(Refused {
                error,
                attempts: attempt,
            });
        }
        tracing::warn!(
            topic = %message.topic, partition = message.partition, offset = message.offset,
            group, attempt, retry_in_ms = backoff.as_millis() as u64, %error,
            "Handler failed; retrying"
        );
        tokio::select! {
            () = shutdown.cancelled() => return Ok(Outcome::Interrupted),
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = retry.after(backoff);
        attempt += 1;
    }
}

/// [`attempt`], for a consumer: a refused message becomes the returned dead
/// letter, which the transport must publish before moving past the message.
pub(crate) async fn deliver<H: Handler>(
    handler: &H,
    message: &Message,
    group: &str,
    retry: RetryPolicy,
    shutdown: &CancellationToken,
) -> Result<Outcome, Record> {
    attempt(handler, message, group, retry, shutdown)
        .await
        .map_err(|refused| {
            tracing::error!(
                topic = %message.topic, partition = message.partition, offset = message.offset,
                group, attempts = refused.attempts, error = %refused.error,
                "Dead-lettering a message the handler cannot process"
            );
            dead_letter(message, group, refused.attempts, &refused.error)
        })
}

fn dead_letter(message: &Message, group: &str, attempts: u32, error: &HandlerError) -> Record {
    let why = DeadLetter {
        reason: error.to_string(),
        topic: message.topic.clone(),
        partition: message.partition,
        offset: message.offset,
        group: group.to_owned(),
        attempts,
    };
    let mut headers = message.headers.clone();
    headers.extend(why.headers());
    metrics::counter!("marquee_dead_letters_total", "topic" => message.topic.clone(), "group" => group.to_owned()).increment(1);
    Record {
        topic: marquee_events::topics::DEAD_LETTERS.to_owned(),
        key: message.key.clone().unwrap_or_default(),
        headers,
        payload: message.payload.clone(),
    }
}
