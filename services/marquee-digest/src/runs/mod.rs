//! Runs: a schedule's digest from due time to the last recipient.
//!
//! - [`scheduler`]: the loop that starts due runs and resumes unfinished ones;
//! - [`policy`]: the pure decisions (which due time, what kind, skipped,
//!   held, dry run or sending);
//! - [`opening`]: composing a run's content and recording it;
//! - [`delivery`]: the send loop over the delivery ledger;
//! - [`editing`]: storing and trying templates, test sends (no run);
//! - [`picks`]: editors' picks for a schedule (no run);
//! - [`operations`]: operators' actions and status reports;
//! - [`metrics`]: what runs show Prometheus.

mod delivery;
mod editing;
pub(crate) mod metrics;
mod opening;
mod operations;
mod picks;
mod policy;
mod scheduler;

pub use editing::MAX_TEST_RECIPIENTS;
pub use marquee_admin::digest::{DryRunReport, NextRun, RunReport, ScheduleReport};

/// A digest covers the screenings of this many days.
const WEEK: chrono::Duration = chrono::Duration::days(7);
