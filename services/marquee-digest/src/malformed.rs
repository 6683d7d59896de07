//! Property tests: addresses and cron expressions from operators and
//! readers are accepted or refused with a reason, never a panic; an accepted
//! address can never carry a header line. `scripts/fuzz` runs them longer.

use marquee_runtime::clock::{Clock, SystemClock};
use marquee_test_support::mutated;
use proptest::prelude::*;

use crate::{CronSchedule, EmailAddress, ScheduleSettings};

proptest! {
    #[test]
    fn email_addresses_never_panic_nor_smuggle_headers(
        text in prop_oneof![mutated("Reader.Name+films@mail.example.org"), ".*"],
    ) {
        match EmailAddress::parse(&text) {
            Ok(email) => prop_assert!(
                !email.as_str().contains(['\r', '\n', ',', '<', '>']),
                "{:?} accepted", email.as_str()
            ),
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }

    #[test]
    fn cron_expressions_and_zones_never_panic(
        cron in prop_oneof![mutated("30 8 * * THU"), mutated("0 */15 9-17 * * MON-FRI *"), ".*"],
        time_zone in prop_oneof![Just("Europe/London".to_owned()), mutated("America/New_York"), ".*"],
    ) {
        let settings = ScheduleSettings {
            name: "fuzz".to_owned(),
            cron,
            time_zone,
            template: "weekly".to_owned(),
            audience: "all".to_owned(),
            send_when_empty: false,
            max_source_age_secs: None,
        };
        match CronSchedule::parse(&settings) {
            Ok(schedule) => {
                let _ = schedule.next_runs(SystemClock.now(), 3);
            }
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }
}
