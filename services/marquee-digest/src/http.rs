//! HTTP routes of the public subscription flow: subscribe (a form or JSON),
//! confirm (a page whose button POSTs), unsubscribe (RFC 8058 one-click)
//! and the bounce webhook (a bearer token, `digest.bounce_secret`). Pages
//! are the `pages/` templates over the shared layout; refusals go through
//! [`HttpError`], as a page where a reader opens the route in a browser.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use hmac::{Hmac, Mac};
use marquee_runtime::error::HttpError;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;

use crate::error::SubscriptionError;
use crate::store::{Preferences, SubscriberStatus};
use crate::subscribers::{Suppression, list_of};
use crate::{DigestService, EmailAddress, Purpose, Settings};

pub(crate) fn public_router(service: DigestService) -> Router {
    Router::new()
        .route("/subscribe", post(subscribe))
        .route("/subscribe/confirm", get(confirm_page).post(confirm))
        .route("/unsubscribe", get(unsubscribe_page).post(unsubscribe))
        .route("/webhooks/bounce", post(bounce))
        .with_state(service)
}

/// What every subscribe request is told, whoever the address belongs to,
/// so the form does not tell who is subscribed.
const ACCEPTED: &str = "If this address can receive the digest, a confirmation link is on its way.";

impl DigestService {
    /// `pages/message.html`: a title and a sentence.
    fn message_page(&self, title: &str, message: &str) -> Result<Html<String>, HttpError> {
        let page = self
            .inner
            .templates
            .page("message", &minijinja::context! { title, message })
            .map_err(|error| HttpError::internal(&error.into()))?;
        Ok(Html(page))
    }
}

/// A subscribe request; in a form, lists are comma-separated.
#[derive(Debug, Deserialize)]
struct SubscribeRequest {
    email: String,
    #[serde(default)]
    list: Option<String>,
    #[serde(default)]
    preferences: Preferences,
}

#[derive(Debug, Deserialize)]
struct SubscribeForm {
    email: String,
    #[serde(default)]
    list: Option<String>,
    #[serde(default)]
    venues: String,
    #[serde(default)]
    formats: String,
    #[serde(default)]
    min_rating: Option<String>,
}

impl TryFrom<SubscribeForm> for SubscribeRequest {
    type Error = HttpError;
    fn try_from(form: SubscribeForm) -> Result<Self, HttpError> {
        let min_rating = match form.min_rating.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(n) => Some(n.parse::<u8>().ok().filter(|n| *n <= 5).ok_or_else(|| {
                HttpError::unprocessable(format!("min_rating must be 0 to 5, not `{n}`"))
            })?),
        };
        Ok(Self {
            email: form.email,
            list: form.list,
            preferences: Preferences {
                venues: list_of(&form.venues, ','),
                formats: list_of(&form.formats, ','),
                min_rating,
            },
        })
    }
}

/// A form (answered with a page) or JSON (answered with JSON).
async fn subscribe(State(service): State<DigestService>, request: Request) -> Response {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    const REFUSED: &str = "a subscription";
    if is_json {
        subscribe_json(&service, request)
            .await
            .unwrap_or_else(|error| error.refusing(REFUSED).into_response())
    } else {
        subscribe_form(&service, request)
            .await
            .unwrap_or_else(|error| error.refusing(REFUSED).page().into_response())
    }
}

async fn subscribe_json(service: &DigestService, request: Request) -> Result<Response, HttpError> {
    let Json(body) = Json::<SubscribeRequest>::from_request(request, &())
        .await
        .map_err(|rejection| HttpError::unprocessable(rejection.body_text()))?;
    service.subscribe_request(body).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "message": ACCEPTED })),
    )
        .into_response())
}

async fn subscribe_form(service: &DigestService, request: Request) -> Result<Response, HttpError> {
    let Form(form) = Form::<SubscribeForm>::from_request(request, &())
        .await
        .map_err(|rejection| HttpError::unprocessable(rejection.body_text()))?;
    service.subscribe_request(form.try_into()?).await?;
    let page = service.message_page("Check your inbox", ACCEPTED)?;
    Ok((StatusCode::ACCEPTED, page).into_response())
}

impl DigestService {
    /// Subscribes as `request` asks; every outcome but a failure looks the same.
    async fn subscribe_request(&self, request: SubscribeRequest) -> Result<(), HttpError> {
        let email = EmailAddress::parse(&request.email).map_err(HttpError::unprocessable)?;
        let list = request.list.unwrap_or_else(|| "weekly".to_owned());
        self.subscribe(&email, &list, request.preferences).await?;
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// What a stale confirmation link's page says.
const STALE: &str = "The subscription this confirmation link was sent for has ended or been \
    replaced, so it confirms nothing. To get the digest, subscribe again: a new link will be emailed to you.";

/// A subscription link that does not work, as a page saying why; a stale
/// confirmation link's page is titled so.
fn link_failure(service: &DigestService, error: SubscriptionError) -> Response {
    if matches!(error, SubscriptionError::Stale) {
        return match service.message_page("This link is no longer valid", STALE) {
            Ok(page) => (StatusCode::GONE, page).into_response(),
            Err(failed) => failed.page().into_response(),
        };
    }
    HttpError::from(error).page().into_response()
}

/// A page that failed to render, as the error page.
fn page_failure(error: HttpError) -> Response {
    error.page().into_response()
}

/// The `action` of a page's form: the same route with its token, for a POST.
fn token_action(token: &str) -> String {
    let token = url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>();
    format!("?token={token}")
}

/// A mail scanner may GET the link: only the page's button POSTs to confirm.
async fn confirm_page(
    State(service): State<DigestService>,
    Query(query): Query<TokenQuery>,
) -> Result<Html<String>, Response> {
    let (subscriber, _) = service
        .confirmation(&query.token)
        .await
        .map_err(|error| link_failure(&service, error))?;
    if subscriber.status == SubscriberStatus::Confirmed {
        let message = format!(
            "{} already gets the weekly digest; nothing has changed.",
            subscriber.email
        );
        return service
            .message_page("You're already subscribed", &message)
            .map_err(page_failure);
    }
    let email = subscriber.email.to_string();
    let action = token_action(&query.token);
    let page = service
        .inner
        .templates
        .page("confirm", &minijinja::context! { email, action })
        .map_err(|error| page_failure(HttpError::internal(&error.into())))?;
    Ok(Html(page))
}

async fn confirm(
    State(service): State<DigestService>,
    Query(query): Query<TokenQuery>,
) -> Result<Html<String>, Response> {
    let subscriber = service
        .confirm(&query.token)
        .await
        .map_err(|error| link_failure(&service, error))?;
    let message = format!(
        "{} will get Marquee's weekly digest from its next run. Every digest has a link to unsubscribe.",
        subscriber.email
    );
    service
        .message_page("You're subscribed", &message)
        .map_err(page_failure)
}

/// A link scanner may GET the link: only a POST unsubscribes.
async fn unsubscribe_page(
    State(service): State<DigestService>,
    Query(query): Query<TokenQuery>,
) -> Result<Html<String>, Response> {
    service
        .inner
        .signer
        .verify(Purpose::Unsubscribe, &query.token, service.now())
        .map_err(|error| link_failure(&service, error.into()))?;
    let action = token_action(&query.token);
    let page = service
        .inner
        .templates
        .page("unsubscribe", &minijinja::context! { action })
        .map_err(|error| page_failure(HttpError::internal(&error.into())))?;
    Ok(Html(page))
}

/// RFC 8058 one-click: the token in the query is all it takes.
async fn unsubscribe(
    State(service): State<DigestService>,
    Query(query): Query<TokenQuery>,
) -> Result<Html<String>, Response> {
    // As the subscriber stood before: whether this changed anything.
    let before = service
        .unsubscribe(&query.token)
        .await
        .map_err(|error| link_failure(&service, error))?;
    let message = match before.status {
        SubscriberStatus::Pending | SubscriberStatus::Confirmed => format!(
            "{} will get no more digests. Changed your mind? Subscribe again and confirm the emailed link.",
            before.email
        ),
        _ => format!(
            "{} was already unsubscribed: no digests are sent to it.",
            before.email
        ),
    };
    service
        .message_page("You're unsubscribed", &message)
        .map_err(page_failure)
}

#[derive(Debug, Deserialize)]
struct Bounce {
    email: String,
    kind: String,
}

/// Whether `presented` is `secret`, in constant time: `verify_slice`
/// compares the HMACs of both under the secret, so timing tells nothing of
/// its content or length.
fn is_secret(secret: &SecretString, presented: &str) -> bool {
    let mac = |text: &str| {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_secret().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(text.as_bytes());
        mac
    };
    mac(presented)
        .verify_slice(&mac(secret.expose_secret()).finalize().into_bytes())
        .is_ok()
}

/// Refuses a call that does not carry the webhook's bearer token.
fn authenticate(settings: &Settings, headers: &HeaderMap) -> Result<(), HttpError> {
    let Some(secret) = settings.bounce_secret() else {
        return Err(HttpError::not_found(
            "the bounce webhook is off: this service has no digest.bounce_secret",
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let reason = match presented {
        None => "missing `Authorization: Bearer <digest.bounce_secret>` header",
        Some(token) if is_secret(secret, token.trim()) => return Ok(()),
        Some(_) => "the bearer token is not the bounce webhook's secret",
    };
    Err(HttpError::new(StatusCode::UNAUTHORIZED, reason))
}

/// The relay's bounce or complaint: authenticated before the body is read.
async fn bounce(
    State(service): State<DigestService>,
    headers: HeaderMap,
    body: Result<Json<Bounce>, JsonRejection>,
) -> Response {
    let answer = match authenticate(&service.inner.settings, &headers) {
        Ok(()) => suppress_bounce(&service, body).await,
        Err(refusal) => Err(refusal),
    };
    match answer {
        Ok(suppressed) => suppressed.into_response(),
        Err(error) if error.status() == StatusCode::UNAUTHORIZED => (
            [(header::WWW_AUTHENTICATE, "Bearer")],
            error.refusing("a bounce"),
        )
            .into_response(),
        Err(error) => error.refusing("a bounce").into_response(),
    }
}

async fn suppress_bounce(
    service: &DigestService,
    body: Result<Json<Bounce>, JsonRejection>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let Json(bounce) = body.map_err(|rejection| HttpError::unprocessable(rejection.body_text()))?;
    let kind: Suppression = bounce.kind.parse().map_err(HttpError::unprocessable)?;
    let email = EmailAddress::parse(&bounce.email).map_err(HttpError::unprocessable)?;
    let known = service.suppress(&email, kind).await?;
    Ok(Json(serde_json::json!({ "suppressed": known })))
}
