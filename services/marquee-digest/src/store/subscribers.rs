//! `digest_subscribers`: who gets the digest, where they stand, what they want.

use anyhow::Context;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

pub use marquee_admin::digest::{Preferences, SubscriberStatus};

use super::{Result, Store, changed, placeholders};
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

    /// Confirmed subscribers of `list` (`all` for every list), by address.
    pub async fn audience(&self, list: &str) -> Result<Vec<Subscriber>> {
        let rows = sqlx::query(
            "SELECT * FROM digest_subscribers
             WHERE status = $1 AND ($2 = 'all' OR list = $2) ORDER BY email",
        )
        .bind(SubscriberStatus::Confirmed.as_str())
        .bind(list)
        .fetch_all(&self.pool)
        .await
        .context("Failed to read the audience")?;
        Ok(rows.iter().map(subscriber).collect::<anyhow::Result<_>>()?)
    }

    /// Inserts or replaces the subscriber with `subscriber.id`'s address.
    /// `confirm_nonce` is the one a confirmation link must carry to confirm
    /// this subscription (empty: no link confirms it), replacing any earlier
    /// one, so a link sent for an earlier subscription is dead.
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
