//! The fediverse actors' state: their keys and pauses, their followers,
//! the activities they published (the outbox), one delivery row per
//! (activity, inbox), the remote keys fetched to check signatures, and the
//! signatures already received (replays).
//!
//! A delivery's life: `pending` (written with its activity, in one
//! transaction, for every follower's inbox at that moment) -> `delivered`
//! on a 2xx, or `pending` again with a later `next_attempt_at` after a
//! failure worth retrying, or `failed` (a 4xx, or out of attempts). The
//! (activity, inbox) key is what makes "never twice" hold: a replayed
//! event finds its activity recorded and adds no delivery.

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::Row;

use marquee_admin::social::DeliveryCounts;

use super::{Store, micros};

/// A statement with its arguments bound.
type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;
use crate::error::StoreError;

pub(super) const SCHEMA: [&str; 9] = [
    "CREATE TABLE IF NOT EXISTS fediverse_actors (
        name TEXT PRIMARY KEY,
        private_key_pem TEXT NOT NULL,
        paused INTEGER NOT NULL DEFAULT 0
    )",
    "CREATE TABLE IF NOT EXISTS fediverse_followers (
        actor TEXT NOT NULL,
        follower TEXT NOT NULL,
        inbox TEXT NOT NULL,
        shared_inbox TEXT,
        follow_id TEXT NOT NULL,
        followed_at BIGINT NOT NULL,
        PRIMARY KEY (actor, follower)
    )",
    "CREATE TABLE IF NOT EXISTS fediverse_activities (
        id TEXT PRIMARY KEY,
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        object_id TEXT,
        document TEXT NOT NULL,
        public INTEGER NOT NULL,
        seq BIGINT NOT NULL,
        recorded_at BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS fediverse_activities_outbox
        ON fediverse_activities (actor, public, seq)",
    // Each recorded activity reads MAX(seq): without this, a walk of the
    // outbox index, every activity (`scripts/scale`: social's consumer
    // three times slower per review at 100,000 reviews than at 1,000).
    "CREATE INDEX IF NOT EXISTS fediverse_activities_by_seq ON fediverse_activities (seq)",
    "CREATE TABLE IF NOT EXISTS fediverse_deliveries (
        activity_id TEXT NOT NULL,
        inbox TEXT NOT NULL,
        actor TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt_at BIGINT NOT NULL,
        last_error TEXT,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (activity_id, inbox)
    )",
    "CREATE INDEX IF NOT EXISTS fediverse_deliveries_due
        ON fediverse_deliveries (status, next_attempt_at)",
    "CREATE TABLE IF NOT EXISTS fediverse_keys (
        key_id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        public_key_pem TEXT NOT NULL,
        fetched_at BIGINT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS fediverse_signatures (
        digest TEXT PRIMARY KEY,
        seen_at BIGINT NOT NULL
    )",
];

/// A follower of one actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Follower {
    /// The follower's actor id.
    pub id: String,
    /// Its own inbox, where the `Accept` of its follow goes.
    pub inbox: String,
    /// Its server's shared inbox, where posts go when it has one.
    pub shared_inbox: Option<String>,
    /// The `Follow` activity's id, which an `Undo` names.
    pub follow_id: String,
}

/// An activity to publish and deliver.
#[derive(Debug, Clone)]
pub(crate) struct NewActivity<'a> {
    /// Its id (a URL).
    pub id: &'a str,
    /// The actor's name.
    pub actor: &'a str,
    /// `Create`, `Update`, `Delete`, `Accept`.
    pub kind: &'a str,
    /// The object it is about, for posts.
    pub object_id: Option<&'a str>,
    /// The JSON document, as delivered.
    pub document: &'a str,
    /// In the outbox (posts), or for one inbox only (an `Accept`).
    pub public: bool,
}

/// A delivery due now, with what to send.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    /// The activity.
    pub activity_id: String,
    /// Where it goes.
    pub inbox: String,
    /// The sending actor's name.
    pub actor: String,
    /// Attempts so far.
    pub attempts: i64,
    /// The JSON document.
    pub document: String,
}

impl Store {
    /// The PEM of `actor`'s private key, stored as `generated` if it had
    /// none; one key wins when replicas start together.
    pub(crate) async fn actor_key(
        &self,
        actor: &str,
        generated: impl FnOnce() -> anyhow::Result<String>,
    ) -> Result<String, StoreError> {
        let read = || {
            sqlx::query("SELECT private_key_pem FROM fediverse_actors WHERE name = $1").bind(actor)
        };
        let failed = "Failed to read a fediverse actor's key";
        if let Some(row) = read().fetch_optional(&self.pool).await.context(failed)? {
            return Ok(row.try_get(0).context(failed)?);
        }
        sqlx::query(
            "INSERT INTO fediverse_actors (name, private_key_pem) VALUES ($1, $2) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(actor)
        .bind(generated()?)
        .execute(&self.pool)
        .await
        .context("Failed to store a fediverse actor's key")?;
        let row = read().fetch_one(&self.pool).await.context(failed)?;
        Ok(row.try_get(0).context(failed)?)
    }

    /// Pauses or resumes `actor`'s deliveries; false if it already was so.
    pub(crate) async fn set_actor_paused(
        &self,
        actor: &str,
        paused: bool,
    ) -> Result<bool, StoreError> {
        let change =
            sqlx::query("UPDATE fediverse_actors SET paused = $1 WHERE name = $2 AND paused <> $1")
                .bind(i64::from(paused))
                .bind(actor);
        self.changed_one(change, "Failed to pause or resume a fediverse actor")
            .await
    }

    /// Whether `actor`'s deliveries are paused.
    pub(crate) async fn actor_paused(&self, actor: &str) -> Result<bool, StoreError> {
        let failed = "Failed to read a fediverse actor";
        let row = sqlx::query("SELECT paused FROM fediverse_actors WHERE name = $1")
            .bind(actor)
            .fetch_optional(&self.pool)
            .await
            .context(failed)?;
        let paused: i64 = match row {
            Some(row) => row.try_get(0).context(failed)?,
            None => 0,
        };
        Ok(paused != 0)
    }

    /// Records (or refreshes) `follower` of `actor`; true if it is new.
    pub(crate) async fn add_follower(
        &self,
        actor: &str,
        follower: &Follower,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let failed = "Failed to record a follower";
        let added = sqlx::query(
            "INSERT INTO fediverse_followers (actor, follower, inbox, shared_inbox, follow_id, followed_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (actor, follower) DO NOTHING",
        )
        .bind(actor)
        .bind(&follower.id)
        .bind(&follower.inbox)
        .bind(follower.shared_inbox.as_deref())
        .bind(&follower.follow_id)
        .bind(micros(now))
        .execute(&self.pool)
        .await
        .context(failed)?;
        if added.rows_affected() == 1 {
            return Ok(true);
        }
        // A follow sent again (a new Follow id, a moved inbox): keep it current.
        sqlx::query(
            "UPDATE fediverse_followers SET inbox = $1, shared_inbox = $2, follow_id = $3 \
             WHERE actor = $4 AND follower = $5",
        )
        .bind(&follower.inbox)
        .bind(follower.shared_inbox.as_deref())
        .bind(&follower.follow_id)
        .bind(actor)
        .bind(&follower.id)
        .execute(&self.pool)
        .await
        .context(failed)?;
        Ok(false)
    }

    /// Removes `follower` of `actor`; false if it was not following.
    pub(crate) async fn remove_follower(
        &self,
        actor: &str,
        follower: &str,
    ) -> Result<bool, StoreError> {
        let remove =
            sqlx::query("DELETE FROM fediverse_followers WHERE actor = $1 AND follower = $2")
                .bind(actor)
                .bind(follower);
        self.changed_one(remove, "Failed to remove a follower")
            .await
    }

    /// How many follow `actor`.
    pub(crate) async fn follower_count(&self, actor: &str) -> Result<i64, StoreError> {
        let count = sqlx::query("SELECT COUNT(*) FROM fediverse_followers WHERE actor = $1");
        self.count(count.bind(actor), "Failed to count the followers")
            .await
    }

    /// A page of `actor`'s followers' ids, oldest first.
    pub(crate) async fn followers(
        &self,
        actor: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let page = sqlx::query(
            "SELECT follower FROM fediverse_followers WHERE actor = $1 \
             ORDER BY followed_at, follower LIMIT $2 OFFSET $3",
        );
        let page = page.bind(actor).bind(limit).bind(offset);
        self.texts(page, "Failed to read the followers").await
    }

    /// Where `actor`'s posts go: each follower's shared inbox, else its
    /// own, each once.
    pub(crate) async fn delivery_inboxes(&self, actor: &str) -> Result<Vec<String>, StoreError> {
        let inboxes = sqlx::query(
            "SELECT DISTINCT COALESCE(shared_inbox, inbox) FROM fediverse_followers WHERE actor = $1",
        );
        self.texts(inboxes.bind(actor), "Failed to read the followers' inboxes")
            .await
    }

    /// Records `activity` with a pending delivery to each of `inboxes`, in
    /// one transaction; false (and nothing written) if it was recorded
    /// before.
    pub(crate) async fn record_activity(
        &self,
        activity: &NewActivity<'_>,
        inboxes: &[String],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let failed = "Failed to record a fediverse activity";
        let mut tx = self.pool.begin().await.context(failed)?;
        let inserted = sqlx::query(
            // `seq` orders what one instant recorded: an edit and the
            // withdrawal after it may share a timestamp. (`WHERE true`
            // keeps SQLite from reading ON CONFLICT as a join's ON.)
            "INSERT INTO fediverse_activities (id, actor, kind, object_id, document, public, seq, recorded_at) \
             SELECT $1, $2, $3, $4, $5, $6, COALESCE(MAX(seq), 0) + 1, $7 FROM fediverse_activities \
             WHERE true ON CONFLICT (id) DO NOTHING",
        )
        .bind(activity.id)
        .bind(activity.actor)
        .bind(activity.kind)
        .bind(activity.object_id)
        .bind(activity.document)
        .bind(i64::from(activity.public))
        .bind(micros(now))
        .execute(&mut *tx)
        .await
        .context(failed)?;
        if inserted.rows_affected() == 0 {
            return Ok(false);
        }
        for inbox in inboxes {
            sqlx::query(
                "INSERT INTO fediverse_deliveries \
                 (activity_id, inbox, actor, status, attempts, next_attempt_at, updated_at) \
                 VALUES ($1, $2, $3, 'pending', 0, $4, $4) ON CONFLICT (activity_id, inbox) DO NOTHING",
            )
            .bind(activity.id)
            .bind(inbox)
            .bind(activity.actor)
            .bind(micros(now))
            .execute(&mut *tx)
            .await
            .context(failed)?;
        }
        tx.commit().await.context(failed)?;
        Ok(true)
    }

    /// The stored document of the activity `id`.
    pub(crate) async fn activity(&self, id: &str) -> Result<Option<String>, StoreError> {
        let failed = "Failed to read a fediverse activity";
        let row = sqlx::query("SELECT document FROM fediverse_activities WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .context(failed)?;
        Ok(match row {
            Some(row) => Some(row.try_get(0).context(failed)?),
            None => None,
        })
    }

    /// The latest public activity about `object_id`: its kind and document.
    pub(crate) async fn latest_about(
        &self,
        object_id: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let failed = "Failed to read a fediverse object";
        let row = sqlx::query(
            "SELECT kind, document FROM fediverse_activities WHERE object_id = $1 AND public = 1 \
             ORDER BY seq DESC LIMIT 1",
        )
        .bind(object_id)
        .fetch_optional(&self.pool)
        .await
        .context(failed)?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some((
            row.try_get(0).context(failed)?,
            row.try_get(1).context(failed)?,
        )))
    }

    /// How many public activities `actor` has published.
    pub(crate) async fn outbox_count(&self, actor: &str) -> Result<i64, StoreError> {
        let count = sqlx::query(
            "SELECT COUNT(*) FROM fediverse_activities WHERE actor = $1 AND public = 1",
        );
        self.count(count.bind(actor), "Failed to count the outbox")
            .await
    }

    /// A page of `actor`'s public activities, newest first.
    pub(crate) async fn outbox(
        &self,
        actor: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let page = sqlx::query(
            "SELECT document FROM fediverse_activities WHERE actor = $1 AND public = 1 \
             ORDER BY seq DESC LIMIT $2 OFFSET $3",
        );
        let page = page.bind(actor).bind(limit).bind(offset);
        self.texts(page, "Failed to read the outbox").await
    }

    /// The one number `count` selects.
    async fn count(&self, count: AnyQuery<'_>, failed: &'static str) -> Result<i64, StoreError> {
        let row = count.fetch_one(&self.pool).await.context(failed)?;
        Ok(row.try_get(0).context(failed)?)
    }

    /// The first column of every row `query` selects, as text.
    async fn texts(
        &self,
        query: AnyQuery<'_>,
        failed: &'static str,
    ) -> Result<Vec<String>, StoreError> {
        let rows = query.fetch_all(&self.pool).await.context(failed)?;
        rows.iter()
            .map(|row| Ok(row.try_get(0).context(failed)?))
            .collect()
    }

    /// Deliveries due at `now` of actors not paused, oldest first.
    pub(crate) async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let failed = "Failed to read the due deliveries";
        let rows = sqlx::query(
            "SELECT d.activity_id, d.inbox, d.actor, d.attempts, a.document \
             FROM fediverse_deliveries d JOIN fediverse_activities a ON a.id = d.activity_id \
             WHERE d.status = 'pending' AND d.next_attempt_at <= $1 \
             AND NOT EXISTS (SELECT 1 FROM fediverse_actors p WHERE p.name = d.actor AND p.paused = 1) \
             ORDER BY d.next_attempt_at, d.activity_id LIMIT $2",
        )
        .bind(micros(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .context(failed)?;
        rows.iter()
            .map(|row| {
                Ok(Delivery {
                    activity_id: row.try_get(0).context(failed)?,
                    inbox: row.try_get(1).context(failed)?,
                    actor: row.try_get(2).context(failed)?,
                    attempts: row.try_get(3).context(failed)?,
                    document: row.try_get(4).context(failed)?,
                })
            })
            .collect()
    }

    /// Records the outcome of an attempt at `delivery`: delivered, due
    /// again at `retry_at`, or failed for good, with the error.
    pub(crate) async fn finish_delivery(
        &self,
        delivery: &Delivery,
        outcome: DeliveryOutcome<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (status, next, error) = match outcome {
            DeliveryOutcome::Delivered => ("delivered", now, None),
            DeliveryOutcome::Retry { at, error } => ("pending", at, Some(error)),
            DeliveryOutcome::Failed(error) => ("failed", now, Some(error)),
        };
        sqlx::query(
            "UPDATE fediverse_deliveries SET status = $1, attempts = attempts + 1, \
             next_attempt_at = $2, last_error = $3, updated_at = $4 \
             WHERE activity_id = $5 AND inbox = $6",
        )
        .bind(status)
        .bind(micros(next))
        .bind(error)
        .bind(micros(now))
        .bind(&delivery.activity_id)
        .bind(&delivery.inbox)
        .execute(&self.pool)
        .await
        .context("Failed to record a delivery")?;
        Ok(())
    }

    /// `actor`'s deliveries by state.
    pub(crate) async fn delivery_counts(&self, actor: &str) -> Result<DeliveryCounts, StoreError> {
        let failed = "Failed to count the deliveries";
        let rows = sqlx::query(
            "SELECT status, COUNT(*) FROM fediverse_deliveries WHERE actor = $1 GROUP BY status",
        )
        .bind(actor)
        .fetch_all(&self.pool)
        .await
        .context(failed)?;
        let mut counts = DeliveryCounts::default();
        for row in rows {
            let status: String = row.try_get(0).context(failed)?;
            let count: i64 = row.try_get(1).context(failed)?;
            match status.as_str() {
                "pending" => counts.pending = count,
                "delivered" => counts.delivered = count,
                _ => counts.failed += count,
            }
        }
        Ok(counts)
    }

    /// The owner and PEM of the remote key `key_id`, fetched before.
    pub(crate) async fn remote_key(
        &self,
        key_id: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let failed = "Failed to read a remote key";
        let row = sqlx::query("SELECT owner, public_key_pem FROM fediverse_keys WHERE key_id = $1")
            .bind(key_id)
            .fetch_optional(&self.pool)
            .await
            .context(failed)?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some((
            row.try_get(0).context(failed)?,
            row.try_get(1).context(failed)?,
        )))
    }

    /// Keeps the remote key `key_id` as fetched at `now`.
    pub(crate) async fn save_remote_key(
        &self,
        key_id: &str,
        owner: &str,
        pem: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO fediverse_keys (key_id, owner, public_key_pem, fetched_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key_id) DO UPDATE SET owner = excluded.owner, \
             public_key_pem = excluded.public_key_pem, fetched_at = excluded.fetched_at",
        )
        .bind(key_id)
        .bind(owner)
        .bind(pem)
        .bind(micros(now))
        .execute(&self.pool)
        .await
        .context("Failed to keep a remote key")?;
        Ok(())
    }

    /// Records a signature received at `now`; false if it was received
    /// before (a replay). Forgets those older than `horizon`, which their
    /// `Date` would refuse anyway.
    pub(crate) async fn first_use_of_signature(
        &self,
        digest: &str,
        now: DateTime<Utc>,
        horizon: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        sqlx::query("DELETE FROM fediverse_signatures WHERE seen_at < $1")
            .bind(micros(horizon))
            .execute(&self.pool)
            .await
            .context("Failed to forget old signatures")?;
        let first = sqlx::query(
            "INSERT INTO fediverse_signatures (digest, seen_at) VALUES ($1, $2) \
             ON CONFLICT (digest) DO NOTHING",
        )
        .bind(digest)
        .bind(micros(now));
        self.changed_one(first, "Failed to record a signature")
            .await
    }
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DeliveryOutcome<'a> {
    /// A 2xx.
    Delivered,
    /// Worth another attempt at `at`.
    Retry {
        /// When.
        at: DateTime<Utc>,
        /// Why this one failed.
        error: &'a str,
    },
    /// Given up.
    Failed(&'a str),
}

#[cfg(test)]
mod tests {
    use marquee_test_support::sqlite_plan;

    use super::super::Store;

    #[tokio::test]
    async fn the_next_seq_is_read_from_an_index_not_a_walk_of_every_activity() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let url = format!("sqlite://{}", dir.path().join("social.sqlite").display());
        Store::open(&url).await.expect("a SQLite ledger");
        let plan = sqlite_plan(&url, "SELECT MAX(seq) FROM fediverse_activities", &[]).await;
        assert!(
            plan.contains("fediverse_activities_by_seq"),
            "planned as: {plan}"
        );
    }
}
