//! The public route: `POST /webhooks/cms`, where the CMS pushes
//! publications, edits and withdrawals (body and signature in
//! [`crate::WebhookPayload`]). A refusal answers 401, 400, 404 or 503 with
//! the reason ([`crate::error::WebhookError`]); a delivery answers
//! `{"outcome": "published" | "updated" | "unchanged" | "withdrawn", "id": "",
//! "problems": [...]}`, the problems naming each field that was left out
//! (e.g. a date more than a day in the future).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use marquee_ingest::Change;
use marquee_runtime::error::HttpError;
use serde::Serialize;

use crate::Inner;
use crate::error::{IngestError, WebhookError};
use crate::store::Withdrawn;
use crate::webhook::{Action, WEBHOOK_SOURCE, WebhookPayload, verify};

/// `POST /webhooks/cms`, bodies capped at `max_body_bytes`.
pub(crate) fn router(inner: Arc<Inner>, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/webhooks/cms", post(receive))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(inner)
}

/// What became of a delivery.
#[derive(Debug, Serialize)]
struct Delivered {
    outcome: &'static str,
    /// Kept for senders that read it; always empty.
    id: &'static str,
    /// Fields of the review that were left out, and why.
    problems: Vec<String>,
}

/// Handles one delivery.
#[tracing::instrument(skip_all)]
async fn receive(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Delivered>, WebhookError> {
    let secret = inner
        .webhook_secret
        .as_ref()
        .ok_or(WebhookError::Disabled)?;
    let now = inner.clock.now().timestamp();
    let signed = verify(
        secret,
        &headers,
        &body,
        now,
        inner.webhook_replay_window_secs,
    )?;
    let payload: WebhookPayload = serde_json::from_slice(&body)?;
    let action = Action::try_from(payload)?;
    let pipeline = inner.ingest.pipeline();
    let store = &pipeline.store;
    let claimed = store
        .claim_signature(&signed.signature, signed.expires_at, now)
        .await
        .map_err(IngestError::from)?;
    if !claimed {
        return Err(WebhookError::Signature(
            "this signature was already used: replayed request".to_owned(),
        ));
    }
    let mut problems = Vec::new();
    let result = match action {
        Action::Review(draft, base) => match draft.finish(&base, inner.clock.now()) {
            Ok(candidate) => {
                problems.clone_from(&candidate.problems);
                pipeline.accept(WEBHOOK_SOURCE, candidate, true).await
            }
            Err(error) => Err(error),
        },
        Action::Withdraw(id, reason) => {
            pipeline
                .withdraw(WEBHOOK_SOURCE, id, reason, Withdrawn::ByCms)
                .await
        }
    };
    match result {
        Ok(change) => {
            for problem in &problems {
                tracing::warn!(source = WEBHOOK_SOURCE, reason = %problem, "Left a field out of a CMS webhook's review");
                metrics::counter!("marquee_ingest_rejected_total", "source" => WEBHOOK_SOURCE, "reason" => "invalid_field")
                    .increment(1);
            }
            Ok(Json(Delivered {
                outcome: match change {
                    Change::New => "published",
                    Change::Changed => "updated",
                    Change::Unchanged => "unchanged",
                    Change::Withdrawn => "withdrawn",
                },
                id: "",
                problems,
            }))
        }
        Err(error) => {
            // Not processed: free the signature so the CMS's retry is accepted.
            if let Err(release) = store.release_signature(&signed.signature).await {
                tracing::warn!(source = WEBHOOK_SOURCE, reason = %format!("{release:#}"), "Could not release a webhook signature");
            }
            Err(error.into())
        }
    }
}

/// A refusal answers with its status and reason, logged and counted.
impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        let answer = HttpError::from(&self);
        tracing::warn!(source = WEBHOOK_SOURCE, reason = %format!("{self:#}"), status = answer.status().as_u16(), "Rejected a CMS webhook");
        metrics::counter!("marquee_ingest_rejected_total", "source" => WEBHOOK_SOURCE, "reason" => self.kind())
            .increment(1);
        answer.into_response()
    }
}
