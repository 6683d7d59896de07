//! The networks' HTTP APIs, one file per network: send a post, or find one
//! that may already have gone out, and sort every failure into
//! rate-limited ([`rate_limit`]), transient or permanent.

mod bluesky;
mod mastodon;
mod rate_limit;
mod webhook;
mod x;

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{Response, StatusCode};
use tokio::sync::Mutex;
use url::Url;

use bluesky::Bluesky;
pub use bluesky::{post_record, tid};
use mastodon::Mastodon;
pub(crate) use rate_limit::Wait;
use webhook::Webhook;
use x::X;

use crate::settings::AccountSettings;
use crate::store::posts::Entry;

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
            wait: rate_limit::wait_of(&headers),
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

/// Sends `request`, which creates a post, and reads the accepted answer:
/// its body, and when the account's rate limit, if spent, resets.
async fn created<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> Result<(T, Option<DateTime<Utc>>), SendError> {
    let response = checked(request.send().await.map_err(transport)?).await?;
    let pause_until = rate_limit::exhausted_until(response.headers());
    Ok((json_body(response).await?, pause_until))
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
