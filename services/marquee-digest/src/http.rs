//! HTTP routes of the public subscription flow.

use axum::Router;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json};
use serde::Deserialize;

use crate::error::SubscriptionError;
use crate::store::Preferences;
use crate::subscribers::SubscribeOutcome;
use crate::token::TokenError;
use crate::{DigestService, EmailAddress};

pub(crate) fn public_router(service: DigestService) -> Router {
    Router::new()
        .route("/subscribe", post(subscribe))
        .route("/subscribe/confirm", get(confirm))
        .route("/unsubscribe", get(unsubscribe_page).post(unsubscribe))
        .route("/webhooks/bounce", post(bounce))
        .with_state(service)
}

fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body style=\"font-family:Georgia,serif;max-width:36em;margin:3em auto;\"><h1>{t}</h1><p>{m}</p></body></html>",
        t = escape(title),
        m = escape(message)
    );
    (status, Html(body)).into_response()
}

pub(crate) fn json_error(status: StatusCode, message: impl ToString) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": message.to_string() })),
    )
        .into_response()
}

pub(crate) fn internal(error: &anyhow::Error) -> Response {
    tracing::error!(error = format!("{error:#}"), "Digest request failed");
    json_error(StatusCode::INTERNAL_SERVER_ERROR, format!("{error:#}"))
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

fn comma_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn subscribe(State(service): State<DigestService>, request: Request) -> Response {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let parsed = if is_json {
        match Json::<SubscribeRequest>::from_request(request, &()).await {
            Ok(Json(body)) => Ok(body),
            Err(rejection) => Err(rejection.body_text()),
        }
    } else {
        match Form::<SubscribeForm>::from_request(request, &()).await {
            Ok(Form(form)) => {
                let min_rating = match form.min_rating.as_deref().map(str::trim) {
                    None | Some("") => Ok(None),
                    Some(n) => n
                        .parse::<u8>()
                        .ok()
                        .filter(|n| *n <= 5)
                        .map(Some)
                        .ok_or_else(|| format!("min_rating must be 0 to 5, not `{n}`")),
                };
                min_rating.map(|min_rating| SubscribeRequest {
                    email: form.email,
                    list: form.list,
                    preferences: Preferences {
                        venues: comma_list(&form.venues),
                        formats: comma_list(&form.formats),
                        min_rating,
                    },
                })
            }
            Err(rejection) => Err(rejection.body_text()),
        }
    };
    let reply = |status: StatusCode, message: &str| {
        if status.is_client_error() {
            tracing::warn!(
                status = status.as_u16(),
                reason = message,
                "Refused a subscription"
            );
        }
        if is_json {
            let key = if status.is_success() {
                "message"
            } else {
                "error"
            };
            (status, Json(serde_json::json!({ key: message }))).into_response()
        } else if status.is_success() {
            page(status, "Check your inbox", message)
        } else {
            page(status, "Subscription failed", message)
        }
    };
    let request = match parsed {
        Ok(request) => request,
        Err(reason) => return reply(StatusCode::UNPROCESSABLE_ENTITY, &reason),
    };
    let email = match EmailAddress::parse(&request.email) {
        Ok(email) => email,
        Err(error) => return reply(StatusCode::UNPROCESSABLE_ENTITY, &error.to_string()),
    };
    let list = request.list.unwrap_or_else(|| "weekly".to_owned());
    match service.subscribe(&email, &list, request.preferences).await {
        Ok(
            SubscribeOutcome::ConfirmationSent(_)
            | SubscribeOutcome::AlreadyConfirmed
            | SubscribeOutcome::Suppressed,
        ) => reply(
            StatusCode::ACCEPTED,
            "If this address can receive the digest, a confirmation link is on its way.",
        ),
        Err(error @ SubscriptionError::Send(_)) => {
            tracing::error!(error = %error, "Could not send a confirmation");
            reply(StatusCode::SERVICE_UNAVAILABLE, &error.to_string())
        }
        Err(error) => {
            tracing::error!(error = %error, "Subscribe failed");
            reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "something went wrong; try again later",
            )
        }
    }
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

fn token_failure(error: &SubscriptionError) -> Response {
    let status = match error {
        SubscriptionError::Token(TokenError::Expired) => StatusCode::GONE,
        SubscriptionError::Token(_) | SubscriptionError::Unknown => StatusCode::BAD_REQUEST,
        SubscriptionError::Suppressed => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %error, "Subscription link failed");
    }
    page(status, "This link does not work", &error.to_string())
}

async fn confirm(
    State(service): State<DigestService>,
    Query(query): Query<TokenQuery>,
) -> Response {
    match service.confirm(&query.token).await {
        Ok(_) => page(
            StatusCode::OK,
            "You're subscribed",
            "The weekly digest will arrive on its next run.",
        ),
        Err(error) => token_failure(&error),
    }
}

/// A link scanner may GET the link: only a POST unsubscribes.
async fn unsubscribe_page(
    State(service): State<DigestService>,
    Query(query): Query<TokenQuery>,
) -> Response {
    if let Err(error) =
        service
            .inner
            .signer
            .verify(crate::Purpose::Unsubscribe, &query.token, service.now())
    {
        return token_failure(&error.into());
    }
    let token = url::form_urlencoded::byte_serialize(query.token.as_bytes()).collect::<String>();
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Unsubscribe</title></head>\
         <body style=\"font-family:Georgia,serif;max-width:36em;margin:3em auto;\"><h1>Unsubscribe</h1>\
         <form method=\"post\" action=\"?token={token}\"><button type=\"submit\">Unsubscribe from the weekly digest</button></form>\
         </body></html>"
    ))
    .into_response()
}

/// RFC 8058 one-click: the token in the query is all it takes.
async fn unsubscribe(
    State(service): State<DigestService>,
    Query(query): Query<TokenQuery>,
) -> Response {
    match service.unsubscribe(&query.token).await {
        Ok(_) => page(
            StatusCode::OK,
            "You're unsubscribed",
            "You will get no more digests.",
        ),
        Err(error) => token_failure(&error),
    }
}

#[derive(Debug, Deserialize)]
struct Bounce {
    email: String,
    kind: String,
}

async fn bounce(State(service): State<DigestService>, Json(bounce): Json<Bounce>) -> Response {
    if !matches!(bounce.kind.as_str(), "bounce" | "complaint") {
        return json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "kind must be `bounce` or `complaint`, not `{}`",
                bounce.kind
            ),
        );
    }
    let email = match EmailAddress::parse(&bounce.email) {
        Ok(email) => email,
        Err(error) => return json_error(StatusCode::UNPROCESSABLE_ENTITY, error),
    };
    match service.suppress(&email, &bounce.kind).await {
        Ok(known) => Json(serde_json::json!({ "suppressed": known })).into_response(),
        Err(error) => internal(&error),
    }
}
