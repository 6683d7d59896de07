//! Operators' actions on runs: preview, dry run, send now, pause and
//! resume, and the status reports the admin API answers with.

use std::pin::pin;

use futures::TryStreamExt;
use tokio_util::sync::CancellationToken;

use super::{DryRunReport, NextRun, RunReport, ScheduleReport};
use crate::compose::{Edition, ReaderLinks, RenderedDigest};
use crate::error::RunError;
use crate::schedule::CronSchedule;
use crate::store::{Run, RunKind, RunStatus};
use crate::{DigestService, EmailAddress};

impl DigestService {
    /// The digest of `schedule` as `subscriber` (or anyone, without
    /// preferences) would get it if it were sent now.
    pub async fn preview(
        &self,
        schedule: &str,
        subscriber: Option<&EmailAddress>,
    ) -> Result<RenderedDigest, RunError> {
        let (schedule, content) = self.content_now(schedule).await?;
        // Before any reader's preferences, which may hide a pick that does
        // match a screening.
        let unmatched = content.unmatched_picks();
        let (mine, unsubscribe_url, preferences_url) = match subscriber {
            Some(email) => {
                let found = self
                    .inner
                    .store
                    .subscriber_by_email(email)
                    .await?
                    .ok_or_else(|| RunError::UnknownSubscriber(email.to_string()))?;
                let preferences_url = self
                    .preferences_url(&found.id)
                    .await
                    .map_err(|error| RunError::Unexpected(error.into()))?
                    .to_string();
                (
                    content.for_preferences(&found.preferences),
                    self.unsubscribe_url(&found.id),
                    preferences_url,
                )
            }
            None => (
                content,
                self.unsubscribe_url("preview"),
                self.nobodys_preferences_url(),
            ),
        };
        let links = ReaderLinks {
            unsubscribe_url: &unsubscribe_url,
            preferences_url: &preferences_url,
        };
        Ok(self.inner.templates.digest(
            &schedule.settings().template,
            &mine,
            &self.web_version_url(schedule.name(), mine.week_start),
            Edition::Preview(links, &unmatched),
        )?)
    }

    /// Composes `schedule`'s digest for every recipient as if sent now,
    /// sends nothing, and reports the counts.
    pub async fn dry_run(&self, schedule: &str) -> Result<DryRunReport, RunError> {
        let (schedule, content) = self.content_now(schedule).await?;
        let (mut recipients, mut would_send) = (0, 0);
        let mut audience = pin!(self.inner.store.audience(&schedule.settings().audience));
        while let Some(subscriber) = audience.try_next().await? {
            recipients += 1;
            if self
                .personal(&schedule, &content, &subscriber)
                .await?
                .is_some()
            {
                would_send += 1;
            }
        }
        let (unsubscribe_url, preferences_url) = (
            self.unsubscribe_url("preview"),
            self.nobodys_preferences_url(),
        );
        let links = ReaderLinks {
            unsubscribe_url: &unsubscribe_url,
            preferences_url: &preferences_url,
        };
        let preview = self.inner.templates.digest(
            &schedule.settings().template,
            &content,
            &self.web_version_url(schedule.name(), content.week_start),
            Edition::Email(links),
        )?;
        Ok(DryRunReport {
            schedule: schedule.name().to_owned(),
            subject: preview.subject,
            reviews: content.reviews.len(),
            screenings: content.screenings.len(),
            recipients,
            would_send,
            would_skip: recipients - would_send,
        })
    }

    /// Starts a run of `schedule` now, outside its schedule, and sends it.
    pub async fn send_now(
        &self,
        schedule: &str,
        shutdown: &CancellationToken,
    ) -> Result<RunReport, RunError> {
        let run = self.open_manual(schedule, false).await?;
        if run.status == RunStatus::Sending {
            self.deliver(&run, shutdown).await?;
        }
        self.run_report(&run.id).await
    }

    /// Sends the pending deliveries of a `sending` run (a manual one, or
    /// one to resume by hand) until done, paused or `shutdown`.
    pub async fn send_run(
        &self,
        run_id: &str,
        shutdown: &CancellationToken,
    ) -> Result<RunReport, RunError> {
        let run = self.stored_run(run_id).await?;
        if run.status != RunStatus::Sending {
            return Err(RunError::WrongStatus {
                id: run.id,
                status: run.status.to_string(),
                wanted: "sending",
            });
        }
        self.deliver(&run, shutdown).await?;
        self.run_report(run_id).await
    }

    /// Records a manual run of `schedule` at the clock's now, unsent;
    /// `force` skips the freshness gate.
    pub async fn open_manual(&self, schedule: &str, force: bool) -> Result<Run, RunError> {
        let schedule = self.known_schedule(schedule)?;
        let kind = if force {
            RunKind::Forced
        } else {
            RunKind::Manual
        };
        self.open_run(&schedule, self.now(), kind)
            .await?
            .ok_or_else(|| {
                RunError::Unexpected(anyhow::anyhow!(
                    "a run of this schedule was started at the same instant"
                ))
            })
    }

    /// Pauses a sending run; in-flight messages finish, the rest stay
    /// pending. False when it was not sending.
    pub async fn pause(&self, run_id: &str) -> Result<bool, RunError> {
        let paused = self
            .inner
            .store
            .set_run_status(
                run_id,
                &[RunStatus::Sending],
                RunStatus::Paused,
                "paused by an operator",
            )
            .await?;
        if let Some(stop) = self
            .inner
            .active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(run_id)
        {
            stop.cancel();
        }
        Ok(paused)
    }

    /// Resumes a paused run and sends its pending deliveries.
    pub async fn resume(
        &self,
        run_id: &str,
        shutdown: &CancellationToken,
    ) -> Result<RunReport, RunError> {
        let resumed = self
            .inner
            .store
            .set_run_status(run_id, &[RunStatus::Paused], RunStatus::Sending, "resumed")
            .await?;
        if !resumed {
            let run = self.stored_run(run_id).await?;
            return Err(RunError::WrongStatus {
                id: run.id,
                status: run.status.to_string(),
                wanted: "paused",
            });
        }
        let run = self.stored_run(run_id).await?;
        self.deliver(&run, shutdown).await?;
        self.run_report(run_id).await
    }

    /// One run and its counts.
    pub async fn run_report(&self, run_id: &str) -> Result<RunReport, RunError> {
        let run = self.stored_run(run_id).await?;
        let counts = self.inner.store.counts(run_id).await?;
        Ok(RunReport { run, counts })
    }

    /// The newest runs with their counts.
    pub async fn status(&self, limit: i64) -> Result<Vec<RunReport>, RunError> {
        let mut reports = Vec::new();
        for run in self.inner.store.recent_runs(limit).await? {
            let counts = self.inner.store.counts(&run.id).await?;
            reports.push(RunReport { run, counts });
        }
        Ok(reports)
    }

    /// The run with `id`, or why there is none.
    async fn stored_run(&self, id: &str) -> Result<Run, RunError> {
        self.inner
            .store
            .run(id)
            .await?
            .ok_or_else(|| RunError::UnknownRun(id.to_owned()))
    }

    /// The schedule called `name`, or why there is none.
    pub(super) fn known_schedule(&self, name: &str) -> Result<CronSchedule, RunError> {
        self.schedule(name)
            .ok_or_else(|| RunError::UnknownSchedule(name.to_owned()))
    }

    /// Every schedule with its next five runs, local and UTC.
    pub fn schedule_reports(&self) -> Vec<ScheduleReport> {
        let now = self.now();
        self.schedules()
            .iter()
            .map(|s| ScheduleReport {
                settings: s.settings().clone(),
                paused: self.is_paused(s.name()),
                next_runs: s
                    .next_runs(now, 5)
                    .into_iter()
                    .map(|utc| NextRun {
                        local: utc.with_timezone(&s.time_zone()).to_rfc3339(),
                        utc,
                    })
                    .collect(),
            })
            .collect()
    }
}
