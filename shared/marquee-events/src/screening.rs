//! Screening events: a screening was listed, changed or cancelled.

use chrono::{DateTime, NaiveDateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::envelope::decode_data;
use crate::{BlankId, DecodeError, EventData, EventFamily, ReviewId, topics};

/// Stable id of a screening, derived from venue, film and start by the ingest service.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct ScreeningId(String);

impl ScreeningId {
    /// A screening id; blank ids are refused.
    pub fn parse(id: &str) -> Result<Self, BlankId> {
        BlankId::refuse(id, "screening").map(Self)
    }

    /// The id of a screening named by `uuid` (never blank).
    pub fn from_uuid(uuid: uuid::Uuid) -> Self {
        Self(uuid.to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A cinema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Venue {
    /// Stable slug, e.g. `prince-charles-cinema`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Postal address.
    pub address: Option<String>,
}

/// The film shown, as the venue lists it once cleaned of format and extras.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScreeningFilm {
    /// Clean title, e.g. "Once Upon a Time in the West".
    pub title: String,
    /// Release year.
    pub year: Option<u16>,
    /// Director.
    pub director: Option<String>,
    /// Running time in minutes.
    pub runtime_minutes: Option<u16>,
}

/// Access provisions of a screening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Accessibility {
    /// Open captions or subtitles for the deaf and hard of hearing.
    Subtitled,
    /// Audio description.
    AudioDescribed,
    /// Relaxed screening.
    Relaxed,
    /// Parent-and-baby screening.
    BabyFriendly,
}

/// One screening at one venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Screening {
    /// Stable id.
    pub id: ScreeningId,
    /// Where.
    pub venue: Venue,
    /// What.
    pub film: ScreeningFilm,
    /// When, as an instant.
    pub starts_at: DateTime<Utc>,
    /// When, on the venue's wall clock.
    pub starts_at_local: NaiveDateTime,
    /// The venue's IANA time zone, e.g. `Europe/London`.
    pub time_zone: String,
    /// Screen or room.
    pub screen: Option<String>,
    /// Projection format: "35mm", "70mm", "DCP", "4K restoration".
    pub format: Option<String>,
    /// Strand or season, e.g. "Sergio Leone season".
    pub strand: Option<String>,
    /// Extras such as "intro" or "Q&A".
    pub extras: Vec<String>,
    /// Access provisions.
    pub accessibility: Vec<Accessibility>,
    /// Where to book.
    pub booking_url: Option<Url>,
    /// No tickets left.
    pub sold_out: bool,
    /// The publication's review of this film, when one matches.
    pub review_id: Option<ReviewId>,
}

/// A screening appeared for the first time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScreeningListed {
    /// The screening.
    pub screening: Screening,
}

/// A listed screening changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScreeningChanged {
    /// The screening as it is now.
    pub screening: Screening,
    /// Names of the fields that changed, e.g. `["starts_at", "sold_out"]`.
    pub changed: Vec<String>,
}

/// A screening was cancelled, or vanished from its source before it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScreeningCancelled {
    /// The screening as last listed.
    pub screening: Screening,
    /// Why, for operators.
    pub reason: String,
}

event_data! {
    topics::SCREENINGS;
    ScreeningListed: "com.marquee.screening.listed", screening.id;
    ScreeningChanged: "com.marquee.screening.changed", screening.id;
    ScreeningCancelled: "com.marquee.screening.cancelled", screening.id;
}

/// Any event on the screenings topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScreeningEvent {
    /// See [`ScreeningListed`].
    Listed(ScreeningListed),
    /// See [`ScreeningChanged`].
    Changed(ScreeningChanged),
    /// See [`ScreeningCancelled`].
    Cancelled(ScreeningCancelled),
}

impl EventFamily for ScreeningEvent {
    fn decode(ce_type: &str, data: serde_json::Value) -> Result<Self, DecodeError> {
        Ok(match ce_type {
            ScreeningListed::TYPE => Self::Listed(decode_data(data)?),
            ScreeningChanged::TYPE => Self::Changed(decode_data(data)?),
            ScreeningCancelled::TYPE => Self::Cancelled(decode_data(data)?),
            other => return Err(DecodeError::UnknownType(other.to_owned())),
        })
    }
}
