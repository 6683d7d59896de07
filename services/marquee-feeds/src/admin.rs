//! The feeds' operator endpoint: replay the log into the feeds, from an
//! offset or a time, optionally from nothing (`rebuild`). The replay reads
//! outside any consumer group, so the digest and social consumers never see
//! it: no mail is sent and nothing is posted again.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use marquee_bus::{Bus, Handler, HandlerError, Message, Position};
use marquee_events::topics;
use marquee_admin::jobs::JobStatus;
use marquee_runtime::jobs::Jobs;
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};

use crate::FeedsService;

const PREFIX: &str = "/admin/feeds";

#[derive(Clone)]
struct Admin {
    service: FeedsService,
    bus: Bus,
    jobs: Jobs,
}

/// `/admin/feeds/replay` and its jobs.
pub(crate) fn router(service: FeedsService, bus: Bus) -> Router {
    let jobs = Jobs::new(marquee_runtime::clock::SystemClock::shared());
    Router::new()
        .route(&format!("{PREFIX}/replay"), post(replay))
        .with_state(Admin {
            service,
            bus,
            jobs: jobs.clone(),
        })
        .merge(jobs.router(PREFIX))
}

/// Where a replay starts: `from_offset` or `from_time`, or (neither) the beginning.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// This offset in every partition of `reviews` and `screenings`.
    from_offset: Option<i64>,
    /// The first event published at or after this time.
    from_time: Option<DateTime<Utc>>,
    /// Empty the feeds first, so they hold exactly what the log replays.
    #[serde(default)]
    rebuild: bool,
}

/// Replays `reviews` and `screenings` into the feeds as a job.
#[utoipa::path(post, path = "/admin/feeds/replay", tag = "feeds",
    security(("bearer" = [])), request_body = ReplayRequest,
    responses((status = 202, body = JobStatus, description = "started; poll the Location"),
        (status = 422, description = "both from_offset and from_time")))]
async fn replay(State(admin): State<Admin>, body: Option<Json<ReplayRequest>>) -> Response {
    let request = body.map(|Json(request)| request).unwrap_or_default();
    let from = match (request.from_offset, request.from_time) {
        (Some(_), Some(_)) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(serde_json::json!({ "error": "give from_offset or from_time, not both" })),
            )
                .into_response();
        }
        (Some(offset), None) => Position::Offset(offset),
        (None, Some(time)) => Position::Time(time),
        (None, None) => Position::Beginning,
    };
    let Admin { service, bus, jobs } = admin;
    let status = jobs.spawn("replay", move |progress| async move {
        if request.rebuild {
            service.inner.store.clear().await?;
        }
        let handler = ReplayHandler {
            reviews: service.handler(),
            screenings: service.screenings_handler(),
        };
        let replayed = bus
            .replay(
                &[topics::REVIEWS, topics::SCREENINGS],
                from,
                &handler,
                |done, total| {
                    progress.set_total(total);
                    if done > 0 {
                        progress.advance(1);
                    }
                },
            )
            .await?;
        // Documents no event touched may still show what was cleared.
        service.forget_rendered();
        tracing::info!(
            replayed,
            rebuild = request.rebuild,
            "Replayed the log into the feeds"
        );
        Ok(format!(
            "{replayed} events replayed{}",
            if request.rebuild {
                " into emptied feeds"
            } else {
                ""
            }
        ))
    });
    Jobs::accepted(PREFIX, status)
}

/// Each topic to its own handler, as the live consumers do.
struct ReplayHandler<R, S> {
    reviews: R,
    screenings: S,
}

impl<R: Handler, S: Handler> Handler for ReplayHandler<R, S> {
    async fn handle(&self, message: &Message) -> Result<(), HandlerError> {
        if message.topic == topics::SCREENINGS {
            self.screenings.handle(message).await
        } else {
            self.reviews.handle(message).await
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    paths(replay),
    components(schemas(JobStatus, marquee_admin::jobs::JobState))
)]
struct FeedsApi;

/// The feeds' part of the admin API's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    FeedsApi::openapi()
}
