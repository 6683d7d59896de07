//! `POST /webhooks/cms`: the CMS pushes publications, edits and withdrawals.
//!
//! Authentication: `X-Marquee-Timestamp: <unix seconds>` and
//! `X-Marquee-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`.
//! A timestamp outside the replay window, a wrong signature, or a signature
//! already used is answered 401 with the reason.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use marquee_events::{Rating, ReviewId};
use secrecy::ExposeSecret;
use serde::Deserialize;
use sha2::Sha256;
use url::Url;

use crate::Inner;
use crate::draft::Draft;
use crate::error::IngestError;
use crate::ledger::Withdrawn;
use crate::pipeline::Outcome;

/// Source name of webhook deliveries in logs, metrics and the ledger.
pub const WEBHOOK_SOURCE: &str = "cms-webhook";
/// Header carrying the Unix timestamp that is signed with the body.
pub const TIMESTAMP_HEADER: &str = "x-marquee-timestamp";
/// Header carrying `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "x-marquee-signature";

/// The webhook body.
///
/// ```json
/// {"action": "published", "review": {
///     "id": "cms-4812", "url": "https://example.com/reviews/hamnet",
///     "headline": "Hamnet review – a raw, aching portrait of grief",
///     "film": {"title": "Hamnet", "year": 2025},
///     "standfirst": "Chloé Zhao adapts Maggie O'Farrell…",
///     "body_html": "<p>…</p>", "author": "Ada Lee", "rating": 4,
///     "section": "In Cinemas",
///     "image": {"url": "https://example.com/i/hamnet.jpg", "alt": "Jessie Buckley"},
///     "published_at": "2025-06-10T08:00:00Z", "updated_at": "2025-06-10T09:00:00Z"}}
/// {"action": "withdrawn", "id": "cms-4812", "reason": "legal"}
/// ```
///
/// `id`, `url` and `headline` are required; the rest is optional and, when
/// missing, inferred as for feeds (film and rating from the headline, section
/// "Reviews", dates "now"). Unknown fields are ignored so the CMS can add
/// some. `published` and `updated` are treated alike: the ledger decides
/// whether the review is new, changed or unchanged. HTML is sanitized.
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookPayload {
    /// What happened.
    pub action: WebhookAction,
    /// The review (required unless `action` is `withdrawn`).
    pub review: Option<WebhookReview>,
    /// The id of a withdrawn review (or `review.id`).
    pub id: Option<String>,
    /// Why it was withdrawn, for operators.
    pub reason: Option<String>,
}

/// What the CMS did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookAction {
    /// A review went live.
    Published,
    /// A live review was edited.
    Updated,
    /// A review was taken down.
    Withdrawn,
}

/// A review as the CMS sends it.
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookReview {
    /// The CMS's stable id.
    pub id: String,
    /// Canonical URL.
    pub url: String,
    /// Headline (text).
    pub headline: String,
    /// The film; inferred from the headline when absent.
    pub film: Option<WebhookFilm>,
    /// Standfirst (text or HTML; stored as text).
    pub standfirst: Option<String>,
    /// Body HTML (sanitized on the way in).
    pub body_html: Option<String>,
    /// Author's name.
    pub author: Option<String>,
    /// Stars, 0 to 5.
    pub rating: Option<u8>,
    /// Section, e.g. "In Cinemas".
    pub section: Option<String>,
    /// Lead image.
    pub image: Option<WebhookImage>,
    /// First publication, RFC 3339.
    pub published_at: Option<DateTime<Utc>>,
    /// Last edit, RFC 3339.
    pub updated_at: Option<DateTime<Utc>>,
}

/// The film of a [`WebhookReview`].
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookFilm {
    /// Title.
    pub title: String,
    /// Release year.
    pub year: Option<u16>,
}

/// The image of a [`WebhookReview`].
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookImage {
    /// Absolute URL.
    pub url: String,
    /// Alternative text.
    pub alt: Option<String>,
}

/// An answer with a JSON body saying why, logged and counted when a rejection.
fn answer(status: StatusCode, kind: &'static str, message: String) -> Response {
    if status.is_client_error() || status.is_server_error() {
        tracing::warn!(source = WEBHOOK_SOURCE, reason = %message, status = status.as_u16(), "Rejected a CMS webhook");
        metrics::counter!("marquee_ingest_rejected_total", "source" => WEBHOOK_SOURCE, "reason" => kind)
            .increment(1);
        return (status, Json(serde_json::json!({ "error": message }))).into_response();
    }
    (
        status,
        Json(serde_json::json!({ "outcome": kind, "id": message })),
    )
        .into_response()
}

fn unauthorized(message: impl Into<String>) -> Response {
    answer(StatusCode::UNAUTHORIZED, "signature", message.into())
}

/// Handles one delivery.
#[tracing::instrument(skip_all)]
pub(crate) async fn receive(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(secret) = &inner.webhook_secret else {
        return answer(
            StatusCode::NOT_FOUND,
            "disabled",
            "the CMS webhook is disabled: set webhook_secret to enable it".to_owned(),
        );
    };
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(timestamp) = header(TIMESTAMP_HEADER) else {
        return unauthorized("missing X-Marquee-Timestamp header");
    };
    let Ok(sent_at) = timestamp.trim().parse::<i64>() else {
        return unauthorized("X-Marquee-Timestamp must be Unix seconds");
    };
    let now = Utc::now().timestamp();
    let window = i64::try_from(inner.webhook_replay_window_secs).unwrap_or(i64::MAX);
    if now.saturating_sub(sent_at).abs() > window {
        return unauthorized(format!(
            "X-Marquee-Timestamp is outside the {window}-second replay window (check the sender's clock)"
        ));
    }
    let Some(signature) = header(SIGNATURE_HEADER) else {
        return unauthorized("missing X-Marquee-Signature header");
    };
    let Some(Ok(signature)) = signature.trim().strip_prefix("sha256=").map(hex::decode) else {
        return unauthorized("X-Marquee-Signature must be sha256=<hex digest>");
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()) else {
        return unauthorized("the webhook secret cannot key HMAC-SHA256");
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&body);
    // `verify_slice` compares in constant time.
    if mac.verify_slice(&signature).is_err() {
        return unauthorized("X-Marquee-Signature does not match the body and timestamp");
    }
    let payload: WebhookPayload = match serde_json::from_slice(&body) {
        Ok(payload) => payload,
        Err(error) => {
            return answer(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("invalid webhook body: {error}"),
            );
        }
    };
    let action = match Action::try_from(payload) {
        Ok(action) => action,
        Err(message) => return answer(StatusCode::BAD_REQUEST, "invalid_item", message),
    };
    let signature = hex::encode(signature);
    match inner
        .pipeline
        .ledger
        .claim_signature(&signature, sent_at.saturating_add(window), now)
        .await
    {
        Ok(true) => {}
        Ok(false) => return unauthorized("this signature was already used: replayed request"),
        Err(error) => {
            return answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "unexpected",
                format!("{error:#}"),
            );
        }
    }
    let result = match action {
        Action::Review(draft, base) => match draft.finish(&base) {
            Ok(candidate) => inner.pipeline.accept(WEBHOOK_SOURCE, candidate, true).await,
            Err(error) => Err(error),
        },
        Action::Withdraw(id, reason) => {
            inner
                .pipeline
                .withdraw(WEBHOOK_SOURCE, id, reason, Withdrawn::ByCms)
                .await
        }
    };
    match result {
        Ok(outcome) => {
            let kind = match outcome {
                Outcome::Published => "published",
                Outcome::Updated => "updated",
                Outcome::Unchanged => "unchanged",
                Outcome::Withdrawn => "withdrawn",
            };
            answer(StatusCode::OK, kind, String::new())
        }
        Err(error) => {
            // Not processed: free the signature so the CMS's retry is accepted.
            if let Err(release) = inner.pipeline.ledger.release_signature(&signature).await {
                tracing::warn!(source = WEBHOOK_SOURCE, reason = %format!("{release:#}"), "Could not release a webhook signature");
            }
            let status = match error {
                IngestError::InvalidItem(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            answer(status, error.kind(), error.to_string())
        }
    }
}

/// A validated webhook request.
pub(crate) enum Action {
    /// Publish or update this review, resolved against its URL.
    Review(Box<Draft>, Url),
    /// Withdraw this id.
    Withdraw(ReviewId, String),
}

impl TryFrom<WebhookPayload> for Action {
    type Error = String;

    fn try_from(payload: WebhookPayload) -> Result<Self, String> {
        if payload.action == WebhookAction::Withdrawn {
            let id = payload
                .id
                .or(payload.review.map(|r| r.id))
                .ok_or("a withdrawal needs `id` (or `review.id`)")?;
            let reason = payload
                .reason
                .unwrap_or_else(|| "withdrawn by CMS webhook".to_owned());
            return Ok(Self::Withdraw(ReviewId::parse(&id)?, reason));
        }
        let review = payload
            .review
            .ok_or("`review` is required for published and updated actions")?;
        let url = Url::parse(&review.url)
            .map_err(|e| format!("review.url {:?} is not an absolute URL: {e}", review.url))?;
        let rating = review
            .rating
            .map(Rating::try_from)
            .transpose()
            .map_err(|e| format!("review.rating: {e}"))?;
        let (film_title, film_year) = review
            .film
            .map_or((None, None), |f| (Some(f.title), f.year));
        let (image_url, image_alt) = review.image.map_or((None, None), |i| (Some(i.url), i.alt));
        let draft = Draft {
            id: Some(review.id),
            url: Some(review.url),
            headline: Some(review.headline),
            film_title,
            film_year,
            standfirst: review.standfirst,
            body_html: review.body_html,
            author: review.author,
            rating,
            section: review.section,
            image_url,
            image_alt,
            published_at: review.published_at,
            updated_at: review.updated_at,
            ..Draft::default()
        };
        Ok(Self::Review(Box::new(draft), url))
    }
}
