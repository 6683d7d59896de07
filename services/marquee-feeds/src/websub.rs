//! WebSub publisher: tells the hub a feed changed so it fetches and fans out.

use std::time::Duration;

use anyhow::Context;
use url::Url;

/// Notifies one hub; failures are logged by the caller, never fatal.
#[derive(Debug, Clone)]
pub(crate) struct Hub {
    url: Url,
    client: reqwest::Client,
}

impl Hub {
    pub(crate) fn new(url: Url) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("marquee-feeds/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("Failed to build the WebSub HTTP client")?;
        Ok(Self { url, client })
    }

    /// Sends `hub.mode=publish` for `topic` (a feed URL).
    #[tracing::instrument(skip(self), fields(hub = %self.url, %topic))]
    pub(crate) async fn publish(&self, topic: &Url) -> anyhow::Result<()> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("hub.mode", "publish")
            .append_pair("hub.url", topic.as_str())
            .finish();
        self.client
            .post(self.url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .context("Failed to reach the WebSub hub")?
            .error_for_status()
            .context("The WebSub hub refused the publish notification")?;
        Ok(())
    }
}
