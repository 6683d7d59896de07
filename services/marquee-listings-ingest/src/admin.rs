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

use crate::ListingsIngest;

const PREFIX: &str = "/admin/listings-ingest";

#[derive(Clone)]
struct Admin {
    service: ListingsIngest,
    jobs: Jobs,
}

pub(crate) fn router(service: ListingsIngest) -> Router {
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
#[utoipa::path(get, path = "/admin/listings-ingest/sources", tag = "listings-ingest",
    security(("bearer" = [])), responses((status = 200, body = [SourceHealth])))]
async fn sources(State(admin): State<Admin>) -> Response {
    match admin.service.health.list().await {
        Ok(sources) => Json(sources).into_response(),
        Err(error) => marquee_runtime::error::HttpError::from(error).into_response(),
    }
}

#[derive(Deserialize, IntoParams)]
struct BackfillQuery {
    /// Only this source.
    source: Option<String>,
}

/// Polls every source (or one) now, as a job.
#[utoipa::path(post, path = "/admin/listings-ingest/backfill", tag = "listings-ingest",
    security(("bearer" = [])), params(BackfillQuery),
    responses((status = 202, body = JobStatus, description = "started; poll the Location"),
        (status = 404, description = "no such source")))]
async fn backfill(State(admin): State<Admin>, Query(query): Query<BackfillQuery>) -> Response {
    if let Some(name) = &query.source
        && !admin.service.health.knows(name)
    {
        return (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": format!("no listings source named {name:?}") })),
        )
            .into_response();
    }
    let service = admin.service;
    let status = admin.jobs.spawn("backfill", move |progress| async move {
        let chosen: Vec<_> = service
            .sources
            .iter()
            .filter(|s| {
                query
                    .source
                    .as_ref()
                    .is_none_or(|name| *name == s.settings.name)
            })
            .cloned()
            .collect();
        progress.set_total(chosen.len() as u64);
        let (mut seen, mut published, mut rejected) = (0, 0, 0);
        for source in &chosen {
            let report = service.poll(source).await;
            seen += report.listed + report.changed + report.unchanged;
            published += report.listed + report.changed + report.cancelled;
            rejected += report.rejected;
            progress.advance(1);
        }
        Ok(format!(
            "{} sources, {seen} screenings seen, {published} events published, {rejected} rejected",
            chosen.len()
        ))
    });
    Jobs::accepted(PREFIX, status)
}

#[derive(OpenApi)]
#[openapi(paths(sources, backfill), components(schemas(SourceHealth)))]
struct ListingsApi;

/// The listings-ingest part of the admin API's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ListingsApi::openapi()
}
