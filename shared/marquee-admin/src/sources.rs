//! `GET /admin/{reviews-ingest,listings-ingest}/sources`: the health of an
//! ingest service's sources.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One source as operators see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SourceHealth {
    /// The configured name.
    pub name: String,
    /// What kind of source, e.g. `feed`, `ics`.
    pub kind: String,
    /// Where it is read from.
    pub url: String,
    /// When it was last polled, whatever came of it.
    pub last_poll: Option<DateTime<Utc>>,
    /// When it was last read (even if some items in it were rejected).
    pub last_success: Option<DateTime<Utc>>,
    /// The last error, of the source or of an item in it.
    pub last_error: Option<String>,
    /// When that error happened.
    pub last_error_at: Option<DateTime<Utc>>,
    /// Items the last read saw.
    pub items_seen: u64,
    /// Items the last poll rejected.
    pub rejected: u64,
    /// Events published from this source, in all.
    pub events_published: u64,
}
