//! Runs: the scheduler loop, composing, the send loop over the delivery
//! ledger, pause/resume, dry runs and status.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::compose::{DigestContent, RenderedDigest, week_start};
use crate::mailer::{self, SendError};
use crate::schedule::CronSchedule;
use crate::store::{
    DeliveryCounts, DeliveryOutcome, Run, RunKind, RunStatus, Subscriber, SubscriberStatus,
};
use crate::token::Purpose;
use crate::{DigestService, EmailAddress};

/// A digest covers the screenings of this many days.
const WEEK: chrono::Duration = chrono::Duration::days(7);

/// The scheduler never sleeps longer than this, so schedules added over
/// the API and runs resumed by another replica are picked up.
const MAX_NAP: Duration = Duration::from_secs(30);

pub use marquee_admin::digest::{DryRunReport, NextRun, RunReport, ScheduleReport};

impl DigestService {
    /// The scheduler loop: resumes unfinished runs, starts due ones, and
    /// naps until the next is due, until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(
            schedules = self.schedules().len(),
            "Digest scheduler started"
        );
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
            if let Some(run) = self.start_due(&schedule, now).await? {
                if run.status == RunStatus::Sending {
                    self.deliver(&run, shutdown).await?;
                }
                touched.push(run.id);
            }
        }
        Ok(touched)
    }

    /// Creates the run of `schedule` due at or before `now`, if any: the
    /// latest due time without a run. One within the catch-up window is
    /// sent (late, and logged); an older one is recorded as missed.
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
        let due: Vec<_> = schedule
            .runs_after(from)
            .take_while(|t| *t <= now)
            .take(100_000)
            .collect();
        let Some(&latest) = due.last() else {
            return Ok(None);
        };
        let earlier = due.len() - 1;
        if earlier > 0 {
            tracing::warn!(
                schedule = schedule.name(),
                missed = earlier,
                first = %due[0],
                "Runs were missed while the process was down; only the latest is considered"
            );
        }
        let late = now - latest;
        if late > window {
            tracing::warn!(
                schedule = schedule.name(),
                scheduled_for = %latest,
                late_secs = late.num_seconds(),
                "A run was missed outside the catch-up window; recording it as missed"
            );
            let mut run = self.new_run(schedule, latest, RunKind::Scheduled).await?;
            run.status = RunStatus::Missed;
            run.note = format!(
                "missed: due {latest}, {} s before the scheduler saw it (catch-up window {} s); {earlier} earlier runs missed too",
                late.num_seconds(),
                window.num_seconds()
            );
            return self.create(run, &[]).await;
        }
        let kind = if late > chrono::Duration::seconds(60) || earlier > 0 {
            tracing::warn!(
                schedule = schedule.name(),
                scheduled_for = %latest,
                late_secs = late.num_seconds(),
                "Catching up a run missed while the process was down"
            );
            RunKind::CatchUp
        } else {
            RunKind::Scheduled
        };
        self.open_run(schedule, latest, kind).await
    }

    async fn new_run(
        &self,
        schedule: &CronSchedule,
        scheduled_for: DateTime<Utc>,
        kind: RunKind,
    ) -> anyhow::Result<Run> {
        let reviews_since = self.reviews_since(schedule, scheduled_for).await?;
        Ok(Run {
            id: uuid::Uuid::new_v4().simple().to_string(),
            schedule: schedule.name().to_owned(),
            scheduled_for,
            kind,
            status: RunStatus::Sending,
            reviews_since,
            created_at: self.now(),
            finished_at: None,
            note: String::new(),
        })
    }

    async fn create(&self, run: Run, recipients: &[Subscriber]) -> anyhow::Result<Option<Run>> {
        if self.inner.store.create_run(&run, recipients).await? {
            Ok(Some(run))
        } else {
            // Another replica (or an earlier tick) has it.
            Ok(None)
        }
    }

    /// Composes a new run and records it: skipped when there is nothing new
    /// (unless `send_when_empty`), dry-run under `dry_run`, else sending
    /// with every recipient pending in the ledger.
    async fn open_run(
        &self,
        schedule: &CronSchedule,
        scheduled_for: DateTime<Utc>,
        kind: RunKind,
    ) -> anyhow::Result<Option<Run>> {
        let mut run = self.new_run(schedule, scheduled_for, kind).await?;
        let content = self
            .content(schedule, run.reviews_since, scheduled_for)
            .await?;
        let audience = self
            .inner
            .store
            .audience(&schedule.settings().audience)
            .await?;
        let mut recipients: &[Subscriber] = &audience;
        let scheduled = kind.is_scheduled();
        let stale = match schedule.settings().max_source_age_secs {
            Some(max_age) if kind != RunKind::Forced && !self.inner.settings.dry_run => {
                self.stale_sources(max_age).await
            }
            _ => None,
        };
        if scheduled && self.is_paused(schedule.name()) {
            run.status = RunStatus::Skipped;
            run.finished_at = Some(self.now());
            run.note = "skipped: schedule paused by an operator".to_owned();
            recipients = &[];
            tracing::warn!(digest_id = %run.id, schedule = schedule.name(), "Digest run skipped: schedule paused");
        } else if content.is_empty() && !schedule.settings().send_when_empty {
            run.status = RunStatus::Skipped;
            run.finished_at = Some(self.now());
            run.note = format!(
                "skipped: nothing new (no reviews since {}, no screenings in the next 7 days); set send_when_empty to send anyway",
                run.reviews_since
            );
            recipients = &[];
            tracing::warn!(
                digest_id = %run.id,
                schedule = schedule.name(),
                scheduled_for = %scheduled_for,
                "Digest run skipped: nothing new"
            );
        } else if let Some(stale) = stale {
            run.status = RunStatus::Held;
            run.finished_at = Some(self.now());
            run.note = format!(
                "held by the freshness gate: {stale}; send with force once the sources are fixed"
            );
            recipients = &[];
            metrics::counter!("marquee_digest_held_total", "schedule" => schedule.name().to_owned())
                .increment(1);
            tracing::error!(digest_id = %run.id, schedule = schedule.name(), note = %run.note,
                "Digest held: its sources are stale");
        } else if self.inner.settings.dry_run {
            run.status = RunStatus::DryRun;
            run.finished_at = Some(self.now());
            run.note = format!(
                "dry run: {} reviews, {} screenings, {} recipients; nothing sent",
                content.reviews.len(),
                content.screenings.len(),
                audience.len()
            );
            recipients = &[];
            tracing::info!(digest_id = %run.id, schedule = schedule.name(), note = %run.note, "Digest dry run");
        } else {
            tracing::info!(
                digest_id = %run.id,
                schedule = schedule.name(),
                scheduled_for = %scheduled_for,
                kind = kind.as_str(),
                recipients = audience.len(),
                "Digest run started"
            );
        }
        self.create(run, recipients).await
    }

    /// Reviews published after this instant go into `schedule`'s digest at
    /// `at`: its last sent digest, or a week back for the first one.
    async fn reviews_since(
        &self,
        schedule: &CronSchedule,
        at: DateTime<Utc>,
    ) -> anyhow::Result<DateTime<Utc>> {
        Ok(self
            .inner
            .store
            .last_sent(schedule.name())
            .await?
            .filter(|t| *t < at)
            .unwrap_or(at - WEEK))
    }

    /// The schedule called `name` and what its digest would carry now.
    async fn content_now(&self, name: &str) -> anyhow::Result<(CronSchedule, DigestContent)> {
        let schedule = self
            .schedule(name)
            .with_context(|| format!("no schedule `{name}`"))?;
        let now = self.now();
        let since = self.reviews_since(&schedule, now).await?;
        let content = self.content(&schedule, since, now).await?;
        Ok((schedule, content))
    }

    /// What a digest of `schedule` at `at` carries before preferences.
    async fn content(
        &self,
        schedule: &CronSchedule,
        reviews_since: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> anyhow::Result<DigestContent> {
        let store = &self.inner.store;
        let reviews = store.reviews_between(reviews_since, at).await?;
        let screenings = store.screenings_between(at, at + WEEK).await?;
        let mut linked: Vec<&str> = screenings
            .iter()
            .filter_map(|s| s.review_id.as_ref().map(|id| id.as_str()))
            .collect();
        linked.sort_unstable();
        linked.dedup();
        let ratings = store.ratings(&linked).await?;
        Ok(DigestContent {
            week_start: week_start(at, schedule.time_zone()),
            reviews,
            screenings,
            ratings,
        })
    }

    fn unsubscribe_url(&self, subscriber_id: &str) -> String {
        let expires = self.now()
            + chrono::Duration::seconds(
                i64::try_from(self.inner.settings.unsubscribe_token_ttl_secs)
                    .unwrap_or(i64::MAX / 2_000_000),
            );
        let token = self
            .inner
            .signer
            .sign(Purpose::Unsubscribe, subscriber_id, expires);
        let mut url = self
            .inner
            .settings
            .public_base_url
            .join("unsubscribe")
            .unwrap_or_else(|_| self.inner.settings.public_base_url.clone());
        url.query_pairs_mut().append_pair("token", &token);
        url.to_string()
    }

    fn list_unsubscribe(&self, https: &str) -> String {
        let mailto = self
            .inner
            .settings
            .unsubscribe_mailto
            .clone()
            .unwrap_or_else(|| self.inner.mailer.sender_address().to_owned());
        format!("<{https}>, <mailto:{mailto}?subject=unsubscribe>")
    }

    /// The digest `subscriber` gets from `content`, or `None` when nothing
    /// is left for them and the schedule does not send empty digests.
    fn personal(
        &self,
        schedule: &CronSchedule,
        content: &DigestContent,
        subscriber: &Subscriber,
    ) -> anyhow::Result<Option<(RenderedDigest, String)>> {
        let mine = content.for_preferences(&subscriber.preferences);
        if mine.is_empty() && !schedule.settings().send_when_empty {
            return Ok(None);
        }
        let url = self.unsubscribe_url(&subscriber.id);
        let rendered = self
            .inner
            .templates
            .digest(&schedule.settings().template, &mine, &url)?;
        Ok(Some((rendered, url)))
    }

    fn is_active(&self, run_id: &str) -> bool {
        self.inner
            .active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(run_id)
    }

    /// Sends a `sending` run's pending deliveries; marks it sent once none
    /// is pending, pauses it after too many errors in a row, and leaves it
    /// `sending` when `shutdown` stops it (the next start resumes it).
    #[tracing::instrument(skip_all, fields(digest_id = %run.id, schedule = %run.schedule))]
    pub(crate) async fn deliver(
        &self,
        run: &Run,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<DeliveryCounts> {
        let store = &self.inner.store;
        let schedule = self.schedule(&run.schedule).with_context(|| {
            format!(
                "run {} belongs to schedule `{}`, which is not configured",
                run.id, run.schedule
            )
        })?;
        let stop = shutdown.child_token();
        {
            let mut active = self
                .inner
                .active
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if active.contains_key(&run.id) {
                anyhow::bail!("run {} is already being sent", run.id);
            }
            active.insert(run.id.clone(), stop.clone());
        }
        // No sender of this process has the run (`active` says so), so a
        // delivery still `sending` was cut off with a dead process.
        let interrupted = store.settle_interrupted(&run.id).await?;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "Deliveries cut off mid-send by a stopped process are not sent again"
            );
        }
        let outcome = self.deliver_pending(run, &schedule, &stop).await;
        self.inner
            .active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&run.id);
        let paused_by_errors = outcome?;
        let counts = store.counts(&run.id).await?;
        if let Some(reason) = paused_by_errors {
            store
                .set_run_status(&run.id, &[RunStatus::Sending], RunStatus::Paused, &reason)
                .await?;
            tracing::error!(reason, ?counts, "Digest run paused itself");
        } else if shutdown.is_cancelled() {
            tracing::info!(
                ?counts,
                "Digest run interrupted by shutdown; it resumes on the next start"
            );
        } else if stop.is_cancelled() {
            tracing::info!(?counts, "Digest run paused by an operator");
        } else if store
            .finish_run(
                &run.id,
                &format!(
                    "{} sent, {} failed, {} skipped, {} interrupted",
                    counts.sent, counts.failed, counts.skipped, counts.interrupted
                ),
            )
            .await?
        {
            tracing::info!(?counts, "Digest run finished");
        } else {
            tracing::warn!(
                ?counts,
                "Digest run has unsent recipients; it is retried on the next tick"
            );
        }
        Ok(counts)
    }

    /// The send loop; returns why it paused itself, if it did.
    async fn deliver_pending(
        &self,
        run: &Run,
        schedule: &CronSchedule,
        stop: &CancellationToken,
    ) -> anyhow::Result<Option<String>> {
        let store = &self.inner.store;
        let content = Arc::new(
            self.content(schedule, run.reviews_since, run.scheduled_for)
                .await?,
        );
        let pending = store.pending(&run.id).await?;
        let limit = self.inner.settings.smtp.pause_after_errors.max(1);
        let errors_in_a_row = AtomicU32::new(0);
        let paused = AtomicBool::new(false);
        let last_error = std::sync::Mutex::new(String::new());
        let results = futures::stream::iter(pending)
            .map(|subscriber_id| {
                let content = Arc::clone(&content);
                let errors_in_a_row = &errors_in_a_row;
                let paused = &paused;
                let last_error = &last_error;
                async move {
                    if stop.is_cancelled() {
                        return Ok(());
                    }
                    match self
                        .deliver_one(run, schedule, &content, &subscriber_id)
                        .await?
                    {
                        Ok(()) => errors_in_a_row.store(0, Ordering::SeqCst),
                        Err(error) => {
                            *last_error
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                                error.to_string();
                            if errors_in_a_row.fetch_add(1, Ordering::SeqCst) + 1 >= limit {
                                paused.store(true, Ordering::SeqCst);
                                stop.cancel();
                            }
                        }
                    }
                    anyhow::Ok(())
                }
            })
            .buffer_unordered(self.inner.settings.smtp.concurrency)
            .collect::<Vec<_>>()
            .await;
        results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
        Ok(paused.load(Ordering::SeqCst).then(|| {
            format!(
                "paused after {limit} consecutive send errors; last: {}; resume once the relay is fixed",
                last_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
            )
        }))
    }

    /// Sends one ledger row and records the outcome; the inner error is a
    /// failed send (counted towards pausing), the outer one a store failure.
    async fn deliver_one(
        &self,
        run: &Run,
        schedule: &CronSchedule,
        content: &DigestContent,
        subscriber_id: &str,
    ) -> anyhow::Result<Result<(), SendError>> {
        let store = &self.inner.store;
        let subscriber = store
            .subscriber(subscriber_id)
            .await?
            .filter(|s| s.status == SubscriberStatus::Confirmed);
        let Some(subscriber) = subscriber else {
            store
                .mark(
                    &run.id,
                    subscriber_id,
                    DeliveryOutcome::Skipped,
                    0,
                    Some("no longer subscribed"),
                )
                .await?;
            return Ok(Ok(()));
        };
        let Some((digest, unsubscribe)) = self.personal(schedule, content, &subscriber)? else {
            store
                .mark(
                    &run.id,
                    subscriber_id,
                    DeliveryOutcome::Skipped,
                    0,
                    Some("nothing matches their preferences"),
                )
                .await?;
            return Ok(Ok(()));
        };
        let envelope = mailer::Envelope {
            to: &subscriber.email,
            message_id: format!(
                "<digest-{}-{}@{}>",
                run.id,
                subscriber.id,
                self.inner.mailer.domain()
            ),
            list_unsubscribe: Some(self.list_unsubscribe(&unsubscribe)),
        };
        let message = self.inner.mailer.digest_message(&envelope, &digest)?;
        if !store.claim(&run.id, subscriber_id).await? {
            return Ok(Ok(()));
        }
        let sent = self.inner.mailer.send(&message).await;
        crate::mailer::count(&run.schedule, sent.is_ok());
        match sent {
            Ok(attempts) => {
                store
                    .mark(
                        &run.id,
                        subscriber_id,
                        DeliveryOutcome::Sent,
                        attempts,
                        None,
                    )
                    .await?;
                Ok(Ok(()))
            }
            Err(error @ SendError::Permanent(_)) => {
                let reason = error.to_string();
                tracing::warn!(subscriber_id, error = %reason, "The relay refused a digest for good");
                store
                    .mark(
                        &run.id,
                        subscriber_id,
                        DeliveryOutcome::Failed,
                        1,
                        Some(&reason),
                    )
                    .await?;
                Ok(Err(error))
            }
            Err(error) => {
                // Stays pending: a resume or the next tick retries it.
                let reason = error.to_string();
                tracing::warn!(subscriber_id, error = %reason, "Could not send a digest; left pending");
                store.note_attempt(&run.id, subscriber_id, &reason).await?;
                Ok(Err(error))
            }
        }
    }

    /// The digest of `schedule` as `subscriber` (or anyone, without
    /// preferences) would get it if it were sent now.
    pub async fn preview(
        &self,
        schedule: &str,
        subscriber: Option<&EmailAddress>,
    ) -> anyhow::Result<RenderedDigest> {
        let (schedule, content) = self.content_now(schedule).await?;
        let (content, url) = match subscriber {
            Some(email) => {
                let found = self
                    .inner
                    .store
                    .subscriber_by_email(email)
                    .await?
                    .with_context(|| format!("no subscriber {email}"))?;
                (
                    content.for_preferences(&found.preferences),
                    self.unsubscribe_url(&found.id),
                )
            }
            None => (content, self.unsubscribe_url("preview")),
        };
        Ok(self
            .inner
            .templates
            .digest(&schedule.settings().template, &content, &url)?)
    }

    /// Composes `schedule`'s digest for every recipient as if sent now,
    /// sends nothing, and reports the counts.
    pub async fn dry_run(&self, schedule: &str) -> anyhow::Result<DryRunReport> {
        let (schedule, content) = self.content_now(schedule).await?;
        let audience = self
            .inner
            .store
            .audience(&schedule.settings().audience)
            .await?;
        let mut would_send = 0;
        for subscriber in &audience {
            if self.personal(&schedule, &content, subscriber)?.is_some() {
                would_send += 1;
            }
        }
        Ok(DryRunReport {
            schedule: schedule.name().to_owned(),
            subject: crate::subject(content.week_start),
            reviews: content.reviews.len(),
            screenings: content.screenings.len(),
            recipients: audience.len(),
            would_send,
            would_skip: audience.len() - would_send,
        })
    }

    /// Starts a run of `schedule` now, outside its schedule, and sends it.
    pub async fn send_now(
        &self,
        schedule: &str,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<RunReport> {
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
    ) -> anyhow::Result<RunReport> {
        let run = self
            .inner
            .store
            .run(run_id)
            .await?
            .with_context(|| format!("no run {run_id}"))?;
        anyhow::ensure!(
            run.status == RunStatus::Sending,
            "run {run_id} is {:?}, not sending",
            run.status
        );
        self.deliver(&run, shutdown).await?;
        self.run_report(run_id).await
    }

    /// Records a manual run of `schedule` at the clock's now, unsent;
    /// `force` skips the freshness gate.
    pub async fn open_manual(&self, schedule: &str, force: bool) -> anyhow::Result<Run> {
        let schedule = self
            .schedule(schedule)
            .with_context(|| format!("no schedule `{schedule}`"))?;
        let kind = if force {
            RunKind::Forced
        } else {
            RunKind::Manual
        };
        self.open_run(&schedule, self.now(), kind)
            .await?
            .context("a run of this schedule was started at the same instant")
    }

    /// Pauses a sending run; in-flight messages finish, the rest stay pending.
    pub async fn pause(&self, run_id: &str) -> anyhow::Result<bool> {
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
    ) -> anyhow::Result<RunReport> {
        let resumed = self
            .inner
            .store
            .set_run_status(run_id, &[RunStatus::Paused], RunStatus::Sending, "resumed")
            .await?;
        anyhow::ensure!(resumed, "run {run_id} is not paused");
        let run = self
            .inner
            .store
            .run(run_id)
            .await?
            .context("run vanished")?;
        self.deliver(&run, shutdown).await?;
        self.run_report(run_id).await
    }

    /// One run and its counts.
    pub async fn run_report(&self, run_id: &str) -> anyhow::Result<RunReport> {
        let run = self
            .inner
            .store
            .run(run_id)
            .await?
            .with_context(|| format!("no run {run_id}"))?;
        let counts = self.inner.store.counts(run_id).await?;
        Ok(RunReport { run, counts })
    }

    /// The newest runs with their counts.
    pub async fn status(&self, limit: i64) -> anyhow::Result<Vec<RunReport>> {
        let mut reports = Vec::new();
        for run in self.inner.store.recent_runs(limit).await? {
            let counts = self.inner.store.counts(&run.id).await?;
            reports.push(RunReport { run, counts });
        }
        Ok(reports)
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
