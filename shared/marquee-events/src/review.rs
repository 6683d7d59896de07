//! Review events: a review was published, updated or withdrawn.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::envelope::decode_data;
use crate::{DecodeError, EventData, EventFamily, topics};

/// Stable id of a review: the CMS id, or the canonical URL when there is none.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct ReviewId(String);

impl ReviewId {
    /// A review id; blank ids are refused.
    pub fn parse(id: &str) -> Result<Self, BlankId> {
        BlankId::refuse(id, "review").map(Self)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The review's item key: a name-based UUID of its id, so edits, URL
    /// changes and base URL moves never change it. The feeds' GUID is
    /// `urn:uuid:KEY` and the fediverse object's id ends in `KEY`.
    pub fn key(&self) -> uuid::Uuid {
        item_key(&format!("review:{}", self.0))
    }
}

/// A name-based UUID of `name` in Marquee's namespace: the stable ids of
/// reviews ([`ReviewId::key`]) and feeds.
pub fn item_key(name: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(&ITEM_NAMESPACE, name.as_bytes())
}

/// Namespace of Marquee's name-based ids; changing it changes every GUID.
const ITEM_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6d61_7271_7565_4e00_9a41_2f6e_c3b1_0a57);

/// An id that is blank (or only whitespace), which no review or screening has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {0} id cannot be blank")]
pub struct BlankId(pub &'static str);

impl BlankId {
    /// `id` trimmed, or the error naming `what` (`review`, `screening`) when that is empty.
    pub(crate) fn refuse(id: &str, what: &'static str) -> Result<String, Self> {
        let id = id.trim();
        if id.is_empty() {
            return Err(Self(what));
        }
        Ok(id.to_owned())
    }
}

impl std::fmt::Display for ReviewId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The film a review is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Film {
    /// Title as the publication writes it.
    pub title: String,
    /// Release year, when known.
    pub year: Option<u16>,
    /// Running time in minutes, when the review page states it; calendars
    /// of screenings matched to the review end by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_minutes: Option<u16>,
}

/// A star rating out of five.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "u8", into = "u8")]
pub struct Rating(#[schemars(range(min = 0, max = 5))] u8);

impl Rating {
    /// Highest rating.
    pub const MAX: u8 = 5;

    /// Stars out of [`Rating::MAX`].
    pub fn stars(self) -> u8 {
        self.0
    }
}

/// A number of stars no [`Rating`] has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a rating is 0 to {max} stars, not {0}", max = Rating::MAX)]
pub struct RatingOutOfRange(pub u8);

impl TryFrom<u8> for Rating {
    type Error = RatingOutOfRange;
    fn try_from(stars: u8) -> Result<Self, RatingOutOfRange> {
        if stars > Self::MAX {
            return Err(RatingOutOfRange(stars));
        }
        Ok(Self(stars))
    }
}

impl From<Rating> for u8 {
    fn from(rating: Rating) -> u8 {
        rating.0
    }
}

/// A lead image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Image {
    /// Absolute URL.
    pub url: Url,
    /// Alternative text.
    pub alt: Option<String>,
}

/// A review (or feature) as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Review {
    /// Stable id; never changes when the review is edited.
    pub id: ReviewId,
    /// Canonical URL of the article.
    pub url: Url,
    /// Headline, e.g. "Hamnet review – a raw, aching portrait of grief".
    pub headline: String,
    /// The film reviewed.
    pub film: Film,
    /// The standfirst (dek) under the headline.
    pub standfirst: String,
    /// Body as HTML, already sanitized by the producer.
    pub body_html: String,
    /// Author's name.
    pub author: Option<String>,
    /// Star rating, when the piece has one.
    pub rating: Option<Rating>,
    /// Section, e.g. "In Cinemas" or "Features".
    pub section: String,
    /// Lead image.
    pub image: Option<Image>,
    /// First publication.
    pub published_at: DateTime<Utc>,
    /// Last edit.
    pub updated_at: DateTime<Utc>,
}

/// A review appeared for the first time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReviewPublished {
    /// The review.
    pub review: Review,
}

/// A published review changed in substance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReviewUpdated {
    /// The review as it is now.
    pub review: Review,
    /// Names of the fields that changed, e.g. `["headline", "body_html"]`.
    pub changed: Vec<String>,
}

/// A review was taken down, or vanished from its source past the grace period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReviewWithdrawn {
    /// The review's id.
    pub id: ReviewId,
    /// Why, for operators, e.g. "withdrawn by CMS webhook".
    pub reason: String,
}

event_data! {
    topics::REVIEWS;
    ReviewPublished: "com.marquee.review.published", review.id;
    ReviewUpdated: "com.marquee.review.updated", review.id;
    ReviewWithdrawn: "com.marquee.review.withdrawn", id;
}

/// Any event on the reviews topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewEvent {
    /// See [`ReviewPublished`].
    Published(ReviewPublished),
    /// See [`ReviewUpdated`].
    Updated(ReviewUpdated),
    /// See [`ReviewWithdrawn`].
    Withdrawn(ReviewWithdrawn),
}

impl ReviewEvent {
    /// The review's id.
    pub fn review_id(&self) -> &ReviewId {
        match self {
            Self::Published(e) => &e.review.id,
            Self::Updated(e) => &e.review.id,
            Self::Withdrawn(e) => &e.id,
        }
    }
}

impl EventFamily for ReviewEvent {
    fn decode(ce_type: &str, data: serde_json::Value) -> Result<Self, DecodeError> {
        Ok(match ce_type {
            ReviewPublished::TYPE => Self::Published(decode_data(data)?),
            ReviewUpdated::TYPE => Self::Updated(decode_data(data)?),
            ReviewWithdrawn::TYPE => Self::Withdrawn(decode_data(data)?),
            other => return Err(DecodeError::UnknownType(other.to_owned())),
        })
    }
}
