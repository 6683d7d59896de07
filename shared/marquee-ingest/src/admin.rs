//! The operator routes of an ingest service, under `/admin/{service}/`
//! (authentication is the caller's): the sources' health, backfill (every
//! source, or one, polled now in full as a job) and the job's progress. They
//! answer with the admin contract's types, and [`openapi`] documents them
//! from exactly those types.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Json, Response};
use axum::routing::{get, post};
use marquee_admin::ErrorBody;
use marquee_admin::jobs::JobStatus;
use marquee_admin::sources::SourceHealth;
use marquee_runtime::error::HttpError;
use marquee_runtime::jobs::{Jobs, Progress};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

use crate::health::SourceHealthLog;
use crate::poller::{Ingest, Pipeline, ServiceName};

/// Stands for `/admin/{service}` in the documented paths until
/// [`openapi`] names the service.
const PLACEHOLDER: &str = "/admin/ingest-service";
/// Stands for the service in the documented tags.
const TAG: &str = "ingest-service";

type Backfill =
    dyn Fn(Option<String>, Progress) -> Pin<Box<dyn Future<Output = String> + Send>> + Send + Sync;

#[derive(Clone)]
struct Admin {
    name: ServiceName,
    health: SourceHealthLog,
    jobs: Jobs,
    backfill: Arc<Backfill>,
}

impl Admin {
    fn prefix(&self) -> String {
        format!("/admin/{}", self.name.service)
    }
}

impl<P: Pipeline> Ingest<P> {
    /// The operator routes under `/admin/{service}/`.
    pub fn admin_router(&self) -> Router {
        let ingest = self.clone();
        let admin = Admin {
            name: self.name(),
            health: self.health().clone(),
            jobs: self.jobs().clone(),
            backfill: Arc::new(move |only, progress| {
                let ingest = ingest.clone();
                Box::pin(async move { ingest.backfill(only.as_deref(), &progress).await })
            }),
        };
        let prefix = admin.prefix();
        let jobs = admin.jobs.router(&prefix);
        Router::new()
            .route(&format!("{prefix}/sources"), get(sources))
            .route(&format!("{prefix}/backfill"), post(backfill))
            .with_state(admin)
            .merge(jobs)
    }
}

/// Each source's last poll, last success, last error and what it saw.
#[utoipa::path(get, path = "/admin/ingest-service/sources", tag = "ingest-service",
    security(("bearer" = [])),
    responses((status = 200, body = [SourceHealth]),
        (status = 503, body = ErrorBody, description = "the health records could not be read")))]
async fn sources(State(admin): State<Admin>) -> Result<Json<Vec<SourceHealth>>, HttpError> {
    admin.health.list().await.map(Json).map_err(|error| {
        tracing::error!(
            service = admin.name.service,
            error = format!("{error:#}"),
            "Could not read the sources' health"
        );
        HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the sources' health records could not be read; the service log says why",
        )
    })
}

#[derive(Deserialize, IntoParams)]
struct BackfillQuery {
    /// Only this source.
    source: Option<String>,
}

/// Polls every source (or one) now, reading every document in full, as a job.
#[utoipa::path(post, path = "/admin/ingest-service/backfill", tag = "ingest-service",
    security(("bearer" = [])), params(BackfillQuery),
    responses((status = 202, body = JobStatus, description = "started; poll the Location"),
        (status = 404, body = ErrorBody, description = "no such source")))]
async fn backfill(
    State(admin): State<Admin>,
    Query(query): Query<BackfillQuery>,
) -> Result<Response, HttpError> {
    if let Some(name) = &query.source
        && !admin.health.knows(name)
    {
        return Err(HttpError::not_found(format!(
            "no {} source named {name:?}",
            admin.name.source
        )));
    }
    let run = admin.backfill.clone();
    let status = admin.jobs.spawn("backfill", move |progress| async move {
        Ok(run(query.source, progress).await)
    });
    Ok(Jobs::accepted(&admin.prefix(), status))
}

#[derive(OpenApi)]
#[openapi(
    paths(sources, backfill),
    components(schemas(SourceHealth, JobStatus, ErrorBody))
)]
struct IngestApi;

/// The part of the admin API's OpenAPI document that `service`'s ingest
/// routes make, its jobs route included.
pub fn openapi(service: &str) -> utoipa::openapi::OpenApi {
    let mut document = IngestApi::openapi();
    let prefix = format!("/admin/{service}");
    document.paths.paths = std::mem::take(&mut document.paths.paths)
        .into_iter()
        .map(|(path, mut item)| {
            for operation in [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.delete.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                for tag in operation.tags.iter_mut().flatten() {
                    if tag == TAG {
                        service.clone_into(tag);
                    }
                }
                // Both ingest services document these routes: each operation
                // id names its service, so the merged document keeps them apart.
                operation.operation_id = operation
                    .operation_id
                    .take()
                    .map(|id| format!("{}_{id}", service.replace('-', "_")));
            }
            (path.replacen(PLACEHOLDER, &prefix, 1), item)
        })
        .collect();
    document.merge(marquee_admin::jobs::openapi(&prefix));
    document
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use marquee_admin::jobs::JobState;
    use marquee_runtime::clock::SystemClock;
    use tower::ServiceExt;

    use super::*;
    use crate::{Change, PollReport, Source};

    #[derive(Clone)]
    struct Fake(&'static str, url::Url);

    impl Source for Fake {
        fn name(&self) -> &str {
            self.0
        }
        fn kind(&self) -> &str {
            "fake"
        }
        fn url(&self) -> &url::Url {
            &self.1
        }
        fn poll_interval(&self) -> Duration {
            Duration::from_secs(60)
        }
    }

    struct TwoNew;

    impl Pipeline for TwoNew {
        type Source = Fake;
        type Error = marquee_fetch::FetchError;
        fn grace(&self) -> Duration {
            Duration::ZERO
        }
        async fn expire(&self, _: &Fake, _: &str) -> Result<Change, Self::Error> {
            Ok(Change::Unchanged)
        }
        async fn poll(&self, _: &Fake) -> PollReport {
            let mut report = PollReport {
                read: true,
                ..PollReport::default()
            };
            report.count(Change::New);
            report.count(Change::New);
            report
        }
    }

    const NAME: ServiceName = ServiceName {
        service: "films-ingest",
        source: "film",
        items: "films",
    };

    async fn call(router: &Router, method: &str, uri: &str) -> (StatusCode, serde_json::Value) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn backfill_polls_as_a_job_and_health_shows_it() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("ingest.sqlite").display());
        let pool = marquee_runtime::database::connect(&url).await.unwrap();
        let source = Fake("a", "https://a.example/".parse().unwrap());
        let ingest = Ingest::open(
            NAME,
            &pool,
            vec![source.clone(), Fake("b", source.1.clone())],
            TwoNew,
            SystemClock::shared(),
        )
        .await
        .unwrap();
        let router = ingest.admin_router();

        let (status, body) = call(&router, "POST", "/admin/films-ingest/backfill?source=c").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"], "no film source named \"c\"");

        let (status, body) = call(&router, "POST", "/admin/films-ingest/backfill?source=a").await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let id = body["id"].as_u64().unwrap();
        let done = marquee_test_support::wait::until_value(
            "the backfill finished",
            Duration::from_secs(10),
            || async { ingest.jobs().status(id).unwrap() },
            |job| job.state != JobState::Running,
        )
        .await;
        assert_eq!(
            done.summary.as_deref(),
            Some("1 sources, 2 films seen, 2 events published, 0 rejected")
        );
        let (status, body) = call(&router, "GET", &format!("/admin/films-ingest/jobs/{id}")).await;
        assert_eq!(
            (status, body["state"].as_str()),
            (StatusCode::OK, Some("succeeded"))
        );

        let (status, body) = call(&router, "GET", "/admin/films-ingest/sources").await;
        assert_eq!(status, StatusCode::OK);
        let health: Vec<SourceHealth> = serde_json::from_value(body).unwrap();
        assert_eq!((health[0].items_seen, health[0].events_published), (2, 2));
        assert_eq!(health[1].last_poll, None, "only `a` was backfilled");

        let twice = Ingest::open(
            NAME,
            &pool,
            vec![source.clone(), source],
            TwoNew,
            SystemClock::shared(),
        )
        .await;
        assert!(
            twice
                .err()
                .unwrap()
                .to_string()
                .contains("film source name \"a\" is used twice")
        );
    }

    #[test]
    fn the_document_names_every_route_of_the_service() {
        let document = openapi("films-ingest");
        let paths: Vec<_> = document.paths.paths.keys().cloned().collect();
        assert_eq!(
            paths,
            [
                "/admin/films-ingest/backfill",
                "/admin/films-ingest/jobs/{id}",
                "/admin/films-ingest/sources"
            ]
        );
        let json = serde_json::to_value(&document).unwrap();
        let sources = &json["paths"]["/admin/films-ingest/sources"]["get"];
        assert_eq!(sources["tags"][0], "films-ingest");
        assert_eq!(sources["operationId"], "films_ingest_sources");
        assert_eq!(
            sources["responses"]["200"]["content"]["application/json"]["schema"]["items"]["$ref"],
            "#/components/schemas/SourceHealth"
        );
        assert!(json["components"]["schemas"]["JobStatus"].is_object());
    }
}
