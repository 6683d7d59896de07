//! Marquee's event contract, shared by every service and free of I/O.
//!
//! An event travels on Kafka (or the embedded log) in CloudEvents 1.0 *binary
//! content mode*: the attributes are message headers with a `ce_` prefix, the
//! body is JSON `{"schema_version": N, "data": {...}}`, and the message key is
//! the id of the item the event is about, so every event of one item lands on
//! one partition, in order. `docs/events.md` states the compatibility rule.

/// Implements [`EventData`] for the event types of one topic: each with its
/// CloudEvents `type` and the field path to the id of the item it is about.
macro_rules! event_data {
    ($topic:expr; $($event:ty: $ce_type:literal, $($field:ident).+;)+) => {
        $(
            impl $crate::EventData for $event {
                const TYPE: &'static str = $ce_type;
                const TOPIC: &'static str = $topic;
                fn item_id(&self) -> &str {
                    self.$($field).+.as_str()
                }
            }
        )+
    };
}

mod envelope;
mod review;
mod screening;

pub use envelope::{DecodeError, Envelope, EventData, EventFamily, WireEvent, header};
pub use review::{
    BlankId, Film, Image, Rating, RatingOutOfRange, Review, ReviewEvent, ReviewId, ReviewPublished,
    ReviewUpdated, ReviewWithdrawn, item_key,
};
pub use screening::{
    Accessibility, Screening, ScreeningCancelled, ScreeningChanged, ScreeningEvent, ScreeningFilm,
    ScreeningId, ScreeningListed, Venue,
};

/// The body's schema version this build writes and the newest it reads.
///
/// Additive, optional fields keep the version; anything else bumps it.
pub const SCHEMA_VERSION: u32 = 1;

/// Topic names: the only place they are spelled.
pub mod topics {
    /// Review events: published, updated, withdrawn.
    pub const REVIEWS: &str = "reviews";
    /// Screening events: listed, changed, cancelled.
    pub const SCREENINGS: &str = "screenings";
    /// Messages a consumer could not handle, with headers saying why and from where.
    pub const DEAD_LETTERS: &str = "dead-letters";
    /// Every topic Marquee uses, for creating them up front.
    pub const ALL: [&str; 3] = [REVIEWS, SCREENINGS, DEAD_LETTERS];
}

/// The JSON Schema of every event body, by CloudEvents type, as checked into `schemas/`.
pub fn schemas() -> Vec<(&'static str, schemars::Schema)> {
    fn body_schema<T: EventData>() -> (&'static str, schemars::Schema) {
        (T::TYPE, schemars::schema_for!(envelope::Body<T>))
    }
    vec![
        body_schema::<ReviewPublished>(),
        body_schema::<ReviewUpdated>(),
        body_schema::<ReviewWithdrawn>(),
        body_schema::<ScreeningListed>(),
        body_schema::<ScreeningChanged>(),
        body_schema::<ScreeningCancelled>(),
    ]
}
