//! `digest_subscribers`: who gets the digest, where they stand, what they want.

use anyhow::Context;
use futures::{Stream, TryStreamExt};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

pub use marquee_admin::digest::{Preferences, SubscriberStatus};

use super::{Page, Result, Store, changed, paged, placeholders};
use crate::email::EmailAddress;

/// A subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscriber {
    /// Stable id, used in tokens and the ledger.
    pub id: String,
    /// Address.
    pub email: EmailAddress,
    /// Where they stand.
    pub status: SubscriberStatus,
    /// The list they are on; schedules pick an audience by list.
    pub list: String,
    /// What they want.
    pub preferences: Preferences,
}

impl From<Subscriber> for marquee_admin::digest::Subscriber {
    fn from(subscriber: Subscriber) -> Self {
        Self {
            id: subscriber.id,
            email: subscriber.email.to_string(),
            status: subscriber.status,
            list: subscriber.list,
            preferences: subscriber.preferences,
        }
    }
}

fn subscriber(row: &AnyRow) -> anyhow::Result<Subscriber> {
    let email: String = row.try_get("email")?;
    let status: String = row.try_get("status")?;
    let preferences: String = row.try_get("preferences")?;
    Ok(Subscriber {
        id: row.try_get("id")?,
        email: EmailAddress::parse(&email)?,
        status: status.parse()?,
        list: row.try_get("list")?,
        preferences: serde_json::from_str(&preferences)?,
    })
}

impl Store {
    /// The subscriber with `id`.
    pub async fn subscriber(&self, id: &str) -> Result<Option<Subscriber>> {
        let row = sqlx::query("SELECT * FROM digest_subscribers WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .context("Failed to read a subscriber")?;
        Ok(row.as_ref().map(subscriber).transpose()?)
    }

    /// The subscriber with `email`.
    pub async fn subscriber_by_email(&self, email: &EmailAddress) -> Result<Option<Subscriber>> {
        let row = sqlx::query("SELECT * FROM digest_subscribers WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await
            .context("Failed to read a subscriber")?;
        Ok(row.as_ref().map(subscriber).transpose()?)
    }

    /// Every subscriber, by address.
    pub async fn subscribers(&self) -> Result<Vec<Subscriber>> {
        let rows = sqlx::query("SELECT * FROM digest_subscribers ORDER BY email")
            .fetch_all(&self.pool)
            .await
            .context("Failed to read subscribers")?;
        Ok(rows.iter().map(subscriber).collect::<anyhow::Result<_>>()?)
    }

    /// `list`'s audience (`all` for every list): confirmed subscribers by
    /// address, but those who paused the digest until later than now. Read
    /// a page at a time, so a run's memory does not grow with the list.
    pub fn audience<'a>(&'a self, list: &'a str) -> impl Stream<Item = Result<Subscriber>> + 'a {
        paged(move |after| async move { self.audience_page(&self.pool, list, &after).await })
    }

    /// How many subscribers `list`'s audience has now.
    pub async fn audience_size(&self, list: &str) -> Result<usize> {
        self.audience(list)
            .try_fold(0, |size, _| async move { Ok(size + 1) })
            .await
    }

    /// The page of [`Self::audience`] after the address `after` (`""` for
    /// the first page), read on `executor` (the pool or a transaction).
    pub(super) async fn audience_page<'c, E>(
        &self,
        executor: E,
        list: &str,
        after: &str,
    ) -> Result<Page<Subscriber>>
    where
        E: sqlx::Executor<'c, Database = sqlx::Any>,
    {
        let rows = sqlx::query(
            "SELECT * FROM digest_subscribers
             WHERE status = $1 AND ($2 = 'all' OR list = $2) AND email > $3
             ORDER BY email LIMIT $4",
        )
        .bind(SubscriberStatus::Confirmed.as_str())
        .bind(list)
        .bind(after)
        .bind(self.page_size)
        .fetch_all(executor)
        .await
        .context("Failed to read the audience")?;
        let now = self.clock.now();
        self.page(&rows, "email", |row| {
            let subscriber = subscriber(row)?;
            let paused = subscriber
                .preferences
                .paused_until
                .is_some_and(|until| until > now);
            Ok((!paused).then_some(subscriber))
        })
    }

    /// Inserts or replaces the subscriber with `subscriber.id`'s address.
    /// `confirm_nonce` names this subscription: the one a confirmation or
    /// preferences link must carry (empty: no link works for it), replacing
    /// any earlier one, so a link sent for an earlier subscription is dead.
    pub async fn put_subscriber(
        &self,
        subscriber: &Subscriber,
        confirm_nonce: &str,
        note: &str,
    ) -> Result<()> {
        let preferences = serde_json::to_string(&subscriber.preferences)
            .context("Failed to encode preferences")?;
        let statement = sqlx::query(
            "INSERT INTO digest_subscribers
                (id, email, status, list, preferences, created_at, updated_at, note, confirm_nonce)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)
             ON CONFLICT (email) DO UPDATE SET
                status = excluded.status, list = excluded.list,
                preferences = excluded.preferences, updated_at = excluded.updated_at,
                note = excluded.note, confirm_nonce = excluded.confirm_nonce",
        )
        .bind(&subscriber.id)
        .bind(subscriber.email.as_str())
        .bind(subscriber.status.as_str())
        .bind(&subscriber.list)
        .bind(preferences)
        .bind(self.now())
        .bind(note)
        .bind(confirm_nonce);
        changed(&self.pool, statement, "Failed to store a subscriber").await?;
        Ok(())
    }

    /// The nonce a confirmation link for subscriber `id` must carry; empty
    /// when none may confirm.
    pub async fn confirm_nonce(&self, id: &str) -> Result<Option<String>> {
        let nonce =
            sqlx::query_scalar("SELECT confirm_nonce FROM digest_subscribers WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .context("Failed to read a subscriber")?;
        Ok(nonce)
    }

    /// The nonce naming subscriber `id`'s live (pending or confirmed)
    /// subscription, made now for one that has none (imported); `None`
    /// once it has ended. Every digest's preferences link asks, so the
    /// write is only tried when the read finds no nonce.
    pub async fn subscription_nonce(&self, id: &str) -> Result<Option<String>> {
        let live = [SubscriberStatus::Pending, SubscriberStatus::Confirmed];
        let read = || async {
            sqlx::query_scalar(
                "SELECT confirm_nonce FROM digest_subscribers
                 WHERE id = $1 AND confirm_nonce <> '' AND status IN ($2, $3)",
            )
            .bind(id)
            .bind(live[0].as_str())
            .bind(live[1].as_str())
            .fetch_optional(&self.pool)
            .await
            .context("Failed to read a subscriber")
        };
        if let Some(nonce) = read().await? {
            return Ok(Some(nonce));
        }
        let fresh = uuid::Uuid::new_v4().simple().to_string();
        let statement = sqlx::query(
            "UPDATE digest_subscribers SET confirm_nonce = $1
             WHERE id = $2 AND confirm_nonce = '' AND status IN ($3, $4)",
        )
        .bind(fresh)
        .bind(id);
        self.execute_guarded(
            statement,
            live.iter().map(|s| s.as_str()),
            "Failed to name a subscription",
        )
        .await?;
        Ok(read().await?)
    }

    /// Replaces subscriber `id`'s preferences if `nonce` still names its
    /// live subscription; returns whether it did.
    pub async fn set_preferences(
        &self,
        id: &str,
        nonce: &str,
        preferences: &Preferences,
        note: &str,
    ) -> Result<bool> {
        let preferences =
            serde_json::to_string(preferences).context("Failed to encode preferences")?;
        let statement = sqlx::query(
            "UPDATE digest_subscribers SET preferences = $1, updated_at = $2, note = $3
             WHERE id = $4 AND confirm_nonce = $5 AND confirm_nonce <> ''
                AND status IN ($6, $7)",
        )
        .bind(preferences)
        .bind(self.now())
        .bind(note)
        .bind(id)
        .bind(nonce.to_owned());
        self.execute_guarded(
            statement,
            [SubscriberStatus::Pending, SubscriberStatus::Confirmed].map(|s| s.as_str()),
            "Failed to store preferences",
        )
        .await
    }

    /// Confirms subscriber `id` if it is still the pending subscription
    /// `nonce` was issued for; returns whether it did.
    pub async fn confirm(&self, id: &str, nonce: &str, note: &str) -> Result<bool> {
        let statement = sqlx::query(
            "UPDATE digest_subscribers SET status = $1, updated_at = $2, note = $3
             WHERE id = $4 AND status = $5 AND confirm_nonce = $6 AND confirm_nonce <> ''",
        )
        .bind(SubscriberStatus::Confirmed.as_str())
        .bind(self.now())
        .bind(note)
        .bind(id)
        .bind(SubscriberStatus::Pending.as_str())
        .bind(nonce);
        Ok(changed(&self.pool, statement, "Failed to confirm a subscriber").await? > 0)
    }

    /// Ends subscriber `id`'s subscription: from one of `from` to `to`
    /// (unsubscribed or suppressed), and no confirmation link sent before
    /// confirms it again. Returns whether it moved.
    pub async fn end_subscription(
        &self,
        id: &str,
        from: &[SubscriberStatus],
        to: SubscriberStatus,
        note: &str,
    ) -> Result<bool> {
        if from.is_empty() {
            return Ok(false);
        }
        let sql = format!(
            "UPDATE digest_subscribers SET status = $1, updated_at = $2, note = $3,
                confirm_nonce = ''
             WHERE id = $4 AND status IN ({})",
            placeholders(5, from.len())
        );
        let query = sqlx::query(&sql)
            .bind(to.as_str())
            .bind(self.now())
            .bind(note)
            .bind(id);
        self.execute_guarded(
            query,
            from.iter().map(|s| s.as_str()),
            "Failed to update a subscriber",
        )
        .await
    }
}
