//! The feeds' operator endpoint: replay the log into the feeds, from an
//! offset or a time, optionally from nothing (`rebuild`). The replay reads
//! outside any consumer group, so the digest and social consumers never see
//! it: no mail is sent and nothing is posted again.

use axum::extract::State;
use axum::response::{Json, Response};
use marquee_admin::ErrorBody;
pub use marquee_admin::feeds::ReplayRequest;
use marquee_admin::jobs::JobStatus;
use marquee_bus::{Bus, Handler, HandlerError, Message, Position};
use marquee_events::topics;
use marquee_runtime::error::HttpError;
use marquee_runtime::jobs::Jobs;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::FeedsService;

const PREFIX: &str = "/admin/feeds";

#[derive(Clone)]
struct Admin {
    service: FeedsService,
    bus: Bus,
    jobs: Jobs,
}

/// The replay route and its description, before the service is attached.
fn api() -> OpenApiRouter<Admin> {
    OpenApiRouter::new().routes(routes!(replay))
}

/// `/admin/feeds/replay` and its jobs, stamped by the service's clock.
pub(crate) fn router(service: FeedsService, bus: Bus) -> axum::Router {
    let jobs = Jobs::new(service.inner.clock.clone());
    let (router, _) = api()
        .with_state(Admin {
            service,
            bus,
            jobs: jobs.clone(),
        })
        .split_for_parts();
    router.merge(jobs.router(PREFIX))
}

/// The feeds' part of the admin API's OpenAPI document: the replay and its
/// jobs.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut document = api().into_openapi();
    document.merge(marquee_admin::jobs::openapi(PREFIX));
    document
}

/// Replays `reviews` and `screenings` into the feeds as a job.
#[utoipa::path(post, path = "/admin/feeds/replay", tag = "feeds",
    security(("bearer" = [])), request_body = ReplayRequest,
    responses((status = 202, body = JobStatus, description = "started; poll the Location"),
        (status = 422, body = ErrorBody, description = "both from_offset and from_time")))]
async fn replay(
    State(admin): State<Admin>,
    body: Option<Json<ReplayRequest>>,
) -> Result<Response, HttpError> {
    let request = body.map(|Json(request)| request).unwrap_or_default();
    let from = match (request.from_offset, request.from_time) {
        (Some(_), Some(_)) => {
            return Err(HttpError::unprocessable(
                "give from_offset or from_time, not both",
            ));
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
    Ok(Jobs::accepted(PREFIX, status))
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
