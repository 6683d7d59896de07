//! Wall-clock times at a venue. ("Now" is read from the service's
//! `marquee_runtime::clock`.)
//!
//! DST rules (the same as RFC 5545 §3.3.5 and most calendar clients):
//! - a local time that does not exist (spring forward, e.g. 01:30 on the last
//!   Sunday of March in Europe/London) is read with the offset in force
//!   *before* the gap, which moves it forward by the gap: 01:30 → 02:30 BST;
//! - a local time that occurs twice (fall back, e.g. 01:30 on the last Sunday
//!   of October) is the *earlier* instant, still on summer time: 01:30 BST.

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

/// The instant a wall-clock time at `tz` denotes, by the rules above.
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Tz> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) => at,
        LocalResult::Ambiguous(first, second) => first.min(second),
        LocalResult::None => {
            // No zone has a gap longer than a few hours; the offset six hours
            // earlier is the one in force before this gap.
            let before = tz
                .from_local_datetime(&(local - TimeDelta::hours(6)))
                .earliest()
                .map_or(0, |at| at.offset().fix().local_minus_utc());
            let utc = local - TimeDelta::seconds(i64::from(before));
            Utc.from_utc_datetime(&utc).with_timezone(&tz)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap()
    }

    /// The London wall-clock time `s`, resolved.
    fn london(s: &str) -> DateTime<Tz> {
        resolve_local(chrono_tz::Europe::London, local(s))
    }

    /// The London wall-clock time `s` as the UTC instant it resolves to.
    fn utc(s: &str) -> String {
        london(s).to_utc().to_rfc3339()
    }

    /// The London wall-clock time `s` reads as `shown` once resolved, at the UTC instant `at`.
    fn assert_resolves(s: &str, shown: &str, at: &str) {
        assert_eq!(london(s).naive_local(), local(shown), "{s}");
        assert_eq!(utc(s), at, "{s}");
    }

    #[test]
    fn a_time_in_the_spring_gap_moves_forward_by_the_gap() {
        // 2027-03-28 is the last Sunday of March: 01:00 GMT jumps to 02:00 BST.
        assert_resolves(
            "2027-03-28T01:30",
            "2027-03-28T02:30",
            "2027-03-28T01:30:00+00:00",
        );
        // Either side of the gap is untouched.
        assert_eq!(utc("2027-03-28T00:59"), "2027-03-28T00:59:00+00:00");
        assert_eq!(utc("2027-03-28T02:00"), "2027-03-28T01:00:00+00:00");
    }

    #[test]
    fn a_time_in_the_autumn_fold_is_the_earlier_bst_instant() {
        // 2026-10-25 is the last Sunday of October: 01:00-02:00 happens twice.
        assert_resolves(
            "2026-10-25T01:30",
            "2026-10-25T01:30",
            "2026-10-25T00:30:00+00:00",
        );
        assert_eq!(utc("2026-10-25T02:30"), "2026-10-25T02:30:00+00:00");
    }

    #[test]
    fn ordinary_times_use_the_offset_of_their_season() {
        assert_eq!(utc("2026-12-05T19:30"), "2026-12-05T19:30:00+00:00");
        assert_eq!(utc("2027-06-05T19:30"), "2027-06-05T18:30:00+00:00");
    }
}
