//! Per-account workers: send what the handler queued, one post at a time,
//! paced by the account's spacing, the network's rate limits and quiet hours.

use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, Notify};
use tokio_util::sync::CancellationToken;

use crate::SocialService;
use crate::compose::Composer;
use crate::error::StoreError;
use crate::network::{Client, SendError, Sent};
use crate::settings::AccountSettings;
use crate::store::posts::{Entry, PostStatus};

/// How long a claimed post is left to its worker before another may take
/// it over (a crashed process's claim expires; the look-up then runs).
const LEASE: chrono::Duration = chrono::Duration::minutes(5);
/// Transient failures are retried this many times in all.
const MAX_ATTEMPTS: i64 = 8;
/// Workers look at the ledger at least this often, for rows another
/// replica's handler recorded.
const POLL: std::time::Duration = std::time::Duration::from_secs(30);

/// One configured account and its sending state.
pub(crate) struct Account {
    pub(crate) settings: AccountSettings,
    pub(crate) composer: Composer,
    client: Client,
    /// Not before then: spacing and exhausted rate limits. The lock also
    /// keeps two drains of one account from running at once.
    pace: Mutex<DateTime<Utc>>,
    /// Woken when the handler queued something.
    pub(crate) wake: Notify,
}

impl Account {
    pub(crate) fn new(settings: AccountSettings, composer: Composer) -> anyhow::Result<Self> {
        Ok(Self {
            client: Client::new(&settings)?,
            settings,
            composer,
            pace: Mutex::new(DateTime::<Utc>::MIN_UTC),
            wake: Notify::new(),
        })
    }

    pub(crate) fn name(&self) -> &str {
        self.settings.name()
    }

    fn spacing(&self) -> chrono::Duration {
        let secs = i64::try_from(self.settings.common().min_spacing_secs).unwrap_or(i64::MAX);
        chrono::Duration::try_seconds(secs).unwrap_or(chrono::Duration::MAX)
    }

    /// Carries spacing over a restart: the next post waits for the last one.
    pub(crate) async fn restore_pace(&self, last_posted: Option<DateTime<Utc>>) {
        if let Some(last) = last_posted {
            *self.pace.lock().await = last + self.spacing();
        }
    }
}

/// Exponential backoff after the `attempts`-th failure: 5 s, 10 s, … 15 min.
fn backoff(attempts: i64) -> chrono::Duration {
    let exponent = u32::try_from(attempts.clamp(1, 12) - 1).unwrap_or(0);
    chrono::Duration::seconds((5_i64 << exponent).min(15 * 60))
}

impl SocialService {
    /// Sends every post of `account` that is due now, as pacing allows;
    /// returns how many send attempts were made.
    pub(crate) async fn drain_account(
        &self,
        account: &Account,
        shutdown: &CancellationToken,
    ) -> Result<usize, StoreError> {
        let ledger = &self.inner.store;
        let mut pace = account.pace.lock().await;
        let mut attempts = 0;
        while !shutdown.is_cancelled() {
            let now = self.now();
            if *pace > now {
                break;
            }
            if let Some(quiet) = account.settings.common().quiet_hours
                && let Some(end) = quiet.ends_after(now)
            {
                tracing::debug!(account = account.name(), until = %end, "Quiet hours: posts wait");
                break;
            }
            // Asked before every post, so a pause stops the account after
            // the post in flight (on every replica).
            if let Some(since) = ledger.paused_at(account.name()).await? {
                tracing::debug!(account = account.name(), since = %since, "Paused by an operator: posts wait");
                break;
            }
            let Some(entry) = ledger.next_due(account.name(), now).await? else {
                break;
            };
            if !ledger.claim(&entry, now, now + LEASE).await? {
                continue;
            }
            attempts += 1;
            let outcome = self.deliver(account, &entry).await;
            let now = self.now();
            match outcome {
                Ok(sent) => {
                    ledger
                        .mark_posted(&entry, sent.id.as_deref(), sent.url.as_deref(), now)
                        .await?;
                    count(account, "marquee_posts_sent_total");
                    tracing::info!(
                        review_id = %entry.review_id,
                        account = account.name(),
                        remote_url = sent.url.as_deref().unwrap_or(""),
                        "Posted a review"
                    );
                    *pace = (now + account.spacing()).max(sent.pause_until.unwrap_or(now));
                }
                Err(SendError::RateLimited { wait, reason }) => {
                    let until = wait.resolve(now);
                    tracing::warn!(review_id = %entry.review_id, account = account.name(), until = %until, reason, "Rate limited; the account waits");
                    ledger.retry_later(&entry, until, &reason, now).await?;
                    *pace = until;
                }
                Err(SendError::Transient(reason)) if entry.attempts + 1 < MAX_ATTEMPTS => {
                    let until = now + backoff(entry.attempts + 1);
                    tracing::warn!(review_id = %entry.review_id, account = account.name(), until = %until, reason, "Posting failed; will retry");
                    ledger.retry_later(&entry, until, &reason, now).await?;
                    *pace = until;
                }
                Err(SendError::Transient(reason) | SendError::Permanent(reason)) => {
                    tracing::error!(review_id = %entry.review_id, account = account.name(), reason, "Posting failed for good; recorded in the ledger");
                    ledger.mark_failed(&entry, &reason, now).await?;
                    count(account, "marquee_posts_failed_total");
                }
            }
        }
        Ok(attempts)
    }

    /// Sends `entry`, unless it is pending and the network already has it.
    async fn deliver(&self, account: &Account, entry: &Entry) -> Result<Sent, SendError> {
        if entry.status == PostStatus::Pending
            && let Some(sent) = account.client.find(entry).await?
        {
            tracing::info!(review_id = %entry.review_id, account = account.name(), "A pending post had gone out already; not sending it again");
            return Ok(sent);
        }
        account.client.send(entry, self.now()).await
    }

    /// When `account` may have something to send next (a paused account:
    /// when it is resumed, which wakes it, or at the next poll).
    async fn wake_at(&self, account: &Account) -> Result<Option<DateTime<Utc>>, StoreError> {
        if self.inner.store.paused_at(account.name()).await?.is_some() {
            return Ok(None);
        }
        let Some(due) = self.inner.store.next_wake(account.name()).await? else {
            return Ok(None);
        };
        let mut at = due.max(*account.pace.lock().await);
        if let Some(quiet) = account.settings.common().quiet_hours
            && let Some(end) = quiet.ends_after(at)
        {
            at = end;
        }
        Ok(Some(at))
    }

    /// The worker loop of one account, until `shutdown`.
    pub(crate) async fn work(&self, account: &Account, shutdown: &CancellationToken) {
        while !shutdown.is_cancelled() {
            if let Err(error) = self.drain_account(account, shutdown).await {
                tracing::error!(account = account.name(), error = %error, "Could not work through the ledger");
            }
            let sleep = match self.wake_at(account).await {
                Ok(Some(at)) => (at - self.now())
                    .to_std()
                    .unwrap_or_default()
                    .clamp(std::time::Duration::from_millis(50), POLL),
                Ok(None) => POLL,
                Err(error) => {
                    tracing::error!(account = account.name(), error = %error, "Could not read the ledger");
                    POLL
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = account.wake.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }
}

/// Counts a post delivered (to the network, or to the dry-run outbox) or
/// given up on, by network and account.
fn count(account: &Account, name: &'static str) {
    metrics::counter!(name, "network" => account.settings.network().as_str(),
        "account" => account.name().to_owned())
    .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), chrono::Duration::seconds(5));
        assert_eq!(backoff(2), chrono::Duration::seconds(10));
        assert_eq!(backoff(20), chrono::Duration::minutes(15));
    }
}
