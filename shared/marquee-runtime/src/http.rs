//! The process's HTTP side: `/healthz` (the process answers), `/readyz` (its
//! dependencies answer, and what an operator should know that does not stop
//! it) and Prometheus `/metrics`, merged with the routes of the services the
//! process runs.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// The `[http]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        }
    }
}

type CheckFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
type Check = Arc<dyn Fn() -> CheckFuture + Send + Sync>;
type WarningsFuture = Pin<Box<dyn Future<Output = Vec<String>> + Send>>;
type Warnings = Arc<dyn Fn() -> WarningsFuture + Send + Sync>;

/// How long one check or warning may take before it counts as failed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Named readiness checks (the broker, each database) and warnings (a topic
/// that would lose history).
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<(String, Check)>,
    warnings: Vec<(String, Warnings)>,
}

/// What `/readyz` answers: each check's `ok` or why it failed, and beside
/// them any warnings, which never make the process unready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessReport {
    /// `ok`, or the reason, by check name.
    #[serde(flatten)]
    pub checks: BTreeMap<String, String>,
    /// What needs an operator's attention, by warning name; left out when
    /// there is none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub warnings: BTreeMap<String, Vec<String>>,
}

impl Readiness {
    /// Adds a check that must pass for the process to be ready: `check`
    /// runs on a clone of `target` (a service or client) at every probe.
    pub fn check<T, F, Fut>(mut self, name: impl Into<String>, target: T, check: F) -> Self
    where
        T: Clone + Send + Sync + 'static,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let check: Check = Arc::new(move || Box::pin(check(target.clone())));
        self.checks.push((name.into(), check));
        self
    }

    /// Adds a warning: `warn` runs on a clone of `target` at every probe,
    /// and what it answers is reported under `warnings` without making the
    /// process unready, for what an operator must fix but that does not stop
    /// the service (an answer of nothing is no warning).
    pub fn warning<T, F, Fut>(mut self, name: impl Into<String>, target: T, warn: F) -> Self
    where
        T: Clone + Send + Sync + 'static,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<String>> + Send + 'static,
    {
        let warn: Warnings = Arc::new(move || Box::pin(warn(target.clone())));
        self.warnings.push((name.into(), warn));
        self
    }
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}

/// `/healthz`, `/readyz` and `/metrics`.
pub fn operations_router(readiness: Readiness) -> Router {
    let metrics = metrics_handle();
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready).with_state(readiness))
        .route("/metrics", get(move || async move { metrics.render() }))
}

async fn ready(State(readiness): State<Readiness>) -> impl IntoResponse {
    let timed_out = || format!("timed out after {} s", PROBE_TIMEOUT.as_secs());
    let mut all_ready = true;
    let mut report = ReadinessReport {
        checks: BTreeMap::new(),
        warnings: BTreeMap::new(),
    };
    for (name, check) in &readiness.checks {
        let status = match tokio::time::timeout(PROBE_TIMEOUT, check()).await {
            Ok(Ok(())) => "ok".to_owned(),
            Ok(Err(error)) => format!("{error:#}"),
            Err(_) => timed_out(),
        };
        all_ready &= status == "ok";
        report.checks.insert(name.clone(), status);
    }
    for (name, warn) in &readiness.warnings {
        let warnings = tokio::time::timeout(PROBE_TIMEOUT, warn())
            .await
            .unwrap_or_else(|_| vec![timed_out()]);
        if !warnings.is_empty() {
            report.warnings.insert(name.clone(), warnings);
        }
    }
    let code = if all_ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(report))
}

/// A bound listener; [`Server::serve`] runs it.
pub struct Server {
    listener: tokio::net::TcpListener,
}

impl Server {
    /// Binds `settings.listen`.
    pub async fn bind(settings: &HttpSettings) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("Failed to listen on {}", settings.listen))?;
        Ok(Self { listener })
    }

    /// The address actually bound.
    pub fn address(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves `router` until `shutdown`, then lets open requests finish.
    /// Handlers may read the client's address (`ConnectInfo<SocketAddr>`).
    pub async fn serve(self, router: Router, shutdown: CancellationToken) -> anyhow::Result<()> {
        axum::serve(
            self.listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .context("HTTP server failed")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn readyz(readiness: Readiness) -> (StatusCode, serde_json::Value) {
        let response = operations_router(readiness)
            .oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn readiness_fails_with_the_reason_of_each_failing_check() {
        let readiness = Readiness::default()
            .check("bus", (), |()| async { Ok(()) })
            .check("database", "db.example:5432", |host| async move {
                anyhow::bail!("connection to {host} refused")
            });
        let (status, report) = readyz(readiness).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(report["bus"], "ok");
        assert_eq!(report["database"], "connection to db.example:5432 refused");
    }

    #[tokio::test]
    async fn readiness_passes_when_every_check_does() {
        let readiness = Readiness::default().check("bus", (), |()| async { Ok(()) });
        let (status, report) = readyz(readiness).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(report["bus"], "ok");
        assert_eq!(report.get("warnings"), None, "{report}");
    }

    #[tokio::test]
    async fn a_warning_is_reported_without_making_the_process_unready() {
        let readiness = Readiness::default()
            .check("bus", (), |()| async { Ok(()) })
            .warning("bus-history", "reviews", |topic| async move {
                vec![format!("topic `{topic}` would lose history")]
            })
            .warning("quiet", (), |()| async { Vec::new() });
        let (status, report) = readyz(readiness).await;
        assert_eq!(status, StatusCode::OK);
        let report: ReadinessReport = serde_json::from_value(report).unwrap();
        assert_eq!(
            report,
            ReadinessReport {
                checks: [("bus".to_owned(), "ok".to_owned())].into(),
                warnings: [(
                    "bus-history".to_owned(),
                    vec!["topic `reviews` would lose history".to_owned()]
                )]
                .into(),
            }
        );
    }
}
