//! The bus's operator endpoints, answered by every process (the bus is
//! shared): consumer lag of every configured subscription, the dead
//! letters, re-driving one. Also the lag gauge for Prometheus.

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use marquee_bus::{Bus, BusError, PartitionLag, Position, Subscription, dead_letter_header};
use marquee_events::topics;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use utoipa::{IntoParams, OpenApi, ToSchema};

/// How often consumer lag is sampled into `marquee_consumer_lag`.
const LAG_SAMPLE_EVERY: Duration = Duration::from_secs(15);

#[derive(Clone)]
struct Operations {
    bus: Bus,
    subscriptions: Vec<Subscription>,
}

/// `/admin/bus/…` over `bus`, reporting lag for `subscriptions`.
pub fn router(bus: Bus, subscriptions: Vec<Subscription>) -> Router {
    Router::new()
        .route("/admin/bus/lag", get(lag))
        .route("/admin/bus/dead-letters", get(dead_letters))
        .route(
            "/admin/bus/dead-letters/{partition}/{offset}/redrive",
            post(redrive),
        )
        .with_state(Operations { bus, subscriptions })
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

/// How far a consumer group is behind in one partition.
#[derive(Serialize, ToSchema)]
struct LagView {
    group: String,
    topic: String,
    partition: i32,
    /// The group's committed position, if it has one.
    committed: Option<i64>,
    /// The offset the next message will get.
    end: i64,
    /// Messages not yet finished by the group.
    lag: i64,
}

/// Consumer lag of every subscription this deployment configures.
#[utoipa::path(get, path = "/admin/bus/lag", tag = "bus",
    security(("bearer" = [])),
    responses((status = 200, body = [LagView]), (status = 503, description = "bus unreachable")))]
async fn lag(State(operations): State<Operations>) -> Response {
    match all_lag(&operations.bus, &operations.subscriptions).await {
        Ok(lags) => Json(
            lags.into_iter()
                .map(|l| LagView {
                    group: l.group,
                    topic: l.topic,
                    partition: l.partition,
                    committed: l.committed,
                    end: l.end,
                    lag: l.lag,
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(error) => bus_error(&error),
    }
}

#[derive(Deserialize, IntoParams)]
struct DeadLetterQuery {
    /// Most to list (default 100, at most 10,000).
    limit: Option<usize>,
}

/// A message a consumer gave up on, and why.
#[derive(Serialize, ToSchema)]
struct DeadLetter {
    /// Where it is in `dead-letters` (for re-driving).
    partition: i32,
    offset: i64,
    /// When it was dead-lettered.
    timestamp: Option<DateTime<Utc>>,
    /// Where it came from.
    topic: Option<String>,
    original_partition: Option<String>,
    original_offset: Option<String>,
    /// The consumer group that gave up.
    group: Option<String>,
    reason: Option<String>,
    attempts: Option<String>,
    key: Option<String>,
    /// The body as text (invalid UTF-8 replaced).
    payload: String,
}

/// The dead letters, oldest first.
#[utoipa::path(get, path = "/admin/bus/dead-letters", tag = "bus",
    security(("bearer" = [])), params(DeadLetterQuery),
    responses((status = 200, body = [DeadLetter]), (status = 503, description = "bus unreachable")))]
async fn dead_letters(
    State(operations): State<Operations>,
    Query(query): Query<DeadLetterQuery>,
) -> Response {
    let limit = query.limit.unwrap_or(100).min(10_000);
    let read = operations
        .bus
        .read(topics::DEAD_LETTERS, Position::Beginning, limit)
        .await;
    match read {
        Ok(letters) => Json(
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
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(error) => bus_error(&error),
    }
}

/// Where a re-driven dead letter went.
#[derive(Serialize, ToSchema)]
struct Redriven {
    redriven_to: String,
}

/// Publishes a dead letter again to the topic it came from. Handlers are
/// idempotent, so groups that had handled it change nothing.
#[utoipa::path(post, path = "/admin/bus/dead-letters/{partition}/{offset}/redrive", tag = "bus",
    security(("bearer" = [])),
    params(("partition" = i32, Path), ("offset" = i64, Path)),
    responses((status = 200, body = Redriven), (status = 404, description = "no such dead letter")))]
async fn redrive(
    State(operations): State<Operations>,
    Path((partition, offset)): Path<(i32, i64)>,
) -> Response {
    match operations.bus.redrive(partition, offset).await {
        Ok(topic) => Json(Redriven { redriven_to: topic }).into_response(),
        Err(error) => bus_error(&error),
    }
}

fn bus_error(error: &BusError) -> Response {
    let status = match error {
        BusError::NotFound(_) | BusError::UnknownTopic(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    (
        status,
        Json(serde_json::json!({ "error": error.to_string() })),
    )
        .into_response()
}

#[derive(OpenApi)]
#[openapi(paths(lag, dead_letters, redrive))]
struct BusApi;

/// The bus endpoints' part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    BusApi::openapi()
}
