//! A venue as the pipeline uses it: the event's [`Venue`] and its parsed
//! time zone, built from its settings (`VenueSettings::zone`).

use chrono_tz::Tz;
use marquee_events::Venue;

/// A venue as the pipeline uses it: the event's [`Venue`] and its parsed zone.
#[derive(Debug, Clone)]
pub(crate) struct VenueZone {
    pub(crate) venue: Venue,
    pub(crate) tz: Tz,
}
