//! The feeds' operator endpoint: replay the log into the feeds, from an
//! offset or a time, optionally from nothing (`rebuild`). The replay reads
//! outside any consumer group, so the digest and social consumers never see
//! it: no mail is sent and nothing is posted again.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

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

use crate::consumer::{FeedsHandler, ScreeningsHandler};
use crate::documents::Document;
use crate::store::Batch;
use crate::{FeedsService, StoreError};

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
            reviews: FeedsHandler(service.clone()),
            screenings: ScreeningsHandler(service.clone()),
            pending: tokio::sync::Mutex::default(),
            touched: Mutex::default(),
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
        handler.commit().await?;
        // Each document the replay changed is rendered once, now; the rest
        // render from the store at their next request, as documents no
        // event touched may still show what was cleared.
        let ReplayHandler { touched, .. } = handler;
        let mut touched = touched.into_inner().unwrap_or_else(PoisonError::into_inner);
        if request.rebuild {
            // Emptied feeds change too, events or not.
            let feeds = &service.inner.settings.feeds;
            touched.extend(feeds.iter().map(|f| Document::Reviews(f.slug.clone())));
        }
        if touched.iter().any(|d| matches!(d, Document::Reviews(_))) {
            // Screening documents link the reviews they match.
            touched.extend(service.cached_listings());
        }
        service.forget_rendered();
        let touched: Vec<Document> = touched.into_iter().collect();
        service.publish(&touched).await;
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

/// Events a replay applies in one transaction: a commit per event made a
/// rebuild of a million events take twenty minutes here.
const REPLAY_BATCH: usize = 500;

/// Applies each event to the store as the live consumers do, but
/// [`REPLAY_BATCH`] to a transaction, and notes the documents it changed
/// instead of re-rendering them per event: a rebuild of a million events
/// re-rendered the site-wide feed a million times.
struct ReplayHandler {
    reviews: FeedsHandler,
    screenings: ScreeningsHandler,
    pending: tokio::sync::Mutex<Pending>,
    touched: Mutex<HashSet<Document>>,
}

/// The events applied since the last commit, and the transaction holding
/// them while it is sound.
#[derive(Default)]
struct Pending {
    batch: Option<Batch>,
    messages: Vec<Message>,
}

impl ReplayHandler {
    /// Applies `message` in the open batch, after opening one; a batch that
    /// failed was rolled back, so a new one first applies its messages again.
    async fn apply(&self, pending: &mut Pending, message: &Message) -> Result<(), HandlerError> {
        let batch = match &mut pending.batch {
            Some(batch) => batch,
            None => {
                let mut batch = self.reviews.0.batch().await?;
                for kept in &pending.messages {
                    self.apply_in(&mut batch, kept).await?;
                }
                pending.batch.insert(batch)
            }
        };
        self.apply_in(batch, message).await?;
        if pending.messages.len() + 1 < REPLAY_BATCH {
            pending.messages.push(message.clone());
        } else if let Some(batch) = pending.batch.take() {
            // Failing, the kept messages and this one are applied again at
            // the retry.
            batch.commit().await.map_err(HandlerError::transient)?;
            pending.messages.clear();
        }
        Ok(())
    }

    async fn apply_in(&self, batch: &mut Batch, message: &Message) -> Result<(), HandlerError> {
        let documents = if message.topic == topics::SCREENINGS {
            self.screenings.apply(batch, message).await?
        } else {
            self.reviews
                .apply(batch, message)
                .await?
                .map(|(documents, _)| documents)
        };
        self.touched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(documents.into_iter().flatten());
        Ok(())
    }

    /// Stores the last events of the replay.
    async fn commit(&self) -> Result<(), StoreError> {
        let mut pending = self.pending.lock().await;
        match pending.batch.take() {
            Some(batch) => batch.commit().await,
            None => Ok(()),
        }
    }
}

impl Handler for ReplayHandler {
    /// A failure rolls the whole batch back (on PostgreSQL a failed
    /// statement spoils its transaction), and the bus's retry of `message`
    /// applies the batch's messages again in a new one: none is lost.
    async fn handle(&self, message: &Message) -> Result<(), HandlerError> {
        let mut pending = self.pending.lock().await;
        let applied = self.apply(&mut pending, message).await;
        if applied.is_err() {
            pending.batch = None;
        }
        applied
    }
}
