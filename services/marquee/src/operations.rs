//! The bus's operator endpoints, answered by every process (the bus is
//! shared): consumer lag of every configured subscription, the dead
//! letters, re-driving one. Also the lag gauge for Prometheus.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Json;
use marquee_admin::ErrorBody;
use marquee_admin::bus::{ConsumerLag, DeadLetter, DeadLetterQuery, Redriven};
use marquee_bus::{Bus, BusError, PartitionLag, Position, Subscription, dead_letter_header};
use marquee_events::topics;
use marquee_runtime::error::HttpError;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// How often consumer lag is sampled into `marquee_consumer_lag`.
const LAG_SAMPLE_EVERY: Duration = Duration::from_secs(15);

#[derive(Clone)]
struct Operations {
    bus: Bus,
    subscriptions: Vec<Subscription>,
}

/// The routes and their description, before the bus is attached.
fn api() -> OpenApiRouter<Operations> {
    OpenApiRouter::new()
        .routes(routes!(lag))
        .routes(routes!(dead_letters))
        .routes(routes!(redrive))
}

/// `/admin/bus/…` over `bus`, reporting lag for `subscriptions`.
pub fn router(bus: Bus, subscriptions: Vec<Subscription>) -> axum::Router {
    api()
        .with_state(Operations { bus, subscriptions })
        .split_for_parts()
        .0
}

/// The bus endpoints' part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

/// Samples the lag of `subscriptions` into `marquee_consumer_lag{group,topic,partition}`
/// until `shutdown`.
pub async fn sample_lag(
    bus: Bus,
    subscriptions: Vec<Subscription>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    loop {
        for subscription in &subscriptions {
            match all_lag(&bus, std::slice::from_ref(subscription)).await {
                Ok(lags) => {
                    for lag in lags {
                        metrics::gauge!("marquee_consumer_lag", "group" => lag.group,
                            "topic" => lag.topic, "partition" => lag.partition.to_string())
                        .set(lag.lag as f64);
                    }
                }
                Err(error) => {
                    tracing::warn!(group = %subscription.group, %error, "Sampling consumer lag failed");
                }
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(LAG_SAMPLE_EVERY) => {}
        }
    }
}

async fn all_lag(bus: &Bus, subscriptions: &[Subscription]) -> Result<Vec<PartitionLag>, BusError> {
    let mut all = Vec::new();
    for subscription in subscriptions {
        let topics: Vec<&str> = subscription.topics.iter().map(String::as_str).collect();
        all.extend(bus.lag(&subscription.group, &topics).await?);
    }
    Ok(all)
}

/// Consumer lag of every subscription this deployment configures.
#[utoipa::path(get, path = "/admin/bus/lag", tag = "bus",
    security(("bearer" = [])),
    responses((status = 200, body = [ConsumerLag], description = "lag by group and partition"),
        (status = 503, body = ErrorBody, description = "bus unreachable")))]
async fn lag(State(operations): State<Operations>) -> Result<Json<Vec<ConsumerLag>>, HttpError> {
    let lags = all_lag(&operations.bus, &operations.subscriptions)
        .await
        .map_err(bus_error)?;
    Ok(Json(
        lags.into_iter()
            .map(|l| ConsumerLag {
                group: l.group,
                topic: l.topic,
                partition: l.partition,
                committed: l.committed,
                end: l.end,
                lag: l.lag,
            })
            .collect(),
    ))
}

/// The dead letters, oldest first.
#[utoipa::path(get, path = "/admin/bus/dead-letters", tag = "bus",
    security(("bearer" = [])), params(DeadLetterQuery),
    responses((status = 200, body = [DeadLetter], description = "the dead letters"),
        (status = 503, body = ErrorBody, description = "bus unreachable")))]
async fn dead_letters(
    State(operations): State<Operations>,
    Query(query): Query<DeadLetterQuery>,
) -> Result<Json<Vec<DeadLetter>>, HttpError> {
    let limit = query.limit.unwrap_or(100).min(10_000);
    let letters = operations
        .bus
        .read(topics::DEAD_LETTERS, Position::Beginning, limit)
        .await
        .map_err(bus_error)?;
    Ok(Json(
        letters
            .into_iter()
            .map(|logged| {
                let message = logged.message;
                let header = |name: &str| message.header(name).map(str::to_owned);
                DeadLetter {
                    partition: message.partition,
                    offset: message.offset,
                    timestamp: logged.timestamp,
                    topic: header(dead_letter_header::TOPIC),
                    original_partition: header(dead_letter_header::PARTITION),
                    original_offset: header(dead_letter_header::OFFSET),
                    group: header(dead_letter_header::GROUP),
                    reason: header(dead_letter_header::REASON),
                    attempts: header(dead_letter_header::ATTEMPTS),
                    key: message.key.clone(),
                    payload: String::from_utf8_lossy(&message.payload).into_owned(),
                }
            })
            .collect(),
    ))
}

/// Publishes a dead letter again to the topic it came from. Handlers are
/// idempotent, so groups that had handled it change nothing.
#[utoipa::path(post, path = "/admin/bus/dead-letters/{partition}/{offset}/redrive", tag = "bus",
    security(("bearer" = [])),
    params(("partition" = i32, Path), ("offset" = i64, Path)),
    responses((status = 200, body = Redriven, description = "re-driven"),
        (status = 404, body = ErrorBody, description = "no such dead letter")))]
async fn redrive(
    State(operations): State<Operations>,
    Path((partition, offset)): Path<(i32, i64)>,
) -> Result<Json<Redriven>, HttpError> {
    let topic = operations
        .bus
        .redrive(partition, offset)
        .await
        .map_err(bus_error)?;
    Ok(Json(Redriven { redriven_to: topic }))
}

/// What is not there is 404; anything else is the bus being unreachable.
fn bus_error(error: BusError) -> HttpError {
    let status = match error {
        BusError::NotFound(_) | BusError::UnknownTopic(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    HttpError::new(status, error)
}
