//! `RRULE` expansion (RFC 5545 section 3.3.10), by the `rrule` crate.
//! Occurrences keep the wall-clock time of `DTSTART` across DST changes:
//! the crate steps through wall-clock times (in a UTC frame, where no day
//! is 23 or 25 hours long) and each is then resolved in the event's zone by
//! [`crate::resolve_local`], the same rule as every other time read (and as
//! python-dateutil with a zone-aware `dtstart`). `UNTIL` is kept out of the
//! crate's frame and applied to the resolved instants, so a local or
//! date-only `UNTIL` (which RFC 5545 disallows beside a `TZID`, and
//! exporters write anyway) reads as that time at the venue.
//!
//! Why the crate (0.14) and not the hand-written DAILY/WEEKLY expander it
//! replaces: held to python-dateutil on 600 generated rules across the
//! March/April and October/November changes of six zones
//! (`tests/rrule_dateutil`), the expander refused 247 (every `MONTHLY` rule
//! and `BYMONTHDAY`) and agreed on the other 353; the crate, used as above,
//! agrees on all 600. Its own DST handling (fmeringdal/rust-rrule#109,
//! #115) is not relied on, and it shares our chrono-tz 0.10.
//!
//! Still refused, with the reason: `HOURLY`, `MINUTELY` and `SECONDLY`
//! (a screening does not repeat within a day; such a rule would list
//! hundreds in the horizon) and whatever the crate finds invalid.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::localtime::resolve_local;

/// Occurrences of one event kept within a horizon, at most (a daily rule
/// over a 60-day horizon is 60).
const MAX_OCCURRENCES: u16 = 5_000;

/// Why an `RRULE` is refused: malformed, or beyond what is expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RuleError {
    /// A frequency under a day.
    #[error(
        "RRULE FREQ={0} is not supported (screenings repeat daily at most): list these screenings one by one"
    )]
    Frequency(String),
    /// `UNTIL` is not a date or date-time.
    #[error("RRULE UNTIL={0} is not a date or date-time")]
    Until(String),
    /// The crate refused the rule (no `FREQ`, `COUNT` with `UNTIL`, a bad
    /// `BYDAY`, …).
    #[error("RRULE {rule:?} is not valid: {reason}")]
    Invalid { rule: String, reason: String },
}

/// A recurrence rule with its `DTSTART`, checked and ready to expand.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// The rule over wall-clock times, `DTSTART` in a UTC frame.
    set: rrule::RRuleSet,
    /// `UNTIL` as an instant.
    until: Option<DateTime<Utc>>,
    /// The zone wall-clock times are resolved in (`UTC` for a `Z` start).
    tz: Tz,
}

impl Rule {
    /// Reads an `RRULE` value for an event starting at the wall-clock time
    /// `dtstart` in `tz`, or says why it is refused.
    pub(crate) fn parse(text: &str, dtstart: NaiveDateTime, tz: Tz) -> Result<Self, RuleError> {
        let mut until = None;
        let mut parts = Vec::new();
        for part in text.split(';').filter(|p| !p.trim().is_empty()) {
            match part.split_once('=') {
                Some((name, value)) if name.trim().eq_ignore_ascii_case("UNTIL") => {
                    until = Some(parse_until(value.trim(), tz)?);
                }
                Some((name, value)) if name.trim().eq_ignore_ascii_case("FREQ") => {
                    let freq = value.trim().to_ascii_uppercase();
                    if matches!(freq.as_str(), "HOURLY" | "MINUTELY" | "SECONDLY") {
                        return Err(RuleError::Frequency(freq));
                    }
                    parts.push(part);
                }
                _ => parts.push(part),
            }
        }
        let invalid = |error: rrule::RRuleError| RuleError::Invalid {
            rule: text.to_owned(),
            reason: error.to_string(),
        };
        let rule: rrule::RRule<rrule::Unvalidated> = parts.join(";").parse().map_err(invalid)?;
        if until.is_some() && rule.get_count().is_some() {
            return Err(RuleError::Invalid {
                rule: text.to_owned(),
                reason: "it has both COUNT and UNTIL".to_owned(),
            });
        }
        let set = rule.build(frame(dtstart)).map_err(invalid)?;
        Ok(Self { set, until, tz })
    }

    /// Wall-clock starts whose instants fall in `[from, to]` (and not after
    /// `UNTIL`), in order; `to` bounds a rule that never ends.
    pub(crate) fn occurrences(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<NaiveDateTime> {
        // Wall-clock bounds a day wider than the instants': no zone is more
        // than 14 hours from UTC.
        let margin = TimeDelta::days(1);
        let to = self.until.map_or(to, |until| until.min(to));
        let result = self
            .set
            .clone()
            .after(frame(from.naive_utc() - margin))
            .before(frame(to.naive_utc() + margin))
            .all(MAX_OCCURRENCES);
        if result.limited {
            tracing::warn!(
                limit = MAX_OCCURRENCES,
                "A recurring event has more occurrences in the horizon than are kept"
            );
        }
        result
            .dates
            .iter()
            .map(|at| at.naive_utc())
            .filter(|local| {
                let instant = resolve_local(self.tz, *local).to_utc();
                from <= instant && instant <= to
            })
            .collect()
    }
}

/// A wall-clock time in the crate's UTC frame.
fn frame(local: NaiveDateTime) -> DateTime<rrule::Tz> {
    local.and_utc().with_timezone(&rrule::Tz::UTC)
}

/// `UNTIL` as an instant: UTC as written, else a wall-clock time in `tz`
/// (a date is its last second).
fn parse_until(value: &str, tz: Tz) -> Result<DateTime<Utc>, RuleError> {
    let bad = || RuleError::Until(value.to_owned());
    if let Some(utc) = value.strip_suffix('Z') {
        let at = NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S").map_err(|_| bad())?;
        return Ok(at.and_utc());
    }
    let local = if value.len() == 8 {
        NaiveDate::parse_from_str(value, "%Y%m%d")
            .ok()
            .and_then(|date| date.and_hms_opt(23, 59, 59))
            .ok_or_else(bad)?
    } else {
        NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S").map_err(|_| bad())?
    };
    Ok(resolve_local(tz, local).to_utc())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
    }

    fn london(local: NaiveDateTime) -> DateTime<Utc> {
        resolve_local(chrono_tz::Europe::London, local).to_utc()
    }

    #[test]
    fn weekly_rules_keep_wall_clock_time_across_dst_and_stop_at_the_horizon() {
        let rule = Rule::parse(
            "FREQ=WEEKLY;BYDAY=SA",
            t("2027-03-06T14:00"),
            chrono_tz::Europe::London,
        )
        .unwrap();
        let from = t("2027-03-01T00:00").and_utc();
        let to = t("2027-04-10T00:00").and_utc();
        let starts = rule.occurrences(from, to);
        assert_eq!(
            starts,
            vec![
                t("2027-03-06T14:00"),
                t("2027-03-13T14:00"),
                t("2027-03-20T14:00"),
                t("2027-03-27T14:00"),
                t("2027-04-03T14:00")
            ]
        );
        // 14:00 GMT before the change, 14:00 BST (13:00 UTC) after it.
        assert_eq!(london(starts[3]).to_rfc3339(), "2027-03-27T14:00:00+00:00");
        assert_eq!(london(starts[4]).to_rfc3339(), "2027-04-03T13:00:00+00:00");
    }

    #[test]
    fn a_start_in_the_spring_gap_keeps_its_wall_clock_time_on_later_days() {
        // 01:30 on 28 March 2027 does not exist in London; the days after keep 01:30.
        let rule = Rule::parse(
            "FREQ=DAILY;COUNT=2",
            t("2027-03-28T01:30"),
            chrono_tz::Europe::London,
        )
        .unwrap();
        let starts = rule.occurrences(
            t("2027-03-01T00:00").and_utc(),
            t("2027-04-10T00:00").and_utc(),
        );
        assert_eq!(starts, vec![t("2027-03-28T01:30"), t("2027-03-29T01:30")]);
        assert_eq!(london(starts[1]).to_rfc3339(), "2027-03-29T00:30:00+00:00");
    }

    #[test]
    fn count_until_interval_byday_and_monthly_rules_are_honoured() {
        let far = t("2030-01-01T00:00").and_utc();
        let past = t("2000-01-01T00:00").and_utc();
        let utc = chrono_tz::UTC;
        let expand = |rule: &str, from| {
            Rule::parse(rule, t("2026-12-01T20:00"), utc)
                .unwrap()
                .occurrences(from, far)
        };
        assert_eq!(expand("FREQ=DAILY;COUNT=3", past).len(), 3);
        assert_eq!(
            expand(
                "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;UNTIL=20261220T235959Z",
                past
            ),
            vec![
                t("2026-12-01T20:00"),
                t("2026-12-03T20:00"),
                t("2026-12-15T20:00"),
                t("2026-12-17T20:00")
            ]
        );
        // A date-only UNTIL is that whole day at the venue.
        assert_eq!(expand("FREQ=DAILY;UNTIL=20261203", past).len(), 3);
        // COUNT counts occurrences before the window too.
        assert_eq!(
            expand("FREQ=DAILY;COUNT=5", t("2026-12-04T00:00").and_utc()).len(),
            2
        );
        assert_eq!(
            expand("FREQ=MONTHLY;BYDAY=1TH;COUNT=3", past),
            vec![
                t("2026-12-03T20:00"),
                t("2027-01-07T20:00"),
                t("2027-02-04T20:00")
            ]
        );
    }

    #[test]
    fn unsupported_rules_are_refused_with_a_reason() {
        for (rule, says) in [
            ("FREQ=HOURLY;BYMINUTE=0", "FREQ=HOURLY is not supported"),
            ("FREQ=DAILY;COUNT=2;UNTIL=20270101", "both COUNT and UNTIL"),
            ("FREQ=WEEKLY;BYDAY=XX", "is not valid"),
            ("INTERVAL=2", "is not valid"),
            ("FREQ=DAILY;UNTIL=tomorrow", "UNTIL=tomorrow is not a date"),
        ] {
            let error = Rule::parse(rule, t("2026-12-01T20:00"), chrono_tz::UTC).unwrap_err();
            assert!(error.to_string().contains(says), "{rule}: {error}");
        }
    }
}
