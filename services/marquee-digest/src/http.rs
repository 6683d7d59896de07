//! HTTP routes of the public subscription flow: subscribe (a form page, or
//! JSON), confirm (a page whose button POSTs), the preferences page of a
//! signed link (change them, pause, unsubscribe), unsubscribe (RFC 8058
//! one-click) and the bounce webhook (a bearer token,
//! `digest.bounce_secret`). Pages are the `pages/` templates over the shared
//! layout; refusals go through [`HttpError`], as a page where a reader
//! opens the route in a browser. A form refused for one field is shown
//! again as entered, saying which field and why.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use marquee_runtime::error::HttpError;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::SubscriptionError;
use crate::store::{Preferences, Subscriber, SubscriberStatus};
use crate::subscribers::form::{self, Choices, Draft, FormError};
use crate::subscribers::limits::{Limited, SubscribeLimits};
use crate::{DigestService, EmailAddress, Purpose, Settings};

/// The largest form a reader's route takes (a form with every venue ticked
/// is well under 2 KiB).
const FORM_LIMIT: usize = 16 * 1024;

/// The most a reader's route reads before refusing: well past
/// [`FORM_LIMIT`], so a larger form is read and answered 413 rather than
/// cut off mid-upload (hyper closes a connection whose body it left
/// unread, and the client sees no answer at all).
const READ_LIMIT: usize = 1024 * 1024;

pub(crate) fn public_router(service: DigestService) -> Router {
    Router::new()
        .route("/subscribe", get(subscribe_page).post(subscribe))
        .route("/subscribe/confirm", get(confirm_page).post(confirm))
        .route("/preferences", get(preferences_page).post(save_preferences))
        .route("/preferences/pause", post(pause))
        .route("/preferences/resume", post(resume))
        .route("/preferences/unsubscribe", post(unsubscribe_reader))
        .route("/unsubscribe", get(unsubscribe_page).post(unsubscribe))
        // Layers wrap the routes above them only.
        .layer(DefaultBodyLimit::max(READ_LIMIT))
        .layer(Extension(Arc::new(SubscribeLimits::default())))
        .route("/webhooks/bounce", post(bounce))
        .with_state(service)
}

/// What every subscribe request is told, whoever the address belongs to,
/// so the form does not tell who is subscribed.
const ACCEPTED: &str = "If this address can receive the digest, a confirmation link is on its way.";

/// A link on a page: where, and what it says.
#[derive(Debug, Serialize)]
struct Link {
    href: String,
    text: &'static str,
}

/// A refused field as a page shows it: a label for the field, and why.
#[derive(Debug, Serialize)]
struct Refusal {
    field: &'static str,
    label: &'static str,
    reason: String,
}

impl From<&FormError> for Refusal {
    fn from(error: &FormError) -> Self {
        let label = match error.field {
            "email" => "Email address",
            "venues" => "Venues",
            "formats" => "Formats",
            "min_rating" => "Minimum rating",
            "accessibility" => "Accessibility",
            "weeks" => "Pause",
            _ => "The form",
        };
        Self {
            field: error.field,
            label,
            reason: error.reason.clone(),
        }
    }
}

impl DigestService {
    /// `pages/{name}.html` with `context`.
    fn render(&self, name: &str, context: &impl Serialize) -> Result<Html<String>, HttpError> {
        self.inner
            .templates
            .page(name, context)
            .map(Html)
            .map_err(|error| HttpError::internal(&error.into()))
    }

    /// `pages/message.html`: a title, a sentence and maybe a link on.
    fn message_page(
        &self,
        title: &str,
        message: &str,
        link: Option<Link>,
    ) -> Result<Html<String>, HttpError> {
        self.render("message", &minijinja::context! { title, message, link })
    }

    /// `path` under the public base URL, carrying `token`.
    fn link_with_token(&self, path: &str, token: &str) -> Result<String, HttpError> {
        let mut url = self
            .inner
            .settings
            .public_base_url
            .join(path)
            .map_err(|error| HttpError::internal(&error.into()))?;
        url.query_pairs_mut().append_pair("token", token);
        Ok(url.into())
    }

    fn subscribe_link(&self) -> Option<Link> {
        let href = self.inner.settings.public_base_url.join("subscribe").ok()?;
        Some(Link {
            href: href.into(),
            text: "Subscribe",
        })
    }

    /// The venues a reader can choose: those the stored screenings name.
    async fn known_venues(&self) -> Result<Vec<marquee_events::Venue>, HttpError> {
        self.inner
            .store
            .venues()
            .await
            .map_err(|error| HttpError::internal(&error.into()))
    }

    /// The subscribe page with `draft` filled in, saying why it was
    /// refused if it was.
    async fn subscribe_form(
        &self,
        status: StatusCode,
        draft: &Draft,
        error: Option<&FormError>,
    ) -> Response {
        let page = async {
            let venues = self.known_venues().await?;
            let choices = Choices::of(draft, &venues);
            let error = error.map(Refusal::from);
            self.render("subscribe", &minijinja::context! { draft, choices, error })
        };
        match page.await {
            Ok(page) => (status, page).into_response(),
            Err(error) => error.page().into_response(),
        }
    }
}

/// The subscribe page, empty.
async fn subscribe_page(State(service): State<DigestService>) -> Response {
    service
        .subscribe_form(StatusCode::OK, &Draft::default(), None)
        .await
}

/// A JSON subscribe request.
#[derive(Debug, Deserialize)]
struct SubscribeRequest {
    email: String,
    #[serde(default)]
    list: Option<String>,
    #[serde(default)]
    preferences: Preferences,
}

/// The client's address, when the server says it.
fn client_of(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
}

/// A form's body, refused when larger than [`FORM_LIMIT`] or unreadable.
fn form_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, HttpError> {
    let too_large = || {
        HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the form is larger than {} KiB, more than any of this site's forms sends; nothing was stored",
                FORM_LIMIT / 1024
            ),
        )
    };
    match body {
        Ok(body) if body.len() > FORM_LIMIT => Err(too_large()),
        Ok(body) => Ok(body),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(too_large()),
        Err(rejection) => Err(HttpError::bad_request(rejection.body_text())),
    }
}

/// A form (answered with a page) or JSON (answered with JSON).
async fn subscribe(
    State(service): State<DigestService>,
    Extension(limits): Extension<Arc<SubscribeLimits>>,
    request: Request,
) -> Response {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let client = client_of(&request);
    const REFUSED: &str = "a subscription";
    if is_json {
        subscribe_json(&service, &limits, client, request)
            .await
            .unwrap_or_else(|error| error.refusing(REFUSED).into_response())
    } else {
        let body = match form_body(Bytes::from_request(request, &()).await) {
            Ok(body) => body,
            Err(error) => return error.refusing(REFUSED).page().into_response(),
        };
        subscribe_form_post(&service, &limits, client, &body)
            .await
            .unwrap_or_else(|error| error.refusing(REFUSED).page().into_response())
    }
}

async fn subscribe_json(
    service: &DigestService,
    limits: &SubscribeLimits,
    client: Option<IpAddr>,
    request: Request,
) -> Result<Response, HttpError> {
    let Json(body) = Json::<SubscribeRequest>::from_request(request, &())
        .await
        .map_err(|rejection| HttpError::new(rejection.status(), rejection.body_text()))?;
    let email = EmailAddress::parse(&body.email).map_err(HttpError::unprocessable)?;
    let preferences = Preferences {
        paused_until: None,
        ..body.preferences
    };
    let venues = service.known_venues().await?;
    form::check(&preferences, &venues).map_err(HttpError::unprocessable)?;
    let now = service.now();
    if let Err(limited) = limits.take(client, &email, now) {
        return Ok(too_many(service, limited, now, false));
    }
    let list = body.list.unwrap_or_default();
    service
        .subscribe_request(&email, &list, preferences)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "message": ACCEPTED })),
    )
        .into_response())
}

/// The subscribe form posted: refused for a field, it is shown again.
async fn subscribe_form_post(
    service: &DigestService,
    limits: &SubscribeLimits,
    client: Option<IpAddr>,
    body: &[u8],
) -> Result<Response, HttpError> {
    let draft = match Draft::parse(body) {
        Ok(draft) => draft,
        Err(error) => {
            return Ok(service
                .subscribe_form(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &Draft::default(),
                    Some(&error),
                )
                .await);
        }
    };
    let venues = service.known_venues().await?;
    let asked = draft
        .email()
        .and_then(|email| Ok((email, draft.preferences(&venues)?)));
    let (email, preferences) = match asked {
        Ok(asked) => asked,
        Err(error) => {
            return Ok(service
                .subscribe_form(StatusCode::UNPROCESSABLE_ENTITY, &draft, Some(&error))
                .await);
        }
    };
    let now = service.now();
    if let Err(limited) = limits.take(client, &email, now) {
        return Ok(too_many(service, limited, now, true));
    }
    service
        .subscribe_request(&email, &draft.list, preferences)
        .await?;
    let page = service.message_page("Check your inbox", ACCEPTED, None)?;
    Ok((StatusCode::ACCEPTED, page).into_response())
}

/// A 429 saying which limit and when to ask again, as a page or JSON.
fn too_many(
    service: &DigestService,
    limited: Limited,
    now: DateTime<Utc>,
    as_page: bool,
) -> Response {
    let when = limited.until.format("%H:%M UTC");
    let message = if limited.mailbox {
        format!(
            "this address has been sent as many confirmation links as it may be in an hour; \
             look for them in its inbox (and its spam folder), or ask again after {when}"
        )
    } else {
        format!(
            "too many subscribe requests have come from your network address in the last hour; \
             try again after {when}"
        )
    };
    let retry_after = [(
        header::RETRY_AFTER,
        (limited.until - now).num_seconds().max(1).to_string(),
    )];
    let error = HttpError::new(StatusCode::TOO_MANY_REQUESTS, &message).refusing("a subscription");
    if !as_page {
        return (retry_after, error).into_response();
    }
    tracing::warn!(status = 429, reason = %message, "Refused a subscription");
    let sentence = format!("{}{}.", message[..1].to_uppercase(), &message[1..]);
    match service.message_page("Too many requests", &sentence, None) {
        Ok(page) => (StatusCode::TOO_MANY_REQUESTS, retry_after, page).into_response(),
        Err(failed) => failed.page().into_response(),
    }
}

impl DigestService {
    /// Subscribes as asked; every outcome but a failure looks the same.
    async fn subscribe_request(
        &self,
        email: &EmailAddress,
        list: &str,
        preferences: Preferences,
    ) -> Result<(), HttpError> {
        let list = if list.is_empty() { "weekly" } else { list };
        self.subscribe(email, list, preferences).await?;
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

/// What a stale preferences link's page says.
const STALE_PREFERENCES: &str = "The subscription this link was sent for has ended, so it \
    changes nothing. To get the digest again, subscribe: a new confirmation link will be emailed to you.";

/// A subscription link that does not work, as a page saying why; a stale
/// link's page is titled so and says `stale`.
fn link_failure(service: &DigestService, error: SubscriptionError, stale: &str) -> Response {
    if matches!(error, SubscriptionError::Stale) {
        return match service.message_page(
            "This link is no longer valid",
            stale,
            service.subscribe_link(),
        ) {
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
        .map_err(|error| link_failure(&service, error, STALE))?;
    if subscriber.status == SubscriberStatus::Confirmed {
        let message = format!(
            "{} already gets the weekly digest; nothing has changed.",
            subscriber.email
        );
        return service
            .message_page("You're already subscribed", &message, None)
            .map_err(page_failure);
    }
    let email = subscriber.email.to_string();
    let action = token_action(&query.token);
    service
        .render("confirm", &minijinja::context! { email, action })
        .map_err(page_failure)
}

async fn confirm(
    State(service): State<DigestService>,
    Query(query): Query<TokenQuery>,
) -> Result<Html<String>, Response> {
    let subscriber = service
        .confirm(&query.token)
        .await
        .map_err(|error| link_failure(&service, error, STALE))?;
    let message = format!(
        "{} will get Marquee's weekly digest from its next run. Every digest has a link to \
         change your preferences, pause it or unsubscribe.",
        subscriber.email
    );
    service
        .message_page("You're subscribed", &message, None)
        .map_err(page_failure)
}

impl DigestService {
    /// The preferences page of `subscriber`, reached with `token`, with
    /// `draft` filled in, saying why it was refused if it was.
    async fn preferences_form(
        &self,
        status: StatusCode,
        token: &str,
        subscriber: &Subscriber,
        draft: &Draft,
        error: Option<&FormError>,
    ) -> Response {
        let page = async {
            let venues = self.known_venues().await?;
            let choices = Choices::of(draft, &venues);
            let error = error.map(Refusal::from);
            let email = subscriber.email.to_string();
            let paused_until = subscriber
                .preferences
                .paused_until
                .filter(|until| *until > self.now())
                .map(day);
            let save = token_action(token);
            let pause = self.link_with_token("preferences/pause", token)?;
            let resume = self.link_with_token("preferences/resume", token)?;
            let unsubscribe = self.link_with_token("preferences/unsubscribe", token)?;
            self.render(
                "preferences",
                &minijinja::context! {
                    email, draft, choices, error, paused_until, save, pause, resume, unsubscribe
                },
            )
        };
        match page.await {
            Ok(page) => (status, page).into_response(),
            Err(error) => error.page().into_response(),
        }
    }

    /// The preferences page refusing `error`, `draft` (or what is stored)
    /// filled in.
    async fn refused_preferences(
        &self,
        token: &str,
        subscriber: &Subscriber,
        draft: Option<&Draft>,
        error: &FormError,
    ) -> Response {
        let stored = Draft::of(&subscriber.email, &subscriber.list, &subscriber.preferences);
        let draft = draft.unwrap_or(&stored);
        self.preferences_form(
            StatusCode::UNPROCESSABLE_ENTITY,
            token,
            subscriber,
            draft,
            Some(error),
        )
        .await
    }

    /// The page after a change on the preferences page, linking back to it.
    fn preferences_changed(&self, title: &str, message: &str, token: &str) -> Response {
        let back = self.link_with_token("preferences", token).map(|href| Link {
            href,
            text: "Back to your preferences",
        });
        back.and_then(|back| self.message_page(title, message, Some(back)))
            .map_or_else(page_failure, IntoResponse::into_response)
    }

    /// The reader `token` was sent to and the form they posted, or the
    /// page refusing `what`: a stale link, or a body too large or unreadable.
    async fn reader_form(
        &self,
        token: &str,
        body: Result<Bytes, BytesRejection>,
        what: &'static str,
    ) -> Result<(Subscriber, Bytes), Response> {
        let subscriber = self
            .reader(token)
            .await
            .map_err(|error| link_failure(self, error, STALE_PREFERENCES))?;
        let body = form_body(body).map_err(|error| error.refusing(what).page().into_response())?;
        Ok((subscriber, body))
    }
}

/// A day as pages write it, e.g. "Thursday 7 January 2027".
fn day(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%A %-d %B %Y").to_string()
}

/// A link scanner may GET the link: it only shows the page.
async fn preferences_page(
    State(service): State<DigestService>,
    Query(query): Query<TokenQuery>,
) -> Response {
    match service.reader(&query.token).await {
        Ok(subscriber) => {
            let draft = Draft::of(&subscriber.email, &subscriber.list, &subscriber.preferences);
            service
                .preferences_form(StatusCode::OK, &query.token, &subscriber, &draft, None)
                .await
        }
        Err(error) => link_failure(&service, error, STALE_PREFERENCES),
    }
}

/// The preferences form posted; refused for a field, it is shown again.
async fn save_preferences(
    State(service): State<DigestService>,
    Query(query): Query<TokenQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let token = &query.token;
    let (subscriber, body) = match service
        .reader_form(token, body, "a preferences change")
        .await
    {
        Ok(posted) => posted,
        Err(page) => return page,
    };
    let draft = match Draft::parse(&body) {
        Ok(draft) => draft,
        Err(error) => {
            return service
                .refused_preferences(token, &subscriber, None, &error)
                .await;
        }
    };
    let venues = match service.known_venues().await {
        Ok(venues) => venues,
        Err(error) => return error.page().into_response(),
    };
    let preferences = match draft.preferences(&venues) {
        Ok(preferences) => preferences,
        Err(error) => {
            return service
                .refused_preferences(token, &subscriber, Some(&draft), &error)
                .await;
        }
    };
    match service.change_preferences(token, preferences).await {
        Ok(subscriber) => service.preferences_changed(
            "Preferences saved",
            &format!(
                "The next digest to {} follows your new preferences.",
                subscriber.email
            ),
            token,
        ),
        Err(error) => link_failure(&service, error, STALE_PREFERENCES),
    }
}

/// Pauses the digest for the weeks the form asks.
async fn pause(
    State(service): State<DigestService>,
    Query(query): Query<TokenQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let token = &query.token;
    let (subscriber, body) = match service.reader_form(token, body, "a pause").await {
        Ok(posted) => posted,
        Err(page) => return page,
    };
    let weeks = match form::pause_weeks(&body) {
        Ok(weeks) => weeks,
        Err(error) => {
            return service
                .refused_preferences(token, &subscriber, None, &error)
                .await;
        }
    };
    match service.pause_reader(token, weeks).await {
        Ok(subscriber) => {
            let until = subscriber
                .preferences
                .paused_until
                .map(day)
                .unwrap_or_default();
            service.preferences_changed(
                "Your digest is paused",
                &format!(
                    "No digest goes to {} before {until}; then digests start again by themselves. \
                     Your preferences are kept.",
                    subscriber.email
                ),
                token,
            )
        }
        Err(error) => link_failure(&service, error, STALE_PREFERENCES),
    }
}

/// Ends a pause now.
async fn resume(State(service): State<DigestService>, Query(query): Query<TokenQuery>) -> Response {
    match service.pause_reader(&query.token, 0).await {
        Ok(subscriber) => service.preferences_changed(
            "Your digest is back on",
            &format!("{} gets the next digest.", subscriber.email),
            &query.token,
        ),
        Err(error) => link_failure(&service, error, STALE_PREFERENCES),
    }
}

impl DigestService {
    /// The page saying `before` (as the subscriber stood) is unsubscribed,
    /// with a form to subscribe again (which mails a new confirmation link).
    fn unsubscribed_page(&self, before: &Subscriber) -> Response {
        let message = match before.status {
            SubscriberStatus::Pending | SubscriberStatus::Confirmed => {
                format!("{} will get no more digests.", before.email)
            }
            _ => format!(
                "{} was already unsubscribed: no digests are sent to it.",
                before.email
            ),
        };
        let again = Draft::of(&before.email, &before.list, &before.preferences);
        let action = self
            .subscribe_link()
            .map(|link| link.href)
            .unwrap_or_default();
        self.render(
            "unsubscribed",
            &minijinja::context! { message, again, action },
        )
        .map_or_else(page_failure, IntoResponse::into_response)
    }
}

/// Unsubscribes from the preferences page.
async fn unsubscribe_reader(
    State(service): State<DigestService>,
    Query(query): Query<TokenQuery>,
) -> Response {
    match service.unsubscribe_reader(&query.token).await {
        Ok(before) => service.unsubscribed_page(&before),
        Err(error) => link_failure(&service, error, STALE_PREFERENCES),
    }
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
        .map_err(|error| link_failure(&service, error.into(), STALE))?;
    let action = token_action(&query.token);
    service
        .render("unsubscribe", &minijinja::context! { action })
        .map_err(page_failure)
}

/// RFC 8058 one-click: the token in the query is all it takes.
async fn unsubscribe(
    State(service): State<DigestService>,
    Query(query): Query<TokenQuery>,
) -> Response {
    // As the subscriber stood before: whether this changed anything.
    match service.unsubscribe(&query.token).await {
        Ok(before) => service.unsubscribed_page(&before),
        Err(error) => link_failure(&service, error, STALE),
    }
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

/// The header SNS puts on every HTTP(S) delivery.
const SNS_MESSAGE_TYPE: &str = "x-amz-sns-message-type";

/// The relay's bounce or complaint: an SNS delivery is authenticated by its
/// signature and topic, anything else by the bearer secret before its body
/// is looked at.
async fn bounce(State(service): State<DigestService>, headers: HeaderMap, body: Bytes) -> Response {
    let answer = if headers.contains_key(SNS_MESSAGE_TYPE) {
        service.sns_bounce(&body).await.map_err(HttpError::from)
    } else {
        match authenticate(&service.inner.settings, &headers) {
            Ok(()) => match crate::bounces::plain(&body) {
                Ok(report) => service
                    .record_bounces(vec![report])
                    .await
                    .map_err(|error| HttpError::internal(&error)),
                Err(error) => Err(error.into()),
            },
            Err(refusal) => Err(refusal),
        }
    };
    match answer {
        Ok(outcome) => Json(outcome).into_response(),
        Err(error) if error.status() == StatusCode::UNAUTHORIZED => (
            [(header::WWW_AUTHENTICATE, "Bearer")],
            error.refusing("a bounce"),
        )
            .into_response(),
        Err(error) => error.refusing("a bounce").into_response(),
    }
}
