//! HTTP routes of the public subscription flow: subscribe (a form or JSON),
//! confirm, unsubscribe (RFC 8058 one-click) and the bounce webhook. Pages
//! are the `pages/` templates over the shared layout; refusals go through
//! [`HttpError`], as a page where a reader opens the route in a browser.

use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use marquee_runtime::error::{HtmlError, HttpError};
use serde::Deserialize;

use crate::error::SubscriptionError;
use crate::store::Preferences;
use crate::subscribers::{Suppression, list_of};
use crate::{DigestService, EmailAddress, Purpose};

pub(crate) fn public_router(service: DigestService) -> Router {
    Router::new()
        .route("/subscribe", post(subscribe))
        .route("/subscribe/confirm", get(confirm))
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

/// A subscription link that does not work, as a page saying why.
fn link_failure(error: SubscriptionError) -> HtmlError {
    HttpError::from(error).page()
}

async fn confirm(
    State(service): State<DigestService>,
    Query(query): Query<TokenQuery>,
) -> Result<Html<String>, HtmlError> {
    service.confirm(&query.token).await.map_err(link_failure)?;
    service
        .message_page(
            "You're subscribed",
            "The weekly digest will arrive on its next run.",
        )
        .map_err(HttpError::page)
}

/// A link scanner may GET the link: only a POST unsubscribes.
async fn unsubscribe_page(
    State(service): State<DigestService>,
    Query(query): Query<TokenQuery>,
) -> Result<Html<String>, HtmlError> {
    service
        .inner
        .signer
        .verify(Purpose::Unsubscribe, &query.token, service.now())
        .map_err(|error| link_failure(error.into()))?;
    let token = url::form_urlencoded::byte_serialize(query.token.as_bytes()).collect::<String>();
    let action = format!("?token={token}");
    let page = service
        .inner
        .templates
        .page("unsubscribe", &minijinja::context! { action })
        .map_err(|error| HttpError::internal(&error.into()).page())?;
    Ok(Html(page))
}

/// RFC 8058 one-click: the token in the query is all it takes.
async fn unsubscribe(
    State(service): State<DigestService>,
    Query(query): Query<TokenQuery>,
) -> Result<Html<String>, HtmlError> {
    service
        .unsubscribe(&query.token)
        .await
        .map_err(link_failure)?;
    service
        .message_page("You're unsubscribed", "You will get no more digests.")
        .map_err(HttpError::page)
}

#[derive(Debug, Deserialize)]
struct Bounce {
    email: String,
    kind: String,
}

async fn bounce(
    State(service): State<DigestService>,
    Json(bounce): Json<Bounce>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let kind: Suppression = bounce.kind.parse().map_err(HttpError::unprocessable)?;
    let email = EmailAddress::parse(&bounce.email).map_err(HttpError::unprocessable)?;
    let known = service.suppress(&email, kind).await?;
    Ok(Json(serde_json::json!({ "suppressed": known })))
}
