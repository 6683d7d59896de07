//! Withdrawal deadlines, kept in the service's database: an item a complete
//! read no longer lists gets one (now plus the pipeline's grace period), an
//! item listed again loses it, and every poll fires the ones due, whatever
//! the source answered. A source that answers 304 after the read that
//! noticed an absence still has its item withdrawn on time, and a restart
//! forgets nothing.

use std::collections::HashSet;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{AnyPool, Row};

use crate::report::Sweep;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS ingest_deadlines (
    source TEXT NOT NULL,
    item TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    PRIMARY KEY (source, item)
)";

/// The deadlines of a service's sources; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Deadlines {
    pool: AnyPool,
}

impl Deadlines {
    /// Opens the deadlines in `pool`, creating their table if needed.
    pub(crate) async fn open(pool: &AnyPool) -> anyhow::Result<Self> {
        crate::store::create(pool, &[SCHEMA], "the ingest_deadlines table").await?;
        Ok(Self { pool: pool.clone() })
    }

    /// Applies what a complete read of `source` found: deadlines of items
    /// it lists are lifted, and each missing item without one gets `due_at`
    /// (an earlier deadline stands: absence is counted from when it was
    /// first noticed).
    pub(crate) async fn reconcile(
        &self,
        source: &str,
        sweep: &Sweep,
        due_at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let pending: HashSet<String> =
            sqlx::query("SELECT item FROM ingest_deadlines WHERE source = $1")
                .bind(source)
                .fetch_all(&self.pool)
                .await
                .context("Failed to read ingest_deadlines")?
                .iter()
                .map(|row| row.try_get("item"))
                .collect::<Result<_, _>>()?;
        for item in sweep.present.iter().filter(|item| pending.contains(*item)) {
            self.done(source, item).await?;
        }
        for item in sweep.missing.iter().filter(|item| !pending.contains(*item)) {
            sqlx::query(
                "INSERT INTO ingest_deadlines (source, item, due_at) VALUES ($1, $2, $3)
                 ON CONFLICT (source, item) DO NOTHING",
            )
            .bind(source)
            .bind(item)
            .bind(due_at.timestamp_millis())
            .execute(&self.pool)
            .await
            .context("Failed to write ingest_deadlines")?;
        }
        Ok(())
    }

    /// The items of `source` whose deadline is at or before `now`.
    pub(crate) async fn due(
        &self,
        source: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<String>> {
        sqlx::query("SELECT item FROM ingest_deadlines WHERE source = $1 AND due_at <= $2 ORDER BY due_at, item")
            .bind(source)
            .bind(now.timestamp_millis())
            .fetch_all(&self.pool)
            .await
            .context("Failed to read ingest_deadlines")?
            .iter()
            .map(|row| row.try_get("item").map_err(Into::into))
            .collect()
    }

    /// Drops the deadline of `item` in `source`: it fired, or the item is back.
    pub(crate) async fn done(&self, source: &str, item: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM ingest_deadlines WHERE source = $1 AND item = $2")
            .bind(source)
            .bind(item)
            .execute(&self.pool)
            .await
            .context("Failed to write ingest_deadlines")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn sweep(present: &[&str], missing: &[&str]) -> Sweep {
        Sweep {
            present: present.iter().map(|s| (*s).to_owned()).collect(),
            missing: missing.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[tokio::test]
    async fn a_deadline_counts_from_the_first_absence_and_is_lifted_when_the_item_is_back() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("ingest.db").display());
        let pool = marquee_runtime::database::connect(&url).await.unwrap();
        let deadlines = Deadlines::open(&pool).await.unwrap();

        deadlines
            .reconcile(
                "cms",
                &sweep(&["a"], &["b", "c"]),
                at("2026-12-02T12:00:00Z"),
            )
            .await
            .unwrap();
        // Noticed again later: the first deadline stands.
        deadlines
            .reconcile(
                "cms",
                &sweep(&["a", "c"], &["b"]),
                at("2026-12-03T12:00:00Z"),
            )
            .await
            .unwrap();
        assert!(
            deadlines
                .due("cms", at("2026-12-02T11:59:59Z"))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            deadlines
                .due("cms", at("2026-12-02T12:00:00Z"))
                .await
                .unwrap(),
            ["b"]
        );
        assert!(
            deadlines
                .due("other", at("2027-01-01T00:00:00Z"))
                .await
                .unwrap()
                .is_empty()
        );

        deadlines.done("cms", "b").await.unwrap();
        assert!(
            deadlines
                .due("cms", at("2027-01-01T00:00:00Z"))
                .await
                .unwrap()
                .is_empty()
        );
    }
}
