//! What a reader does from the signed link in every digest: change their
//! preferences, pause the digest for some weeks, unsubscribe. The link is
//! bound to the subscription it was made for, as a confirmation link is:
//! once that ends, the link changes nothing.

use anyhow::Context;
use url::Url;

use super::subscription_subject;
use crate::DigestService;
use crate::error::SubscriptionError;
use crate::store::{Preferences, Subscriber, SubscriberStatus};
use crate::token::Purpose;

impl DigestService {
    /// The signed link to `subscriber_id`'s preferences page, for a
    /// digest's "manage preferences": valid for `unsubscribe_token_ttl_secs`
    /// and only while this subscription lasts
    /// ([`SubscriptionError::Stale`] once it has ended).
    pub async fn preferences_url(&self, subscriber_id: &str) -> Result<Url, SubscriptionError> {
        let nonce = self
            .inner
            .store
            .subscription_nonce(subscriber_id)
            .await?
            .ok_or(SubscriptionError::Stale)?;
        let expires = self.now() + Self::ttl(self.inner.settings.unsubscribe_token_ttl_secs);
        let token = self.inner.signer.sign(
            Purpose::Preferences,
            &subscription_subject(subscriber_id, &nonce),
            expires,
        );
        let mut url = self
            .inner
            .settings
            .public_base_url
            .join("preferences")
            .context("Failed to build the preferences link")?;
        url.query_pairs_mut().append_pair("token", &token);
        Ok(url)
    }

    /// The subscriber a preferences link names, while its subscription
    /// lasts. Changes nothing (the link's page is a GET).
    pub(crate) async fn reader(&self, token: &str) -> Result<Subscriber, SubscriptionError> {
        Ok(self.subscription(Purpose::Preferences, token).await?.0)
    }

    /// Stores what the reader a preferences link names wants from the next
    /// digest on, keeping a pause as it is.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn change_preferences(
        &self,
        token: &str,
        preferences: Preferences,
    ) -> Result<Subscriber, SubscriptionError> {
        let (subscriber, nonce) = self.subscription(Purpose::Preferences, token).await?;
        let preferences = Preferences {
            paused_until: subscriber.preferences.paused_until,
            ..preferences
        };
        self.store_preferences(
            subscriber,
            &nonce,
            preferences,
            "preferences changed by link",
        )
        .await
    }

    /// Pauses the digest of the reader a preferences link names for
    /// `weeks` from now; 0 resumes it.
    #[tracing::instrument(skip_all, fields(weeks))]
    pub(crate) async fn pause_reader(
        &self,
        token: &str,
        weeks: u32,
    ) -> Result<Subscriber, SubscriptionError> {
        let (subscriber, nonce) = self.subscription(Purpose::Preferences, token).await?;
        let paused_until =
            (weeks > 0).then(|| self.now() + chrono::Duration::weeks(i64::from(weeks)));
        let preferences = Preferences {
            paused_until,
            ..subscriber.preferences.clone()
        };
        let note = if weeks > 0 {
            "paused by link"
        } else {
            "resumed by link"
        };
        self.store_preferences(subscriber, &nonce, preferences, note)
            .await
    }

    async fn store_preferences(
        &self,
        subscriber: Subscriber,
        nonce: &str,
        preferences: Preferences,
        note: &str,
    ) -> Result<Subscriber, SubscriptionError> {
        // Conditional on the nonce: an unsubscribe since the check wins.
        if !self
            .inner
            .store
            .set_preferences(&subscriber.id, nonce, &preferences, note)
            .await?
        {
            return Err(SubscriptionError::Stale);
        }
        tracing::info!(subscriber_id = %subscriber.id, "{note}");
        Ok(Subscriber {
            preferences,
            ..subscriber
        })
    }

    /// Unsubscribes the reader a preferences link names; the link dies
    /// with the subscription.
    pub(crate) async fn unsubscribe_reader(
        &self,
        token: &str,
    ) -> Result<Subscriber, SubscriptionError> {
        let (subscriber, _) = self.subscription(Purpose::Preferences, token).await?;
        self.inner
            .store
            .end_subscription(
                &subscriber.id,
                &[SubscriberStatus::Pending, SubscriberStatus::Confirmed],
                SubscriberStatus::Unsubscribed,
                "unsubscribed from the preferences page",
            )
            .await?;
        tracing::info!(subscriber_id = %subscriber.id, "Unsubscribed");
        Ok(subscriber)
    }
}
