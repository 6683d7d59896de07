//! X: `POST /2/tweets`; a pending post is looked for in the account's
//! recent posts before it is sent again.

use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;

use super::{SendError, Sent, checked, created, endpoint, json_body, transport};
use crate::settings::XAccount;
use crate::store::posts::Entry;

/// An X account's client.
pub(crate) struct X {
    pub(super) http: reqwest::Client,
    pub(super) account: XAccount,
}

impl X {
    fn web_url(id: &str) -> String {
        format!("https://x.com/i/web/status/{id}")
    }

    /// Posts the entry's text.
    pub(super) async fn send(&self, entry: &Entry) -> Result<Sent, SendError> {
        #[derive(Deserialize)]
        struct Created {
            data: Tweet,
        }
        #[derive(Deserialize)]
        struct Tweet {
            id: String,
        }
        let request = self
            .http
            .post(endpoint(&self.account.base_url, "2/tweets"))
            .bearer_auth(self.account.user_token.expose_secret())
            .json(&json!({ "text": entry.post.text }));
        let (tweet, pause_until): (Created, _) = created(request).await?;
        Ok(Sent {
            url: Some(Self::web_url(&tweet.data.id)),
            id: Some(tweet.data.id),
            pause_until,
        })
    }

    /// The account's recent posts carrying the review's URL (X rewrites it
    /// to t.co in the text; `entities.urls[].expanded_url` keeps it).
    pub(super) async fn find(&self, entry: &Entry) -> Result<Option<Sent>, SendError> {
        #[derive(Deserialize)]
        struct Timeline {
            #[serde(default)]
            data: Vec<Tweet>,
        }
        #[derive(Deserialize)]
        struct Tweet {
            id: String,
            text: String,
            #[serde(default)]
            entities: Option<Entities>,
        }
        #[derive(Deserialize)]
        struct Entities {
            #[serde(default)]
            urls: Vec<Link>,
        }
        #[derive(Deserialize)]
        struct Link {
            expanded_url: Option<String>,
        }
        let path = format!("2/users/{}/tweets", self.account.user_id);
        let response = self
            .http
            .get(endpoint(&self.account.base_url, &path))
            .bearer_auth(self.account.user_token.expose_secret())
            .query(&[("max_results", "100"), ("tweet.fields", "entities")])
            .send()
            .await
            .map_err(transport)?;
        let timeline: Timeline = json_body(checked(response).await?).await?;
        let wanted = entry.post.url.as_str();
        let found = timeline.data.into_iter().find(|tweet| {
            tweet.text.contains(wanted)
                || tweet.entities.as_ref().is_some_and(|e| {
                    e.urls
                        .iter()
                        .any(|link| link.expanded_url.as_deref() == Some(wanted))
                })
        });
        Ok(found.map(|tweet| Sent {
            url: Some(Self::web_url(&tweet.id)),
            id: Some(tweet.id),
            pause_until: None,
        }))
    }
}
