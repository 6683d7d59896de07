//! Bluesky (AT Protocol): a session signed in with an app password,
//! renewed on `ExpiredToken`; posts are records keyed by a TID, so a pending
//! post is found by its key before it is sent again.

use std::future::Future;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::{Response, StatusCode};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;

use super::rate_limit::exhausted_until;
use super::{SendError, Sent, checked, endpoint, json_body, snippet, transport};
use crate::compose::url_ranges;
use crate::settings::BlueskyAccount;
use crate::store::posts::Entry;

/// A signed-in AT Protocol session.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Session {
    access_jwt: String,
    refresh_jwt: String,
    did: String,
}

/// The error name an XRPC failure carries.
#[derive(Debug, Deserialize)]
struct XrpcError {
    #[serde(default)]
    error: String,
}

/// The collection posts are records of.
const POST_COLLECTION: &str = "app.bsky.feed.post";

/// A Bluesky account's client, holding its signed-in session.
pub(crate) struct Bluesky {
    pub(super) http: reqwest::Client,
    pub(super) account: BlueskyAccount,
    pub(super) session: Mutex<Option<Session>>,
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

    /// Creates the entry's record under its idempotency key.
    pub(super) async fn send(&self, entry: &Entry, now: DateTime<Utc>) -> Result<Sent, SendError> {
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
    pub(super) async fn find(&self, entry: &Entry) -> Result<Option<Sent>, SendError> {
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
}
