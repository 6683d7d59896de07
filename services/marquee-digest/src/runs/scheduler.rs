//! The scheduler loop: resumes runs a stopped process left sending, starts
//! due ones as the [`policy`] decides, and naps until the
//! next is due.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::metrics::{self as series, Outcome};
use super::policy::{self, DueAction};
use crate::DigestService;
use crate::schedule::CronSchedule;
use crate::store::{Run, RunKind, RunStatus};

/// The scheduler never sleeps longer than this, so schedules added over
/// the API and runs resumed by another replica are picked up.
const MAX_NAP: Duration = Duration::from_secs(30);

impl DigestService {
    /// The scheduler loop: resumes unfinished runs, starts due ones, and
    /// naps until the next is due, until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(
            schedules = self.schedules().len(),
            "Digest scheduler started"
        );
        for schedule in self.schedules() {
            match self.inner.store.last_success(schedule.name()).await {
                Ok(Some(at)) => series::last_success(schedule.name(), at),
                Ok(None) => {}
                Err(error) => tracing::warn!(schedule = schedule.name(), %error,
                    "Could not read the last successful run for its gauge"),
            }
        }
        loop {
            if let Err(error) = self.tick(&shutdown).await {
                tracing::error!(error = format!("{error:#}"), "Digest scheduler tick failed");
            }
            let now = self.now();
            let next = self
                .schedules()
                .iter()
                .filter_map(|s| s.next_runs(now, 1).first().copied())
                .min();
            let nap = next
                .and_then(|t| (t - now).to_std().ok())
                .map_or(MAX_NAP, |d| d.min(MAX_NAP));
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(nap) => {}
            }
        }
        tracing::info!("Digest scheduler stopped");
        Ok(())
    }

    /// One pass of the scheduler at the clock's now: resumes runs left
    /// `sending`, then starts every due run. Returns the runs it touched.
    pub async fn tick(&self, shutdown: &CancellationToken) -> anyhow::Result<Vec<String>> {
        let mut touched = Vec::new();
        for run in self.inner.store.unfinished_runs().await? {
            if self.is_active(&run.id) {
                continue;
            }
            tracing::info!(digest_id = %run.id, schedule = %run.schedule, "Resuming an unfinished run");
            if let Err(error) = self.deliver(&run, shutdown).await {
                tracing::error!(digest_id = %run.id, error = format!("{error:#}"), "Could not resume a run");
                continue;
            }
            touched.push(run.id);
        }
        let now = self.now();
        for schedule in self.schedules() {
            if shutdown.is_cancelled() {
                break;
            }
            let started = self
                .start_due(&schedule, now)
                .await
                .inspect_err(|_| series::count(schedule.name(), Outcome::Failed))?;
            // Before sending, which may take long: the next due time is set
            // as soon as this one has its run.
            series::schedule(
                schedule.name(),
                self.is_paused(schedule.name()),
                schedule.next_runs(now, 1).first().copied(),
            );
            if let Some(run) = started {
                if run.status == RunStatus::Sending {
                    self.deliver(&run, shutdown).await?;
                }
                touched.push(run.id);
            }
        }
        Ok(touched)
    }

    /// Creates the run of `schedule` due at or before `now`, if any: the
    /// latest due time without a run, as [`policy::due`] decides.
    async fn start_due(
        &self,
        schedule: &CronSchedule,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<Run>> {
        let window = chrono::Duration::seconds(
            i64::try_from(self.inner.settings.catch_up_window_secs).unwrap_or(i64::MAX / 2_000_000),
        );
        let last = self.inner.store.last_scheduled(schedule.name()).await?;
        // A new schedule (or database) starts from the window, not the epoch.
        let from = last.unwrap_or(now - window);
        let due_times: Vec<_> = schedule
            .runs_after(from)
            .take_while(|t| *t <= now)
            .take(100_000)
            .collect();
        let Some(due) = policy::due(&due_times, now, window) else {
            return Ok(None);
        };
        if due.earlier > 0 {
            tracing::warn!(
                schedule = schedule.name(),
                missed = due.earlier,
                first = %due_times[0],
                "Runs were missed while the process was down; only the latest is considered"
            );
        }
        match due.action {
            DueAction::Missed(note) => {
                tracing::warn!(
                    schedule = schedule.name(),
                    scheduled_for = %due.at,
                    late_secs = due.late.num_seconds(),
                    "A run was missed outside the catch-up window; recording it as missed"
                );
                let mut run = self.new_run(schedule, due.at, RunKind::Scheduled).await?;
                run.status = RunStatus::Missed;
                run.note = note;
                self.create(run, None).await
            }
            DueAction::Start(kind) => {
                if kind == RunKind::CatchUp {
                    tracing::warn!(
                        schedule = schedule.name(),
                        scheduled_for = %due.at,
                        late_secs = due.late.num_seconds(),
                        "Catching up a run missed while the process was down"
                    );
                }
                self.open_run(schedule, due.at, kind).await
            }
        }
    }
}
