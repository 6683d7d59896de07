//! Subscribers: double opt-in, one-click unsubscribe, suppression, CSV.

use anyhow::Context;
use serde::Serialize;

use crate::error::SubscriptionError;
use crate::store::{Preferences, Subscriber, SubscriberStatus};
use crate::token::Purpose;
use crate::{DigestService, EmailAddress};

/// What a subscribe request did. Every outcome looks the same to the
/// requester, so the form does not tell who is subscribed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscribeOutcome {
    /// A confirmation email went out.
    ConfirmationSent(Subscriber),
    /// Already confirmed; nothing sent.
    AlreadyConfirmed,
    /// The address bounced or complained before; nothing sent.
    Suppressed,
}

pub use marquee_admin::digest::ImportReport;
use marquee_admin::digest::RejectedRow;

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

fn split(list: &str) -> Vec<String> {
    list.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl DigestService {
    fn ttl(secs: u64) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 2_000_000))
    }

    /// Subscribes `email` to `list` pending confirmation and emails a
    /// signed, expiring confirmation link.
    #[tracing::instrument(skip_all)]
    pub async fn subscribe(
        &self,
        email: &EmailAddress,
        list: &str,
        preferences: Preferences,
    ) -> Result<SubscribeOutcome, SubscriptionError> {
        let store = &self.inner.store;
        let existing = store.subscriber_by_email(email).await?;
        let subscriber = match existing {
            Some(s) if s.status == SubscriberStatus::Confirmed => {
                return Ok(SubscribeOutcome::AlreadyConfirmed);
            }
            Some(s) if s.status == SubscriberStatus::Suppressed => {
                tracing::warn!(subscriber_id = %s.id, "A suppressed address asked to subscribe; ignored");
                return Ok(SubscribeOutcome::Suppressed);
            }
            Some(s) => Subscriber {
                status: SubscriberStatus::Pending,
                list: list.to_owned(),
                preferences,
                ..s
            },
            None => Subscriber {
                id: uuid::Uuid::new_v4().simple().to_string(),
                email: email.clone(),
                status: SubscriberStatus::Pending,
                list: list.to_owned(),
                preferences,
            },
        };
        store.put_subscriber(&subscriber, "subscribed").await?;
        let expires = self.now() + Self::ttl(self.inner.settings.confirm_token_ttl_secs);
        let token = self
            .inner
            .signer
            .sign(Purpose::Confirm, &subscriber.id, expires);
        let mut url = self
            .inner
            .settings
            .public_base_url
            .join("subscribe/confirm")
            .context("Failed to build the confirmation link")?;
        url.query_pairs_mut().append_pair("token", &token);
        let text = self
            .inner
            .templates
            .confirmation(url.as_str())
            .map_err(|e| SubscriptionError::Unexpected(e.into()))?;
        let message = self
            .inner
            .mailer
            .text_message(
                email,
                "Confirm your subscription to Marquee's weekly digest",
                format!(
                    "<confirm-{}-{}@{}>",
                    subscriber.id,
                    self.now().timestamp_micros(),
                    self.inner.mailer.domain()
                ),
                text,
            )
            .map_err(SubscriptionError::Send)?;
        let sent = self.inner.mailer.send(&message).await;
        crate::mailer::count("confirmation", sent.is_ok());
        sent.map_err(|e| SubscriptionError::Send(e.into()))?;
        tracing::info!(subscriber_id = %subscriber.id, "Subscription pending; confirmation sent");
        Ok(SubscribeOutcome::ConfirmationSent(subscriber))
    }

    /// Confirms the subscription a confirmation token names.
    pub async fn confirm(&self, token: &str) -> Result<Subscriber, SubscriptionError> {
        let id = self
            .inner
            .signer
            .verify(Purpose::Confirm, token, self.now())?;
        let store = &self.inner.store;
        let subscriber = store
            .subscriber(&id)
            .await?
            .ok_or(SubscriptionError::Unknown)?;
        match subscriber.status {
            SubscriberStatus::Suppressed => return Err(SubscriptionError::Suppressed),
            SubscriberStatus::Confirmed => return Ok(subscriber),
            _ => {}
        }
        store
            .transition(
                &id,
                &[SubscriberStatus::Pending, SubscriberStatus::Unsubscribed],
                SubscriberStatus::Confirmed,
                "confirmed by link",
            )
            .await?;
        tracing::info!(subscriber_id = %id, "Subscription confirmed");
        Ok(Subscriber {
            status: SubscriberStatus::Confirmed,
            ..subscriber
        })
    }

    /// Unsubscribes whoever an unsubscribe token names (idempotent).
    pub async fn unsubscribe(&self, token: &str) -> Result<Subscriber, SubscriptionError> {
        let id = self
            .inner
            .signer
            .verify(Purpose::Unsubscribe, token, self.now())?;
        let store = &self.inner.store;
        let subscriber = store
            .subscriber(&id)
            .await?
            .ok_or(SubscriptionError::Unknown)?;
        store
            .transition(
                &id,
                &[SubscriberStatus::Pending, SubscriberStatus::Confirmed],
                SubscriberStatus::Unsubscribed,
                "unsubscribed by link",
            )
            .await?;
        tracing::info!(subscriber_id = %id, "Unsubscribed");
        Ok(subscriber)
    }

    /// Suppresses `email` after a bounce, a complaint or an operator's
    /// request (`kind` says which); returns whether the
    /// address was known.
    pub async fn suppress(&self, email: &EmailAddress, kind: &str) -> anyhow::Result<bool> {
        let store = &self.inner.store;
        let Some(subscriber) = store.subscriber_by_email(email).await? else {
            return Ok(false);
        };
        store
            .transition(
                &subscriber.id,
                &[
                    SubscriberStatus::Pending,
                    SubscriberStatus::Confirmed,
                    SubscriberStatus::Unsubscribed,
                ],
                SubscriberStatus::Suppressed,
                &format!("suppressed: {kind}"),
            )
            .await?;
        tracing::warn!(subscriber_id = %subscriber.id, kind, "Address suppressed");
        Ok(true)
    }

    /// Up to `limit` subscribers whose address contains `text`, any case.
    pub async fn search(&self, text: &str, limit: usize) -> anyhow::Result<Vec<Subscriber>> {
        let text = text.trim().to_lowercase();
        Ok(self
            .inner
            .store
            .subscribers()
            .await?
            .into_iter()
            .filter(|s| s.email.as_str().to_lowercase().contains(&text))
            .take(limit)
            .collect())
    }

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
                    venues: split(&row.venues),
                    formats: split(&row.formats),
                    min_rating: row.min_rating,
                },
            };
            self.inner
                .store
                .put_subscriber(&subscriber, "imported")
                .await?;
            report.imported += 1;
        }
        for RejectedRow(line, reason) in &report.rejected {
            tracing::warn!(line, reason, "Refused a subscriber row of an import");
        }
        Ok(report)
    }
}
