//! Long operator tasks (replay, backfill) run in the background: the API
//! answers `202 Accepted` with the job, and clients poll
//! `GET {prefix}/jobs/{id}` for its progress (the CLI draws it as a bar).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use marquee_admin::jobs::{JobState, JobStatus};

use crate::clock::SharedClock;

/// Finished jobs kept for status queries; older ones are forgotten.
const KEPT: usize = 100;

struct Job {
    id: u64,
    kind: String,
    started_at: DateTime<Utc>,
    processed: AtomicU64,
    /// `u64::MAX` until known.
    total: AtomicU64,
    outcome: OnceLock<(DateTime<Utc>, Result<String, String>)>,
}

impl Job {
    fn status(&self) -> JobStatus {
        let outcome = self.outcome.get();
        let total = self.total.load(Ordering::Relaxed);
        JobStatus {
            id: self.id,
            kind: self.kind.clone(),
            state: match outcome {
                None => JobState::Running,
                Some((_, Ok(_))) => JobState::Succeeded,
                Some((_, Err(_))) => JobState::Failed,
            },
            processed: self.processed.load(Ordering::Relaxed),
            total: (total != u64::MAX).then_some(total),
            summary: outcome.and_then(|(_, result)| result.as_ref().ok().cloned()),
            error: outcome.and_then(|(_, result)| result.as_ref().err().cloned()),
            started_at: self.started_at,
            finished_at: outcome.map(|(at, _)| *at),
        }
    }
}

/// A running job's progress, updated by the work itself.
#[derive(Clone)]
pub struct Progress(Arc<Job>);

impl Progress {
    /// Sets how many items there are to do.
    pub fn set_total(&self, total: u64) {
        self.0.total.store(total, Ordering::Relaxed);
    }

    /// Counts `items` more as done.
    pub fn advance(&self, items: u64) {
        self.0.processed.fetch_add(items, Ordering::Relaxed);
    }
}

/// A service's jobs; cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    jobs: Arc<Mutex<Vec<Arc<Job>>>>,
    next_id: Arc<AtomicU64>,
    clock: SharedClock,
}

impl Jobs {
    /// No jobs yet; `clock` stamps when each starts and finishes.
    pub fn new(clock: SharedClock) -> Self {
        Self {
            jobs: Arc::default(),
            next_id: Arc::default(),
            clock,
        }
    }

    /// Starts `work` on the runtime; its `Ok` is the job's summary.
    pub fn spawn<F, Fut>(&self, kind: &str, work: F) -> JobStatus
    where
        F: FnOnce(Progress) -> Fut,
        Fut: Future<Output = anyhow::Result<String>> + Send + 'static,
    {
        let job = Arc::new(Job {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            kind: kind.to_owned(),
            started_at: self.clock.now(),
            processed: AtomicU64::new(0),
            total: AtomicU64::new(u64::MAX),
            outcome: OnceLock::new(),
        });
        {
            let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
            if jobs.len() >= KEPT
                && let Some(oldest_finished) = jobs.iter().position(|j| j.outcome.get().is_some())
            {
                jobs.remove(oldest_finished);
            }
            jobs.push(job.clone());
        }
        let work = work(Progress(job.clone()));
        let status = job.status();
        let clock = self.clock.clone();
        tokio::spawn(async move {
            let result = work.await.map_err(|error| format!("{error:#}"));
            if let Err(error) = &result {
                tracing::error!(job = job.id, kind = %job.kind, %error, "Job failed");
            }
            let _ = job.outcome.set((clock.now(), result));
        });
        status
    }

    /// The job with `id`, if it is still remembered.
    pub fn status(&self, id: u64) -> Option<JobStatus> {
        let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        jobs.iter().find(|job| job.id == id).map(|job| job.status())
    }

    /// `GET {prefix}/jobs/{id}`.
    pub fn router(&self, prefix: &str) -> Router {
        Router::new()
            .route(&format!("{prefix}/jobs/{{id}}"), get(job_status))
            .with_state(self.clone())
    }

    /// The `202 Accepted` answer for a job just started under `prefix`, with
    /// `Location` pointing at its status.
    pub fn accepted(prefix: &str, status: JobStatus) -> Response {
        let location = format!("{prefix}/jobs/{}", status.id);
        (
            StatusCode::ACCEPTED,
            [(header::LOCATION, location)],
            Json(status),
        )
            .into_response()
    }
}

async fn job_status(State(jobs): State<Jobs>, Path(id): Path<u64>) -> Response {
    match jobs.status(id) {
        Some(status) => Json(status).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no job {id}\n")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;

    async fn finished(jobs: &Jobs, id: u64) -> JobStatus {
        for _ in 0..200 {
            let status = jobs.status(id).unwrap();
            if status.state != JobState::Running {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("job {id} did not finish");
    }

    #[tokio::test]
    async fn a_job_reports_progress_then_its_summary() {
        let jobs = Jobs::new(crate::clock::SystemClock::shared());
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let started = jobs.spawn("replay", |progress| async move {
            progress.set_total(3);
            progress.advance(2);
            wait.await?;
            progress.advance(1);
            Ok("3 events".to_owned())
        });
        assert_eq!(started.state, JobState::Running);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let running = jobs.status(started.id).unwrap();
        assert_eq!((running.processed, running.total), (2, Some(3)));
        go.send(()).unwrap();
        let done = finished(&jobs, started.id).await;
        assert_eq!(done.state, JobState::Succeeded);
        assert_eq!(done.processed, 3);
        assert_eq!(done.summary.as_deref(), Some("3 events"));
        assert!(done.finished_at.is_some());
    }

    #[tokio::test]
    async fn a_failed_job_says_why() {
        let jobs = Jobs::new(crate::clock::SystemClock::shared());
        let started = jobs.spawn("backfill", |_| async { anyhow::bail!("source gone") });
        let done = finished(&jobs, started.id).await;
        assert_eq!(done.state, JobState::Failed);
        assert_eq!(done.error.as_deref(), Some("source gone"));
        assert_eq!(done.total, None);
        assert!(jobs.status(started.id + 1).is_none());
    }
}
