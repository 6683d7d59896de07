//! The operator API under `/admin/digest/`: schedules, digests and their
//! runs, subscribers. Authentication is the caller's (the process puts
//! these behind the admin bearer tokens).

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use utoipa::{IntoParams, OpenApi};

use crate::http::{internal, json_error};
use crate::{DigestService, EmailAddress, RunStatus, ScheduleChangeError, ScheduleSettings};

pub(crate) fn router(service: DigestService) -> Router {
    Router::new()
        .route(
            "/admin/digest/schedules",
            get(schedules).post(create_schedule),
        )
        .route(
            "/admin/digest/schedules/{name}",
            axum::routing::put(update_schedule),
        )
        .route("/admin/digest/schedules/{name}/pause", post(pause_schedule))
        .route(
            "/admin/digest/schedules/{name}/resume",
            post(resume_schedule),
        )
        .route("/admin/digest/runs", get(runs))
        .route("/admin/digest/runs/{id}", get(run))
        .route("/admin/digest/runs/{id}/pause", post(pause))
        .route("/admin/digest/runs/{id}/resume", post(resume))
        .route("/admin/digest/preview/{schedule}", get(preview))
        .route("/admin/digest/dry-run/{schedule}", post(dry_run))
        .route("/admin/digest/send/{schedule}", post(send_now))
        .route("/admin/digest/subscribers", get(search))
        .route("/admin/digest/subscribers/{email}/suppress", post(suppress))
        .route("/admin/digest/subscribers.csv", get(export).post(import))
        .with_state(service)
}

fn schedule_error(error: &ScheduleChangeError) -> Response {
    let status = match error {
        ScheduleChangeError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        ScheduleChangeError::Exists(_) => StatusCode::CONFLICT,
        ScheduleChangeError::Unknown(_) => StatusCode::NOT_FOUND,
        ScheduleChangeError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status.is_client_error() {
        tracing::warn!(status = status.as_u16(), reason = %error, "Refused a schedule change");
    }
    json_error(status, error)
}

/// Every schedule with its next five runs (local time and UTC) and whether
/// it is paused.
#[utoipa::path(get, path = "/admin/digest/schedules", tag = "digest",
    security(("bearer" = [])), responses((status = 200, description = "the schedules")))]
async fn schedules(State(service): State<DigestService>) -> Response {
    Json(service.schedule_reports()).into_response()
}

/// A new schedule.
#[utoipa::path(post, path = "/admin/digest/schedules", tag = "digest",
    security(("bearer" = [])), request_body = ScheduleSettings,
    responses((status = 201, description = "created; the schedules"),
        (status = 409, description = "the name is taken"),
        (status = 422, description = "bad cron expression, time zone or template")))]
async fn create_schedule(
    State(service): State<DigestService>,
    Json(settings): Json<ScheduleSettings>,
) -> Response {
    match service.save_schedule(&settings, true).await {
        Ok(_) => (StatusCode::CREATED, Json(service.schedule_reports())).into_response(),
        Err(error) => schedule_error(&error),
    }
}

/// New settings for a schedule (the name in the body must match the path).
#[utoipa::path(put, path = "/admin/digest/schedules/{name}", tag = "digest",
    security(("bearer" = [])), request_body = ScheduleSettings,
    params(("name" = String, Path)),
    responses((status = 200, description = "updated; the schedules"),
        (status = 404, description = "no such schedule"),
        (status = 422, description = "bad settings")))]
async fn update_schedule(
    State(service): State<DigestService>,
    Path(name): Path<String>,
    Json(settings): Json<ScheduleSettings>,
) -> Response {
    if settings.name != name {
        return json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "the body names schedule `{}`, the path `{name}`",
                settings.name
            ),
        );
    }
    match service.save_schedule(&settings, false).await {
        Ok(_) => Json(service.schedule_reports()).into_response(),
        Err(error) => schedule_error(&error),
    }
}

/// Pauses a schedule: its due runs are recorded as skipped until resumed.
#[utoipa::path(post, path = "/admin/digest/schedules/{name}/pause", tag = "digest",
    security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, description = "paused"), (status = 404, description = "no such schedule")))]
async fn pause_schedule(
    State(service): State<DigestService>,
    Path(name): Path<String>,
) -> Response {
    match service.set_paused(&name, true).await {
        Ok(()) => Json(serde_json::json!({ "schedule": name, "paused": true })).into_response(),
        Err(error) => schedule_error(&error),
    }
}

/// Lets a paused schedule run again.
#[utoipa::path(post, path = "/admin/digest/schedules/{name}/resume", tag = "digest",
    security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, description = "resumed"), (status = 404, description = "no such schedule")))]
async fn resume_schedule(
    State(service): State<DigestService>,
    Path(name): Path<String>,
) -> Response {
    match service.set_paused(&name, false).await {
        Ok(()) => Json(serde_json::json!({ "schedule": name, "paused": false })).into_response(),
        Err(error) => schedule_error(&error),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
struct Limit {
    /// Most to list.
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    20
}

/// The newest runs with their delivery counts.
#[utoipa::path(get, path = "/admin/digest/runs", tag = "digest",
    security(("bearer" = [])), params(Limit), responses((status = 200, description = "the runs")))]
async fn runs(State(service): State<DigestService>, Query(limit): Query<Limit>) -> Response {
    match service.status(limit.limit.clamp(1, 500)).await {
        Ok(reports) => Json(reports).into_response(),
        Err(error) => internal(&error),
    }
}

/// One run and its delivery counts.
#[utoipa::path(get, path = "/admin/digest/runs/{id}", tag = "digest",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "the run"), (status = 404, description = "no such run")))]
async fn run(State(service): State<DigestService>, Path(id): Path<String>) -> Response {
    match service.run_report(&id).await {
        Ok(report) => Json(report).into_response(),
        Err(error) => json_error(StatusCode::NOT_FOUND, format!("{error:#}")),
    }
}

/// Pauses a run that is sending; the rest stay pending.
#[utoipa::path(post, path = "/admin/digest/runs/{id}/pause", tag = "digest",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "paused"), (status = 409, description = "not sending")))]
async fn pause(State(service): State<DigestService>, Path(id): Path<String>) -> Response {
    match service.pause(&id).await {
        Ok(true) => Json(serde_json::json!({ "paused": id })).into_response(),
        Ok(false) => json_error(StatusCode::CONFLICT, format!("run {id} is not sending")),
        Err(error) => internal(&error),
    }
}

/// Resumes a paused run where it stopped.
#[utoipa::path(post, path = "/admin/digest/runs/{id}/resume", tag = "digest",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 202, description = "resuming"), (status = 409, description = "not paused")))]
async fn resume(State(service): State<DigestService>, Path(id): Path<String>) -> Response {
    let run = match service.store().run(&id).await {
        Ok(Some(run)) if run.status == RunStatus::Paused => run,
        Ok(_) => return json_error(StatusCode::CONFLICT, format!("run {id} is not paused")),
        Err(error) => return internal(&error.into()),
    };
    tokio::spawn(async move {
        if let Err(error) = service.resume(&run.id, &CancellationToken::new()).await {
            tracing::error!(digest_id = %run.id, error = format!("{error:#}"), "Resuming a run failed");
        }
    });
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "resuming": id })),
    )
        .into_response()
}

#[derive(Debug, Deserialize, IntoParams)]
struct PreviewQuery {
    /// As this subscriber would see it, with their preferences.
    #[serde(default)]
    email: Option<String>,
}

/// The HTML digest as it would be sent now.
#[utoipa::path(get, path = "/admin/digest/preview/{schedule}", tag = "digest",
    security(("bearer" = [])), params(("schedule" = String, Path), PreviewQuery),
    responses((status = 200, description = "the HTML digest", content_type = "text/html"),
        (status = 404, description = "no such schedule or subscriber")))]
async fn preview(
    State(service): State<DigestService>,
    Path(schedule): Path<String>,
    Query(query): Query<PreviewQuery>,
) -> Response {
    let email = match query
        .email
        .as_deref()
        .filter(|e| !e.is_empty())
        .map(EmailAddress::parse)
        .transpose()
    {
        Ok(email) => email,
        Err(error) => return json_error(StatusCode::UNPROCESSABLE_ENTITY, error),
    };
    match service.preview(&schedule, email.as_ref()).await {
        Ok(digest) => Html(digest.html).into_response(),
        Err(error) => json_error(StatusCode::NOT_FOUND, format!("{error:#}")),
    }
}

/// Composes for every recipient and reports; sends nothing.
#[utoipa::path(post, path = "/admin/digest/dry-run/{schedule}", tag = "digest",
    security(("bearer" = [])), params(("schedule" = String, Path)),
    responses((status = 200, description = "the counts"), (status = 404, description = "no such schedule")))]
async fn dry_run(State(service): State<DigestService>, Path(schedule): Path<String>) -> Response {
    match service.dry_run(&schedule).await {
        Ok(report) => Json(report).into_response(),
        Err(error) => json_error(StatusCode::NOT_FOUND, format!("{error:#}")),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
struct SendQuery {
    /// Send even if the freshness gate finds a stale source.
    #[serde(default)]
    force: bool,
}

/// Sends the digest now (held instead when a source is stale, unless forced).
#[utoipa::path(post, path = "/admin/digest/send/{schedule}", tag = "digest",
    security(("bearer" = [])), params(("schedule" = String, Path), SendQuery),
    responses((status = 202, description = "the run and its status (sending, skipped or held)"),
        (status = 404, description = "no such schedule")))]
async fn send_now(
    State(service): State<DigestService>,
    Path(schedule): Path<String>,
    Query(query): Query<SendQuery>,
) -> Response {
    let run = match service.open_manual(&schedule, query.force).await {
        Ok(run) => run,
        Err(error) => return json_error(StatusCode::NOT_FOUND, format!("{error:#}")),
    };
    let (id, status, note) = (run.id.clone(), run.status, run.note.clone());
    if status == RunStatus::Sending {
        tokio::spawn(async move {
            if let Err(error) = service.deliver(&run, &CancellationToken::new()).await {
                tracing::error!(digest_id = %run.id, error = format!("{error:#}"), "Sending a run failed");
            }
        });
    }
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "run": id, "status": status, "note": note })),
    )
        .into_response()
}

#[derive(Debug, Deserialize, IntoParams)]
struct SearchQuery {
    /// Part of an address, any case; every subscriber when empty.
    #[serde(default)]
    q: String,
    /// Most to list.
    #[serde(default = "default_search_limit")]
    limit: usize,
}

fn default_search_limit() -> usize {
    50
}

/// Subscribers whose address contains `q`.
#[utoipa::path(get, path = "/admin/digest/subscribers", tag = "digest",
    security(("bearer" = [])), params(SearchQuery),
    responses((status = 200, description = "matching subscribers")))]
async fn search(
    State(service): State<DigestService>,
    Query(query): Query<SearchQuery>,
) -> Response {
    match service.search(&query.q, query.limit.clamp(1, 1_000)).await {
        Ok(found) => Json(found).into_response(),
        Err(error) => internal(&error),
    }
}

/// Never mail this address again.
#[utoipa::path(post, path = "/admin/digest/subscribers/{email}/suppress", tag = "digest",
    security(("bearer" = [])), params(("email" = String, Path)),
    responses((status = 200, description = "suppressed"), (status = 404, description = "no such subscriber"),
        (status = 422, description = "not an email address")))]
async fn suppress(State(service): State<DigestService>, Path(email): Path<String>) -> Response {
    let email = match EmailAddress::parse(&email) {
        Ok(email) => email,
        Err(error) => return json_error(StatusCode::UNPROCESSABLE_ENTITY, error),
    };
    match service.suppress(&email, "by an operator").await {
        Ok(true) => Json(serde_json::json!({ "suppressed": email.as_str() })).into_response(),
        Ok(false) => json_error(StatusCode::NOT_FOUND, format!("no subscriber {email}")),
        Err(error) => internal(&error),
    }
}

/// Every subscriber as CSV: `email,status,list,venues,formats,min_rating`.
#[utoipa::path(get, path = "/admin/digest/subscribers.csv", tag = "digest",
    security(("bearer" = [])),
    responses((status = 200, description = "CSV", content_type = "text/csv")))]
async fn export(State(service): State<DigestService>) -> Response {
    match service.export_csv().await {
        Ok(csv) => ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response(),
        Err(error) => internal(&error),
    }
}

/// Adds or updates subscribers from CSV (the export's columns); bad rows
/// are reported by line and skipped.
#[utoipa::path(post, path = "/admin/digest/subscribers.csv", tag = "digest",
    security(("bearer" = [])), request_body(content = String, content_type = "text/csv"),
    responses((status = 200, description = "rows imported, and rows refused with line and reason")))]
async fn import(State(service): State<DigestService>, body: String) -> Response {
    match service.import_csv(&body).await {
        Ok(report) => Json(report).into_response(),
        Err(error) => internal(&error),
    }
}

#[derive(OpenApi)]
#[openapi(
    paths(
        schedules,
        create_schedule,
        update_schedule,
        pause_schedule,
        resume_schedule,
        runs,
        run,
        pause,
        resume,
        preview,
        dry_run,
        send_now,
        search,
        suppress,
        export,
        import
    ),
    components(schemas(ScheduleSettings))
)]
struct DigestApi;

/// The digest's part of the admin API's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    DigestApi::openapi()
}
