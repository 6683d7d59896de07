//! A generic JSON webhook, sent with an `Idempotency-Key`.

use serde_json::json;

use super::rate_limit::exhausted_until;
use super::{SendError, Sent, checked, transport};
use crate::settings::WebhookAccount;
use crate::store::posts::Entry;

/// A webhook account's client.
pub(crate) struct Webhook {
    pub(super) http: reqwest::Client,
    pub(super) account: WebhookAccount,
}

impl Webhook {
    /// Posts the entry as JSON.
    pub(super) async fn send(&self, entry: &Entry) -> Result<Sent, SendError> {
        let post = &entry.post;
        let response = self
            .http
            .post(self.account.url.clone())
            .header("Idempotency-Key", &entry.idempotency_key)
            .json(&json!({
                "text": post.text,
                "url": post.url,
                "headline": post.headline,
                "film": post.film,
                "rating": post.rating,
            }))
            .send()
            .await
            .map_err(transport)?;
        let response = checked(response).await?;
        Ok(Sent {
            pause_until: exhausted_until(response.headers()),
            ..Sent::default()
        })
    }
}
