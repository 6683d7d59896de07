//! Mastodon: `POST /api/v1/statuses` with an `Idempotency-Key`, so a
//! resend of a pending post is safe.

use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;

use super::{SendError, Sent, created, endpoint};
use crate::settings::MastodonAccount;
use crate::store::posts::Entry;

/// A Mastodon account's client.
pub(crate) struct Mastodon {
    pub(super) http: reqwest::Client,
    pub(super) account: MastodonAccount,
}

impl Mastodon {
    /// Posts the entry's text.
    pub(super) async fn send(&self, entry: &Entry) -> Result<Sent, SendError> {
        #[derive(Deserialize)]
        struct Status {
            id: String,
            url: Option<String>,
        }
        let request = self
            .http
            .post(endpoint(&self.account.base_url, "api/v1/statuses"))
            .bearer_auth(self.account.access_token.expose_secret())
            .header("Idempotency-Key", &entry.idempotency_key)
            .json(&json!({
                "status": entry.post.text,
                "visibility": self.account.visibility,
                "language": self.account.language,
            }));
        let (status, pause_until): (Status, _) = created(request).await?;
        Ok(Sent {
            id: Some(status.id),
            url: status.url,
            pause_until,
        })
    }
}
