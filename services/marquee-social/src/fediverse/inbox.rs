//! The inboxes: what a peer POSTs, checked in the order that lets nothing
//! unverified change anything — size, signature header, date, digest,
//! JSON, the signer's key (fetched, then kept), the signature, the key's
//! owner against the activity's actor, a replay — and only then acted on:
//! a `Follow` of one of our actors adds the follower and queues an
//! `Accept`; an `Undo` of a follow removes it. Anything else signed and
//! valid is acknowledged and left.

use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use marquee_runtime::error::HttpError;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use url::Url;
use uuid::Uuid;

use super::documents;
use super::rfc9421::check_content_digest;
use super::signature::{self, Request, SignatureError, Signed};
use super::{Actor, Fediverse};
use crate::error::StoreError;
use crate::store::Store;
use crate::store::fediverse::{Follower, NewActivity};

/// Largest activity an inbox reads: Mastodon's own limit is 1 MB; a
/// `Follow` is well under 2 KB.
pub(crate) const MAX_ACTIVITY_BYTES: usize = 256 * 1024;

/// How far a request's `Date` may be from ours, as Fedify allows.
const MAX_SKEW: chrono::Duration = chrono::Duration::hours(1);

/// What `Accept` asks for when fetching actors and keys.
const ACCEPT: &str = "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";

/// Why an inbox refused a request; what it answers and logs.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    /// Over [`MAX_ACTIVITY_BYTES`].
    #[error("the activity is larger than {MAX_ACTIVITY_BYTES} bytes, the most an inbox takes")]
    TooLarge,
    /// A signature that cannot be checked or does not check out.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// No `Date` (or `created`), or one too far from now.
    #[error("{0}")]
    Date(String),
    /// The body is not what `Digest` (or `Content-Digest`) says.
    #[error("the {0}")]
    Digest(String),
    /// Not JSON, or not an activity.
    #[error("the body is not an activity: {0}")]
    Malformed(String),
    /// The signer's key could not be had.
    #[error("the signing key {key_id} could not be fetched: {reason}")]
    KeyUnavailable {
        /// The key.
        key_id: String,
        /// Why.
        reason: String,
    },
    /// The follower's actor document, for its inbox, could not be had.
    #[error("the follower {follower} could not be fetched for its inbox: {reason}")]
    FollowerUnavailable {
        /// The follower.
        follower: String,
        /// Why.
        reason: String,
    },
    /// Signed by someone other than the activity's actor.
    #[error(
        "the request is signed with {key_id}, whose owner is {owner}, but the activity's actor is {actor}"
    )]
    WrongOwner {
        /// The key.
        key_id: String,
        /// Its owner.
        owner: String,
        /// Who the activity claims sent it.
        actor: String,
    },
    /// The same signed request again.
    #[error("this signed request was received before; a replay is refused")]
    Replay,
    /// Addressed to an actor that does not exist here.
    #[error("there is no actor {0} here")]
    UnknownActor(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Refusal {
    /// A short, stable label for metrics.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Signature(error) => error.kind(),
            Self::Date(_) => "date",
            Self::Digest(_) => "digest",
            Self::Malformed(_) => "malformed",
            Self::KeyUnavailable { .. } => "key_unavailable",
            Self::FollowerUnavailable { .. } => "follower_unavailable",
            Self::WrongOwner { .. } => "wrong_owner",
            Self::Replay => "replay",
            Self::UnknownActor(_) => "unknown_actor",
            Self::Store(_) => "store",
        }
    }
}

impl From<Refusal> for HttpError {
    fn from(refusal: Refusal) -> Self {
        let status = match &refusal {
            Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Malformed(_) | Refusal::Digest(_) | Refusal::Date(_) => {
                StatusCode::BAD_REQUEST
            }
            Refusal::UnknownActor(_) => StatusCode::NOT_FOUND,
            // Nothing is wrong with the request: the peer may try again.
            Refusal::Store(_) | Refusal::FollowerUnavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::UNAUTHORIZED,
        };
        HttpError::new(status, refusal)
    }
}

/// One inbox POST, as received.
pub(crate) struct Received<'a> {
    /// The path and query, as signed in `(request-target)`.
    pub target: &'a str,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The body.
    pub body: &'a [u8],
}

impl Fediverse {
    /// Checks `request` and acts on its activity; `inbox_of` names the
    /// actor whose own inbox it came to (none for the shared inbox).
    pub(crate) async fn receive(
        &self,
        store: &Store,
        inbox_of: Option<&str>,
        request: Received<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        if let Some(name) = inbox_of {
            self.actor(name)
                .ok_or_else(|| Refusal::UnknownActor(name.to_owned()))?;
        }
        let signed = Signed::of(request.headers)?;
        match &signed {
            Signed::Message(message) => {
                let created = message
                    .created
                    .and_then(|at| DateTime::from_timestamp(at, 0));
                check_time(created, "created", now)?;
            }
            Signed::Cavage(_) => check_date(request.headers, now)?,
        }
        match &signed {
            Signed::Cavage(_) => check_digest(request.headers, request.body)?,
            Signed::Message(_) => check_content_digest(request.headers, request.body)
                .map_err(|why| Refusal::Digest(format!("Content-Digest {why}")))?,
        }
        let activity: Value =
            serde_json::from_slice(request.body).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let actor = id_of(&activity["actor"])
            .ok_or_else(|| Refusal::Malformed("it has no actor".to_owned()))?;
        let kind = activity["type"].as_str().unwrap_or_default().to_owned();

        let received = Request {
            method: "POST",
            scheme: self.base.scheme(),
            target: request.target,
            headers: request.headers,
        };
        let owner = self.verify(store, &signed, &received, now).await?;
        if owner != actor {
            return Err(Refusal::WrongOwner {
                key_id: signed.key_id().to_owned(),
                owner,
                actor,
            });
        }
        let fingerprint = hex_sha256(signed.signature());
        if !store
            .first_use_of_signature(&fingerprint, now, now - MAX_SKEW * 2)
            .await?
        {
            return Err(Refusal::Replay);
        }
        match kind.as_str() {
            "Follow" => self.follow(store, &actor, &activity, now).await,
            "Undo" if activity["object"]["type"] == "Follow" || activity["object"].is_string() => {
                self.unfollow(store, &actor, &activity).await
            }
            _ => {
                tracing::debug!(kind, actor, "A fediverse activity with nothing to do here");
                Ok(())
            }
        }
    }

    /// Checks the signature with the signer's key, fetched when not kept
    /// or when the kept one fails (the key may have been rotated); answers
    /// the key's owner.
    async fn verify(
        &self,
        store: &Store,
        signed: &Signed,
        request: &Request<'_>,
        now: DateTime<Utc>,
    ) -> Result<String, Refusal> {
        let key_id = signed.key_id();
        if let Some((owner, pem)) = store.remote_key(key_id).await?
            && let Some(key) = signature::public_key(&pem)
            && signed.verify(&key, request).is_ok()
        {
            return Ok(owner);
        }
        let (owner, pem) = self.fetch_key(key_id, now).await?;
        let key = signature::public_key(&pem).ok_or_else(|| Refusal::KeyUnavailable {
            key_id: key_id.to_owned(),
            reason: "its publicKeyPem is not an RSA public key".to_owned(),
        })?;
        signed.verify(&key, request)?;
        store.save_remote_key(key_id, &owner, &pem, now).await?;
        Ok(owner)
    }

    /// The owner and PEM of `key_id`, from its document: an actor with
    /// that `publicKey`, or the key itself.
    async fn fetch_key(
        &self,
        key_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, String), Refusal> {
        let unavailable = |reason: String| Refusal::KeyUnavailable {
            key_id: key_id.to_owned(),
            reason,
        };
        let document = self.fetch(key_id, now).await.map_err(unavailable)?;
        let keys = match &document["publicKey"] {
            Value::Array(keys) => keys.clone(),
            Value::Null => vec![document.clone()],
            key => vec![key.clone()],
        };
        let key = keys
            .iter()
            .find(|k| k["id"] == key_id)
            .ok_or_else(|| unavailable(format!("{key_id} does not publish that key")))?;
        let pem = key["publicKeyPem"]
            .as_str()
            .ok_or_else(|| unavailable("the key has no publicKeyPem".to_owned()))?;
        let owner = id_of(&key["owner"])
            .or_else(|| id_of(&document["id"]).filter(|_| !document["publicKey"].is_null()))
            .ok_or_else(|| unavailable("the key names no owner".to_owned()))?;
        Ok((owner, pem.to_owned()))
    }

    /// GETs an ActivityStreams document.
    async fn fetch(&self, id: &str, now: DateTime<Utc>) -> Result<Value, String> {
        let url = Url::parse(id).map_err(|e| format!("{id} is not a URL: {e}"))?;
        // Signed as our first actor: the server checks it against that
        // actor's public key, whichever of ours it is.
        let signed = match self.actors.first() {
            Some(actor) => signature::sign_get(&actor.key_id(), &actor.key, &url, now),
            None => reqwest::header::HeaderMap::new(),
        };
        let document = self
            .fetcher
            .get_as(&url, ACCEPT, signed)
            .await
            .map_err(|e| e.to_string())?;
        serde_json::from_str(&document.text).map_err(|e| format!("{id} is not JSON: {e}"))
    }

    /// Adds `follower` to the actor its `Follow` names and queues the
    /// `Accept` to its inbox.
    async fn follow(
        &self,
        store: &Store,
        follower: &str,
        follow: &Value,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        let target = id_of(&follow["object"])
            .ok_or_else(|| Refusal::Malformed("the Follow has no object".to_owned()))?;
        let actor = self.actor_with_id(&target)?;
        let follow_id = id_of(&follow["id"])
            .ok_or_else(|| Refusal::Malformed("the Follow has no id".to_owned()))?;
        let profile =
            self.fetch(follower, now)
                .await
                .map_err(|reason| Refusal::FollowerUnavailable {
                    follower: follower.to_owned(),
                    reason,
                })?;
        let inbox = id_of(&profile["inbox"])
            .ok_or_else(|| Refusal::Malformed(format!("the follower {follower} has no inbox")))?;
        let shared_inbox = id_of(&profile["endpoints"]["sharedInbox"]);
        let new = store
            .add_follower(
                &actor.settings.name,
                &Follower {
                    id: follower.to_owned(),
                    inbox: inbox.clone(),
                    shared_inbox,
                    follow_id: follow_id.clone(),
                },
                now,
            )
            .await?;
        let accept_id = format!(
            "{}/accepts/{}",
            actor.id,
            Uuid::new_v5(&Uuid::NAMESPACE_URL, follow_id.as_bytes())
        );
        let accept = documents::accept(actor, &accept_id, follow);
        store
            .record_activity(
                &NewActivity {
                    id: &accept_id,
                    actor: &actor.settings.name,
                    kind: "Accept",
                    object_id: None,
                    document: &accept.to_string(),
                    public: false,
                },
                &[inbox],
                now,
            )
            .await?;
        super::count_followers(store, actor).await?;
        tracing::info!(actor = %actor.settings.name, follower, new, "Fediverse follow accepted");
        Ok(())
    }

    /// Removes `follower` from the actor its undone `Follow` named.
    async fn unfollow(&self, store: &Store, follower: &str, undo: &Value) -> Result<(), Refusal> {
        let object = &undo["object"];
        let actors: Vec<&Actor> = match id_of(&object["object"]) {
            Some(target) => vec![self.actor_with_id(&target)?],
            // A bare id: the follower can only undo its own follows.
            None => self.actors.iter().collect(),
        };
        for actor in actors {
            if store
                .remove_follower(&actor.settings.name, follower)
                .await?
            {
                super::count_followers(store, actor).await?;
                tracing::info!(actor = %actor.settings.name, follower, "Fediverse follower left");
            }
        }
        Ok(())
    }

    /// The actor whose id is `id`.
    fn actor_with_id(&self, id: &str) -> Result<&Actor, Refusal> {
        self.actors
            .iter()
            .find(|a| a.id.as_str() == id)
            .ok_or_else(|| Refusal::UnknownActor(id.to_owned()))
    }
}

/// Refuses a request whose `Date` is missing or more than [`MAX_SKEW`]
/// from `now`.
fn check_date(headers: &HeaderMap, now: DateTime<Utc>) -> Result<(), Refusal> {
    let date = headers
        .get("date")
        .and_then(|d| d.to_str().ok())
        .ok_or_else(|| Refusal::Date("the Date header is missing".to_owned()))?;
    let at = DateTime::parse_from_rfc2822(date)
        .map_err(|_| Refusal::Date(format!("the Date header {date:?} is not an HTTP date")))?;
    check_time(Some(at.with_timezone(&Utc)), "Date", now)
}

/// Refuses a signing time (`what`) more than [`MAX_SKEW`] from `now`.
fn check_time(at: Option<DateTime<Utc>>, what: &str, now: DateTime<Utc>) -> Result<(), Refusal> {
    let at = at.ok_or_else(|| Refusal::Date(format!("the {what} time is not a valid instant")))?;
    if (now - at).abs() > MAX_SKEW {
        return Err(Refusal::Date(format!(
            "the {what} time {} is more than an hour from this server's time ({})",
            signature::http_date(at),
            signature::http_date(now)
        )));
    }
    Ok(())
}

/// Refuses a body that is not the one the signed `Digest` names.
fn check_digest(headers: &HeaderMap, body: &[u8]) -> Result<(), Refusal> {
    let digest = headers
        .get("digest")
        .and_then(|d| d.to_str().ok())
        .ok_or_else(|| Refusal::Digest("Digest header is missing".to_owned()))?;
    let expected = signature::digest(body);
    // `SHA-256=` is matched case-insensitively, as RFC 3230 says.
    let sha256 = digest
        .split(',')
        .map(str::trim)
        .find(|d| d.len() > 8 && d[..8].eq_ignore_ascii_case("sha-256="));
    match sha256 {
        Some(d) if d[8..] == expected[8..] => Ok(()),
        Some(_) => Err(Refusal::Digest(
            "Digest header does not match the body".to_owned(),
        )),
        None => Err(Refusal::Digest(format!(
            "Digest header {digest:?} has no SHA-256 digest"
        ))),
    }
}

/// The id of an ActivityStreams reference: a bare id or an object with one.
fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::String(id) => Some(id.clone()),
        Value::Object(object) => object.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
