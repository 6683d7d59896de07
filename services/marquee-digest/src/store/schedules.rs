//! `digest_schedules`: the schedules as operators last saved them.

use anyhow::Context;
use sqlx::Row;

use super::{Result, Store, StoreError, changed};

impl Store {
    /// Every stored schedule: its settings as JSON, and whether it is paused.
    pub async fn schedules(&self) -> Result<Vec<(String, bool)>> {
        let rows = sqlx::query("SELECT settings, paused FROM digest_schedules ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .context("Failed to read the schedules")?;
        rows.iter()
            .map(|row| {
                let settings: String = row.try_get("settings")?;
                let paused: i64 = row.try_get("paused")?;
                Ok((settings, paused != 0))
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .context("Failed to read a schedule")
            .map_err(StoreError::from)
    }

    /// Stores a schedule's settings; `create` refuses (false) when `name`
    /// exists, otherwise it must exist (false when it does not).
    pub async fn save_schedule(&self, name: &str, settings: &str, create: bool) -> Result<bool> {
        let sql = if create {
            "INSERT INTO digest_schedules (name, settings, paused, updated_at) \
             VALUES ($1, $2, 0, $3) ON CONFLICT (name) DO NOTHING"
        } else {
            "UPDATE digest_schedules SET settings = $2, updated_at = $3 WHERE name = $1"
        };
        let statement = sqlx::query(sql).bind(name).bind(settings).bind(self.now());
        let result = changed(&self.pool, statement, "Failed to save a schedule").await?;
        Ok(result == 1)
    }

    /// Pauses or resumes a schedule; false if there is none of that name.
    pub async fn set_schedule_paused(&self, name: &str, paused: bool) -> Result<bool> {
        let statement =
            sqlx::query("UPDATE digest_schedules SET paused = $2, updated_at = $3 WHERE name = $1")
                .bind(name)
                .bind(i64::from(paused))
                .bind(self.now());
        let result = changed(
            &self.pool,
            statement,
            "Failed to pause or resume a schedule",
        )
        .await?;
        Ok(result == 1)
    }
}
