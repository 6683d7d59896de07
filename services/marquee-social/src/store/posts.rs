//! The posts ledger: one row per (review, account). It is what makes
//! "never twice" hold.
//!
//! A row's life: `queued` (recorded by the handler with its composed text)
//! -> `pending` (written *before* the request goes out, with a deterministic
//! idempotency key) -> `posted` (with the remote id and URL) or `failed`
//! (with a reason). A row left `pending` may have reached the network: the
//! worker looks it up there, or resends with the same key, never blindly.
//! In dry-run the handler writes `dry_run` rows instead: the outbox.
//! Back catalogue is written `skipped`, with the reason; an operator may
//! turn such a row `queued` (or `dry_run`), once ([`Store::post_skipped`]).
//! A row still waiting (`queued` or `skipped`) is `cancelled` by an operator
//! or by its review's withdrawal, for good; a `failed` row may be queued
//! again by an operator ([`Store::retry`]). A `pending` row is never
//! cancelled: it may already be on the network.

use anyhow::Context;
use chrono::{DateTime, Utc};
use marquee_events::ReviewId;
use serde::Serialize;
use sqlx::Row;

use super::{Store, from_micros, micros};
use crate::compose::{ComposedPost, Network, UnknownNetwork};
use crate::error::StoreError;
pub use marquee_admin::social::{PostStatus, UnknownPostStatus};

/// A row this build cannot read is the database's fault, as any other.
impl From<UnknownPostStatus> for StoreError {
    fn from(error: UnknownPostStatus) -> Self {
        Self::Unexpected(error.into())
    }
}

impl From<UnknownNetwork> for StoreError {
    fn from(error: UnknownNetwork) -> Self {
        Self::Unexpected(error.into())
    }
}

/// A post to record.
#[derive(Debug, Clone)]
pub struct NewPost {
    /// The review.
    pub review_id: ReviewId,
    /// The account's name.
    pub account: String,
    /// The account's network.
    pub network: Network,
    /// Deterministic per (review, account): the same on every replay.
    pub idempotency_key: String,
    /// What to send.
    pub post: ComposedPost,
}

/// A ledger row.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The review.
    pub review_id: ReviewId,
    /// The account's name.
    pub account: String,
    /// The account's network.
    pub network: Network,
    /// Where it stands.
    pub status: PostStatus,
    /// Sent as `Idempotency-Key` (Mastodon) or used as the record key (Bluesky).
    pub idempotency_key: String,
    /// What is (or was) sent.
    pub post: ComposedPost,
    /// Send attempts so far.
    pub attempts: i64,
    /// Not to be sent before this instant.
    pub not_before: DateTime<Utc>,
    /// The network's id of the post.
    pub remote_id: Option<String>,
    /// Where the post can be seen.
    pub remote_url: Option<String>,
    /// Why it failed or was skipped, or why the last attempt failed.
    pub reason: Option<String>,
    /// When the row was recorded.
    pub created_at: DateTime<Utc>,
    /// When the row last changed.
    pub updated_at: DateTime<Utc>,
}

pub(super) const SCHEMA: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS social_posts (
        review_id TEXT NOT NULL,
        account TEXT NOT NULL,
        network TEXT NOT NULL,
        status TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        post TEXT NOT NULL,
        attempts BIGINT NOT NULL,
        not_before BIGINT NOT NULL,
        lease_until BIGINT NOT NULL,
        remote_id TEXT,
        remote_url TEXT,
        reason TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (review_id, account)
    )",
    "CREATE INDEX IF NOT EXISTS social_posts_due
        ON social_posts (account, status, not_before)",
];

/// `SELECT` of every column [`entry`] reads, then `$rest`.
macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT review_id, account, network, status, idempotency_key, post, attempts, \
             not_before, remote_id, remote_url, reason, created_at, updated_at \
             FROM social_posts ",
            $rest
        )
    };
}

impl Store {
    /// Records `post` as `status` unless a row for its review and account
    /// exists; returns whether it was new. Replays and redeliveries land
    /// here and change nothing.
    #[tracing::instrument(skip_all, fields(review_id = %post.review_id, account = %post.account))]
    pub async fn record(
        &self,
        post: &NewPost,
        status: PostStatus,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.insert(post, status, None, now).await
    }

    /// Records `post` as skipped for `reason` (back catalogue), unless a row
    /// for its review and account exists; returns whether it was new.
    #[tracing::instrument(skip_all, fields(review_id = %post.review_id, account = %post.account))]
    pub async fn record_skipped(
        &self,
        post: &NewPost,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.insert(post, PostStatus::Skipped, Some(reason), now)
            .await
    }

    async fn insert(
        &self,
        post: &NewPost,
        status: PostStatus,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let body = serde_json::to_string(&post.post).context("Failed to encode a post")?;
        let insert = sqlx::query(
            "INSERT INTO social_posts (review_id, account, network, status, idempotency_key, \
             post, attempts, not_before, lease_until, reason, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, 0, $8, $7, $7) \
             ON CONFLICT (review_id, account) DO NOTHING",
        )
        .bind(post.review_id.as_str())
        .bind(&post.account)
        .bind(post.network.as_str())
        .bind(status.as_str())
        .bind(&post.idempotency_key)
        .bind(body)
        .bind(micros(now))
        .bind(reason);
        self.changed_one(insert, "Failed to record a post").await
    }

    /// The row of `review_id` for `account`.
    pub async fn get(
        &self,
        review_id: &ReviewId,
        account: &str,
    ) -> Result<Option<Entry>, StoreError> {
        self.one(
            sqlx::query(select!("WHERE review_id = $1 AND account = $2"))
                .bind(review_id.as_str())
                .bind(account),
        )
        .await
    }

    /// Every row of `review_id`, by account.
    pub async fn of_review(&self, review_id: &ReviewId) -> Result<Vec<Entry>, StoreError> {
        let rows = sqlx::query(select!("WHERE review_id = $1 ORDER BY account"))
            .bind(review_id.as_str())
            .fetch_all(&self.pool)
            .await
            .context("Failed to read the ledger")?;
        Ok(rows.iter().map(entry).collect::<anyhow::Result<_>>()?)
    }

    /// Turns the skipped rows of `review_id` into `status` (`queued`, or
    /// `dry_run` in a dry run), due at once, noting why in the reason;
    /// returns how many. A row no longer skipped is left alone, so asking
    /// twice posts once.
    pub async fn post_skipped(
        &self,
        review_id: &ReviewId,
        status: PostStatus,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE social_posts SET status = $1, not_before = $2, updated_at = $2, \
             reason = 'back catalogue, posted on purpose by an operator' \
             WHERE review_id = $3 AND status = 'skipped'",
        )
        .bind(status.as_str())
        .bind(micros(now))
        .bind(review_id.as_str())
        .execute(&self.pool)
        .await
        .context("Failed to update the ledger")?;
        Ok(done.rows_affected())
    }

    /// Cancels the post of `review_id` on `account` if it is still waiting
    /// (`queued` or `skipped`), for `reason`; returns whether it was.
    pub async fn cancel(
        &self,
        review_id: &ReviewId,
        account: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let cancel = sqlx::query(
            "UPDATE social_posts SET status = 'cancelled', reason = $1, updated_at = $2 \
             WHERE review_id = $3 AND account = $4 AND status IN ('queued', 'skipped')",
        )
        .bind(reason)
        .bind(micros(now))
        .bind(review_id.as_str())
        .bind(account);
        self.changed_one(cancel, "Failed to cancel a post").await
    }

    /// Queues the failed post of `review_id` on `account` again as `status`
    /// (`queued`, or `dry_run` in a dry run), due at once with a fresh count
    /// of attempts, `reason` saying why; returns whether it was failed.
    pub async fn retry(
        &self,
        review_id: &ReviewId,
        account: &str,
        status: PostStatus,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let retry = sqlx::query(
            "UPDATE social_posts SET status = $1, reason = $2, attempts = 0, not_before = $3, \
             lease_until = 0, updated_at = $3 \
             WHERE review_id = $4 AND account = $5 AND status = 'failed'",
        )
        .bind(status.as_str())
        .bind(reason)
        .bind(micros(now))
        .bind(review_id.as_str())
        .bind(account);
        self.changed_one(retry, "Failed to retry a post").await
    }

    /// How many rows each account has in each state.
    pub async fn counts(&self) -> Result<Vec<(String, PostStatus, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT account, status, COUNT(*) AS n FROM social_posts GROUP BY account, status",
        )
        .fetch_all(&self.pool)
        .await
        .context("Failed to count the ledger")?;
        rows.iter()
            .map(|row| {
                let status: String = row
                    .try_get("status")
                    .context("Failed to count the ledger")?;
                let count: i64 = row.try_get("n").context("Failed to count the ledger")?;
                Ok((
                    row.try_get("account")
                        .context("Failed to count the ledger")?,
                    status.parse()?,
                    u64::try_from(count).unwrap_or_default(),
                ))
            })
            .collect()
    }

    /// The newest rows first, at most `limit`, only those in `status` and
    /// of `account` if given.
    pub async fn list(
        &self,
        status: Option<PostStatus>,
        limit: i64,
    ) -> Result<Vec<Entry>, StoreError> {
        self.list_of(None, status, limit).await
    }

    /// [`Store::list`], only `account`'s rows if given.
    pub async fn list_of(
        &self,
        account: Option<&str>,
        status: Option<PostStatus>,
        limit: i64,
    ) -> Result<Vec<Entry>, StoreError> {
        // An absent filter is bound as NULL and matches every row.
        let query = sqlx::query(select!(
            "WHERE ($2 IS NULL OR status = $2) AND ($3 IS NULL OR account = $3) \
             ORDER BY created_at DESC, review_id, account LIMIT $1"
        ))
        .bind(limit)
        .bind(status.map(PostStatus::as_str))
        .bind(account);
        let rows = query
            .fetch_all(&self.pool)
            .await
            .context("Failed to read the ledger")?;
        Ok(rows.iter().map(entry).collect::<anyhow::Result<_>>()?)
    }

    /// The row `query` finds, if any.
    async fn one<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> Result<Option<Entry>, StoreError> {
        let row = query
            .fetch_optional(&self.pool)
            .await
            .context("Failed to read the ledger")?;
        Ok(row.map(|row| entry(&row)).transpose()?)
    }

    /// The oldest row of `account` waiting to be sent and due at `now`.
    pub async fn next_due(
        &self,
        account: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Entry>, StoreError> {
        self.one(
            sqlx::query(select!(
                "WHERE account = $1 AND status IN ('queued', 'pending') \
                 AND not_before <= $2 AND lease_until <= $2 \
                 ORDER BY created_at, review_id LIMIT 1"
            ))
            .bind(account)
            .bind(micros(now)),
        )
        .await
    }

    /// When the next row of `account` waiting to be sent falls due.
    pub async fn next_wake(&self, account: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.instant_of(
            "SELECT MIN(CASE WHEN not_before > lease_until THEN not_before ELSE lease_until END) \
             FROM social_posts WHERE account = $1 AND status IN ('queued', 'pending')",
            account,
        )
        .await
    }

    /// Marks `entry` pending before it is sent, leased until `lease_until`
    /// so that another replica's worker leaves it alone; returns false when
    /// someone else claimed or finished it first, or its account is paused.
    pub async fn claim(
        &self,
        entry: &Entry,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // Refused while the account is paused, in the same statement: a
        // pause that lands between the worker's check and its claim holds.
        let claim = sqlx::query(
            "UPDATE social_posts SET status = 'pending', lease_until = $1, \
             attempts = attempts + 1, updated_at = $2 \
             WHERE review_id = $3 AND account = $4 AND status = $5 AND lease_until <= $2 \
             AND NOT EXISTS (SELECT 1 FROM social_paused_accounts p WHERE p.account = social_posts.account)",
        )
        .bind(micros(lease_until))
        .bind(micros(now))
        .bind(entry.review_id.as_str())
        .bind(&entry.account)
        .bind(entry.status.as_str());
        self.changed_one(claim, "Failed to claim a post").await
    }

    /// Runs `statement`; whether it changed exactly one row (`failed` is
    /// the context of an error).
    pub(super) async fn changed_one<'q>(
        &self,
        statement: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        failed: &'static str,
    ) -> Result<bool, StoreError> {
        let done = statement.execute(&self.pool).await.context(failed)?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that the network accepted the post.
    pub async fn mark_posted(
        &self,
        entry: &Entry,
        remote_id: Option<&str>,
        remote_url: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.finish(entry, PostStatus::Posted, remote_id, remote_url, None, now)
            .await
    }

    /// Records that the network refused the post for good.
    pub async fn mark_failed(
        &self,
        entry: &Entry,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.finish(entry, PostStatus::Failed, None, None, Some(reason), now)
            .await
    }

    async fn finish(
        &self,
        entry: &Entry,
        status: PostStatus,
        remote_id: Option<&str>,
        remote_url: Option<&str>,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let update = sqlx::query(
            "UPDATE social_posts SET status = $1, remote_id = $2, remote_url = $3, reason = $4, \
             lease_until = 0, updated_at = $5 WHERE review_id = $6 AND account = $7",
        )
        .bind(status.as_str())
        .bind(remote_id)
        .bind(remote_url)
        .bind(reason);
        self.update_row(update, entry, now).await
    }

    /// Leaves the post pending, to be tried again from `not_before`.
    pub async fn retry_later(
        &self,
        entry: &Entry,
        not_before: DateTime<Utc>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let update = sqlx::query(
            "UPDATE social_posts SET not_before = $1, reason = $2, lease_until = 0, \
             updated_at = $3 WHERE review_id = $4 AND account = $5",
        )
        .bind(micros(not_before))
        .bind(reason);
        self.update_row(update, entry, now).await
    }

    /// Runs `update` on `entry`'s row; its last three parameters are when
    /// (`now`), the review and the account, bound here.
    async fn update_row<'q>(
        &self,
        update: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        entry: &'q Entry,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        update
            .bind(micros(now))
            .bind(entry.review_id.as_str())
            .bind(&entry.account)
            .execute(&self.pool)
            .await
            .context("Failed to update the ledger")?;
        Ok(())
    }

    /// Cancels the posts of `review_id` still waiting in the queue (or
    /// skipped, so that nobody posts them on purpose later), e.g. because
    /// the review was withdrawn; returns how many. A `pending` post may
    /// already be out, so it is left to its worker.
    pub async fn cancel_queued(
        &self,
        review_id: &ReviewId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE social_posts SET status = 'cancelled', reason = $1, updated_at = $2 \
             WHERE review_id = $3 AND status IN ('queued', 'skipped')",
        )
        .bind(reason)
        .bind(micros(now))
        .bind(review_id.as_str())
        .execute(&self.pool)
        .await
        .context("Failed to update the ledger")?;
        Ok(done.rows_affected())
    }

    /// When `account` last had a post accepted, to keep spacing across restarts.
    pub async fn last_posted(&self, account: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.instant_of(
            "SELECT MAX(updated_at) FROM social_posts WHERE account = $1 AND status = 'posted'",
            account,
        )
        .await
    }

    /// The one instant (or none) `query` reads for `account`.
    async fn instant_of(
        &self,
        query: &'static str,
        account: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = sqlx::query(query)
            .bind(account)
            .fetch_one(&self.pool)
            .await
            .context("Failed to read the ledger")?;
        let at: Option<i64> = row.try_get(0).context("Failed to read the ledger")?;
        Ok(at.map(from_micros).transpose()?)
    }
}

fn entry(row: &sqlx::any::AnyRow) -> anyhow::Result<Entry> {
    let post: String = row.try_get("post")?;
    Ok(Entry {
        review_id: ReviewId::parse(&row.try_get::<String, _>("review_id")?)?,
        account: row.try_get("account")?,
        network: row.try_get::<String, _>("network")?.parse()?,
        status: row.try_get::<String, _>("status")?.parse()?,
        idempotency_key: row.try_get("idempotency_key")?,
        post: serde_json::from_str(&post).context("Failed to decode a stored post")?,
        attempts: row.try_get("attempts")?,
        not_before: from_micros(row.try_get("not_before")?)?,
        remote_id: row.try_get("remote_id")?,
        remote_url: row.try_get("remote_url")?,
        reason: row.try_get("reason")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
    })
}
