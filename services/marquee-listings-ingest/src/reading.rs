//! What every listings parser is given beside the document, and what it
//! yields.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::error::IngestError;
use crate::normalize::Parsed;

/// The venue and the time a document is read for.
#[derive(Debug, Clone)]
pub(crate) struct Reading {
    /// The venue's id (a CSV `venue_id` column must match it).
    pub(crate) venue_id: String,
    /// The venue's name (JSON-LD pages list other venues' events too).
    pub(crate) venue_name: String,
    /// The venue's zone: floating times are on its clock.
    pub(crate) tz: Tz,
    /// Now, from the service's clock.
    pub(crate) now: DateTime<Utc>,
    /// How far ahead an iCalendar RRULE is expanded, in days.
    pub(crate) horizon_days: u32,
}

/// One document read: its listings and the rows rejected on the way, or
/// the document rejected as a whole.
pub(crate) type Output = Result<Parsed, IngestError>;
