//! The CMS webhook's contract: the body it sends, how it is signed, and
//! what a delivery asks for. The route itself is in [`crate::http`].
//!
//! Authentication: `X-Marquee-Timestamp: <unix seconds>` and
//! `X-Marquee-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`.
//! A timestamp outside the replay window, a wrong signature, or a signature
//! already used is answered 401 with the reason.

use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use marquee_events::{Rating, ReviewId};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;
use url::Url;

use crate::draft::Draft;
use crate::error::WebhookError;

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

/// A delivery whose timestamp and signature checked out.
#[derive(Debug)]
pub(crate) struct Signed {
    /// The signature, hex: claimed once so a replay is refused.
    pub(crate) signature: String,
    /// When the signature stops being accepted, Unix seconds.
    pub(crate) expires_at: i64,
}

fn refused(message: impl Into<String>) -> WebhookError {
    WebhookError::Signature(message.into())
}

/// Checks the timestamp (within `window_secs` of `now`, Unix seconds) and
/// the HMAC of `body`.
pub(crate) fn verify(
    secret: &SecretString,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
    window_secs: u64,
) -> Result<Signed, WebhookError> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let timestamp =
        header(TIMESTAMP_HEADER).ok_or_else(|| refused("missing X-Marquee-Timestamp header"))?;
    let sent_at = timestamp
        .trim()
        .parse::<i64>()
        .map_err(|_| refused("X-Marquee-Timestamp must be Unix seconds"))?;
    let window = i64::try_from(window_secs).unwrap_or(i64::MAX);
    if now.saturating_sub(sent_at).abs() > window {
        return Err(refused(format!(
            "X-Marquee-Timestamp is outside the {window}-second replay window (check the sender's clock)"
        )));
    }
    let signature =
        header(SIGNATURE_HEADER).ok_or_else(|| refused("missing X-Marquee-Signature header"))?;
    let Some(Ok(signature)) = signature.trim().strip_prefix("sha256=").map(hex::decode) else {
        return Err(refused("X-Marquee-Signature must be sha256=<hex digest>"));
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .map_err(|_| refused("the webhook secret cannot key HMAC-SHA256"))?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&signature)
        .map_err(|_| refused("X-Marquee-Signature does not match the body and timestamp"))?;
    Ok(Signed {
        signature: hex::encode(signature),
        expires_at: sent_at.saturating_add(window),
    })
}

/// A validated webhook request.
pub(crate) enum Action {
    /// Publish or update this review, resolved against its URL.
    Review(Box<Draft>, Url),
    /// Withdraw this id.
    Withdraw(ReviewId, String),
}

fn invalid(message: impl Into<String>) -> WebhookError {
    WebhookError::InvalidItem(message.into())
}

impl TryFrom<WebhookPayload> for Action {
    type Error = WebhookError;

    fn try_from(payload: WebhookPayload) -> Result<Self, WebhookError> {
        if payload.action == WebhookAction::Withdrawn {
            let id = payload
                .id
                .or(payload.review.map(|r| r.id))
                .ok_or_else(|| invalid("a withdrawal needs `id` (or `review.id`)"))?;
            let reason = payload
                .reason
                .unwrap_or_else(|| "withdrawn by CMS webhook".to_owned());
            let id = ReviewId::parse(&id).map_err(|error| invalid(error.to_string()))?;
            return Ok(Self::Withdraw(id, reason));
        }
        let review = payload
            .review
            .ok_or_else(|| invalid("`review` is required for published and updated actions"))?;
        let url = Url::parse(&review.url).map_err(|e| {
            invalid(format!(
                "review.url {:?} is not an absolute URL: {e}",
                review.url
            ))
        })?;
        let rating = review
            .rating
            .map(Rating::try_from)
            .transpose()
            .map_err(|e| invalid(format!("review.rating: {e}")))?;
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
