//! The operator API under `/admin/digest/`: schedules, digests and their
//! runs, templates and test sends, editors' picks, subscribers. Authentication is the caller's (the process puts
//! these behind the admin bearer tokens).
//!
//! Every route is declared once, with its `#[utoipa::path]`, in [`api`]: the
//! router and the OpenAPI document both come from that declaration, and
//! every answer is a type of the admin contract (`marquee_admin::digest`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use marquee_admin::ErrorBody;
use marquee_admin::digest::{
    DigestPreview, DigestTemplate, DryRunReport, EditorPick, EditorPicksReport, ImportReport,
    PreviewQuery, RunPaused, RunReport, RunResuming, RunsQuery, SchedulePaused, ScheduleReport,
    ScheduleSettings, SendAccepted, SendQuery, Subscriber, SubscriberQuery, Suppressed,
    TemplatePreviewQuery, TemplateReport, TestSend, TestSendReport,
};
use marquee_runtime::error::HttpError;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::compose::EditorPicks;
use crate::runs::MAX_TEST_RECIPIENTS;
use crate::{DigestService, EmailAddress, RenderedDigest, RunStatus, Suppression};

/// The routes and their description, before the service is attached.
fn api() -> OpenApiRouter<DigestService> {
    OpenApiRouter::new()
        .routes(routes!(schedules, create_schedule))
        .routes(routes!(update_schedule))
        .routes(routes!(pause_schedule))
        .routes(routes!(resume_schedule))
        .routes(routes!(runs))
        .routes(routes!(run))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(preview))
        .routes(routes!(dry_run))
        .routes(routes!(test_send))
        .routes(routes!(templates))
        .routes(routes!(template, save_template))
        .routes(routes!(try_template))
        .routes(routes!(editor_picks, save_editor_picks))
        .routes(routes!(send_now))
        .routes(routes!(search))
        .routes(routes!(suppress))
        .routes(routes!(export, import))
}

pub(crate) fn router(service: DigestService) -> axum::Router {
    api().with_state(service).split_for_parts().0
}

/// The digest's part of the admin API's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

/// Every schedule with its next five runs (local time and UTC) and whether
/// it is paused.
#[utoipa::path(get, path = "/admin/digest/schedules", tag = "digest",
    security(("bearer" = [])), responses((status = 200, body = [ScheduleReport], description = "the schedules")))]
async fn schedules(State(service): State<DigestService>) -> Json<Vec<ScheduleReport>> {
    Json(service.schedule_reports())
}

/// A new schedule.
#[utoipa::path(post, path = "/admin/digest/schedules", tag = "digest",
    security(("bearer" = [])), request_body = ScheduleSettings,
    responses((status = 201, body = [ScheduleReport], description = "created; the schedules"),
        (status = 409, body = ErrorBody, description = "the name is taken"),
        (status = 422, body = ErrorBody, description = "bad cron expression, time zone or template")))]
async fn create_schedule(
    State(service): State<DigestService>,
    Json(settings): Json<ScheduleSettings>,
) -> Result<(StatusCode, Json<Vec<ScheduleReport>>), HttpError> {
    service.save_schedule(&settings, true).await?;
    Ok((StatusCode::CREATED, Json(service.schedule_reports())))
}

/// New settings for a schedule (the name in the body must match the path).
#[utoipa::path(put, path = "/admin/digest/schedules/{name}", tag = "digest",
    security(("bearer" = [])), request_body = ScheduleSettings,
    params(("name" = String, Path)),
    responses((status = 200, body = [ScheduleReport], description = "updated; the schedules"),
        (status = 404, body = ErrorBody, description = "no such schedule"),
        (status = 422, body = ErrorBody, description = "bad settings")))]
async fn update_schedule(
    State(service): State<DigestService>,
    Path(name): Path<String>,
    Json(settings): Json<ScheduleSettings>,
) -> Result<Json<Vec<ScheduleReport>>, HttpError> {
    if settings.name != name {
        return Err(HttpError::unprocessable(format!(
            "the body names schedule `{}`, the path `{name}`",
            settings.name
        )));
    }
    service.save_schedule(&settings, false).await?;
    Ok(Json(service.schedule_reports()))
}

/// Pauses a schedule: its due runs are recorded as skipped until resumed.
#[utoipa::path(post, path = "/admin/digest/schedules/{name}/pause", tag = "digest",
    security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, body = SchedulePaused, description = "paused"),
        (status = 404, body = ErrorBody, description = "no such schedule")))]
async fn pause_schedule(
    State(service): State<DigestService>,
    Path(name): Path<String>,
) -> Result<Json<SchedulePaused>, HttpError> {
    set_schedule_paused(&service, name, true).await
}

/// Lets a paused schedule run again.
#[utoipa::path(post, path = "/admin/digest/schedules/{name}/resume", tag = "digest",
    security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, body = SchedulePaused, description = "resumed"),
        (status = 404, body = ErrorBody, description = "no such schedule")))]
async fn resume_schedule(
    State(service): State<DigestService>,
    Path(name): Path<String>,
) -> Result<Json<SchedulePaused>, HttpError> {
    set_schedule_paused(&service, name, false).await
}

/// Pauses (or resumes) schedule `name`; the answer both routes give.
async fn set_schedule_paused(
    service: &DigestService,
    name: String,
    paused: bool,
) -> Result<Json<SchedulePaused>, HttpError> {
    service.set_paused(&name, paused).await?;
    Ok(Json(SchedulePaused {
        schedule: name,
        paused,
    }))
}

/// The newest runs with their delivery counts.
#[utoipa::path(get, path = "/admin/digest/runs", tag = "digest",
    security(("bearer" = [])), params(RunsQuery),
    responses((status = 200, body = [RunReport], description = "the runs")))]
async fn runs(
    State(service): State<DigestService>,
    Query(query): Query<RunsQuery>,
) -> Result<Json<Vec<RunReport>>, HttpError> {
    Ok(Json(service.status(query.limit.clamp(1, 500)).await?))
}

/// One run and its delivery counts.
#[utoipa::path(get, path = "/admin/digest/runs/{id}", tag = "digest",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = RunReport, description = "the run"),
        (status = 404, body = ErrorBody, description = "no such run")))]
async fn run(
    State(service): State<DigestService>,
    Path(id): Path<String>,
) -> Result<Json<RunReport>, HttpError> {
    Ok(Json(service.run_report(&id).await?))
}

/// Pauses a run that is sending; the rest stay pending.
#[utoipa::path(post, path = "/admin/digest/runs/{id}/pause", tag = "digest",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = RunPaused, description = "paused"),
        (status = 409, body = ErrorBody, description = "not sending")))]
async fn pause(
    State(service): State<DigestService>,
    Path(id): Path<String>,
) -> Result<Json<RunPaused>, HttpError> {
    if service.pause(&id).await? {
        Ok(Json(RunPaused { paused: id }))
    } else {
        Err(HttpError::conflict(format!("run {id} is not sending")))
    }
}

/// Resumes a paused run where it stopped.
#[utoipa::path(post, path = "/admin/digest/runs/{id}/resume", tag = "digest",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 202, body = RunResuming, description = "resuming"),
        (status = 409, body = ErrorBody, description = "not paused")))]
async fn resume(
    State(service): State<DigestService>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<RunResuming>), HttpError> {
    let run = match service
        .store()
        .run(&id)
        .await
        .map_err(anyhow::Error::from)?
    {
        Some(run) if run.status == RunStatus::Paused => run,
        _ => return Err(HttpError::conflict(format!("run {id} is not paused"))),
    };
    tokio::spawn(async move {
        if let Err(error) = service.resume(&run.id, &CancellationToken::new()).await {
            tracing::error!(digest_id = %run.id, error = format!("{error:#}"), "Resuming a run failed");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(RunResuming { resuming: id })))
}

impl From<RenderedDigest> for DigestPreview {
    fn from(digest: RenderedDigest) -> Self {
        Self {
            subject: digest.subject,
            html: digest.html,
            text: digest.text,
        }
    }
}

/// The digest as it would be sent now: its subject, HTML and text as JSON
/// when asked for (`Accept: application/json`), else the HTML page itself
/// (what the console's frame and a browser show).
#[utoipa::path(get, path = "/admin/digest/preview/{schedule}", tag = "digest",
    security(("bearer" = [])), params(("schedule" = String, Path), PreviewQuery),
    responses((status = 200, description = "the digest's three parts, or its HTML part",
            content((DigestPreview = "application/json"), (String = "text/html"))),
        (status = 404, body = ErrorBody, description = "no such schedule or subscriber"),
        (status = 422, body = ErrorBody, description = "not an email address")))]
async fn preview(
    State(service): State<DigestService>,
    Path(schedule): Path<String>,
    Query(query): Query<PreviewQuery>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let email = query
        .email
        .as_deref()
        .filter(|e| !e.is_empty())
        .map(EmailAddress::parse)
        .transpose()
        .map_err(HttpError::unprocessable)?;
    let digest = service.preview(&schedule, email.as_ref()).await?;
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"));
    Ok(if wants_json {
        Json(DigestPreview::from(digest)).into_response()
    } else {
        Html(digest.html).into_response()
    })
}

/// Sends the next digest to the editors named, subject marked `[test]`; it
/// records no run, so it never counts as the week's.
#[utoipa::path(post, path = "/admin/digest/test-send/{schedule}", tag = "digest",
    security(("bearer" = [])), params(("schedule" = String, Path)), request_body = TestSend,
    responses((status = 200, body = TestSendReport, description = "who the relay took it for, and who it refused"),
        (status = 404, body = ErrorBody, description = "no such schedule"),
        (status = 422, body = ErrorBody, description = "no address, too many, or one that is not an address")))]
async fn test_send(
    State(service): State<DigestService>,
    Path(schedule): Path<String>,
    Json(request): Json<TestSend>,
) -> Result<Json<TestSendReport>, HttpError> {
    if request.to.is_empty() || request.to.len() > MAX_TEST_RECIPIENTS {
        return Err(HttpError::unprocessable(format!(
            "`to` must name 1 to {MAX_TEST_RECIPIENTS} addresses, not {}",
            request.to.len()
        )));
    }
    let to = request
        .to
        .iter()
        .map(|address| {
            EmailAddress::parse(address)
                .map_err(|error| HttpError::unprocessable(format!("`to`: {error}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(service.test_send(&schedule, &to).await?))
}

/// Every digest template: the built-in one and those operators stored.
#[utoipa::path(get, path = "/admin/digest/templates", tag = "digest",
    security(("bearer" = [])),
    responses((status = 200, body = [TemplateReport], description = "the templates")))]
async fn templates(
    State(service): State<DigestService>,
) -> Result<Json<Vec<TemplateReport>>, HttpError> {
    Ok(Json(service.templates().await?))
}

/// A digest template's subject, HTML and text as in force.
#[utoipa::path(get, path = "/admin/digest/templates/{name}", tag = "digest",
    security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, body = TemplateReport, description = "the template"),
        (status = 404, body = ErrorBody, description = "no such template")))]
async fn template(
    State(service): State<DigestService>,
    Path(name): Path<String>,
) -> Result<Json<TemplateReport>, HttpError> {
    Ok(Json(service.template(&name).await?))
}

/// Stores a digest template after rendering it against a sample digest: a
/// syntax error or an unknown variable is refused with its line and column.
#[utoipa::path(put, path = "/admin/digest/templates/{name}", tag = "digest",
    security(("bearer" = [])), params(("name" = String, Path)), request_body = DigestTemplate,
    responses((status = 200, body = TemplateReport, description = "stored; in force from the next digest"),
        (status = 422, body = ErrorBody, description = "refused: what is wrong, in which part, at which line and column")))]
async fn save_template(
    State(service): State<DigestService>,
    Path(name): Path<String>,
    Json(template): Json<DigestTemplate>,
) -> Result<Json<TemplateReport>, HttpError> {
    Ok(Json(service.save_template(&name, &template).await?))
}

/// A schedule's editors' picks, each with the screenings it matches in the
/// coming week: one with none is left out of readers' digests.
#[utoipa::path(get, path = "/admin/digest/picks/{schedule}", tag = "digest",
    security(("bearer" = [])), params(("schedule" = String, Path)),
    responses((status = 200, body = EditorPicksReport, description = "the picks"),
        (status = 404, body = ErrorBody, description = "no such schedule")))]
async fn editor_picks(
    State(service): State<DigestService>,
    Path(schedule): Path<String>,
) -> Result<Json<EditorPicksReport>, HttpError> {
    Ok(Json(service.editor_picks(&schedule).await?))
}

/// Replaces a schedule's editors' picks: its digests lead with them, before
/// the Repertory Rundown's (a film both name is listed once, as the editor's).
#[utoipa::path(put, path = "/admin/digest/picks/{schedule}", tag = "digest",
    security(("bearer" = [])), params(("schedule" = String, Path)), request_body = [EditorPick],
    responses((status = 200, body = EditorPicksReport, description = "stored; the next digest leads with them"),
        (status = 404, body = ErrorBody, description = "no such schedule"),
        (status = 422, body = ErrorBody, description = "refused: which pick and why (no title, a year outside 1870–2100, a film twice, more than 12)")))]
async fn save_editor_picks(
    State(service): State<DigestService>,
    Path(schedule): Path<String>,
    Json(picks): Json<Vec<EditorPick>>,
) -> Result<Json<EditorPicksReport>, HttpError> {
    let picks = EditorPicks::parse(picks).map_err(HttpError::unprocessable)?;
    Ok(Json(service.save_editor_picks(&schedule, &picks).await?))
}

/// Renders an unsaved template with a schedule's next digest (checked as a
/// save would be); stores nothing.
#[utoipa::path(post, path = "/admin/digest/templates/{name}/preview", tag = "digest",
    security(("bearer" = [])), params(("name" = String, Path), TemplatePreviewQuery),
    request_body = DigestTemplate,
    responses((status = 200, body = DigestPreview, description = "the digest's three parts"),
        (status = 404, body = ErrorBody, description = "no such schedule"),
        (status = 422, body = ErrorBody, description = "refused, as a save would be")))]
async fn try_template(
    State(service): State<DigestService>,
    Path(name): Path<String>,
    Query(query): Query<TemplatePreviewQuery>,
    Json(template): Json<DigestTemplate>,
) -> Result<Json<DigestPreview>, HttpError> {
    let digest = service
        .try_template(&name, &template, &query.schedule)
        .await?;
    Ok(Json(digest.into()))
}

/// Composes for every recipient and reports; sends nothing.
#[utoipa::path(post, path = "/admin/digest/dry-run/{schedule}", tag = "digest",
    security(("bearer" = [])), params(("schedule" = String, Path)),
    responses((status = 200, body = DryRunReport, description = "the counts"),
        (status = 404, body = ErrorBody, description = "no such schedule")))]
async fn dry_run(
    State(service): State<DigestService>,
    Path(schedule): Path<String>,
) -> Result<Json<DryRunReport>, HttpError> {
    Ok(Json(service.dry_run(&schedule).await?))
}

/// Sends the digest now (held instead when a source is stale, unless forced).
#[utoipa::path(post, path = "/admin/digest/send/{schedule}", tag = "digest",
    security(("bearer" = [])), params(("schedule" = String, Path), SendQuery),
    responses((status = 202, body = SendAccepted, description = "the run and its status (sending, skipped or held)"),
        (status = 404, body = ErrorBody, description = "no such schedule")))]
async fn send_now(
    State(service): State<DigestService>,
    Path(schedule): Path<String>,
    Query(query): Query<SendQuery>,
) -> Result<(StatusCode, Json<SendAccepted>), HttpError> {
    let run = service.open_manual(&schedule, query.force).await?;
    let accepted = SendAccepted {
        run: run.id.clone(),
        status: run.status,
        note: run.note.clone(),
    };
    if run.status == RunStatus::Sending {
        tokio::spawn(async move {
            if let Err(error) = service.deliver(&run, &CancellationToken::new()).await {
                tracing::error!(digest_id = %run.id, error = format!("{error:#}"), "Sending a run failed");
            }
        });
    }
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

/// Subscribers whose address contains `q`.
#[utoipa::path(get, path = "/admin/digest/subscribers", tag = "digest",
    security(("bearer" = [])), params(SubscriberQuery),
    responses((status = 200, body = [Subscriber], description = "matching subscribers")))]
async fn search(
    State(service): State<DigestService>,
    Query(query): Query<SubscriberQuery>,
) -> Result<Json<Vec<Subscriber>>, HttpError> {
    let found = service
        .search(&query.q, query.limit.clamp(1, 1_000))
        .await?;
    Ok(Json(found.into_iter().map(Subscriber::from).collect()))
}

/// Never mail this address again.
#[utoipa::path(post, path = "/admin/digest/subscribers/{email}/suppress", tag = "digest",
    security(("bearer" = [])), params(("email" = String, Path)),
    responses((status = 200, body = Suppressed, description = "suppressed"),
        (status = 404, body = ErrorBody, description = "no such subscriber"),
        (status = 422, body = ErrorBody, description = "not an email address")))]
async fn suppress(
    State(service): State<DigestService>,
    Path(email): Path<String>,
) -> Result<Json<Suppressed>, HttpError> {
    let email = EmailAddress::parse(&email).map_err(HttpError::unprocessable)?;
    if service.suppress(&email, Suppression::Operator).await? {
        Ok(Json(Suppressed {
            suppressed: email.as_str().to_owned(),
        }))
    } else {
        Err(HttpError::not_found(format!("no subscriber {email}")))
    }
}

/// Every subscriber as CSV: `email,status,list,venues,formats,min_rating`.
#[utoipa::path(get, path = "/admin/digest/subscribers.csv", tag = "digest",
    security(("bearer" = [])),
    responses((status = 200, description = "CSV", content_type = "text/csv")))]
async fn export(State(service): State<DigestService>) -> Result<impl IntoResponse, HttpError> {
    let csv = service.export_csv().await?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv))
}

/// Adds or updates subscribers from CSV (the export's columns); bad rows
/// are reported by line and skipped.
#[utoipa::path(post, path = "/admin/digest/subscribers.csv", tag = "digest",
    security(("bearer" = [])), request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportReport, description = "rows imported, and rows refused with line and reason")))]
async fn import(
    State(service): State<DigestService>,
    body: String,
) -> Result<Json<ImportReport>, HttpError> {
    Ok(Json(service.import_csv(&body).await?))
}
