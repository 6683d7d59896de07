//! Cron schedules read in an IANA time zone.
//!
//! # The DST rule
//!
//! A schedule's expression is matched against *local wall-clock times*; each
//! matching wall-clock time runs exactly once:
//!
//! - **In a spring-forward gap** (e.g. 01:30 on the last Sunday of March in
//!   `Europe/London`, which never shows on a clock) the run happens at the
//!   first valid instant after the gap, shifted by the gap's length: 01:30
//!   becomes 02:30 BST (= 01:30 UTC). It is not skipped.
//! - **In a fall-back overlap** (01:30 on the last Sunday of October occurs
//!   twice) the run happens at the first occurrence only (01:30 BST = 00:30
//!   UTC), never again at 01:30 GMT.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use marquee_admin::digest::ScheduleSettings;

/// Why a schedule cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InvalidSchedule {
    /// The cron expression does not parse.
    #[error(
        "schedule `{name}`: `{cron}` is not a cron expression ({reason}); use 5 fields (`30 8 * * THU`) or 6-7 with seconds first"
    )]
    Cron {
        /// Schedule name.
        name: String,
        /// The expression as given.
        cron: String,
        /// The parser's complaint.
        reason: String,
    },
    /// The time zone is not an IANA name.
    #[error("schedule `{name}`: `{time_zone}` is not an IANA time zone such as `Europe/London`")]
    TimeZone {
        /// Schedule name.
        name: String,
        /// The zone as given.
        time_zone: String,
    },
    /// A schedule needs a name made for URLs and logs.
    #[error("schedule name `{0}` must be 1-64 letters, digits, `-` or `_`")]
    Name(String),
}

/// A parsed schedule: its settings, cron expression and time zone.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    settings: ScheduleSettings,
    cron: cron::Schedule,
    time_zone: Tz,
}

impl CronSchedule {
    /// Parses the schedule's expression (a 5-field one gets a `0` seconds
    /// field prepended) and time zone.
    pub fn parse(settings: &ScheduleSettings) -> Result<Self, InvalidSchedule> {
        let name_ok = (1..=64).contains(&settings.name.len())
            && settings
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(InvalidSchedule::Name(settings.name.clone()));
        }
        let expression = settings.cron.trim();
        let expression = if expression.split_whitespace().count() == 5 {
            format!("0 {expression}")
        } else {
            expression.to_owned()
        };
        let cron = cron::Schedule::from_str(&expression).map_err(|e| InvalidSchedule::Cron {
            name: settings.name.clone(),
            cron: settings.cron.clone(),
            reason: e.to_string(),
        })?;
        let time_zone =
            Tz::from_str(&settings.time_zone).map_err(|_| InvalidSchedule::TimeZone {
                name: settings.name.clone(),
                time_zone: settings.time_zone.clone(),
            })?;
        Ok(Self {
            settings: settings.clone(),
            cron,
            time_zone,
        })
    }

    /// The schedule's name.
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// The settings it was parsed from.
    pub fn settings(&self) -> &ScheduleSettings {
        &self.settings
    }

    /// The time zone its expression is read in.
    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The next `n` run instants strictly after `after`, by the DST rule in
    /// the module documentation.
    pub fn next_runs(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        self.runs_after(after).take(n).collect()
    }

    /// Every run instant strictly after `after`, in order.
    pub fn runs_after(&self, after: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        // Match the expression against wall-clock times: UTC stands in for a
        // zone without DST, so every local time shows exactly once. Start an
        // hour early so a gap-shifted or overlap time just before `after`'s
        // wall clock is still considered.
        let local = after.with_timezone(&self.time_zone).naive_local() - chrono::Duration::hours(3);
        let mut last = after;
        self.cron
            .after(&Utc.from_utc_datetime(&local))
            .map(|wall| self.instant(wall.naive_utc()))
            .filter(move |instant| {
                // Gap-shifted times may land on or before one already given.
                if *instant > last {
                    last = *instant;
                    true
                } else {
                    false
                }
            })
    }

    /// The instant a local wall-clock time stands for, by the DST rule.
    fn instant(&self, wall: NaiveDateTime) -> DateTime<Utc> {
        match self.time_zone.from_local_datetime(&wall) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
            LocalResult::None => {
                // Read the wall time with the offset in force before the gap:
                // the instant the clock would have shown it had it not jumped.
                let before = self
                    .time_zone
                    .offset_from_utc_datetime(&(wall - chrono::Duration::hours(3)))
                    .fix();
                Utc.from_utc_datetime(
                    &(wall - chrono::Duration::seconds(i64::from(before.local_minus_utc()))),
                )
            }
        }
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} {})",
            self.settings.name, self.settings.cron, self.settings.time_zone
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(cron: &str, time_zone: &str) -> CronSchedule {
        CronSchedule::parse(&ScheduleSettings {
            name: "test".to_owned(),
            cron: cron.to_owned(),
            time_zone: time_zone.to_owned(),
            template: "weekly".to_owned(),
            audience: "all".to_owned(),
            send_when_empty: false,
            max_source_age_secs: None,
        })
        .expect("valid schedule")
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("RFC 3339")
            .with_timezone(&Utc)
    }

    /// `schedule`'s next runs after `after` are `expected` (RFC 3339, UTC).
    fn assert_runs(schedule: &CronSchedule, after: &str, expected: &[&str]) {
        let expected: Vec<_> = expected.iter().map(|t| utc(t)).collect();
        assert_eq!(schedule.next_runs(utc(after), expected.len()), expected);
    }

    #[test]
    fn five_and_six_field_expressions_parse_and_bad_ones_are_explained() {
        let five = schedule("30 8 * * THU", "Europe/London");
        let six = schedule("0 30 8 * * THU", "Europe/London");
        let after = utc("2026-11-20T00:00:00Z");
        assert_eq!(five.next_runs(after, 3), six.next_runs(after, 3));
        assert_eq!(
            five.next_runs(after, 1),
            vec![utc("2026-11-26T08:30:00Z")],
            "GMT in November"
        );
        let bad = CronSchedule::parse(&ScheduleSettings {
            cron: "every thursday".to_owned(),
            ..five.settings().clone()
        })
        .expect_err("not cron");
        assert!(
            bad.to_string().contains("is not a cron expression"),
            "{bad}"
        );
        let zone = CronSchedule::parse(&ScheduleSettings {
            time_zone: "London".to_owned(),
            ..five.settings().clone()
        })
        .expect_err("not a zone");
        assert!(zone.to_string().contains("IANA"), "{zone}");
    }

    #[test]
    fn a_daily_0130_london_run_happens_once_on_the_spring_forward_day_after_the_gap() {
        let daily = schedule("30 1 * * *", "Europe/London");
        assert_runs(
            &daily,
            "2026-03-28T12:00:00Z",
            &[
                "2026-03-29T01:30:00Z", // 01:30 GMT does not exist: 02:30 BST
                "2026-03-30T00:30:00Z", // 01:30 BST
                "2026-03-31T00:30:00Z",
            ],
        );
    }

    #[test]
    fn a_daily_0130_london_run_happens_once_on_the_fall_back_day_at_the_first_occurrence() {
        let daily = schedule("30 1 * * *", "Europe/London");
        assert_runs(
            &daily,
            "2026-10-24T12:00:00Z",
            &[
                "2026-10-25T00:30:00Z", // 01:30 BST, the first occurrence
                "2026-10-26T01:30:00Z", // 01:30 GMT
                "2026-10-27T01:30:00Z",
            ],
        );
        // Asked during the repeated hour, after the first 01:30 ran, the
        // second 01:30 is not a run.
        assert_runs(&daily, "2026-10-25T01:15:00Z", &["2026-10-26T01:30:00Z"]);
    }

    #[test]
    fn every_fifteen_minutes_is_never_doubled_nor_lost_across_both_changes() {
        let quarter = schedule("*/15 * * * *", "Europe/London");
        // (runs after, the day's end, the day's hours of runs)
        let days = [
            // Spring: the local hour 01:00-02:00 is shifted onto 02:00-03:00 BST,
            // which the schedule already has, so the day has 23 hours of runs.
            ("2026-03-28T23:59:00Z", "2026-03-29T23:00:00Z", 23),
            // Autumn: the repeated hour runs once, so the 25-hour day has 24 hours of runs.
            ("2026-10-24T22:59:00Z", "2026-10-26T00:00:00Z", 24),
        ];
        for (after, end, hours) in days {
            let runs = quarter.next_runs(utc(after), 200);
            let day = runs.iter().filter(|t| **t < utc(end)).count();
            assert_eq!(day, hours * 4, "runs on the day after {after}");
            assert!(runs.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn schedules_in_other_zones_follow_their_own_rules() {
        let new_york = schedule("0 9 * * MON", "America/New_York");
        assert_runs(
            &new_york,
            "2026-03-01T00:00:00Z",
            &["2026-03-02T14:00:00Z", "2026-03-09T13:00:00Z"],
        );
    }
}
