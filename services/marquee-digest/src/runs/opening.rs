//! Opening a run: what its digest carries (editors' picks, new reviews,
//! next week's screenings, changes to what the last digest listed), and
//! recording it with its recipients as the policy decides; a run that
//! goes out keeps its web version in the archive.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::WEEK;
use super::metrics::{self as series, Outcome};
use super::policy::{self, Facts, Opening};
use crate::DigestService;
use crate::compose::{Change, DigestContent, picks, week_start};
use crate::error::RunError;
use crate::schedule::CronSchedule;
use crate::store::{Run, RunKind, RunStatus};

impl DigestService {
    pub(super) async fn new_run(
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

    pub(super) async fn create(
        &self,
        run: Run,
        audience: Option<&str>,
    ) -> anyhow::Result<Option<Run>> {
        let Some(recipients) = self.inner.store.create_run(&run, audience).await? else {
            // Another replica (or an earlier tick) has it.
            return Ok(None);
        };
        if audience.is_some() {
            tracing::info!(
                digest_id = %run.id,
                schedule = %run.schedule,
                scheduled_for = %run.scheduled_for,
                kind = run.kind.as_str(),
                recipients,
                "Digest run started"
            );
        }
        // Counted by the replica that recorded it, once.
        if let Some(outcome) = Outcome::opened(run.status) {
            series::count(&run.schedule, outcome);
        }
        Ok(Some(run))
    }

    /// Composes a new run and records it as [`policy::opening`] decides:
    /// skipped, held, a dry run, or sending with every recipient pending
    /// in the ledger.
    pub(super) async fn open_run(
        &self,
        schedule: &CronSchedule,
        scheduled_for: DateTime<Utc>,
        kind: RunKind,
    ) -> anyhow::Result<Option<Run>> {
        let mut run = self.new_run(schedule, scheduled_for, kind).await?;
        let content = self
            .content(schedule, run.reviews_since, scheduled_for)
            .await?;
        let audience = &schedule.settings().audience;
        // Only a dry run's note counts the audience beforehand; a sending
        // run counts those it puts in the ledger.
        let dry_run = if self.inner.settings.dry_run {
            Some(self.inner.store.audience_size(audience).await?)
        } else {
            None
        };
        let stale = match schedule.settings().max_source_age_secs {
            Some(max_age) if kind != RunKind::Forced && !self.inner.settings.dry_run => {
                self.stale_sources(max_age).await
            }
            _ => None,
        };
        let opening = policy::opening(&Facts {
            kind,
            paused: self.is_paused(schedule.name()),
            reviews: content.reviews.len(),
            screenings: content.screenings.len(),
            reviews_since: run.reviews_since,
            send_when_empty: schedule.settings().send_when_empty,
            stale: stale.as_deref(),
            dry_run,
        });
        run.status = opening.status();
        run.note = opening.note().to_owned();
        let name = schedule.name();
        match &opening {
            Opening::Sending => {
                let created = self.create(run, Some(audience)).await?;
                if let Some(run) = &created {
                    self.archive_web_version(schedule, run, &content).await?;
                }
                return Ok(created);
            }
            Opening::Skipped(_) => {
                tracing::warn!(digest_id = %run.id, schedule = name, scheduled_for = %scheduled_for,
                    note = %run.note, "Digest run skipped");
            }
            Opening::Held(_) => {
                tracing::error!(digest_id = %run.id, schedule = name, note = %run.note,
                    "Digest held: its sources are stale");
            }
            Opening::DryRun(_) => {
                tracing::info!(digest_id = %run.id, schedule = name, note = %run.note, "Digest dry run");
            }
        }
        run.finished_at = Some(self.now());
        self.create(run, None).await
    }

    /// Reviews published after this instant go into `schedule`'s digest at
    /// `at`: its last sent digest; for the first one, a week back or further
    /// to take in the latest `first_digest_reviews` (a new deployment's
    /// reviews are older than its first week). Stored with the run, so a
    /// resumed run composes the same digest.
    async fn reviews_since(
        &self,
        schedule: &CronSchedule,
        at: DateTime<Utc>,
    ) -> anyhow::Result<DateTime<Utc>> {
        let store = &self.inner.store;
        if let Some(last) = store.last_sent(schedule.name()).await?.filter(|t| *t < at) {
            return Ok(last);
        }
        let week = at - WEEK;
        let latest = store
            .oldest_of_latest_reviews(self.inner.settings.first_digest_reviews, at)
            .await?;
        // The bound is exclusive: just before the oldest one.
        Ok(latest.map_or(week, |oldest| {
            week.min(oldest - chrono::Duration::microseconds(1))
        }))
    }

    /// The schedule called `name` and what its digest would carry now.
    pub(super) async fn content_now(
        &self,
        name: &str,
    ) -> Result<(CronSchedule, DigestContent), RunError> {
        let schedule = self.known_schedule(name)?;
        let now = self.now();
        let since = self.reviews_since(&schedule, now).await?;
        let content = self.content(&schedule, since, now).await?;
        Ok((schedule, content))
    }

    /// What a digest of `schedule` at `at` carries before preferences.
    pub(super) async fn content(
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
        let editors = store.editor_picks(schedule.name()).await?;
        let rundown = store.latest_rundown(at).await?;
        let rundown_html = rundown.as_ref().map(|r| r.body_html.as_str());
        let picks = picks(&editors.picks, rundown_html, &screenings);
        let listed = store.listed_before(schedule.name(), at).await?;
        let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
        let mut now: HashMap<String, _> = store
            .screenings_now(&ids)
            .await?
            .into_iter()
            .map(|(screening, cancelled)| {
                (screening.id.as_str().to_owned(), (screening, cancelled))
            })
            .collect();
        let changes = listed
            .iter()
            .filter_map(|was| {
                let (screening, cancelled) = now.remove(was.id.as_str())?;
                Change::between(was, screening, cancelled)
            })
            .collect();
        Ok(DigestContent {
            week_start: week_start(at, schedule.time_zone()),
            reviews,
            screenings,
            ratings,
            picks,
            changes,
            needs: Vec::new(),
        })
    }
}
