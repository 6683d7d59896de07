//! The core a service's [`Pipeline`] runs in: every source polled on its
//! interval until shutdown, withdrawal deadlines kept and fired after each
//! poll, each poll's outcome recorded in the sources' health, backfill as a
//! job, and the admin routes.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use marquee_runtime::clock::SharedClock;
use marquee_runtime::jobs::Jobs;
use sqlx::AnyPool;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::change::Change;
use crate::deadline::Deadlines;
use crate::health::SourceHealthLog;
use crate::report::{PollReport, Rejection};
use crate::source::Source;

/// What a service does with one of its sources; the core does the rest.
pub trait Pipeline: Send + Sync + 'static {
    /// A configured source.
    type Source: Source;
    /// Why withdrawing an item failed (it is retried on the next poll).
    type Error: Rejection + Send;

    /// Reads `source` once, publishes what changed, and reports it, with
    /// what a read in full found present and missing ([`PollReport::sweep`]).
    /// Every failure is a rejection in the report, never an error: nothing
    /// upstream can stop the service.
    fn poll(&self, source: &Self::Source) -> impl Future<Output = PollReport> + Send;

    /// How long an item may be missing from its source's complete reads
    /// before it is withdrawn.
    fn grace(&self) -> Duration;

    /// Withdraws (or cancels) `item`, missing from `source` past the grace
    /// period; [`Change::Unchanged`] when there is nothing to withdraw any
    /// more (it is withdrawn already, or another source lists it now).
    fn expire(
        &self,
        source: &Self::Source,
        item: &str,
    ) -> impl Future<Output = Result<Change, Self::Error>> + Send;

    /// Called before a backfill, which reads every document in full: forget
    /// conditional-GET validators, if any.
    fn forget_validators(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
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
    deadlines: Deadlines,
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
    /// The core for `pipeline` reading `sources`, the health records and
    /// withdrawal deadlines in `pool` (the service's database, as its
    /// `store/` opened it). Fails on duplicate source names, since names key
    /// the ledger and the health records.
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
        let deadlines = Deadlines::open(pool).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                name,
                pipeline,
                sources,
                health,
                deadlines,
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

    /// Polls `source`, keeps and fires its withdrawal deadlines, and
    /// records how it went in the sources' health.
    pub async fn poll(&self, source: &P::Source) -> PollReport {
        let mut report = self.inner.pipeline.poll(source).await;
        self.expire(source, &mut report).await;
        self.inner
            .health
            .record(source.name(), &report.outcome(), self.inner.clock.now())
            .await;
        report
    }

    /// Notes what the poll found missing, and withdraws what has been
    /// missing past the grace period, whether or not this poll read the
    /// source (a 304 included).
    async fn expire(&self, source: &P::Source, report: &mut PollReport) {
        let (name, deadlines) = (source.name(), &self.inner.deadlines);
        let now = self.inner.clock.now();
        if let Some(sweep) = &report.sweep {
            let due_at = now + self.inner.pipeline.grace();
            if let Err(error) = deadlines.reconcile(name, sweep, due_at).await {
                report.reject(name, &Unexpected(error));
            }
        }
        let due = match deadlines.due(name, now).await {
            Ok(due) => due,
            Err(error) => return report.reject(name, &Unexpected(error)),
        };
        for item in due {
            match self.inner.pipeline.expire(source, &item).await {
                Ok(change) => {
                    report.count(change);
                    if let Err(error) = deadlines.done(name, &item).await {
                        report.reject(name, &Unexpected(error));
                    }
                }
                Err(error) => report.reject(name, &error),
            }
        }
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
        self.inner.pipeline.forget_validators().await;
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

/// The core's own failure (its database), as a rejection.
struct Unexpected(anyhow::Error);

impl std::fmt::Display for Unexpected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl Rejection for Unexpected {
    fn kind(&self) -> &'static str {
        "unexpected"
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;

    use marquee_test_support::ManualClock;

    use super::*;
    use crate::report::Sweep;

    #[derive(Clone)]
    struct Feed(url::Url);

    impl Source for Feed {
        fn name(&self) -> &str {
            "cms"
        }
        fn kind(&self) -> &str {
            "feed"
        }
        fn url(&self) -> &url::Url {
            &self.0
        }
        fn poll_interval(&self) -> Duration {
            Duration::from_secs(60)
        }
    }

    /// Reads in full once (`a` listed, `b` missing), then answers 304.
    #[derive(Default)]
    struct ThenNotModified {
        polls: Mutex<u32>,
        expired: Mutex<Vec<String>>,
    }

    impl Pipeline for ThenNotModified {
        type Source = Feed;
        type Error = marquee_fetch::FetchError;
        async fn poll(&self, _: &Feed) -> PollReport {
            let mut polls = self.polls.lock().unwrap();
            *polls += 1;
            PollReport {
                read: true,
                sweep: (*polls == 1).then(|| Sweep {
                    present: vec!["a".to_owned()],
                    missing: vec!["b".to_owned()],
                }),
                ..PollReport::default()
            }
        }
        fn grace(&self) -> Duration {
            Duration::from_secs(3600)
        }
        async fn expire(&self, _: &Feed, item: &str) -> Result<Change, Self::Error> {
            self.expired.lock().unwrap().push(item.to_owned());
            Ok(Change::Withdrawn)
        }
    }

    #[tokio::test]
    async fn an_absence_noticed_once_is_withdrawn_on_time_behind_304s_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("ingest.sqlite").display());
        let pool = marquee_runtime::database::connect(&url).await.unwrap();
        let clock = ManualClock::new("2026-12-02T12:00:00Z".parse().unwrap());
        let name = ServiceName {
            service: "films-ingest",
            source: "film",
            items: "films",
        };
        let feed = Feed("https://cms.example/feed".parse().unwrap());
        let ingest = Ingest::open(
            name,
            &pool,
            vec![feed.clone()],
            ThenNotModified::default(),
            clock.shared(),
        )
        .await
        .unwrap();
        assert_eq!(
            ingest.poll(&feed).await.withdrawn,
            0,
            "noticed, not yet due"
        );
        clock.advance(chrono::Duration::minutes(59));
        assert_eq!(
            ingest.poll(&feed).await.withdrawn,
            0,
            "within the grace period"
        );
        drop(ingest);

        // A restart keeps the deadline; the source only answers 304 now.
        let pipeline = ThenNotModified {
            polls: Mutex::new(1),
            ..ThenNotModified::default()
        };
        let ingest = Ingest::open(name, &pool, vec![feed.clone()], pipeline, clock.shared())
            .await
            .unwrap();
        clock.advance(chrono::Duration::minutes(1));
        let report = ingest.poll(&feed).await;
        assert_eq!(report.withdrawn, 1);
        assert_eq!(*ingest.pipeline().expired.lock().unwrap(), ["b"]);
        assert_eq!(ingest.poll(&feed).await.withdrawn, 0, "fired once");
    }
}
