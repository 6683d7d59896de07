//! The operators' web console at `/console/`: small, server-rendered HTML
//! over the admin API (docs/operators.md), which it calls with the token the
//! operator logged in with. It can do nothing the API cannot, and every
//! action goes through the API's own checks.
//!
//! Also home of [`ApiClient`], which the `marquee admin` CLI shares.

mod client;
mod pages;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

pub use client::{ApiClient, ApiError, encode};

/// Where the operator's token lives between requests.
const COOKIE: &str = "marquee_console";

/// The `[console]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Base URL of the admin API (the gateway or ingress of a distributed
    /// deployment); unset, the console calls its own process.
    pub api_url: Option<Url>,
}

#[derive(Clone)]
struct Console {
    api: String,
    http: reqwest::Client,
}

impl Console {
    fn client(&self, token: &str) -> ApiClient {
        ApiClient::new(self.http.clone(), &self.api, token)
    }
}

/// The console's routes; `own_address` is this process's listener, the API
/// when `settings.api_url` is unset.
pub fn router(settings: &Settings, own_address: SocketAddr) -> Router {
    let api = settings
        .api_url
        .as_ref()
        .map_or_else(|| format!("http://{own_address}"), Url::to_string);
    let console = Console {
        api,
        http: reqwest::Client::new(),
    };
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(dashboard))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/calendar", get(calendar))
        .route("/console/schedules", post(save_schedule))
        .route("/console/schedules/toggle", post(toggle_schedule))
        .route("/console/digest/send", post(send_digest))
        .route("/console/runs", get(runs))
        .route("/console/runs/toggle", post(toggle_run))
        .route("/console/preview", get(preview))
        .route("/console/preview/frame", get(preview_frame))
        .route("/console/subscribers", get(subscribers))
        .route("/console/subscribers/suppress", post(suppress))
        .route("/console/subscribers.csv", get(export))
        .route("/console/subscribers/import", post(import))
        .route("/console/sources", get(sources))
        .route("/console/backfill", post(backfill))
        .route("/console/replay", post(replay))
        .route("/console/jobs", get(job))
        .route("/console/dead-letters", get(dead_letters))
        .route("/console/dead-letters/redrive", post(redrive))
        .with_state(console)
}

/// The operator's token from the console cookie.
fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .find_map(|cookie| cookie.trim().strip_prefix(&format!("{COOKIE}=")))
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
}

/// The API client of a logged-in operator.
fn session(console: &Console, headers: &HeaderMap) -> Option<ApiClient> {
    token(headers).map(|token| console.client(&token))
}

fn to_login() -> Response {
    Redirect::to("/console/login").into_response()
}

/// A page, or the login page again when the API stopped accepting the token.
fn page(result: Result<Markup, ApiError>) -> Response {
    match result {
        Ok(markup) => Html(markup.into_string()).into_response(),
        Err(ApiError::Refused { status: 401, .. }) => {
            Redirect::to("/console/login").into_response()
        }
        Err(error) => (
            StatusCode::BAD_GATEWAY,
            Html(pages::failure(&error.to_string()).into_string()),
        )
            .into_response(),
    }
}

/// After an action: back to `to`, with what happened (or the API's refusal).
fn back(to: &str, outcome: Result<String, ApiError>) -> Response {
    let (kind, message) = match outcome {
        Ok(message) => ("ok", message),
        Err(ApiError::Refused { status: 401, .. }) => return to_login(),
        Err(error) => ("error", error.to_string()),
    };
    let separator = if to.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{to}{separator}{kind}={}", encode(&message))).into_response()
}

/// What a redirect after an action says.
#[derive(Debug, Default, Deserialize)]
struct Flash {
    ok: Option<String>,
    error: Option<String>,
}

impl Flash {
    fn view(&self) -> pages::Flash<'_> {
        pages::Flash {
            ok: self.ok.as_deref(),
            error: self.error.as_deref(),
        }
    }
}

async fn login_page() -> Html<String> {
    Html(pages::login(None).into_string())
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(console): State<Console>, Form(form): Form<LoginForm>) -> Response {
    let token = form.token.trim();
    // The API decides: a token is good if it may read the API's description.
    let accepted = !token.is_empty()
        && console
            .client(token)
            .get("/admin/openapi.json")
            .await
            .is_ok();
    if !accepted {
        return (
            StatusCode::UNAUTHORIZED,
            Html(pages::login(Some("token refused")).into_string()),
        )
            .into_response();
    }
    (
        [(
            header::SET_COOKIE,
            format!("{COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict"),
        )],
        Redirect::to("/console/"),
    )
        .into_response()
}

async fn logout() -> Response {
    (
        [(
            header::SET_COOKIE,
            format!("{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0"),
        )],
        Redirect::to("/console/login"),
    )
        .into_response()
}

async fn dashboard(State(console): State<Console>, headers: HeaderMap) -> Response {
    let Some(api) = session(&console, &headers) else {
        return to_login();
    };
    let (reviews, listings, lag, runs, dead) = tokio::join!(
        api.get("/admin/reviews-ingest/sources"),
        api.get("/admin/listings-ingest/sources"),
        api.get("/admin/bus/lag"),
        api.get("/admin/digest/runs?limit=5"),
        api.get("/admin/bus/dead-letters?limit=10000"),
    );
    if let Err(error @ ApiError::Refused { status: 401, .. }) = &reviews {
        return page(Err(error.clone()));
    }
    page(Ok(pages::dashboard(&pages::Dashboard {
        sources: [reviews, listings].into_iter().collect(),
        lag,
        runs,
        dead_letters: dead.map(|d| d.as_array().map_or(0, Vec::len)),
        now: chrono::Utc::now(),
    })))
}

async fn calendar(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(flash): Query<Flash>,
) -> Response {
    let Some(api) = session(&console, &headers) else {
        return to_login();
    };
    page(
        api.get("/admin/digest/schedules")
            .await
            .map(|schedules| pages::calendar(&schedules, &flash.view())),
    )
}

#[derive(Deserialize)]
struct ScheduleForm {
    name: String,
    cron: String,
    time_zone: String,
    template: String,
    audience: String,
    #[serde(default)]
    send_when_empty: Option<String>,
    #[serde(default)]
    max_source_age_hours: String,
    /// `create` or `update`.
    action: String,
}

async fn save_schedule(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(form): Form<ScheduleForm>,
) -> Response {
    let Some(api) = session(&console, &headers) else {
        return to_login();
    };
    let max_age = match form.max_source_age_hours.trim() {
        "" => None,
        hours => match hours.parse::<u64>() {
            Ok(hours) => Some(hours * 3600),
            Err(_) => {
                return back(
                    "/console/calendar",
                    Err(ApiError::Refused {
                        status: 422,
                        message: format!("max source age must be whole hours, not {hours:?}"),
                    }),
                );
            }
        },
    };
    let body = json!({
        "name": form.name.trim(),
        "cron": form.cron.trim(),
        "time_zone": form.time_zone.trim(),
        "template": form.template.trim(),
        "audience": form.audience.trim(),
        "send_when_empty": form.send_when_empty.is_some(),
        "max_source_age_secs": max_age,
    });
    let outcome = if form.action == "update" {
        let path = format!("/admin/digest/schedules/{}", encode(form.name.trim()));
        api.json(Method::PUT, &path, Some(&body)).await
    } else {
        api.json(Method::POST, "/admin/digest/schedules", Some(&body))
            .await
    };
    back(
        "/console/calendar",
        outcome.map(|_| format!("schedule {} saved", form.name.trim())),
    )
}

#[derive(Deserialize)]
struct NameForm {
    name: String,
    /// `pause` or `resume`.
    action: String,
}

async fn toggle_schedule(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(form): Form<NameForm>,
) -> Response {
    let Some(api) = session(&console, &headers) else {
        return to_login();
    };
    let action = if form.action == "pause" {
        "pause"
    } else {
        "resume"
    };
    let path = format!("/admin/digest/schedules/{}/{action}", encode(&form.name));
    let outcome = api.json(Method::POST, &path, None).await;
    back(
        "/console/calendar",
        outcome.map(|_| format!("schedule {}: {action}d", form.name)),
    )
}

#[derive(Deserialize)]
struct SendForm {
    schedule: String,
    /// `send`, `force` or `dry-run`.
    action: String,
}

async fn send_digest(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(form): Form<SendForm>,
) -> Response {
    let Some(api) = session(&console, &headers) else {
        return to_login();
    };
    let schedule = encode(&form.schedule);
    let outcome = match form.action.as_str() {
        "dry-run" => api
            .json(Method::POST, &format!("/admin/digest/dry-run/{schedule}"), None)
            .await
            .map(|r| {
                format!(
                    "dry run of {}: {} recipients, {} would get it, {} reviews, {} screenings; nothing sent",
                    form.schedule, r["recipients"], r["would_send"], r["reviews"], r["screenings"]
                )
            }),
        action => {
            let force = if action == "force" { "?force=true" } else { "" };
            api.json(Method::POST, &format!("/admin/digest/send/{schedule}{force}"), None)
                .await
                .map(|r| {
                    let note = r["note"].as_str().filter(|n| !n.is_empty());
                    format!(
                        "run {} of {}: {}{}",
                        r["run"].as_str().unwrap_or("?"),
                        form.schedule,
                        r["status"].as_str().unwrap_or("?"),
                        note.map(|n| format!(" ({n})")).unwrap_or_default()
                    )
                })
        }
    };
    back("/console/runs", outcome)
}

async fn runs(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(flash): Query<Flash>,
) -> Response {
    let Some(api) = session(&console, &headers) else {
        return to_login();
    };
    let (runs, schedules) = tokio::join!(
        api.get("/admin/digest/runs?limit=50"),
        api.get("/admin/digest/schedules")
    );
    page(runs.and_then(|runs| Ok(pages::runs(&runs, &schedules?, &flash.view()))))
}

#[derive(Deserialize)]
struct RunForm {
    run: String,
    /// `pause` or `resume`.
    action: String,
}

async fn toggle_run(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(form): Form<RunForm>,
) -> Response {
    let Some(api) = session(&console, &headers) else {
        return to_login();
    };
    let action = if form.action == "pause" {
        "pause"
    } else {
        "resume"
    };
    let path = format!("/admin/digest/runs/{}/{action}", encode(&form.run));
    let outcome = api.json(Method::POST, &path, None).await;
    back(
        "/console/runs",
        outcome.map(|_| format!("run {}: {action}", form.run)),
    )
}

#[derive(Debug, Default, Deserialize)]
struct PreviewQuery {
    #[serde(default)]
    schedule: String,
    #[serde(default)]
    email: String,
}

async fn preview(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(query): Query<PreviewQuery>,
) -> Response {
    let Some(api) = session(&console, &headers) else {
        return to_login();
    };
    page(
        api.get("/admin/digest/schedules")
            .await
            .map(|schedules| pages::preview(&schedules, &query.schedule, &query.email)),
    )
}

/// The digest as the API renders it, for the preview's sandboxed frame.
async fn preview_frame(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(query): Query<PreviewQuery>,
) -> Response {
    let Some(api) = session(&console, &headers) else {
        return to_login();
    };
    let mut path = format!("/admin/digest/preview/{}", encode(&query.schedule));
    if !query.email.trim().is_empty() {
        path = format!("{path}?email={}", encode(query.email.trim()));
    }
    match api.text(api.request(Method::GET, &path)).await {
        // The digest is the publication's HTML; the frame runs nothing of it.
        Ok(html) => (
            [(
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'; img-src * data:; style-src 'unsafe-inline'",
            )],
            Html(html),
        )
            .into_response(),
        Err(error) => page(Ok(pages::frame_error(&error.to_string()))),
    }
}

#[derive(Debug, Default, Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    ok: Option<String>,
    error: Option<String>,
}

async fn subscribers(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(query): Query<SearchQuery>,
) -> Response {
    let Some(api) = session(&console, &headers) else {
        return to_login();
    };
    let path = format!("/admin/digest/subscribers?q={}&limit=100", encode(&query.q));
    let flash = pages::Flash {
        ok: query.ok.as_deref(),
        error: query.error.as_deref(),
    };
    page(
        api.get(&path)
            .await
            .map(|found| pages::subscribers(&found, &query.q, &flash)),
    )
}

#[derive(Deserialize)]
struct EmailForm {
    email: String,
}

async fn suppress(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(form): Form<EmailForm>,
) -> Response {
    let Some(api) = session(&console, &headers) else {
        return to_login();
    };
    let path = format!("/admin/digest/subscribers/{}/suppress", encode(&form.email));
    let outcome = api.json(Method::POST, &path, None).await;
    back(
        &format!("/console/subscribers?q={}", encode(&form.email)),
        outcome.map(|_| format!("{} suppressed", form.email)),
    )
}

async fn export(State(console): State<Console>, headers: HeaderMap) -> Response {
    let Some(api) = session(&console, &headers) else {
        return to_login();
    };
    match api
        .text(api.request(Method::GET, "/admin/digest/subscribers.csv"))
        .await
    {
        Ok(csv) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"subscribers.csv\"",
                ),
            ],
            csv,
        )
            .into_response(),
        Err(error) => page(Err(error)),
    }
}

#[derive(Deserialize)]
struct ImportForm {
    csv: String,
}

async fn import(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(form): Form<ImportForm>,
) -> Response {
    let Some(api) = session(&console, &headers) else {
        return to_login();
    };
    let request = api
        .request(Method::POST, "/admin/digest/subscribers.csv")
        .header(header::CONTENT_TYPE, "text/csv")
        .body(form.csv);
    let outcome = match api.text(request).await {
        Ok(text) => Ok(serde_json::from_str::<Value>(&text).map_or(text, |report| {
            let rejected = report["rejected"].as_array().map_or(0, Vec::len);
            format!(
                "{} imported, {rejected} refused: {}",
                report["imported"], report["rejected"]
            )
        })),
        Err(error) => Err(error),
    };
    back("/console/subscribers", outcome)
}

async fn sources(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(flash): Query<Flash>,
) -> Response {
    let Some(api) = session(&console, &headers) else {
        return to_login();
    };
    let (reviews, listings) = tokio::join!(
        api.get("/admin/reviews-ingest/sources"),
        api.get("/admin/listings-ingest/sources"),
    );
    page(reviews.and_then(|reviews| {
        Ok(pages::sources(
            &[("reviews-ingest", reviews), ("listings-ingest", listings?)],
            chrono::Utc::now(),
            &flash.view(),
        ))
    }))
}

#[derive(Deserialize)]
struct BackfillForm {
    service: String,
    #[serde(default)]
    source: String,
}

/// The services whose jobs the console follows.
fn job_service(name: &str) -> Option<&'static str> {
    ["feeds", "reviews-ingest", "listings-ingest"]
        .into_iter()
        .find(|s| *s == name)
}

async fn backfill(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(form): Form<BackfillForm>,
) -> Response {
    let Some(api) = session(&console, &headers) else {
        return to_login();
    };
    let Some(service) = job_service(&form.service).filter(|s| *s != "feeds") else {
        return (StatusCode::BAD_REQUEST, "unknown ingest service").into_response();
    };
    let mut path = format!("/admin/{service}/backfill");
    if !form.source.is_empty() {
        path = format!("{path}?source={}", encode(&form.source));
    }
    follow(
        api.json(Method::POST, &path, None).await,
        service,
        "/console/sources",
    )
}

#[derive(Deserialize)]
struct ReplayForm {
    #[serde(default)]
    from_offset: String,
    #[serde(default)]
    from_time: String,
    #[serde(default)]
    rebuild: Option<String>,
}

async fn replay(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(form): Form<ReplayForm>,
) -> Response {
    let Some(api) = session(&console, &headers) else {
        return to_login();
    };
    let mut body = json!({ "rebuild": form.rebuild.is_some() });
    if let Ok(offset) = form.from_offset.trim().parse::<i64>() {
        body["from_offset"] = json!(offset);
    }
    if !form.from_time.trim().is_empty() {
        body["from_time"] = json!(form.from_time.trim());
    }
    follow(
        api.json(Method::POST, "/admin/feeds/replay", Some(&body))
            .await,
        "feeds",
        "/console/sources",
    )
}

/// To the page following a job just started, or back with the refusal.
fn follow(started: Result<Value, ApiError>, service: &str, otherwise: &str) -> Response {
    match started {
        Ok(job) => Redirect::to(&format!(
            "/console/jobs?service={service}&id={}",
            job["id"].as_u64().unwrap_or(0)
        ))
        .into_response(),
        Err(error) => back(otherwise, Err(error)),
    }
}

#[derive(Deserialize)]
struct JobQuery {
    service: String,
    id: u64,
}

async fn job(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(query): Query<JobQuery>,
) -> Response {
    let Some(api) = session(&console, &headers) else {
        return to_login();
    };
    let Some(service) = job_service(&query.service) else {
        return (StatusCode::BAD_REQUEST, "unknown service").into_response();
    };
    page(
        api.get(&format!("/admin/{service}/jobs/{}", query.id))
            .await
            .map(|job| pages::job(service, &job)),
    )
}

async fn dead_letters(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(flash): Query<Flash>,
) -> Response {
    let Some(api) = session(&console, &headers) else {
        return to_login();
    };
    page(
        api.get("/admin/bus/dead-letters?limit=500")
            .await
            .map(|letters| pages::dead_letters(&letters, &flash.view())),
    )
}

#[derive(Deserialize)]
struct RedriveForm {
    partition: i32,
    offset: i64,
}

async fn redrive(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(form): Form<RedriveForm>,
) -> Response {
    let Some(api) = session(&console, &headers) else {
        return to_login();
    };
    let path = format!(
        "/admin/bus/dead-letters/{}/{}/redrive",
        form.partition, form.offset
    );
    let outcome = api.json(Method::POST, &path, None).await;
    back(
        "/console/dead-letters",
        outcome.map(|r| {
            format!(
                "dead letter {}/{} re-driven to {}",
                form.partition,
                form.offset,
                r["redriven_to"].as_str().unwrap_or("?")
            )
        }),
    )
}
