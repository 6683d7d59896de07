//! iCalendar DATE-TIME values: `TZID` any IANA zone (or a common Windows
//! one), `Z` for UTC, floating = the venue's zone; all-day dates are
//! refused.

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;

use super::lines::Property;
use crate::error::IngestError;
use crate::localtime::resolve_local;
use crate::normalize::Start;

/// The zone of a date-time value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Zone {
    Utc,
    Tz(Tz),
}

impl Zone {
    pub(super) fn instant(self, local: NaiveDateTime) -> DateTime<Utc> {
        match self {
            Self::Utc => local.and_utc(),
            Self::Tz(tz) => resolve_local(tz, local).to_utc(),
        }
    }

    /// The zone wall-clock times are read in (`UTC` for a `Z` time).
    pub(super) fn tz(self) -> Tz {
        match self {
            Self::Utc => chrono_tz::UTC,
            Self::Tz(tz) => tz,
        }
    }

    pub(super) fn start(self, local: NaiveDateTime) -> Start {
        match self {
            Self::Utc => Start::Instant(local.and_utc()),
            Self::Tz(tz) => Start::Local(local, tz),
        }
    }
}

/// Reads a DATE-TIME property (DTSTART, RECURRENCE-ID, EXDATE), one value.
pub(super) fn date_time(
    prop: &Property,
    value: &str,
    venue_tz: Tz,
) -> Result<(NaiveDateTime, Zone), IngestError> {
    let location = format!("line {}", prop.line);
    let value = value.trim();
    if prop
        .param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("DATE"))
        || value.len() == 8
    {
        return Err(IngestError::row(
            location,
            "bad_date",
            format!("{} {value:?} is a whole day, not a start time", prop.name),
        ));
    }
    let (local, utc) = match value.strip_suffix('Z') {
        Some(local) => (local, true),
        None => (value, false),
    };
    let parsed = NaiveDateTime::parse_from_str(local, "%Y%m%dT%H%M%S").map_err(|_| {
        IngestError::row(
            &location,
            "bad_date",
            format!(
                "{} {value:?} is not an iCalendar date-time like 20261205T193000",
                prop.name
            ),
        )
    })?;
    if utc {
        return Ok((parsed, Zone::Utc));
    }
    match prop.param("TZID") {
        None => Ok((parsed, Zone::Tz(venue_tz))),
        Some(tzid) => {
            // Some exporters write the "globally unique" form `/Europe/London`.
            let name = tzid.trim().trim_start_matches('/');
            let tz: Tz = name
                .parse()
                .or_else(|_| windows_zone(name).ok_or(()))
                .map_err(|_| {
                    IngestError::row(
                        &location,
                        "unknown_tzid",
                        format!(
                            "unknown TZID {tzid:?}: use an IANA zone name such as Europe/London"
                        ),
                    )
                })?;
            Ok((parsed, Zone::Tz(tz)))
        }
    }
}

/// The IANA zone of a Windows zone name, as Outlook and Exchange write
/// `TZID` (`GMT Standard Time` is London); the common ones, from CLDR's
/// `windowsZones.xml` (territory 001).
fn windows_zone(name: &str) -> Option<Tz> {
    use chrono_tz::{America, Asia, Australia, Europe};
    Some(match name {
        "GMT Standard Time" => Europe::London,
        "W. Europe Standard Time" => Europe::Berlin,
        "Romance Standard Time" => Europe::Paris,
        "Central Europe Standard Time" => Europe::Budapest,
        "Central European Standard Time" => Europe::Warsaw,
        "GTB Standard Time" => Europe::Bucharest,
        "FLE Standard Time" => Europe::Kiev,
        "Eastern Standard Time" => America::New_York,
        "Central Standard Time" => America::Chicago,
        "Mountain Standard Time" => America::Denver,
        "Pacific Standard Time" => America::Los_Angeles,
        "Tokyo Standard Time" => Asia::Tokyo,
        "AUS Eastern Standard Time" => Australia::Sydney,
        _ => return None,
    })
}
