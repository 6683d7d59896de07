//! The `[listings_ingest]` configuration section.

use std::time::Duration;

use chrono_tz::Tz;
use marquee_events::Venue;
use serde::Deserialize;
use url::Url;

pub use crate::kinds::SourceKind;
use crate::venue::VenueZone;

/// Settings of the listings-ingest service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The ledger database: `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// Sources polled, each on its own interval; a venue may have several.
    pub sources: Vec<SourceSettings>,
    /// Largest document accepted, in bytes.
    pub max_body_bytes: usize,
    /// Time limit of one upstream request, in seconds.
    pub fetch_timeout_secs: u64,
    /// Whether sources on loopback or private addresses may be fetched;
    /// off in production so a source URL cannot reach internal services.
    pub allow_private_addresses: bool,
    /// Consumer group of the reviews-topic handler (film matching).
    pub consumer_group: String,
    /// How far ahead an iCalendar RRULE is expanded, in days.
    pub rrule_horizon_days: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://data/listings-ingest.sqlite".to_owned(),
            sources: Vec::new(),
            max_body_bytes: 5 * 1024 * 1024,
            fetch_timeout_secs: 20,
            allow_private_addresses: false,
            consumer_group: "listings-ingest".to_owned(),
            rrule_horizon_days: 60,
        }
    }
}

/// One upstream source, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSettings {
    /// `ics`, `json_ld`, `csv` or `json`.
    pub kind: SourceKind,
    /// Unique name, used in logs, metrics, event sources and the ledger.
    pub name: String,
    /// Where the listings are.
    pub url: Url,
    /// The venue every screening of this source is at.
    pub venue: VenueSettings,
    /// Seconds between polls.
    #[serde(default = "default_poll_interval")]
    pub poll_interval_secs: u64,
}

fn default_poll_interval() -> u64 {
    15 * 60
}

impl SourceSettings {
    /// Time between polls; at least one second.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.poll_interval_secs.max(1))
    }
}

/// A venue as configured.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueSettings {
    /// Stable slug, e.g. `prince-charles-cinema`; part of screening ids.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Postal address.
    #[serde(default)]
    pub address: Option<String>,
    /// IANA time zone of the venue's wall clock.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
}

impl VenueSettings {
    /// The venue with its time zone parsed.
    pub(crate) fn zone(&self) -> anyhow::Result<VenueZone> {
        let tz: Tz = self.time_zone.parse().map_err(|_| {
            anyhow::anyhow!(
                "venue {:?}: {:?} is not an IANA time zone (e.g. Europe/London)",
                self.id,
                self.time_zone
            )
        })?;
        anyhow::ensure!(!self.id.trim().is_empty(), "a venue id cannot be blank");
        Ok(VenueZone {
            venue: Venue {
                id: self.id.trim().to_owned(),
                name: self.name.trim().to_owned(),
                address: self.address.clone(),
            },
            tz,
        })
    }
}

fn default_time_zone() -> String {
    "Europe/London".to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(value: serde_json::Value) -> Result<Settings, serde_json::Error> {
        serde_json::from_value(value)
    }

    #[test]
    fn sources_are_tagged_by_kind_and_strict() {
        let settings = parse(serde_json::json!({
            "database_url": "sqlite://x.sqlite",
            "sources": [
                {"kind": "ics", "name": "pcc", "url": "https://e.com/pcc.ics",
                 "venue": {"id": "pcc", "name": "Prince Charles Cinema"}},
                {"kind": "json_ld", "name": "cu", "url": "https://e.com/", "poll_interval_secs": 60,
                 "venue": {"id": "close-up", "name": "Close-Up", "address": "97 Sclater St", "time_zone": "Europe/London"}}
            ]
        }))
        .unwrap();
        assert_eq!(settings.sources[0].kind.as_str(), "ics");
        assert_eq!(settings.sources[0].poll_interval_secs, 900);
        assert_eq!(settings.sources[0].venue.time_zone, "Europe/London");
        assert_eq!(settings.sources[1].kind.as_str(), "json_ld");
        assert_eq!(settings.rrule_horizon_days, 60);
        assert_eq!(settings.consumer_group, "listings-ingest");
        for typo in [
            serde_json::json!({"databse_url": "x"}),
            serde_json::json!({"sources": [{"kind": "rss", "name": "a", "url": "https://e.com/", "venue": {"id": "a", "name": "A"}}]}),
            serde_json::json!({"sources": [{"kind": "csv", "name": "a", "url": "https://e.com/", "venue": {"id": "a", "name": "A", "tz": "UTC"}}]}),
        ] {
            assert!(parse(typo).is_err());
        }
    }
}
