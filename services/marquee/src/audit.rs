//! The audit trail: every change made through the admin API (the console
//! and the CLI call it too) with the token's name, the time, the target and
//! the outcome, kept on the bus so every process of a deployment writes to
//! and reads from one trail; served at `GET /admin/audit`.

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{Json, Response};
use marquee_admin::ErrorBody;
use marquee_admin::audit::{AuditEntry, AuditQuery, Outcome};
use marquee_bus::{Bus, BusError, Position, Record};
use marquee_runtime::admin::{Caller, is_read};
use marquee_runtime::clock::SharedClock;
use marquee_runtime::error::HttpError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The topic the trail is kept on: one partition, so it reads in order,
/// created with the item topics' keep-for-ever retention.
pub const TOPIC: &str = "audit";

/// A refusal's message is kept up to this many characters.
const DETAIL_CHARS: usize = 4_096;

/// Writes and reads the trail.
#[derive(Clone)]
pub struct Audit {
    bus: Bus,
    clock: SharedClock,
}

impl Audit {
    /// The trail on `bus`, creating its topic if it is missing.
    pub async fn open(bus: Bus, clock: SharedClock) -> Result<Self, BusError> {
        bus.ensure_item_topics(&[TOPIC], 1).await?;
        Ok(Self { bus, clock })
    }

    /// `router` with every change it answers recorded: a layer inside
    /// `require_bearer` (it needs the [`Caller`]) and outside
    /// `require_role` (so a call refused for its role is recorded too).
    pub fn record_changes(&self, router: axum::Router) -> axum::Router {
        let audit = self.clone();
        router.layer(middleware::from_fn(move |request: Request, next: Next| {
            let audit = audit.clone();
            async move { audit.around(request, next).await }
        }))
    }

    async fn around(&self, request: Request, next: Next) -> Response {
        let Some(caller) = request.extensions().get::<Caller>().cloned() else {
            return next.run(request).await;
        };
        if is_read(request.method()) {
            return next.run(request).await;
        }
        let method = request.method().to_string();
        let target = request
            .uri()
            .path_and_query()
            .map_or_else(|| request.uri().path().to_owned(), ToString::to_string);
        let response = next.run(request).await;
        let status = response.status();
        let (response, detail) = if status.is_client_error() || status.is_server_error() {
            refusal(response).await
        } else {
            (response, None)
        };
        let entry = AuditEntry {
            at: self.clock.now(),
            token: caller.name,
            role: caller.role,
            method,
            target,
            status: status.as_u16(),
            outcome: Outcome::of_status(status.as_u16()),
            detail,
        };
        if let Err(error) = self.write(&entry).await {
            tracing::error!(%error, token = %entry.token, target = %entry.target,
                "Failed to record a change in the audit trail");
        }
        response
    }

    async fn write(&self, entry: &AuditEntry) -> anyhow::Result<()> {
        let payload = serde_json::to_vec(entry)?;
        Ok(self
            .bus
            .publish(Record {
                topic: TOPIC.to_owned(),
                key: entry.token.clone(),
                headers: Vec::new(),
                payload,
            })
            .await?)
    }

    /// The newest `limit` entries, newest first, made with `token` if given.
    pub async fn read(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, BusError> {
        let limit = query.limit.unwrap_or(100).min(10_000);
        let logged = self
            .bus
            .read(TOPIC, Position::Beginning, usize::MAX)
            .await?;
        let mut entries: Vec<AuditEntry> = logged
            .iter()
            .filter_map(|logged| serde_json::from_slice(&logged.message.payload).ok())
            .filter(|entry: &AuditEntry| query.token.as_ref().is_none_or(|t| *t == entry.token))
            .collect();
        entries.reverse();
        entries.truncate(limit);
        Ok(entries)
    }

    /// `GET /admin/audit`, for any role.
    pub fn router(&self) -> axum::Router {
        api().with_state(self.clone()).split_for_parts().0
    }
}

/// The route and its description, before the trail is attached.
fn api() -> OpenApiRouter<Audit> {
    OpenApiRouter::new().routes(routes!(audit))
}

/// The audit route's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

/// The changes made through the admin API, newest first: who, when, what,
/// and how it ended (refusals included, with their reason).
#[utoipa::path(get, path = "/admin/audit", tag = "audit",
    security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = [AuditEntry], description = "the trail, newest first"),
        (status = 503, body = ErrorBody, description = "bus unreachable")))]
async fn audit(
    State(audit): State<Audit>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, HttpError> {
    audit
        .read(&query)
        .await
        .map(Json)
        .map_err(|error| HttpError::new(StatusCode::SERVICE_UNAVAILABLE, error))
}

/// The refusal's message (an [`ErrorBody`]'s or the text, cut to
/// [`DETAIL_CHARS`]), and the response rebuilt with the same body. A
/// refusal is read whole: cutting its body would change the answer.
async fn refusal(response: Response) -> (Response, Option<String>) {
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => {
            let detail = serde_json::from_slice::<ErrorBody>(&bytes).map_or_else(
                |_| String::from_utf8_lossy(&bytes).trim().to_owned(),
                |body| body.error,
            );
            let detail: String = detail.chars().take(DETAIL_CHARS).collect();
            let detail = (!detail.is_empty()).then_some(detail);
            (Response::from_parts(parts, Body::from(bytes)), detail)
        }
        Err(error) => {
            tracing::error!(%error, "Failed to read a refusal for the audit trail");
            (
                Response::from_parts(parts, Body::empty()),
                Some(format!("the answer could not be read: {error}")),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::response::IntoResponse;

    use super::*;

    #[tokio::test]
    async fn a_long_refusal_reaches_the_client_whole_and_the_trail_cut() {
        let error = "x".repeat(200_000);
        let answer = (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(ErrorBody {
                error: error.clone(),
            }),
        )
            .into_response();
        let (answer, detail) = refusal(answer).await;
        assert_eq!(detail.unwrap().len(), DETAIL_CHARS);
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = axum::body::to_bytes(answer.into_body(), usize::MAX)
            .await
            .unwrap();
        let body: ErrorBody = serde_json::from_slice(&body).unwrap();
        assert_eq!(body.error, error);
    }
}
