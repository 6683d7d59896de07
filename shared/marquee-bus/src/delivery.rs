//! Delivering one message to a handler: retries with backoff, then dead letters.
//! Both transports call [`deliver`], so they agree on what happens to a failure.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

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
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
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
    /// On a re-driven message: `dead-letters/{partition}/{offset}` it came back from.
    pub const REDRIVEN_FROM: &str = "redriven_from";
}

/// What became of a message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Handled, or dead-lettered: the consumer may move past it.
    Done,
    /// Shutdown came first: leave it for redelivery.
    Interrupted,
}

/// Hands `message` to `handler`, retrying transient failures. A message that
/// is poison or exhausts its attempts becomes the returned dead letter, which
/// the transport must publish before moving past the message.
pub(crate) async fn deliver<H: Handler>(
    handler: &H,
    message: &Message,
    group: &str,
    retry: RetryPolicy,
    shutdown: &CancellationToken,
) -> Result<Outcome, Record> {
    let mut backoff = retry.initial_backoff;
    let mut attempt = 1;
    loop {
        let error = match handler.handle(message).await {
            Ok(()) => {
                metrics::counter!("marquee_events_handled_total", "topic" => message.topic.clone(), "group" => group.to_owned()).increment(1);
                return Ok(Outcome::Done);
            }
            Err(error) => error,
        };
        metrics::counter!("marquee_handler_errors_total", "topic" => message.topic.clone(), "group" => group.to_owned()).increment(1);
        let give_up = matches!(error, HandlerError::Poison(_)) || attempt >= retry.max_attempts;
        if give_up {
            tracing::error!(
                topic = %message.topic, partition = message.partition, offset = message.offset,
                group, attempt, %error, "Dead-lettering a message the handler cannot process"
            );
            return Err(dead_letter(message, group, attempt, &error));
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
        backoff = (backoff * 2).min(retry.max_backoff);
        attempt += 1;
    }
}

fn dead_letter(message: &Message, group: &str, attempts: u32, error: &HandlerError) -> Record {
    use dead_letter_header as h;
    let mut headers = message.headers.clone();
    headers.extend([
        (h::REASON.to_owned(), error.to_string()),
        (h::TOPIC.to_owned(), message.topic.clone()),
        (h::PARTITION.to_owned(), message.partition.to_string()),
        (h::OFFSET.to_owned(), message.offset.to_string()),
        (h::GROUP.to_owned(), group.to_owned()),
        (h::ATTEMPTS.to_owned(), attempts.to_string()),
    ]);
    metrics::counter!("marquee_dead_letters_total", "topic" => message.topic.clone(), "group" => group.to_owned()).increment(1);
    Record {
        topic: marquee_events::topics::DEAD_LETTERS.to_owned(),
        key: message.key.clone().unwrap_or_default(),
        headers,
        payload: message.payload.clone(),
    }
}
