//! Delivery: the send loop over a run's ledger, one message per pending
//! recipient, exactly once, pausing itself after repeated relay errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use anyhow::Context;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::metrics::{self as series, Outcome};
use crate::DigestService;
use crate::compose::{DigestContent, Edition, ReaderLinks, RenderedDigest};
use crate::mailer::{self, SendError};
use crate::schedule::CronSchedule;
use crate::store::{DeliveryCounts, DeliveryOutcome, Run, RunStatus, Subscriber, SubscriberStatus};
use crate::subscribers::Suppression;
use crate::token::Purpose;

impl DigestService {
    pub(super) fn unsubscribe_url(&self, subscriber_id: &str) -> String {
        let expires = self.now()
            + chrono::Duration::seconds(
                i64::try_from(self.inner.settings.unsubscribe_token_ttl_secs)
                    .unwrap_or(i64::MAX / 2_000_000),
            );
        let token = self
            .inner
            .signer
            .sign(Purpose::Unsubscribe, subscriber_id, expires);
        let mut url = self.public_url("unsubscribe");
        url.query_pairs_mut().append_pair("token", &token);
        url.to_string()
    }

    /// The preferences page's address without a reader's token, for the
    /// copies that are nobody's (previews and test sends without a reader).
    pub(super) fn nobodys_preferences_url(&self) -> String {
        self.public_url("preferences").to_string()
    }

    fn list_unsubscribe(&self, https: &str) -> String {
        let mailto = self
            .inner
            .settings
            .unsubscribe_mailto
            .clone()
            .unwrap_or_else(|| self.inner.mailer.sender_address().to_owned());
        format!("<{https}>, <mailto:{mailto}?subject=unsubscribe>")
    }

    /// The digest `subscriber` gets from `content`, or `None` when nothing
    /// is left for them and the schedule does not send empty digests.
    pub(super) async fn personal(
        &self,
        schedule: &CronSchedule,
        content: &DigestContent,
        subscriber: &Subscriber,
    ) -> anyhow::Result<Option<(RenderedDigest, String)>> {
        let mine = content.for_preferences(&subscriber.preferences);
        if mine.is_empty() && !schedule.settings().send_when_empty {
            return Ok(None);
        }
        let url = self.unsubscribe_url(&subscriber.id);
        let preferences_url = self
            .preferences_url(&subscriber.id)
            .await
            .context("Failed to sign the preferences link")?
            .to_string();
        let links = ReaderLinks {
            unsubscribe_url: &url,
            preferences_url: &preferences_url,
        };
        let rendered = self.inner.templates.digest(
            &schedule.settings().template,
            &mine,
            &self.web_version_url(schedule.name(), content.week_start),
            Edition::Email(links),
        )?;
        Ok(Some((rendered, url)))
    }

    pub(super) fn is_active(&self, run_id: &str) -> bool {
        self.inner
            .active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(run_id)
    }

    /// Sends a `sending` run's pending deliveries; marks it sent once none
    /// is pending, pauses it after too many errors in a row, and leaves it
    /// `sending` when `shutdown` stops it (the next start resumes it).
    #[tracing::instrument(skip_all, fields(digest_id = %run.id, schedule = %run.schedule))]
    pub(crate) async fn deliver(
        &self,
        run: &Run,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<DeliveryCounts> {
        let store = &self.inner.store;
        let schedule = self.schedule(&run.schedule).with_context(|| {
            format!(
                "run {} belongs to schedule `{}`, which is not configured",
                run.id, run.schedule
            )
        })?;
        let stop = shutdown.child_token();
        {
            let mut active = self
                .inner
                .active
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if active.contains_key(&run.id) {
                anyhow::bail!("run {} is already being sent", run.id);
            }
            active.insert(run.id.clone(), stop.clone());
        }
        // No sender of this process has the run (`active` says so), so a
        // delivery still `sending` was cut off with a dead process.
        let interrupted = store.settle_interrupted(&run.id).await?;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "Deliveries cut off mid-send by a stopped process are not sent again"
            );
        }
        let outcome = self.deliver_pending(run, &schedule, &stop).await;
        self.inner
            .active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&run.id);
        let paused_by_errors =
            outcome.inspect_err(|_| series::count(&run.schedule, Outcome::Failed))?;
        let counts = store.counts(&run.id).await?;
        if let Some(reason) = paused_by_errors {
            store
                .set_run_status(&run.id, &[RunStatus::Sending], RunStatus::Paused, &reason)
                .await?;
            series::count(&run.schedule, Outcome::Paused);
            tracing::error!(reason, ?counts, "Digest run paused itself");
        } else if shutdown.is_cancelled() {
            series::count(&run.schedule, Outcome::Interrupted);
            tracing::info!(
                ?counts,
                "Digest run interrupted by shutdown; it resumes on the next start"
            );
        } else if stop.is_cancelled() {
            tracing::info!(?counts, "Digest run paused by an operator");
        } else if store
            .finish_run(
                &run.id,
                &format!(
                    "{} sent, {} failed, {} skipped, {} interrupted",
                    counts.sent, counts.failed, counts.skipped, counts.interrupted
                ),
            )
            .await?
        {
            series::count(&run.schedule, Outcome::Sent);
            series::last_success(&run.schedule, self.now());
            tracing::info!(?counts, "Digest run finished");
        } else {
            tracing::warn!(
                ?counts,
                "Digest run has unsent recipients; it is retried on the next tick"
            );
        }
        Ok(counts)
    }

    /// The send loop; returns why it paused itself, if it did.
    async fn deliver_pending(
        &self,
        run: &Run,
        schedule: &CronSchedule,
        stop: &CancellationToken,
    ) -> anyhow::Result<Option<String>> {
        let store = &self.inner.store;
        let content = Arc::new(
            self.content(schedule, run.reviews_since, run.scheduled_for)
                .await?,
        );
        // No page is read once the run stops.
        let pending = store.pending(&run.id).take_until(stop.cancelled());
        let limit = self.inner.settings.smtp.pause_after_errors.max(1);
        let errors_in_a_row = AtomicU32::new(0);
        let paused = AtomicBool::new(false);
        let last_error = std::sync::Mutex::new(String::new());
        // Every send in flight finishes, whatever another one hit: the first
        // store error is kept and returned once they have.
        let finished = pending
            .map(|subscriber_id| {
                let content = Arc::clone(&content);
                let errors_in_a_row = &errors_in_a_row;
                let paused = &paused;
                let last_error = &last_error;
                async move {
                    let subscriber_id = subscriber_id?;
                    if stop.is_cancelled() {
                        return Ok(());
                    }
                    match self
                        .deliver_one(run, schedule, &content, &subscriber_id)
                        .await?
                    {
                        Ok(()) => errors_in_a_row.store(0, Ordering::SeqCst),
                        Err(error) => {
                            *last_error
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner) =
                                error.to_string();
                            if errors_in_a_row.fetch_add(1, Ordering::SeqCst) + 1 >= limit {
                                paused.store(true, Ordering::SeqCst);
                                stop.cancel();
                            }
                        }
                    }
                    anyhow::Ok(())
                }
            })
            .buffer_unordered(self.inner.settings.smtp.concurrency)
            .fold(Ok(()), |first, result| {
                futures::future::ready(first.and(result))
            })
            .await;
        finished?;
        Ok(paused.load(Ordering::SeqCst).then(|| {
            format!(
                "paused after {limit} consecutive send errors; last: {}; resume once the relay is fixed",
                last_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
            )
        }))
    }

    /// Sends one ledger row and records the outcome; the inner error is a
    /// failed send (counted towards pausing), the outer one a store failure.
    async fn deliver_one(
        &self,
        run: &Run,
        schedule: &CronSchedule,
        content: &DigestContent,
        subscriber_id: &str,
    ) -> anyhow::Result<Result<(), SendError>> {
        let store = &self.inner.store;
        let subscriber = store
            .subscriber(subscriber_id)
            .await?
            .filter(|s| s.status == SubscriberStatus::Confirmed);
        let skip = |reason| {
            store.mark(
                &run.id,
                subscriber_id,
                DeliveryOutcome::Skipped,
                0,
                Some(reason),
            )
        };
        let Some(subscriber) = subscriber else {
            skip("no longer subscribed").await?;
            return Ok(Ok(()));
        };
        let Some((digest, unsubscribe)) = self.personal(schedule, content, &subscriber).await?
        else {
            skip("nothing matches their preferences").await?;
            return Ok(Ok(()));
        };
        let envelope = mailer::Envelope {
            to: &subscriber.email,
            message_id: format!(
                "<digest-{}-{}@{}>",
                run.id,
                subscriber.id,
                self.inner.mailer.domain()
            ),
            list_unsubscribe: Some(self.list_unsubscribe(&unsubscribe)),
        };
        let message = self.inner.mailer.digest_message(&envelope, &digest)?;
        if !store.claim(&run.id, subscriber_id).await? {
            return Ok(Ok(()));
        }
        let sent = self.inner.mailer.send(&message).await;
        crate::mailer::count(&run.schedule, sent.is_ok());
        match sent {
            Ok(attempts) => {
                store
                    .mark(
                        &run.id,
                        subscriber_id,
                        DeliveryOutcome::Sent,
                        attempts,
                        None,
                    )
                    .await?;
                Ok(Ok(()))
            }
            Err(error @ (SendError::Recipient(_) | SendError::Permanent(_))) => {
                let reason = error.to_string();
                tracing::warn!(subscriber_id, error = %reason, "The relay refused a digest for good");
                store
                    .mark(
                        &run.id,
                        subscriber_id,
                        DeliveryOutcome::Failed,
                        1,
                        Some(&reason),
                    )
                    .await?;
                if let SendError::Recipient(_) = error {
                    // The address's fault, not the relay's: it is suppressed
                    // and does not count towards pausing the run.
                    self.suppress(&subscriber.email, Suppression::Bounce)
                        .await?;
                    return Ok(Ok(()));
                }
                Ok(Err(error))
            }
            Err(error) => {
                // Stays pending: a resume or the next tick retries it.
                let reason = error.to_string();
                tracing::warn!(subscriber_id, error = %reason, "Could not send a digest; left pending");
                store.note_attempt(&run.id, subscriber_id, &reason).await?;
                Ok(Err(error))
            }
        }
    }
}
