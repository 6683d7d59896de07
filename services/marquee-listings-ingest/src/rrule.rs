//! The part of RFC 5545 recurrence rules that venues use: `FREQ=DAILY` or
//! `WEEKLY` with `INTERVAL`, `COUNT`, `UNTIL`, `BYDAY` (plain days) and
//! `WKST`. Anything else is refused with a reason, never half-expanded.
//! Occurrences keep the wall-clock time of `DTSTART` across DST changes.
//!
//! Why not the `rrule` crate (evaluated against 0.14): it expands every
//! frequency, so the refusals the tests hold (`RRULE FREQ=MONTHLY is not
//! supported (only DAILY and WEEKLY): list these screenings one by one`,
//! kind `rrule_unsupported`) would still need this parser in front of it;
//! it computes in its own `rrule::Tz` over its own chrono-tz, beside ours;
//! and its DST handling has open reports of duplicated and skipped
//! occurrences (fmeringdal/rust-rrule#109, #115), where ours follows one
//! stated rule ([`crate::resolve_local`]) tested on London's changes. What
//! would remain for the crate is the ~100 lines of DAILY/WEEKLY stepping.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, Utc, Weekday};

/// Steps tried before giving up on a rule (a daily rule from 1990 to today
/// is about 13,000).
const MAX_STEPS: u32 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frequency {
    Daily,
    Weekly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Count(u32),
    UntilUtc(DateTime<Utc>),
    UntilLocal(NaiveDateTime),
    Never,
}

/// Why an `RRULE` is refused: malformed, or beyond what is expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RuleError {
    /// A part without `=`.
    #[error("RRULE part {0:?} is not NAME=VALUE")]
    NotNameValue(String),
    /// A frequency other than daily or weekly.
    #[error(
        "RRULE FREQ={0} is not supported (only DAILY and WEEKLY): list these screenings one by one"
    )]
    Frequency(String),
    /// `INTERVAL` is not a positive number.
    #[error("RRULE INTERVAL={0} is not a positive number")]
    Interval(String),
    /// `COUNT` is not a number.
    #[error("RRULE COUNT={0} is not a number")]
    Count(String),
    /// `UNTIL` is not a date or date-time.
    #[error("RRULE UNTIL={0} is not a date or date-time")]
    Until(String),
    /// A `BYDAY` entry that is not a plain day (`1SU`).
    #[error("RRULE BYDAY={0} is not supported (only plain days such as MO,TH)")]
    ByDay(String),
    /// `WKST` is not a day.
    #[error("RRULE WKST={0} is not a day")]
    WeekStart(String),
    /// A part outside the supported subset (`BYSETPOS`, `BYMONTH`, …).
    #[error(
        "RRULE part {0} is not supported (only FREQ=DAILY/WEEKLY, INTERVAL, COUNT, UNTIL, BYDAY, WKST): list these screenings one by one"
    )]
    Part(String),
    /// No `FREQ`.
    #[error("RRULE has no FREQ")]
    NoFrequency,
    /// Both `COUNT` and `UNTIL`.
    #[error("RRULE has both COUNT and UNTIL")]
    CountAndUntil,
}

/// A parsed recurrence rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    frequency: Frequency,
    interval: u32,
    end: End,
    by_day: Vec<Weekday>,
    week_start: Weekday,
}

impl Rule {
    /// Parses an `RRULE` value, or says why it is not supported.
    pub(crate) fn parse(text: &str) -> Result<Self, RuleError> {
        let mut frequency = None;
        let mut interval = 1;
        let mut count = None;
        let mut until = None;
        let mut by_day = Vec::new();
        let mut week_start = Weekday::Mon;
        for part in text.split(';').filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| RuleError::NotNameValue(part.to_owned()))?;
            match name.to_ascii_uppercase().as_str() {
                "FREQ" => {
                    frequency = Some(match value.to_ascii_uppercase().as_str() {
                        "DAILY" => Frequency::Daily,
                        "WEEKLY" => Frequency::Weekly,
                        other => return Err(RuleError::Frequency(other.to_owned())),
                    });
                }
                "INTERVAL" => {
                    interval = value
                        .parse::<u32>()
                        .ok()
                        .filter(|i| *i >= 1)
                        .ok_or_else(|| RuleError::Interval(value.to_owned()))?;
                }
                "COUNT" => {
                    count = Some(
                        value
                            .parse::<u32>()
                            .map_err(|_| RuleError::Count(value.to_owned()))?,
                    );
                }
                "UNTIL" => until = Some(parse_until(value)?),
                "BYDAY" => {
                    for day in value.split(',') {
                        by_day.push(weekday(day).ok_or_else(|| RuleError::ByDay(day.to_owned()))?);
                    }
                }
                "WKST" => {
                    week_start =
                        weekday(value).ok_or_else(|| RuleError::WeekStart(value.to_owned()))?;
                }
                other => return Err(RuleError::Part(other.to_owned())),
            }
        }
        let frequency = frequency.ok_or(RuleError::NoFrequency)?;
        let end = match (count, until) {
            (Some(_), Some(_)) => return Err(RuleError::CountAndUntil),
            (Some(count), None) => End::Count(count),
            (None, Some(until)) => until,
            (None, None) => End::Never,
        };
        Ok(Self {
            frequency,
            interval,
            end,
            by_day,
            week_start,
        })
    }

    /// Wall-clock starts from `dtstart` on whose instants (by `instant_of`)
    /// fall in `[from, to]`; `to` bounds a rule that never ends.
    pub(crate) fn occurrences(
        &self,
        dtstart: NaiveDateTime,
        instant_of: impl Fn(NaiveDateTime) -> DateTime<Utc>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<NaiveDateTime> {
        let mut found = Vec::new();
        let mut produced = 0u32;
        let time = dtstart.time();
        let mut days: Vec<u32> = if self.by_day.is_empty() {
            vec![days_since(dtstart.date().weekday(), self.week_start)]
        } else {
            self.by_day
                .iter()
                .map(|d| days_since(*d, self.week_start))
                .collect()
        };
        days.sort_unstable();
        days.dedup();
        let first_week = dtstart.date()
            - TimeDelta::days(i64::from(days_since(
                dtstart.date().weekday(),
                self.week_start,
            )));
        for step in 0..MAX_STEPS {
            let candidates: Vec<NaiveDate> = match self.frequency {
                Frequency::Daily => {
                    let date = dtstart.date()
                        + TimeDelta::days(i64::from(step) * i64::from(self.interval));
                    if self.by_day.is_empty() || self.by_day.contains(&date.weekday()) {
                        vec![date]
                    } else {
                        vec![]
                    }
                }
                Frequency::Weekly => {
                    let week =
                        first_week + TimeDelta::weeks(i64::from(step) * i64::from(self.interval));
                    days.iter()
                        .map(|d| week + TimeDelta::days(i64::from(*d)))
                        .collect()
                }
            };
            for date in candidates {
                let start = date.and_time(time);
                if start < dtstart {
                    continue;
                }
                let instant = instant_of(start);
                let ended = match self.end {
                    End::Count(count) => produced >= count,
                    End::UntilUtc(until) => instant > until,
                    End::UntilLocal(until) => start > until,
                    End::Never => false,
                };
                if ended || instant > to {
                    return found;
                }
                produced += 1;
                if instant >= from {
                    found.push(start);
                }
            }
        }
        found
    }
}

fn days_since(day: Weekday, start: Weekday) -> u32 {
    (7 + day.num_days_from_monday() - start.num_days_from_monday()) % 7
}

fn weekday(text: &str) -> Option<Weekday> {
    Some(match text.trim().to_ascii_uppercase().as_str() {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    })
}

fn parse_until(value: &str) -> Result<End, RuleError> {
    let bad = || RuleError::Until(value.to_owned());
    if let Some(utc) = value.strip_suffix('Z') {
        let at = NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S").map_err(|_| bad())?;
        return Ok(End::UntilUtc(at.and_utc()));
    }
    if value.len() == 8 {
        let date = NaiveDate::parse_from_str(value, "%Y%m%d").map_err(|_| bad())?;
        return Ok(End::UntilLocal(
            date.and_hms_opt(23, 59, 59).ok_or_else(bad)?,
        ));
    }
    NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S")
        .map(End::UntilLocal)
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::localtime::resolve_local;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
    }

    fn london(local: NaiveDateTime) -> DateTime<Utc> {
        resolve_local(chrono_tz::Europe::London, local).to_utc()
    }

    #[test]
    fn weekly_rules_keep_wall_clock_time_across_dst_and_stop_at_the_horizon() {
        let rule = Rule::parse("FREQ=WEEKLY;BYDAY=SA").unwrap();
        let from = t("2027-03-01T00:00").and_utc();
        let to = t("2027-04-10T00:00").and_utc();
        let starts = rule.occurrences(t("2027-03-06T14:00"), london, from, to);
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
    fn count_until_interval_and_byday_are_honoured() {
        let far = t("2030-01-01T00:00").and_utc();
        let past = t("2000-01-01T00:00").and_utc();
        let utc = |l: NaiveDateTime| l.and_utc();
        let rule = Rule::parse("FREQ=DAILY;COUNT=3").unwrap();
        assert_eq!(
            rule.occurrences(t("2026-12-01T20:00"), utc, past, far)
                .len(),
            3
        );
        let rule =
            Rule::parse("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;UNTIL=20261220T235959Z").unwrap();
        let starts = rule.occurrences(t("2026-12-01T20:00"), utc, past, far);
        assert_eq!(
            starts,
            vec![
                t("2026-12-01T20:00"),
                t("2026-12-03T20:00"),
                t("2026-12-15T20:00"),
                t("2026-12-17T20:00")
            ]
        );
        // COUNT counts occurrences before the window too.
        let rule = Rule::parse("FREQ=DAILY;COUNT=5").unwrap();
        let from = t("2026-12-04T00:00").and_utc();
        assert_eq!(
            rule.occurrences(t("2026-12-01T20:00"), utc, from, far)
                .len(),
            2
        );
    }

    #[test]
    fn unsupported_rules_are_refused_with_a_reason() {
        for (rule, says) in [
            ("FREQ=MONTHLY;BYDAY=1SU", "FREQ=MONTHLY is not supported"),
            ("FREQ=WEEKLY;BYDAY=1SU", "BYDAY=1SU is not supported"),
            ("FREQ=WEEKLY;BYSETPOS=1", "BYSETPOS is not supported"),
            ("FREQ=DAILY;COUNT=2;UNTIL=20270101", "both COUNT and UNTIL"),
            ("INTERVAL=2", "no FREQ"),
        ] {
            let error = Rule::parse(rule).unwrap_err();
            assert!(error.to_string().contains(says), "{rule}: {error}");
        }
    }
}
