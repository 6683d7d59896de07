//! The runs' Prometheus series, for `deploy/prometheus/alerts.yml`:
//!
//! - `marquee_digest_runs_total{schedule,status}`: runs by how they ended;
//! - `marquee_digest_last_success_timestamp_seconds{schedule}`: when the
//!   schedule's last run finished sending;
//! - `marquee_digest_next_due_timestamp_seconds{schedule}`: the due time the
//!   scheduler waits for, so one left in the past means it is not running it;
//! - `marquee_digest_schedule_paused{schedule}`: 1 while an operator paused it,
//!   so its skipped runs are not taken for empty digests.
//!
//! Every status of a schedule is counted from zero at its first tick: a
//! series that first appears at 1 shows no `increase()`, and the alert
//! on the first self-paused run would never fire.

use chrono::{DateTime, Utc};

use crate::store::RunStatus;

/// How a run ended, as `marquee_digest_runs_total` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Every recipient handled.
    Sent,
    /// Not sent: nothing new, or its schedule paused by an operator.
    Skipped,
    /// Not sent: a source is stale (the freshness gate).
    Held,
    /// Composed, not sent (`dry_run`).
    DryRun,
    /// Due outside the catch-up window; never sent.
    Missed,
    /// Paused itself after consecutive send errors (an operator's pause is not counted).
    Paused,
    /// Could not be opened or sent (the error is logged; the scheduler retries).
    Failed,
    /// Stopped mid-send by a shutdown; the next start resumes it.
    Interrupted,
}

impl Outcome {
    const ALL: [Self; 8] = [
        Self::Sent,
        Self::Skipped,
        Self::Held,
        Self::DryRun,
        Self::Missed,
        Self::Paused,
        Self::Failed,
        Self::Interrupted,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Skipped => "skipped",
            Self::Held => "held",
            Self::DryRun => "dry_run",
            Self::Missed => "missed",
            Self::Paused => "paused",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
        }
    }

    /// The outcome of a run recorded finished when it was opened.
    pub(crate) fn opened(status: RunStatus) -> Option<Self> {
        match status {
            RunStatus::Skipped => Some(Self::Skipped),
            RunStatus::Held => Some(Self::Held),
            RunStatus::DryRun => Some(Self::DryRun),
            RunStatus::Missed => Some(Self::Missed),
            RunStatus::Sending | RunStatus::Paused | RunStatus::Sent => None,
        }
    }
}

fn runs(schedule: &str, outcome: Outcome) -> metrics::Counter {
    metrics::counter!("marquee_digest_runs_total",
        "schedule" => schedule.to_owned(), "status" => outcome.as_str())
}

/// Counts one run of `schedule` ending as `outcome`.
pub(crate) fn count(schedule: &str, outcome: Outcome) {
    runs(schedule, outcome).increment(1);
}

/// Sets `schedule`'s gauges and makes sure each of its series exists.
pub(crate) fn schedule(schedule: &str, paused: bool, next_due: Option<DateTime<Utc>>) {
    for outcome in Outcome::ALL {
        runs(schedule, outcome).increment(0);
    }
    crate::mailer::register(schedule);
    set_paused(schedule, paused);
    if let Some(due) = next_due {
        metrics::gauge!("marquee_digest_next_due_timestamp_seconds", "schedule" => schedule.to_owned())
            .set(seconds(due));
    }
}

/// Sets whether an operator paused `schedule`.
pub(crate) fn set_paused(schedule: &str, paused: bool) {
    metrics::gauge!("marquee_digest_schedule_paused", "schedule" => schedule.to_owned())
        .set(if paused { 1.0 } else { 0.0 });
}

/// Records that a run of `schedule` finished sending at `at`.
pub(crate) fn last_success(schedule: &str, at: DateTime<Utc>) {
    metrics::gauge!("marquee_digest_last_success_timestamp_seconds", "schedule" => schedule.to_owned())
        .set(seconds(at));
}

fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp() as f64
}
