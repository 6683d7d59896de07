//! Subscribers: double opt-in, one-click unsubscribe, suppression and
//! search; [`csv`] imports and exports them, [`preferences`] is what a
//! reader changes from a signed link, [`form`] the reader's form and
//! [`limits`] how often it is taken.

mod csv;
pub(crate) mod form;
pub(crate) mod limits;
mod preferences;

use std::fmt;
use std::str::FromStr;

use anyhow::Context;

use crate::error::SubscriptionError;
use crate::store::{Preferences, Subscriber, SubscriberStatus};
use crate::token::{Purpose, TokenError};
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

/// Why an address is never mailed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suppression {
    /// The relay's webhook: the address does not take mail.
    Bounce,
    /// The relay's webhook: the reader marked the digest as spam.
    Complaint,
    /// An operator asked.
    Operator,
}

/// A webhook `kind` that is neither `bounce` nor `complaint`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("kind must be `bounce` or `complaint`, not `{0}`")]
pub struct InvalidBounceKind(String);

/// The webhook's spellings; an operator's suppression has none.
impl FromStr for Suppression {
    type Err = InvalidBounceKind;
    fn from_str(s: &str) -> Result<Self, InvalidBounceKind> {
        match s {
            "bounce" => Ok(Self::Bounce),
            "complaint" => Ok(Self::Complaint),
            other => Err(InvalidBounceKind(other.to_owned())),
        }
    }
}

/// As the subscriber's note says it: `suppressed: {this}`.
impl fmt::Display for Suppression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Bounce => "bounce",
            Self::Complaint => "complaint",
            Self::Operator => "by an operator",
        })
    }
}

/// The trimmed, non-empty items of a `separator`-separated list (a form's
/// `,`, a CSV cell's `;`).
pub(crate) fn list_of(text: &str, separator: char) -> Vec<String> {
    text.split(separator)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What a confirmation or preferences token names: the subscriber and the
/// nonce of the subscription it was issued for (ids and nonces have no `-`).
fn subscription_subject(subscriber_id: &str, nonce: &str) -> String {
    format!("{subscriber_id}-{nonce}")
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
        // A fresh nonce per subscription: the link below confirms this one
        // and no later one, and dies when it ends.
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        store
            .put_subscriber(&subscriber, &nonce, "subscribed")
            .await?;
        let expires = self.now() + Self::ttl(self.inner.settings.confirm_token_ttl_secs);
        let token = self.inner.signer.sign(
            Purpose::Confirm,
            &subscription_subject(&subscriber.id, &nonce),
            expires,
        );
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

    /// The subscription a confirmation token was issued for, pending or
    /// confirmed already, and the token's nonce; [`SubscriptionError::Stale`]
    /// once it has ended or been replaced. Changes nothing (the link's page
    /// is a GET).
    pub(crate) async fn confirmation(
        &self,
        token: &str,
    ) -> Result<(Subscriber, String), SubscriptionError> {
        self.subscription(Purpose::Confirm, token).await
    }

    /// The live subscription a `purpose` token bound to one names, and its
    /// nonce; [`SubscriptionError::Stale`] once it has ended or been
    /// replaced.
    async fn subscription(
        &self,
        purpose: Purpose,
        token: &str,
    ) -> Result<(Subscriber, String), SubscriptionError> {
        let subject = self.inner.signer.verify(purpose, token, self.now())?;
        let (id, nonce) = subject.rsplit_once('-').ok_or(TokenError::Invalid)?;
        let store = &self.inner.store;
        let subscriber = store
            .subscriber(id)
            .await?
            .ok_or(SubscriptionError::Unknown)?;
        let current = store.confirm_nonce(id).await?.unwrap_or_default();
        let live = matches!(
            subscriber.status,
            SubscriberStatus::Pending | SubscriberStatus::Confirmed
        );
        if !live || current.is_empty() || current != nonce {
            return Err(SubscriptionError::Stale);
        }
        Ok((subscriber, current))
    }

    /// Confirms the subscription a confirmation token was issued for
    /// (idempotent while it lasts).
    pub async fn confirm(&self, token: &str) -> Result<Subscriber, SubscriptionError> {
        let (subscriber, nonce) = self.confirmation(token).await?;
        if subscriber.status == SubscriberStatus::Confirmed {
            return Ok(subscriber);
        }
        // Conditional on the nonce: an unsubscribe between the check and
        // here wins.
        if !self
            .inner
            .store
            .confirm(&subscriber.id, &nonce, "confirmed by link")
            .await?
        {
            return Err(SubscriptionError::Stale);
        }
        tracing::info!(subscriber_id = %subscriber.id, "Subscription confirmed");
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
            .end_subscription(
                &subscriber.id,
                &[SubscriberStatus::Pending, SubscriberStatus::Confirmed],
                SubscriberStatus::Unsubscribed,
                "unsubscribed by link",
            )
            .await?;
        tracing::info!(subscriber_id = %subscriber.id, "Unsubscribed");
        Ok(subscriber)
    }

    /// Suppresses `email` after a bounce, a complaint or an operator's
    /// request (`kind` says which); returns whether the
    /// address was known.
    pub async fn suppress(&self, email: &EmailAddress, kind: Suppression) -> anyhow::Result<bool> {
        let store = &self.inner.store;
        let Some(subscriber) = store.subscriber_by_email(email).await? else {
            return Ok(false);
        };
        store
            .end_subscription(
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
        tracing::warn!(subscriber_id = %subscriber.id, %kind, "Address suppressed");
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
}
