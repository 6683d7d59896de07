//! `/admin/feeds/…`: replaying the log into the feeds (a job).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /admin/feeds/replay`: where a replay starts, `from_offset` or
/// `from_time`, or (neither) the beginning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// This offset in every partition of `reviews` and `screenings`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_offset: Option<i64>,
    /// The first event published at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_time: Option<DateTime<Utc>>,
    /// Empty the feeds first, so they hold exactly what the log replays.
    #[serde(default)]
    pub rebuild: bool,
}
