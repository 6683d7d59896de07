//! `digest_templates`: the digest templates operators stored, each checked
//! before it got here.

use anyhow::Context;
use chrono::{DateTime, Utc};
use marquee_admin::digest::DigestTemplate;
use sqlx::Row;

use super::{Result, Store, StoreError, changed, from_micros};

impl Store {
    /// Every stored template with when it was saved, by name.
    pub async fn templates(&self) -> Result<Vec<(String, DigestTemplate, DateTime<Utc>)>> {
        let rows = sqlx::query(
            "SELECT name, subject, html, text, updated_at FROM digest_templates ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .context("Failed to read the digest templates")?;
        rows.iter()
            .map(|row| {
                let template = DigestTemplate {
                    subject: row.try_get("subject")?,
                    html: row.try_get("html")?,
                    text: row.try_get("text")?,
                };
                Ok((
                    row.try_get("name")?,
                    template,
                    from_micros(row.try_get("updated_at")?),
                ))
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .context("Failed to read a digest template")
            .map_err(StoreError::from)
    }

    /// Stores template `name`, replacing an earlier one; when it was saved.
    pub async fn save_template(
        &self,
        name: &str,
        template: &DigestTemplate,
    ) -> Result<DateTime<Utc>> {
        let now = self.now();
        let statement = sqlx::query(
            "INSERT INTO digest_templates (name, subject, html, text, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET \
             subject = excluded.subject, html = excluded.html, text = excluded.text, \
             updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(&template.subject)
        .bind(&template.html)
        .bind(&template.text)
        .bind(now);
        changed(&self.pool, statement, "Failed to save a digest template").await?;
        Ok(from_micros(now))
    }
}
