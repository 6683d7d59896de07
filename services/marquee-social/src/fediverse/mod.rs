//! The publication itself on the fediverse (ActivityPub): one actor per
//! configured feed, e.g. `acct:reviews@films.example`, that anyone on
//! Mastodon can follow.
//!
//! - [`http`] serves WebFinger, NodeInfo, the actor documents, their
//!   outbox and followers collections, each review's `Note`, and the
//!   inboxes.
//! - [`inbox`] takes `Follow` (answered with an `Accept`) and `Undo` of a
//!   follow, only when signed by the activity's actor (draft-cavage HTTP
//!   Signatures, [`signature`]); every refusal says why.
//! - [`Fediverse::publish`] turns a review event into a `Create`, `Update`
//!   or `Delete`, stored with one pending delivery per follower inbox in
//!   one transaction; [`delivery`] sends them, signed, with retries and
//!   backoff.
//!
//! Ids derive from the review's item key ([`marquee_events::ReviewId::key`],
//! the feeds' GUID): a review's object is `ACTOR/reviews/KEY`, its
//! activities `…/activity`, `…/updates/MICROS` and `…/delete`, so a
//! replayed event finds them recorded and sends nothing again.

mod delivery;
mod documents;
pub(crate) mod http;
mod inbox;
mod rfc9421;
mod signature;

use anyhow::Context;
use chrono::{DateTime, Utc};
use marquee_admin::social::FediverseActor;
use marquee_events::{ReviewEvent, ReviewId};
use marquee_fetch::Fetcher;
use rsa::RsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::Value;
use url::Url;

use crate::error::StoreError;
use crate::settings::{ActorSettings, FediverseSettings};
use crate::store::Store;
use crate::store::fediverse::NewActivity;

/// Sets `actor`'s followers gauge from the store.
async fn count_followers(store: &Store, actor: &Actor) -> Result<(), StoreError> {
    let count = store.follower_count(&actor.settings.name).await?;
    metrics::gauge!("marquee_fediverse_followers", "actor" => actor.settings.name.clone())
        .set(count as f64);
    Ok(())
}

/// Why an actor's deliveries were not paused or resumed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PauseError {
    /// No such actor.
    #[error("there is no fediverse actor {0}; GET /admin/social/actors lists them")]
    Unknown(String),
    /// Paused (or running) already.
    #[error("the deliveries of fediverse actor {actor} are {} already", if *paused { "paused" } else { "running" })]
    Already {
        /// The actor.
        actor: String,
        /// The state asked for.
        paused: bool,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PauseError> for marquee_runtime::error::HttpError {
    fn from(error: PauseError) -> Self {
        match error {
            PauseError::Unknown(_) => Self::not_found(error),
            PauseError::Already { .. } => Self::conflict(error),
            PauseError::Store(error) => error.into(),
        }
    }
}

/// Bits of a generated actor key: what Mastodon generates.
const KEY_BITS: usize = 2048;

/// Largest remote document (actor, key) read.
const MAX_REMOTE_BYTES: usize = 1024 * 1024;

/// The fediverse side of the social service.
pub(crate) struct Fediverse {
    settings: FediverseSettings,
    /// `public_base_url`, ending in `/`.
    base: Url,
    actors: Vec<Actor>,
    fetcher: Fetcher,
}

/// One of the publication's actors, with its key.
pub(crate) struct Actor {
    settings: ActorSettings,
    id: Url,
    key: RsaPrivateKey,
    public_pem: String,
}

impl Actor {
    fn key_id(&self) -> String {
        format!("{}#main-key", self.id)
    }

    fn path(&self, tail: &str) -> String {
        format!("{}/{tail}", self.id)
    }

    fn inbox(&self) -> String {
        self.path("inbox")
    }

    fn outbox(&self) -> String {
        self.path("outbox")
    }

    fn followers(&self) -> String {
        self.path("followers")
    }

    fn shared_inbox(&self) -> String {
        documents::join(&self.id, "/inbox").to_string()
    }

    /// The id of `review`'s `Note`.
    fn object_id(&self, review: &ReviewId) -> String {
        self.path(&format!("reviews/{}", review.key()))
    }
}

impl Fediverse {
    /// Loads (or first generates and stores) each actor's key.
    pub(crate) async fn open(settings: FediverseSettings, store: &Store) -> anyhow::Result<Self> {
        let mut base = settings.public_base_url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let mut actors = Vec::with_capacity(settings.actors.len());
        for actor in &settings.actors {
            let pem = store
                .actor_key(&actor.name, || {
                    let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, KEY_BITS)
                        .context("Failed to generate a fediverse actor's key")?;
                    Ok(key.to_pkcs8_pem(LineEnding::LF)?.to_string())
                })
                .await?;
            let key = RsaPrivateKey::from_pkcs8_pem(&pem).with_context(|| {
                format!(
                    "The stored key of fediverse actor {} does not parse",
                    actor.name
                )
            })?;
            let public_pem = key.to_public_key().to_public_key_pem(LineEnding::LF)?;
            actors.push(Actor {
                id: documents::join(&base, &format!("actors/{}", actor.name)),
                settings: actor.clone(),
                key,
                public_pem,
            });
        }
        for actor in &actors {
            count_followers(store, actor).await?;
        }
        let fetcher = Fetcher::new(
            std::time::Duration::from_secs(10),
            MAX_REMOTE_BYTES,
            settings.allow_private_addresses,
            concat!("marquee-social/", env!("CARGO_PKG_VERSION")),
        )?;
        tracing::info!(
            actors = ?settings.actors.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
            base = %base,
            "The publication is on the fediverse"
        );
        Ok(Self {
            settings,
            base,
            actors,
            fetcher,
        })
    }

    /// The actor named `name`.
    fn actor(&self, name: &str) -> Option<&Actor> {
        self.actors.iter().find(|a| a.settings.name == name)
    }

    /// The handle's host: the public URL's host and port.
    fn host(&self) -> String {
        let host = self.base.host_str().unwrap_or_default();
        match self.base.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }

    /// What operators see of each actor.
    pub(crate) async fn report(&self, store: &Store) -> Result<Vec<FediverseActor>, StoreError> {
        let mut reports = Vec::with_capacity(self.actors.len());
        for actor in &self.actors {
            reports.push(self.report_of(store, actor).await?);
        }
        Ok(reports)
    }

    async fn report_of(&self, store: &Store, actor: &Actor) -> Result<FediverseActor, StoreError> {
        let name = &actor.settings.name;
        Ok(FediverseActor {
            name: name.clone(),
            handle: format!("{name}@{}", self.host()),
            id: actor.id.to_string(),
            followers: store.follower_count(name).await?,
            deliveries: store.delivery_counts(name).await?,
            paused: store.actor_paused(name).await?,
        })
    }

    /// Pauses (or resumes) `name`'s deliveries: they wait in the queue.
    /// Answers the actor as it now is, or why nothing changed.
    pub(crate) async fn pause(
        &self,
        store: &Store,
        name: &str,
        paused: bool,
    ) -> Result<FediverseActor, PauseError> {
        let actor = self
            .actor(name)
            .ok_or_else(|| PauseError::Unknown(name.to_owned()))?;
        if !store.set_actor_paused(name, paused).await? {
            return Err(PauseError::Already {
                actor: name.to_owned(),
                paused,
            });
        }
        tracing::info!(
            actor = name,
            paused,
            "An operator paused or resumed a fediverse actor's deliveries"
        );
        Ok(self.report_of(store, actor).await?)
    }

    /// Records what `event` means for each actor publishing its review:
    /// a `Create` (delivered to followers unless `back_catalogue`), an
    /// `Update` or a `Delete` of a review already published.
    pub(crate) async fn publish(
        &self,
        store: &Store,
        event: &ReviewEvent,
        back_catalogue: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let review_id = event.review_id();
        let key = review_id.key();
        for actor in &self.actors {
            let concerned = match event {
                ReviewEvent::Published(published) => {
                    actor.settings.publishes(&published.review.section)
                }
                _ => self.live(store, actor, review_id).await?,
            };
            if !concerned {
                continue;
            }
            let object_id = actor.object_id(review_id);
            let (id, kind, object, deliver) = match event {
                ReviewEvent::Published(published) => (
                    actor.path(&format!("reviews/{key}/activity")),
                    "Create",
                    documents::note(actor, &published.review),
                    !back_catalogue,
                ),
                // Each edit its own id: receivers drop an id seen before.
                ReviewEvent::Updated(updated) => (
                    actor.path(&format!(
                        "reviews/{key}/updates/{}",
                        updated.review.updated_at.timestamp_micros()
                    )),
                    "Update",
                    documents::note(actor, &updated.review),
                    true,
                ),
                ReviewEvent::Withdrawn(_) => (
                    format!("{object_id}/delete"),
                    "Delete",
                    documents::tombstone(&object_id),
                    true,
                ),
            };
            let activity = documents::activity(actor, kind, &id, object);
            self.store_activity(store, actor, &object_id, &activity, deliver, now)
                .await?;
        }
        Ok(())
    }

    /// Whether `actor` published `review` and has not deleted it.
    async fn live(
        &self,
        store: &Store,
        actor: &Actor,
        review: &ReviewId,
    ) -> Result<bool, StoreError> {
        let latest = store.latest_about(&actor.object_id(review)).await?;
        Ok(latest.is_some_and(|(kind, _)| kind != "Delete"))
    }

    async fn store_activity(
        &self,
        store: &Store,
        actor: &Actor,
        object: &str,
        activity: &Value,
        deliver: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let inboxes = if deliver {
            store.delivery_inboxes(&actor.settings.name).await?
        } else {
            Vec::new()
        };
        let id = activity["id"].as_str().unwrap_or_default();
        let kind = activity["type"].as_str().unwrap_or_default();
        let recorded = store
            .record_activity(
                &NewActivity {
                    id,
                    actor: &actor.settings.name,
                    kind,
                    object_id: Some(object),
                    document: &activity.to_string(),
                    public: true,
                },
                &inboxes,
                now,
            )
            .await?;
        if recorded {
            tracing::info!(actor = %actor.settings.name, activity = id, kind, inboxes = inboxes.len(), "Fediverse activity recorded");
        }
        Ok(())
    }
}
