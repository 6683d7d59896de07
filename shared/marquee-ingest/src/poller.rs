//! The core a service's [`Pipeline`] runs in: every source polled on its
//! interval until shutdown, each poll's outcome recorded in the sources'
//! health, backfill as a job, and the admin routes.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use marquee_runtime::clock::SharedClock;
use marquee_runtime::jobs::Jobs;
use sqlx::AnyPool;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::health::SourceHealthLog;
use crate::report::PollReport;
use crate::source::Source;

/// What a service does with one of its sources; the core does the rest.
pub trait Pipeline: Send + Sync + 'static {
    /// A configured source.
    type Source: Source;

    /// Reads `source` once, publishes what changed, and reports it. Every
    /// failure is a rejection in the report, never an error: nothing
    /// upstream can stop the service.
    fn poll(&self, source: &Self::Source) -> impl Future<Output = PollReport> + Send;

    /// Called before a backfill, which reads every document in full: forget
    /// conditional-GET validators, if any.
    fn forget_validators(&self) {}
}

/// Which service the core runs, for routes, logs and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceName {
    /// The service, as in `/admin/{service}/…`, e.g. `reviews-ingest`.
    pub service: &'static str,
    /// How messages name one of its sources: "no {source} source named …",
    /// e.g. `review`.
    pub source: &'static str,
    /// What its items are called in a backfill summary, e.g. `reviews`.
    pub items: &'static str,
}

struct Inner<P: Pipeline> {
    name: ServiceName,
    pipeline: P,
    sources: Vec<P::Source>,
    health: SourceHealthLog,
    clock: SharedClock,
    jobs: Jobs,
}

/// A service's pipeline in the core; cheap to clone.
pub struct Ingest<P: Pipeline> {
    inner: Arc<Inner<P>>,
}

impl<P: Pipeline> Clone for Ingest<P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<P: Pipeline> Ingest<P> {
    /// The core for `pipeline` reading `sources`, the health records in
    /// `pool` (the service's database, as its `store/` opened it). Fails on duplicate source names, since names key the
    /// ledger and the health records.
    pub async fn open(
        name: ServiceName,
        pool: &AnyPool,
        sources: Vec<P::Source>,
        pipeline: P,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let mut names = HashSet::new();
        for source in &sources {
            anyhow::ensure!(
                names.insert(source.name()),
                "{} source name {:?} is used twice: names must be unique",
                name.source,
                source.name()
            );
        }
        let health =
            SourceHealthLog::open(pool, sources.iter().map(Source::health_ref).collect()).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                name,
                pipeline,
                sources,
                health,
                jobs: Jobs::new(clock.clone()),
                clock,
            }),
        })
    }

    /// The service's pipeline.
    pub fn pipeline(&self) -> &P {
        &self.inner.pipeline
    }

    /// The sources' health records.
    pub(crate) fn health(&self) -> &SourceHealthLog {
        &self.inner.health
    }

    /// Which service this is.
    pub(crate) fn name(&self) -> ServiceName {
        self.inner.name
    }

    pub(crate) fn jobs(&self) -> &Jobs {
        &self.inner.jobs
    }

    /// Polls `source` and records how it went in the sources' health.
    pub async fn poll(&self, source: &P::Source) -> PollReport {
        let report = self.inner.pipeline.poll(source).await;
        self.inner
            .health
            .record(source.name(), &report.outcome(), self.inner.clock.now())
            .await;
        report
    }

    /// Polls every source once, one after another; for tests and one-shot
    /// runs. The reports by source name, in configuration order.
    pub async fn poll_once(&self) -> Vec<(String, PollReport)> {
        let mut reports = Vec::new();
        for source in &self.inner.sources {
            reports.push((source.name().to_owned(), self.poll(source).await));
        }
        reports
    }

    /// Polls every source on its interval, the first time at once, until
    /// `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut pollers = JoinSet::new();
        for source in self.inner.sources.clone() {
            let ingest = self.clone();
            let shutdown = shutdown.clone();
            pollers.spawn(async move {
                let interval = source.poll_interval();
                loop {
                    // An interrupted poll is safe to drop: ledgers are written
                    // only after a publish succeeded, so the next run redoes it.
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        _ = ingest.poll(&source) => {}
                    }
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(interval) => {}
                    }
                }
            });
        }
        shutdown.cancelled().await;
        while let Some(joined) = pollers.join_next().await {
            if let Err(error) = joined {
                tracing::error!(service = self.inner.name.service, %error, "A source poller panicked");
            }
        }
        Ok(())
    }

    /// Polls the sources named (or every one) now, reading every document
    /// in full; the job summary.
    pub(crate) async fn backfill(
        &self,
        only: Option<&str>,
        progress: &marquee_runtime::jobs::Progress,
    ) -> String {
        let chosen: Vec<_> = self
            .inner
            .sources
            .iter()
            .filter(|source| only.is_none_or(|name| name == source.name()))
            .collect();
        progress.set_total(chosen.len() as u64);
        // In full: no 304 may stand in for reading a document.
        self.inner.pipeline.forget_validators();
        let (mut seen, mut published, mut rejected) = (0, 0, 0);
        for source in &chosen {
            let report = self.poll(source).await;
            seen += report.seen();
            published += report.events_published();
            rejected += report.rejected;
            progress.advance(1);
        }
        format!(
            "{} sources, {seen} {} seen, {published} events published, {rejected} rejected",
            chosen.len(),
            self.inner.name.items
        )
    }
}
