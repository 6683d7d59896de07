//! Bluesky (AT Protocol): a session signed in with an app password,
//! renewed on `ExpiredToken`; posts are records keyed by a TID, so a pending
//! post is found by its key before it is sent again. Links and hashtags get
//! facets as `@atproto/api`'s `RichText` detects them, and the link card the
//! review's image as its thumbnail blob, shrunk to a JPEG if it is over the
//! blob limit.

use std::future::Future;
use std::sync::LazyLock;

use chrono::{DateTime, SecondsFormat, Utc};
use regex::Regex;
use reqwest::header::CONTENT_TYPE;
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

/// The largest thumbnail `app.bsky.embed.external` accepts; a larger image
/// is shrunk to fit.
const THUMB_MAX_BYTES: usize = 1_000_000;

/// An image larger than this is not fetched at all (and the card goes out
/// without a thumbnail).
const IMAGE_MAX_BYTES: usize = 20_000_000;

/// The longest side of a shrunk thumbnail: cards show it far smaller.
const THUMB_MAX_SIDE: u32 = 1200;

/// Why a card goes out without its thumbnail.
#[derive(Debug, thiserror::Error)]
enum ThumbError {
    #[error("could not fetch the image: {0}")]
    Fetch(#[from] reqwest::Error),
    #[error("the image's Content-Type is {0:?}, not image/*")]
    NotAnImage(String),
    #[error("the image is larger than {IMAGE_MAX_BYTES} bytes")]
    TooLarge,
    #[error("the image could not be shrunk: {0}")]
    Shrink(#[from] image::ImageError),
    #[error("shrinking the image failed: {0}")]
    Panicked(#[from] tokio::task::JoinError),
    #[error("uploadBlob failed: {0}")]
    Upload(#[from] SendError),
}

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
        let thumb = match &entry.post.image {
            Some(image) => self.thumb(entry, image).await,
            None => None,
        };
        let record = post_record(entry, &self.account.language, now, thumb.as_ref());
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
            // A record with this key may exist: an earlier attempt got
            // through. The reference PDS says so with a 500, others a 400.
            Err(error)
                if matches!(
                    status,
                    StatusCode::BAD_REQUEST | StatusCode::INTERNAL_SERVER_ERROR
                ) =>
            {
                match self.find(entry).await? {
                    Some(sent) => Ok(sent),
                    None => Err(error),
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

    /// The review's image uploaded as a blob, or `None` with the reason
    /// logged: a card without a thumbnail beats no post.
    async fn thumb(&self, entry: &Entry, image: &str) -> Option<serde_json::Value> {
        let uploaded = async {
            let (mime, bytes) = self.image(image).await?;
            let (mime, bytes) = if bytes.len() > THUMB_MAX_BYTES {
                let bytes = tokio::task::spawn_blocking(move || shrink(&bytes)).await??;
                ("image/jpeg".to_owned(), bytes)
            } else {
                (mime, bytes)
            };
            self.upload_blob(mime, bytes).await
        };
        match uploaded.await {
            Ok(blob) => Some(blob),
            Err(reason) => {
                tracing::warn!(account = %self.account.name, review = %entry.review_id, image, %reason, "Posting the Bluesky card without a thumbnail");
                None
            }
        }
    }

    /// Fetches an image, refusing one over [`IMAGE_MAX_BYTES`] before
    /// reading it all.
    async fn image(&self, url: &str) -> Result<(String, Vec<u8>), ThumbError> {
        let mut response = self.http.get(url).send().await?.error_for_status()?;
        let mime = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if !mime.starts_with("image/") {
            return Err(ThumbError::NotAnImage(mime));
        }
        if response
            .content_length()
            .is_some_and(|n| n > IMAGE_MAX_BYTES as u64)
        {
            return Err(ThumbError::TooLarge);
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > IMAGE_MAX_BYTES {
                return Err(ThumbError::TooLarge);
            }
        }
        Ok((mime, bytes))
    }

    /// `com.atproto.repo.uploadBlob` of raw bytes; returns the blob ref.
    async fn upload_blob(
        &self,
        mime: String,
        bytes: Vec<u8>,
    ) -> Result<serde_json::Value, ThumbError> {
        #[derive(Deserialize)]
        struct Uploaded {
            blob: serde_json::Value,
        }
        let (mime, bytes) = (&mime, &bytes);
        let (_, response) = self
            .with_session(|session| async move {
                let response = self
                    .http
                    .post(self.xrpc("com.atproto.repo.uploadBlob"))
                    .bearer_auth(&session.access_jwt)
                    .header(CONTENT_TYPE, mime)
                    .body(bytes.clone())
                    .send()
                    .await
                    .map_err(transport)?;
                Self::expired_or(response).await
            })
            .await?;
        let uploaded: Uploaded = json_body(checked(response).await?).await?;
        Ok(uploaded.blob)
    }
}

/// `image` as a JPEG of at most [`THUMB_MAX_SIDE`] pixels a side, halved
/// until it is under [`THUMB_MAX_BYTES`].
fn shrink(image: &[u8]) -> Result<Vec<u8>, image::ImageError> {
    let image = image::load_from_memory(image)?;
    // Never larger than it was.
    let mut side = THUMB_MAX_SIDE.min(image.width().max(image.height()));
    loop {
        let rgb = image.thumbnail(side, side).into_rgb8();
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85).encode_image(&rgb)?;
        if jpeg.len() <= THUMB_MAX_BYTES || side <= 64 {
            return Ok(jpeg);
        }
        side /= 2;
    }
}

fn http_response(status: StatusCode, body: String) -> axum::http::Response<String> {
    let mut response = axum::http::Response::new(body);
    *response.status_mut() = status;
    response
}

/// The `app.bsky.feed.post` record: text, link and tag facets at UTF-8
/// byte offsets, and a link card for the review with `thumb`, an uploaded
/// blob, if any.
pub fn post_record(
    entry: &Entry,
    language: &str,
    now: DateTime<Utc>,
    thumb: Option<&serde_json::Value>,
) -> serde_json::Value {
    let text = &entry.post.text;
    let facets: Vec<_> = facets(text);
    let mut external = json!({
        "uri": entry.post.url,
        "title": entry.post.headline,
        "description": entry.post.standfirst,
    });
    if let Some(thumb) = thumb {
        external["thumb"] = thumb.clone();
    }
    json!({
        "$type": POST_COLLECTION,
        "text": text,
        "createdAt": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        "langs": [language],
        "facets": facets,
        "embed": {"$type": "app.bsky.embed.external", "external": external},
    })
}

/// The link facets, then the tag facets, of `text`.
fn facets(text: &str) -> Vec<serde_json::Value> {
    let links = url_ranges(text).into_iter().map(|range| {
        json!({
            "index": {"byteStart": range.start, "byteEnd": range.end},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": &text[range]}],
        })
    });
    let tags = tag_ranges(text).into_iter().map(|range| {
        // Past the `#` (or the full-width `＃`).
        let tag = text[range.clone()].chars().skip(1).collect::<String>();
        json!({
            "index": {"byteStart": range.start, "byteEnd": range.end},
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}],
        })
    });
    links.chain(tags).collect()
}

/// A hashtag as `RichText` finds one: `#` after a space or at the start,
/// then everything up to a space or an invisible separator.
static TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|\s)([#＃][^\s\x{00AD}\x{2060}\x{200A}-\x{200D}\x{20E2}]*)")
        .expect("a valid constant regex")
});

/// Trailing punctuation, which is not part of a tag.
static TRAILING_PUNCTUATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\p{P}+$").expect("a valid constant regex"));

/// A tag needs one character that is not a digit or punctuation: `#1` is
/// not a tag.
static TAG_LETTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[^0-9\p{P}]").expect("a valid constant regex"));

/// Byte ranges of the hashtags in `text`, `#` included; a tag (past its
/// `#`) is at most 64 UTF-16 units long, as `RichText` counts.
fn tag_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    TAG.captures_iter(text)
        .filter_map(|captures| {
            let found = captures.get(1)?;
            let hash_len = found.as_str().chars().next()?.len_utf8();
            let body = &found.as_str()[hash_len..];
            let body = TRAILING_PUNCTUATION.replace(body, "");
            let tagged = !body.starts_with('\u{FE0F}') && TAG_LETTER.is_match(&body);
            (tagged && body.encode_utf16().count() <= 64)
                .then(|| found.start()..found.start() + hash_len + body.len())
        })
        .collect()
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

    /// What `RichText.detectFacets` of @atproto/api 0.19.19 finds in them.
    #[test]
    fn hashtags_are_found_as_richtext_finds_them() {
        let text = "#1 #a1. ＃Ciné! x#no #\u{FE0F}bad (#yes)";
        let tags: Vec<_> = tag_ranges(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(tags, ["#a1", "＃Ciné"]);
        assert_eq!(tag_ranges("#Ciné").pop(), Some(0..6), "UTF-8 bytes");
        assert_eq!(tag_ranges("end #tag…").pop(), Some(4..8));
        assert!(tag_ranges(&format!("#{}", "a".repeat(65))).is_empty());
    }

    #[test]
    fn tids_are_13_sortable_characters() {
        let a = tid(1_736_500_000_000_000, 7);
        let b = tid(1_736_500_000_000_001, 0);
        assert_eq!(a.len(), 13);
        assert!(a < b, "{a} < {b}");
        assert!(a.starts_with(|c: char| "234567abcdefghij".contains(c)));
    }
}
