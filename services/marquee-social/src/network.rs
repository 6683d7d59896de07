//! The networks' HTTP APIs: send a post, or find one that may already have
//! gone out, and sort every failure into rate-limited, transient or
//! permanent.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;
use url::Url;

use crate::compose::url_ranges;
use crate::ledger::Entry;
use crate::settings::{AccountSettings, BlueskyAccount, MastodonAccount, WebhookAccount, XAccount};

/// What the network said when it accepted a post.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Sent {
    /// The network's id of the post.
    pub id: Option<String>,
    /// Where readers see it.
    pub url: Option<String>,
    /// The account's rate limit is used up until then.
    pub pause_until: Option<DateTime<Utc>>,
}

/// How long a rate limit asks to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// `Retry-After: SECONDS`.
    For(chrono::Duration),
    /// An HTTP date or a reset instant.
    Until(DateTime<Utc>),
}

impl Wait {
    pub(crate) fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::For(wait) => now + wait,
            Self::Until(at) => at.max(now),
        }
    }
}

/// Why a send did not succeed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// 429: try again after the wait.
    #[error("rate limited: {reason}")]
    RateLimited {
        /// How long.
        wait: Wait,
        /// What the network said.
        reason: String,
    },
    /// 5xx, a timeout or a broken connection: worth retrying with backoff.
    #[error("{0}")]
    Transient(String),
    /// 401, 422 and the like: the same request will never succeed.
    #[error("{0}")]
    Permanent(String),
}

fn transport(error: reqwest::Error) -> SendError {
    SendError::Transient(format!("request failed: {error}"))
}

const DEFAULT_WAIT: chrono::Duration = chrono::Duration::seconds(60);

fn header<'a>(headers: &'a HeaderMap, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok())
        .map(str::trim)
}

/// A rate-limit reset: Unix seconds (X, Bluesky), or RFC 3339 (Mastodon).
fn parse_reset(value: &str) -> Option<DateTime<Utc>> {
    if let Ok(seconds) = value.parse::<i64>() {
        return DateTime::from_timestamp(seconds, 0);
    }
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

const REMAINING: [&str; 3] = [
    "x-ratelimit-remaining",
    "x-rate-limit-remaining",
    "ratelimit-remaining",
];
const RESET: [&str; 3] = ["x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset"];

/// When the rate limit is used up, when the response says so.
fn exhausted_until(headers: &HeaderMap) -> Option<DateTime<Utc>> {
    let remaining: i64 = header(headers, &REMAINING)?.parse().ok()?;
    if remaining > 0 {
        return None;
    }
    parse_reset(header(headers, &RESET)?)
}

/// `Retry-After` (seconds or an HTTP date), else the rate-limit reset.
fn wait_of(headers: &HeaderMap) -> Wait {
    if let Some(value) = header(headers, &["retry-after"]) {
        if let Ok(seconds) = value.parse::<i64>() {
            return Wait::For(chrono::Duration::seconds(seconds.max(0)));
        }
        if let Ok(at) = DateTime::parse_from_rfc2822(value) {
            return Wait::Until(at.with_timezone(&Utc));
        }
    }
    header(headers, &RESET)
        .and_then(parse_reset)
        .map_or(Wait::For(DEFAULT_WAIT), Wait::Until)
}

/// Keeps a successful response; sorts a failed one by its status.
async fn checked(response: Response) -> Result<Response, SendError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    let reason = format!("HTTP {status}: {}", snippet(&body));
    Err(match status {
        StatusCode::TOO_MANY_REQUESTS => SendError::RateLimited {
            wait: wait_of(&headers),
            reason,
        },
        StatusCode::REQUEST_TIMEOUT => SendError::Transient(reason),
        s if s.is_server_error() => SendError::Transient(reason),
        _ => SendError::Permanent(reason),
    })
}

fn snippet(body: &str) -> String {
    let body = body.trim();
    match body.char_indices().nth(300) {
        Some((end, _)) => format!("{}…", &body[..end]),
        None => body.to_owned(),
    }
}

async fn json_body<T: serde::de::DeserializeOwned>(response: Response) -> Result<T, SendError> {
    let status = response.status();
    response.json().await.map_err(|e| {
        // Accepted but unreadable: the post exists, so retrying would
        // double it; the pending row's look-up sorts it out.
        SendError::Transient(format!("HTTP {status} with an unreadable body: {e}"))
    })
}

fn endpoint(base: &Url, path: &str) -> String {
    format!("{}/{path}", base.as_str().trim_end_matches('/'))
}

/// One account's API client.
pub(crate) enum Client {
    Mastodon(Mastodon),
    Bluesky(Bluesky),
    X(X),
    Webhook(Webhook),
}

impl Client {
    pub(crate) fn new(account: &AccountSettings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("marquee-social/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(match account {
            AccountSettings::Mastodon(a) => Self::Mastodon(Mastodon {
                http,
                account: a.clone(),
            }),
            AccountSettings::Bluesky(a) => Self::Bluesky(Bluesky {
                http,
                account: a.clone(),
                session: Mutex::new(None),
            }),
            AccountSettings::X(a) => Self::X(X {
                http,
                account: a.clone(),
            }),
            AccountSettings::Webhook(a) => Self::Webhook(Webhook {
                http,
                account: a.clone(),
            }),
        })
    }

    /// Sends the post of `entry`.
    pub(crate) async fn send(&self, entry: &Entry, now: DateTime<Utc>) -> Result<Sent, SendError> {
        match self {
            Self::Mastodon(c) => c.send(entry).await,
            Self::Bluesky(c) => c.send(entry, now).await,
            Self::X(c) => c.send(entry).await,
            Self::Webhook(c) => c.send(entry).await,
        }
    }

    /// The post of a `pending` entry, if an earlier attempt got through.
    /// `None` means "send it": for Mastodon and webhooks the idempotency
    /// key makes a resend safe.
    pub(crate) async fn find(&self, entry: &Entry) -> Result<Option<Sent>, SendError> {
        match self {
            Self::Mastodon(_) | Self::Webhook(_) => Ok(None),
            Self::Bluesky(c) => c.find(entry).await,
            Self::X(c) => c.find(entry).await,
        }
    }
}

pub(crate) struct Mastodon {
    http: reqwest::Client,
    account: MastodonAccount,
}

impl Mastodon {
    async fn send(&self, entry: &Entry) -> Result<Sent, SendError> {
        #[derive(Deserialize)]
        struct Status {
            id: String,
            url: Option<String>,
        }
        let response = self
            .http
            .post(endpoint(&self.account.base_url, "api/v1/statuses"))
            .bearer_auth(self.account.access_token.expose_secret())
            .header("Idempotency-Key", &entry.idempotency_key)
            .json(&json!({
                "status": entry.post.text,
                "visibility": self.account.visibility,
                "language": self.account.language,
            }))
            .send()
            .await
            .map_err(transport)?;
        let response = checked(response).await?;
        let pause_until = exhausted_until(response.headers());
        let status: Status = json_body(response).await?;
        Ok(Sent {
            id: Some(status.id),
            url: status.url,
            pause_until,
        })
    }
}

pub(crate) struct X {
    http: reqwest::Client,
    account: XAccount,
}

impl X {
    fn web_url(id: &str) -> String {
        format!("https://x.com/i/web/status/{id}")
    }

    async fn send(&self, entry: &Entry) -> Result<Sent, SendError> {
        #[derive(Deserialize)]
        struct Created {
            data: Tweet,
        }
        #[derive(Deserialize)]
        struct Tweet {
            id: String,
        }
        let response = self
            .http
            .post(endpoint(&self.account.base_url, "2/tweets"))
            .bearer_auth(self.account.user_token.expose_secret())
            .json(&json!({ "text": entry.post.text }))
            .send()
            .await
            .map_err(transport)?;
        let response = checked(response).await?;
        let pause_until = exhausted_until(response.headers());
        let created: Created = json_body(response).await?;
        Ok(Sent {
            url: Some(Self::web_url(&created.data.id)),
            id: Some(created.data.id),
            pause_until,
        })
    }

    /// The account's recent posts carrying the review's URL (X rewrites it
    /// to t.co in the text; `entities.urls[].expanded_url` keeps it).
    async fn find(&self, entry: &Entry) -> Result<Option<Sent>, SendError> {
        #[derive(Deserialize)]
        struct Timeline {
            #[serde(default)]
            data: Vec<Tweet>,
        }
        #[derive(Deserialize)]
        struct Tweet {
            id: String,
            text: String,
            #[serde(default)]
            entities: Option<Entities>,
        }
        #[derive(Deserialize)]
        struct Entities {
            #[serde(default)]
            urls: Vec<Link>,
        }
        #[derive(Deserialize)]
        struct Link {
            expanded_url: Option<String>,
        }
        let path = format!("2/users/{}/tweets", self.account.user_id);
        let response = self
            .http
            .get(endpoint(&self.account.base_url, &path))
            .bearer_auth(self.account.user_token.expose_secret())
            .query(&[("max_results", "100"), ("tweet.fields", "entities")])
            .send()
            .await
            .map_err(transport)?;
        let timeline: Timeline = json_body(checked(response).await?).await?;
        let wanted = entry.post.url.as_str();
        let found = timeline.data.into_iter().find(|tweet| {
            tweet.text.contains(wanted)
                || tweet.entities.as_ref().is_some_and(|e| {
                    e.urls
                        .iter()
                        .any(|link| link.expanded_url.as_deref() == Some(wanted))
                })
        });
        Ok(found.map(|tweet| Sent {
            url: Some(Self::web_url(&tweet.id)),
            id: Some(tweet.id),
            pause_until: None,
        }))
    }
}

pub(crate) struct Webhook {
    http: reqwest::Client,
    account: WebhookAccount,
}

impl Webhook {
    async fn send(&self, entry: &Entry) -> Result<Sent, SendError> {
        let post = &entry.post;
        let response = self
            .http
            .post(self.account.url.clone())
            .header("Idempotency-Key", &entry.idempotency_key)
            .json(&json!({
                "text": post.text,
                "url": post.url,
                "headline": post.headline,
                "film": post.film,
                "rating": post.rating,
            }))
            .send()
            .await
            .map_err(transport)?;
        let response = checked(response).await?;
        Ok(Sent {
            pause_until: exhausted_until(response.headers()),
            ..Sent::default()
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    access_jwt: String,
    refresh_jwt: String,
    did: String,
}

#[derive(Debug, Deserialize)]
struct XrpcError {
    #[serde(default)]
    error: String,
}

const POST_COLLECTION: &str = "app.bsky.feed.post";

pub(crate) struct Bluesky {
    http: reqwest::Client,
    account: BlueskyAccount,
    session: Mutex<Option<Session>>,
}

/// A response, or "the access token expired".
enum Authed {
    Response(Response),
    Expired,
}

impl Bluesky {
    fn xrpc(&self, method: &str) -> String {
        endpoint(&self.account.base_url, &format!("xrpc/{method}"))
    }

    async fn create_session(&self) -> Result<Session, SendError> {
        let response = self
            .http
            .post(self.xrpc("com.atproto.server.createSession"))
            .json(&json!({
                "identifier": self.account.identifier,
                "password": self.account.app_password.expose_secret(),
            }))
            .send()
            .await
            .map_err(transport)?;
        json_body(checked(response).await?).await
    }

    async fn refresh_session(&self, session: &Session) -> Result<Session, SendError> {
        let response = self
            .http
            .post(self.xrpc("com.atproto.server.refreshSession"))
            .bearer_auth(&session.refresh_jwt)
            .send()
            .await
            .map_err(transport)?;
        json_body(checked(response).await?).await
    }

    /// The signed-in session, signing in first if needed.
    async fn session(&self) -> Result<Session, SendError> {
        let mut session = self.session.lock().await;
        if let Some(session) = &*session {
            return Ok(session.clone());
        }
        let fresh = self.create_session().await?;
        *session = Some(fresh.clone());
        Ok(fresh)
    }

    /// Refreshes an expired session, or signs in again if that fails.
    async fn renew(&self, expired: &Session) -> Result<Session, SendError> {
        let mut session = self.session.lock().await;
        if let Some(current) = &*session
            && current.access_jwt != expired.access_jwt
        {
            return Ok(current.clone());
        }
        let fresh = match self.refresh_session(expired).await {
            Ok(fresh) => fresh,
            Err(error) => {
                tracing::info!(account = %self.account.name, error = %error, "Could not refresh the Bluesky session; signing in again");
                self.create_session().await?
            }
        };
        *session = Some(fresh.clone());
        Ok(fresh)
    }

    /// Runs `request` with the session, renewing it once on `ExpiredToken`.
    async fn with_session<F, Fut>(&self, request: F) -> Result<(Session, Response), SendError>
    where
        F: Fn(Session) -> Fut,
        Fut: Future<Output = Result<Authed, SendError>>,
    {
        let session = self.session().await?;
        match request(session.clone()).await? {
            Authed::Response(response) => Ok((session, response)),
            Authed::Expired => {
                let session = self.renew(&session).await?;
                match request(session.clone()).await? {
                    Authed::Response(response) => Ok((session, response)),
                    Authed::Expired => Err(SendError::Transient(
                        "Bluesky says the fresh session expired".to_owned(),
                    )),
                }
            }
        }
    }

    /// Separates an `ExpiredToken` answer (400, or 401 from some PDSes)
    /// from every other response.
    async fn expired_or(response: Response) -> Result<Authed, SendError> {
        if !matches!(
            response.status(),
            StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED
        ) {
            return Ok(Authed::Response(response));
        }
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        let error = serde_json::from_str::<XrpcError>(&body)
            .map(|e| e.error)
            .unwrap_or_default();
        if error == "ExpiredToken" {
            return Ok(Authed::Expired);
        }
        // Rebuild the response so the common sorting sees it whole.
        let mut rebuilt = http_response(status, body);
        *rebuilt.headers_mut() = headers;
        Ok(Authed::Response(Response::from(rebuilt)))
    }

    fn web_url(did: &str, rkey: &str) -> String {
        format!("https://bsky.app/profile/{did}/post/{rkey}")
    }

    async fn send(&self, entry: &Entry, now: DateTime<Utc>) -> Result<Sent, SendError> {
        #[derive(Deserialize)]
        struct Created {
            uri: String,
        }
        let record = post_record(entry, &self.account.language, now);
        let (session, response) = self
            .with_session(|session| {
                let body = json!({
                    "repo": session.did,
                    "collection": POST_COLLECTION,
                    "rkey": entry.idempotency_key,
                    "record": record,
                });
                async move {
                    let response = self
                        .http
                        .post(self.xrpc("com.atproto.repo.createRecord"))
                        .bearer_auth(&session.access_jwt)
                        .json(&body)
                        .send()
                        .await
                        .map_err(transport)?;
                    Self::expired_or(response).await
                }
            })
            .await?;
        let status = response.status();
        match checked(response).await {
            Ok(response) => {
                let pause_until = exhausted_until(response.headers());
                let created: Created = json_body(response).await?;
                Ok(Sent {
                    id: Some(created.uri),
                    url: Some(Self::web_url(&session.did, &entry.idempotency_key)),
                    pause_until,
                })
            }
            // A record with this key exists: an earlier attempt got through.
            Err(SendError::Permanent(reason)) if status == StatusCode::BAD_REQUEST => {
                match self.find(entry).await? {
                    Some(sent) => Ok(sent),
                    None => Err(SendError::Permanent(reason)),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// `com.atproto.repo.getRecord` of the entry's record key.
    async fn find(&self, entry: &Entry) -> Result<Option<Sent>, SendError> {
        #[derive(Deserialize)]
        struct Found {
            uri: String,
        }
        let (session, response) = self
            .with_session(|session| async move {
                let response = self
                    .http
                    .get(self.xrpc("com.atproto.repo.getRecord"))
                    .bearer_auth(&session.access_jwt)
                    .query(&[
                        ("repo", session.did.as_str()),
                        ("collection", POST_COLLECTION),
                        ("rkey", entry.idempotency_key.as_str()),
                    ])
                    .send()
                    .await
                    .map_err(transport)?;
                Self::expired_or(response).await
            })
            .await?;
        if response.status() == StatusCode::BAD_REQUEST {
            let body = response.text().await.unwrap_or_default();
            let error = serde_json::from_str::<XrpcError>(&body)
                .map(|e| e.error)
                .unwrap_or_default();
            if error == "RecordNotFound" {
                return Ok(None);
            }
            return Err(SendError::Permanent(format!(
                "getRecord failed: HTTP 400: {}",
                snippet(&body)
            )));
        }
        let found: Found = json_body(checked(response).await?).await?;
        Ok(Some(Sent {
            id: Some(found.uri),
            url: Some(Self::web_url(&session.did, &entry.idempotency_key)),
            pause_until: None,
        }))
    }
}

fn http_response(status: StatusCode, body: String) -> axum::http::Response<String> {
    let mut response = axum::http::Response::new(body);
    *response.status_mut() = status;
    response
}

/// The `app.bsky.feed.post` record: text, link facets at UTF-8 byte
/// offsets, and a link card for the review.
pub fn post_record(entry: &Entry, language: &str, now: DateTime<Utc>) -> serde_json::Value {
    let text = &entry.post.text;
    let facets: Vec<_> = url_ranges(text)
        .into_iter()
        .map(|range| {
            json!({
                "index": {"byteStart": range.start, "byteEnd": range.end},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": &text[range]}],
            })
        })
        .collect();
    json!({
        "$type": POST_COLLECTION,
        "text": text,
        "createdAt": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        "langs": [language],
        "facets": facets,
        "embed": {
            "$type": "app.bsky.embed.external",
            "external": {
                "uri": entry.post.url,
                "title": entry.post.headline,
                "description": entry.post.standfirst,
            },
        },
    })
}

/// A TID (the record-key form `app.bsky.feed.post` requires): 53 bits of
/// microseconds since the epoch and a 10-bit clock id, base32-sortable.
pub fn tid(micros: i64, clock_id: u16) -> String {
    const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    let micros = u64::try_from(micros).unwrap_or(0) & ((1 << 53) - 1);
    let mut value = (micros << 10) | u64::from(clock_id & 0x3ff);
    let mut out = [b'2'; 13];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value & 31) as usize];
        value >>= 5;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tids_are_13_sortable_characters() {
        let a = tid(1_736_500_000_000_000, 7);
        let b = tid(1_736_500_000_000_001, 0);
        assert_eq!(a.len(), 13);
        assert!(a < b, "{a} < {b}");
        assert!(a.starts_with(|c: char| "234567abcdefghij".contains(c)));
    }

    #[test]
    fn waits_come_from_retry_after_or_the_reset() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "30".parse().expect("header"));
        assert_eq!(wait_of(&headers), Wait::For(chrono::Duration::seconds(30)));
        let mut headers = HeaderMap::new();
        headers.insert("x-rate-limit-reset", "1736500000".parse().expect("header"));
        headers.insert("x-rate-limit-remaining", "0".parse().expect("header"));
        let reset = DateTime::from_timestamp(1_736_500_000, 0).expect("instant");
        assert_eq!(wait_of(&headers), Wait::Until(reset));
        assert_eq!(exhausted_until(&headers), Some(reset));
    }
}
