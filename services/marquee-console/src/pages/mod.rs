//! The console's pages: one module per page with the actions on it. Each
//! reads the admin contract's types and builds a small view of display
//! strings for its template, so a field renamed in the contract fails to
//! compile here rather than leaving a blank cell.

pub(crate) mod audit;
pub(crate) mod calendar;
pub(crate) mod dashboard;
pub(crate) mod dead_letters;
pub(crate) mod login;
pub(crate) mod picks;
pub(crate) mod preview;
pub(crate) mod runs;
pub(crate) mod social;
pub(crate) mod sources;
pub(crate) mod subscribers;
pub(crate) mod templates;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use marquee_admin::digest::{RunReport, RunStatus, ScheduleReport};
use marquee_admin::sources::SourceHealth;
use marquee_runtime::error::HttpError;
use minijinja::Environment;
use serde::{Deserialize, Serialize};

use crate::session::LOGIN;
use crate::{ApiClient, ApiError, Console, encode};

/// The console's templates, beside the shared `layout.html`.
const TEMPLATES: [(&str, &str); 15] = [
    ("console.html", include_str!("../../templates/console.html")),
    ("macros.html", include_str!("../../templates/macros.html")),
    ("login.html", include_str!("../../templates/login.html")),
    (
        "dashboard.html",
        include_str!("../../templates/dashboard.html"),
    ),
    (
        "calendar.html",
        include_str!("../../templates/calendar.html"),
    ),
    ("runs.html", include_str!("../../templates/runs.html")),
    ("preview.html", include_str!("../../templates/preview.html")),
    ("picks.html", include_str!("../../templates/picks.html")),
    (
        "subscribers.html",
        include_str!("../../templates/subscribers.html"),
    ),
    ("sources.html", include_str!("../../templates/sources.html")),
    ("job.html", include_str!("../../templates/job.html")),
    (
        "dead_letters.html",
        include_str!("../../templates/dead_letters.html"),
    ),
    ("social.html", include_str!("../../templates/social.html")),
    ("audit.html", include_str!("../../templates/audit.html")),
    (
        "templates.html",
        include_str!("../../templates/templates.html"),
    ),
];

/// The shared environment (layout, HTML escaping) with the console's pages.
pub(crate) fn templates() -> Environment<'static> {
    marquee_runtime::html::environment_with(&TEMPLATES)
}

/// Why a page could not be shown.
#[derive(Debug)]
pub(crate) enum PageError {
    /// The API refused the operator's token: log in again.
    Login,
    /// Anything else, as an error page.
    Http(HttpError),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            Self::Login => Redirect::to(LOGIN).into_response(),
            Self::Http(error) => error.page().into_response(),
        }
    }
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        if error.is_unauthorized() {
            Self::Login
        } else {
            // The API's own refusal or its silence: the console is the
            // gateway that could not get an answer.
            Self::Http(HttpError::new(StatusCode::BAD_GATEWAY, error))
        }
    }
}

impl From<HttpError> for PageError {
    fn from(error: HttpError) -> Self {
        Self::Http(error)
    }
}

/// `name` rendered with `context`.
pub(crate) fn render(
    console: &Console,
    name: &str,
    context: &impl Serialize,
) -> Result<Html<String>, PageError> {
    console
        .templates
        .get_template(name)
        .and_then(|template| template.render(context))
        .map(Html)
        .map_err(|error| {
            let error = anyhow::anyhow!("console template {name} failed: {error:#}");
            PageError::Http(HttpError::internal(&error))
        })
}

/// What the last action did, carried in the redirect's query.
#[derive(Debug, Default, Deserialize, Serialize)]
pub(crate) struct Flash {
    ok: Option<String>,
    error: Option<String>,
}

impl Flash {
    /// A refusal shown on the page itself.
    pub(crate) fn error(message: String) -> Self {
        Self {
            ok: None,
            error: Some(message),
        }
    }
}

/// After an action: back to `to`, with what happened (or the API's refusal).
pub(crate) fn back(to: &str, outcome: Result<String, ApiError>) -> Response {
    let (kind, message) = match outcome {
        Ok(message) => ("ok", message),
        Err(error) if error.is_unauthorized() => return Redirect::to(LOGIN).into_response(),
        Err(error) => ("error", error.to_string()),
    };
    let separator = if to.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{to}{separator}{kind}={}", encode(&message))).into_response()
}

/// A part of a page read from the API, or why it could not be: a page
/// with several parts shows the failure in that part's place.
#[derive(Serialize)]
pub(crate) struct Loaded<T> {
    ok: Option<T>,
    error: Option<String>,
}

impl<T> Loaded<T> {
    pub(crate) fn new(result: Result<T, ApiError>) -> Self {
        match result {
            Ok(value) => Self {
                ok: Some(value),
                error: None,
            },
            Err(error) => Self {
                ok: None,
                error: Some(error.to_string()),
            },
        }
    }
}

/// The digest schedules' names, for the pages that offer a choice of one.
async fn schedule_names(api: &ApiClient) -> Result<Vec<String>, ApiError> {
    let schedules: Vec<ScheduleReport> = api.get("/admin/digest/schedules").await?;
    Ok(schedules
        .into_iter()
        .map(|schedule| schedule.settings.name)
        .collect())
}

/// Pause or resume, of a schedule or a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Toggle {
    /// Stop until resumed.
    Pause,
    /// Go on.
    Resume,
}

impl Toggle {
    /// The API's path segment.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
        }
    }

    /// The API path that does this to `name` among `collection`, e.g.
    /// `/admin/digest/runs/{run}/pause`.
    pub(crate) fn path(self, collection: &str, name: &str) -> String {
        format!("{collection}/{}/{}", encode(name), self.as_str())
    }
}

/// "12 min ago", "3 h ago", "2 days ago".
fn age(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (now - since).num_minutes().max(0);
    match minutes {
        0 => "just now".to_owned(),
        1..=119 => format!("{minutes} min ago"),
        120..=2879 => format!("{} h ago", minutes / 60),
        _ => format!("{} days ago", minutes / 1440),
    }
}

/// Sources older than this are shown as stale.
const STALE_AFTER_HOURS: i64 = 24;

/// One source's row.
#[derive(Serialize)]
pub(crate) struct SourceRow {
    name: String,
    kind: String,
    last_read: String,
    stale: bool,
    items_seen: u64,
    rejected: u64,
    last_error: String,
}

impl SourceRow {
    pub(crate) fn new(source: &SourceHealth, now: DateTime<Utc>) -> Self {
        let stale = source
            .last_success
            .is_none_or(|t| (now - t).num_hours() >= STALE_AFTER_HOURS);
        Self {
            name: source.name.clone(),
            kind: source.kind.clone(),
            last_read: source
                .last_success
                .map_or_else(|| "never read".to_owned(), |t| age(t, now)),
            stale,
            items_seen: source.items_seen,
            rejected: source.rejected,
            last_error: source.last_error.clone().unwrap_or_default(),
        }
    }
}

/// How the console shows an instant: to the minute, in UTC.
pub(crate) fn instant(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// One run's row, with the action its status allows.
#[derive(Serialize)]
pub(crate) struct RunRow {
    id: String,
    schedule: String,
    due: String,
    kind: &'static str,
    status: &'static str,
    sent: u64,
    pending: u64,
    failed: u64,
    note: String,
    /// `pause` for a sending run, `resume` for a paused one.
    action: Option<Toggle>,
}

impl RunRow {
    pub(crate) fn new(report: &RunReport) -> Self {
        let run = &report.run;
        Self {
            id: run.id.clone(),
            schedule: run.schedule.clone(),
            due: instant(run.scheduled_for),
            kind: run.kind.as_str(),
            status: run.status.as_str(),
            sent: report.counts.sent,
            pending: report.counts.pending,
            failed: report.counts.failed,
            note: run.note.clone(),
            action: match run.status {
                RunStatus::Sending => Some(Toggle::Pause),
                RunStatus::Paused => Some(Toggle::Resume),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_template_parses() {
        let env = templates();
        for (name, _) in TEMPLATES {
            env.get_template(name).unwrap();
        }
    }

    #[test]
    fn ages_read_as_people_say_them() {
        let now = DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let ago = |minutes| age(now - chrono::Duration::minutes(minutes), now);
        assert_eq!(ago(0), "just now");
        assert_eq!(ago(12), "12 min ago");
        assert_eq!(ago(180), "3 h ago");
        assert_eq!(ago(3 * 1440), "3 days ago");
    }
}
