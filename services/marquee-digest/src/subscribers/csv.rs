//! Subscribers as CSV, `email,status,list,venues,formats,min_rating` with
//! lists `;`-separated: the export, and an import that reports refused rows
//! by line.

use anyhow::Context;
use marquee_admin::digest::RejectedRow;
use serde::Serialize;

use super::{ImportReport, list_of};
use crate::store::{Preferences, Subscriber, SubscriberStatus};
use crate::{DigestService, EmailAddress};

/// One CSV row: `email,status,list,venues,formats,min_rating`, lists `;`-separated.
#[derive(Debug, serde::Deserialize, Serialize)]
struct CsvRow {
    email: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    list: Option<String>,
    #[serde(default)]
    venues: String,
    #[serde(default)]
    formats: String,
    #[serde(default)]
    min_rating: Option<u8>,
}

impl DigestService {
    /// Every subscriber as CSV: `email,status,list,venues,formats,min_rating`.
    pub async fn export_csv(&self) -> anyhow::Result<String> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        for s in self.inner.store.subscribers().await? {
            writer
                .serialize(CsvRow {
                    email: s.email.to_string(),
                    status: Some(s.status.to_string()),
                    list: Some(s.list),
                    venues: s.preferences.venues.join(";"),
                    formats: s.preferences.formats.join(";"),
                    min_rating: s.preferences.min_rating,
                })
                .context("Failed to write CSV")?;
        }
        let bytes = writer.into_inner().context("Failed to finish CSV")?;
        String::from_utf8(bytes).context("CSV is not UTF-8")
    }

    /// Imports subscribers from CSV with a header row (as exported). Rows
    /// without a status are confirmed: importing means they opted in
    /// elsewhere. A known address keeps its id; a suppressed one stays so.
    pub async fn import_csv(&self, csv: &str) -> anyhow::Result<ImportReport> {
        let mut report = ImportReport::default();
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(true)
            .from_reader(csv.as_bytes());
        for result in reader.deserialize::<CsvRow>() {
            let (line, row) = match result {
                Ok(row) => (0, row),
                Err(error) => {
                    let line = error.position().map_or(0, csv::Position::line);
                    report.rejected.push(RejectedRow(line, error.to_string()));
                    continue;
                }
            };
            let line = if line == 0 {
                u64::try_from(report.imported + report.rejected.len() + 2).unwrap_or(0)
            } else {
                line
            };
            let email = match EmailAddress::parse(&row.email) {
                Ok(email) => email,
                Err(error) => {
                    report.rejected.push(RejectedRow(line, error.to_string()));
                    continue;
                }
            };
            let status = match row.status.as_deref().filter(|s| !s.is_empty()) {
                None => SubscriberStatus::Confirmed,
                Some(s) => match s.parse() {
                    Ok(status) => status,
                    Err(error) => {
                        report.rejected.push(RejectedRow(line, format!("{error}")));
                        continue;
                    }
                },
            };
            let existing = self.inner.store.subscriber_by_email(&email).await?;
            if existing
                .as_ref()
                .is_some_and(|s| s.status == SubscriberStatus::Suppressed)
            {
                report
                    .rejected
                    .push(RejectedRow(line, format!("{email} is suppressed")));
                continue;
            }
            let subscriber = Subscriber {
                id: existing.map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), |s| s.id),
                email,
                status,
                list: row
                    .list
                    .filter(|l| !l.is_empty())
                    .unwrap_or_else(|| "weekly".to_owned()),
                preferences: Preferences {
                    venues: list_of(&row.venues, ';'),
                    formats: list_of(&row.formats, ';'),
                    min_rating: row.min_rating,
                    ..Preferences::default()
                },
            };
            self.inner
                .store
                .put_subscriber(&subscriber, "", "imported")
                .await?;
            report.imported += 1;
        }
        for RejectedRow(line, reason) in &report.rejected {
            tracing::warn!(line, reason, "Refused a subscriber row of an import");
        }
        Ok(report)
    }
}
