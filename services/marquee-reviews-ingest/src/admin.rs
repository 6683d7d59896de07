//! The operator routes: the sources' health, and backfill (every source,
//! or one, polled now as a job).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use marquee_admin::jobs::JobStatus;
use marquee_runtime::jobs::Jobs;
use marquee_admin::sources::SourceHealth;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

use crate::ReviewsIngest;

const PREFIX: &str = "/admin/reviews-ingest";

#[derive(Clone)]
struct Admin {
    service: ReviewsIngest,
    jobs: Jobs,
}

pub(crate) fn router(service: ReviewsIngest) -> Router {
    let jobs = Jobs::new(marquee_runtime::clock::SystemClock::shared());
    Router::new()
        .route(&format!("{PREFIX}/sources"), get(sources))
        .route(&format!("{PREFIX}/backfill"), post(backfill))
        .with_state(Admin {
            service,
            jobs: jobs.clone(),
        })
        .merge(jobs.router(PREFIX))
}

/// Each source's last poll, last success, last error and what it saw.
#[utoipa::path(get, path = "/admin/reviews-ingest/sources", tag = "reviews-ingest",
    security(("bearer" = [])), responses((status = 200, body = [SourceHealth])))]
async fn sources(State(admin): State<Admin>) -> Response {
    admin.service.health.respond().await
}

#[derive(Deserialize, IntoParams)]
struct BackfillQuery {
    /// Only this source.
    source: Option<String>,
}

/// Polls every source (or one) now, as a job.
#[utoipa::path(post, path = "/admin/reviews-ingest/backfill", tag = "reviews-ingest",
    security(("bearer" = [])), params(BackfillQuery),
    responses((status = 202, body = JobStatus, description = "started; poll the Location"),
        (status = 404, description = "no such source")))]
async fn backfill(State(admin): State<Admin>, Query(query): Query<BackfillQuery>) -> Response {
    if let Some(name) = &query.source
        && !admin.service.health.knows(name)
    {
        return (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": format!("no review source named {name:?}") })),
        )
            .into_response();
    }
    let service = admin.service;
    let status = admin.jobs.spawn("backfill", move |progress| async move {
        let chosen: Vec<_> = service
            .sources
            .iter()
            .filter(|s| query.source.as_deref().is_none_or(|name| name == s.name()))
            .cloned()
            .collect();
        progress.set_total(chosen.len() as u64);
        // In full: no 304 may stand in for reading a document.
        service.inner.pipeline.forget_validators();
        let (mut seen, mut published, mut rejected) = (0, 0, 0);
        for source in &chosen {
            let report = service.poll(source).await;
            seen += report.published + report.updated + report.unchanged;
            published += report.published + report.updated + report.withdrawn;
            rejected += report.rejected;
            progress.advance(1);
        }
        Ok(format!(
            "{} sources, {seen} reviews seen, {published} events published, {rejected} rejected",
            chosen.len()
        ))
    });
    Jobs::accepted(PREFIX, status)
}

#[derive(OpenApi)]
#[openapi(paths(sources, backfill), components(schemas(SourceHealth)))]
struct ReviewsApi;

/// The reviews-ingest part of the admin API's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ReviewsApi::openapi()
}
