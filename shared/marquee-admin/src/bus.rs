//! `/admin/bus/…`: consumer lag, the dead letters, re-driving one. Every
//! process answers these (the bus is shared).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `GET /admin/bus/lag`: how far a consumer group is behind in one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsumerLag {
    /// The consumer group.
    pub group: String,
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The group's committed position, if it has one.
    pub committed: Option<i64>,
    /// The offset the next message will get.
    pub end: i64,
    /// Messages not yet finished by the group.
    pub lag: i64,
}

/// `GET /admin/bus/dead-letters`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
pub struct DeadLetterQuery {
    /// Most to list (default 100, at most 10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// A message a consumer gave up on, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeadLetter {
    /// Where it is in `dead-letters` (for re-driving): partition…
    pub partition: i32,
    /// …and offset.
    pub offset: i64,
    /// When it was dead-lettered.
    pub timestamp: Option<DateTime<Utc>>,
    /// The topic it came from.
    pub topic: Option<String>,
    /// Its partition there.
    pub original_partition: Option<String>,
    /// Its offset there.
    pub original_offset: Option<String>,
    /// The consumer group that gave up.
    pub group: Option<String>,
    /// Why it gave up.
    pub reason: Option<String>,
    /// How often it tried.
    pub attempts: Option<String>,
    /// The message key.
    pub key: Option<String>,
    /// The body as text (invalid UTF-8 replaced).
    pub payload: String,
}

/// `POST /admin/bus/dead-letters/{partition}/{offset}/redrive`: where a
/// re-driven dead letter went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Redriven {
    /// The topic it was published to again.
    pub redriven_to: String,
}
