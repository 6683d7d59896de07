//! `/console/sources`: the ingest services' sources with backfill, the
//! feeds replay, and the page following a job they start.

use axum::Form;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use marquee_admin::feeds::ReplayRequest;
use marquee_admin::jobs::{JobState, JobStatus};
use marquee_admin::sources::SourceHealth;
use serde::{Deserialize, Serialize};

use super::{Flash, PageError, SourceRow, back, render};
use crate::session::Session;
use crate::{ApiError, Console};

const PAGE: &str = "/console/sources";

/// A service that runs jobs the console follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum JobService {
    /// Replays.
    Feeds,
    /// Backfills of review sources.
    ReviewsIngest,
    /// Backfills of venue sources.
    ListingsIngest,
}

impl JobService {
    fn as_str(self) -> &'static str {
        match self {
            Self::Feeds => "feeds",
            Self::ReviewsIngest => "reviews-ingest",
            Self::ListingsIngest => "listings-ingest",
        }
    }
}

/// The services with sources, in page order.
const INGEST: [JobService; 2] = [JobService::ReviewsIngest, JobService::ListingsIngest];

#[derive(Serialize)]
struct View {
    title: &'static str,
    flash: Flash,
    services: Vec<ServiceSources>,
}

#[derive(Serialize)]
struct ServiceSources {
    service: &'static str,
    sources: Vec<SourceRow>,
}

pub(crate) async fn page(
    State(console): State<Console>,
    Session(api): Session,
    Query(flash): Query<Flash>,
) -> Result<Html<String>, PageError> {
    let (reviews, listings) = tokio::join!(
        api.get::<Vec<SourceHealth>>("/admin/reviews-ingest/sources"),
        api.get::<Vec<SourceHealth>>("/admin/listings-ingest/sources"),
    );
    let now = console.clock.now();
    let mut services = Vec::new();
    for (service, sources) in INGEST.into_iter().zip([reviews?, listings?]) {
        services.push(ServiceSources {
            service: service.as_str(),
            sources: sources.iter().map(|s| SourceRow::new(s, now)).collect(),
        });
    }
    let view = View {
        title: "Sources and replay",
        flash,
        services,
    };
    render(&console, "sources.html", &view)
}

#[derive(Deserialize)]
pub(crate) struct BackfillForm {
    service: JobService,
    #[serde(default)]
    source: String,
}

/// `?source=` of a backfill: one source, or (absent) all of them.
#[derive(Serialize)]
struct BackfillQuery<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
}

pub(crate) async fn backfill(
    Session(api): Session,
    Form(form): Form<BackfillForm>,
) -> Result<Response, PageError> {
    if form.service == JobService::Feeds {
        return Err(marquee_runtime::error::HttpError::bad_request(
            "the feeds have no sources to backfill",
        )
        .into());
    }
    let request = api
        .request(
            reqwest::Method::POST,
            &format!("/admin/{}/backfill", form.service.as_str()),
        )
        .query(&BackfillQuery {
            source: Some(form.source.as_str()).filter(|s| !s.is_empty()),
        });
    Ok(follow(api.call(request).await, form.service))
}

#[derive(Deserialize)]
pub(crate) struct ReplayForm {
    #[serde(default)]
    from_offset: String,
    #[serde(default)]
    from_time: String,
    #[serde(default)]
    rebuild: Option<String>,
}

pub(crate) async fn replay(Session(api): Session, Form(form): Form<ReplayForm>) -> Response {
    let from_time = match form.from_time.trim() {
        "" => None,
        time => match DateTime::parse_from_rfc3339(time) {
            Ok(time) => Some(time.with_timezone(&Utc)),
            Err(_) => {
                return back(
                    PAGE,
                    Err(ApiError::Refused {
                        status: 422,
                        message: format!(
                            "from time must be RFC 3339, e.g. 2026-11-01T00:00:00Z, not {time:?}"
                        ),
                    }),
                );
            }
        },
    };
    let request = ReplayRequest {
        from_offset: form.from_offset.trim().parse().ok(),
        from_time,
        rebuild: form.rebuild.is_some(),
    };
    follow(
        api.post_json("/admin/feeds/replay", &request).await,
        JobService::Feeds,
    )
}

/// To the page following a job just started, or back with the refusal.
fn follow(started: Result<JobStatus, ApiError>, service: JobService) -> Response {
    match started {
        Ok(job) => Redirect::to(&format!(
            "/console/jobs?service={}&id={}",
            service.as_str(),
            job.id
        ))
        .into_response(),
        Err(error) => back(PAGE, Err(error)),
    }
}

#[derive(Deserialize)]
pub(crate) struct JobQuery {
    service: JobService,
    id: u64,
}

#[derive(Serialize)]
struct JobView {
    title: String,
    flash: Option<()>,
    running: bool,
    state: &'static str,
    processed: u64,
    total: Option<u64>,
    summary: Option<String>,
    error: Option<String>,
}

pub(crate) async fn job(
    State(console): State<Console>,
    Session(api): Session,
    Query(query): Query<JobQuery>,
) -> Result<Html<String>, PageError> {
    let job: JobStatus = api
        .get(&format!(
            "/admin/{}/jobs/{}",
            query.service.as_str(),
            query.id
        ))
        .await?;
    let view = JobView {
        title: format!("{} on {}", job.kind, query.service.as_str()),
        flash: None,
        running: job.state == JobState::Running,
        state: match job.state {
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
        },
        processed: job.processed,
        total: job.total,
        summary: job.summary,
        error: job.error,
    };
    render(&console, "job.html", &view)
}
