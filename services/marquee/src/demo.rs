//! The demo's new review: `marquee up` sends one bundled review
//! (`demo/late-review.json`) through the CMS's signed webhook once the
//! first read of every review source is done, so the outbox shows what a
//! new review posts beside the back catalogue it skipped. It carries no
//! dates, so the ingest dates it "now": it is new whenever it is sent.
//! Sent once per data directory (a marker file records it), as a CMS
//! would send it once.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use hmac::{Hmac, Mac};
use marquee_admin::sources::SourceHealth;
use marquee_runtime::clock::{Clock, SystemClock};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

use crate::Settings;

/// The webhook body: a review the bundled feed does not hold.
const REVIEW: &str = include_str!("../demo/late-review.json");
/// In the data directory once the review was accepted.
const MARKER: &str = "demo-late-review-sent";
/// How long the first read may take before the demo gives up waiting.
const FIRST_READ_DEADLINE: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(250);

/// What sending the demo's new review needs.
pub struct LateReview {
    secret: SecretString,
    token: SecretString,
    marker: PathBuf,
}

impl LateReview {
    /// The demo's review for `settings`; none when their webhook has no
    /// secret or the admin API no token (it waits for the first read
    /// there), or when this data directory had it already.
    pub fn new(settings: &Settings) -> Option<Self> {
        let marker = settings.data_dir.join(MARKER);
        if marker.exists() {
            return None;
        }
        Some(Self {
            secret: settings.reviews_ingest.webhook_secret.clone()?,
            token: (settings.admin.tokens().into_iter())
                .find(|token| token.role == marquee_runtime::admin::Role::Admin)?
                .token,
            marker,
        })
    }

    /// Waits for the first read of the review sources on `address`, then
    /// sends the review, unless `shutdown` comes first.
    pub async fn send(
        self,
        address: SocketAddr,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let base = format!("http://{address}");
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            read = tokio::time::timeout(FIRST_READ_DEADLINE, self.first_read(&client, &base)) => {
                read.context("the review sources were not read within two minutes")??;
            }
        }
        let timestamp = SystemClock.now().timestamp().to_string();
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose_secret().as_bytes())
            .context("the webhook secret cannot key HMAC-SHA256")?;
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(REVIEW.as_bytes());
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        let response = client
            .post(format!("{base}/webhooks/cms"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("x-marquee-timestamp", timestamp)
            .header("x-marquee-signature", signature)
            .body(REVIEW)
            .send()
            .await
            .context("Failed to call the CMS webhook")?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            bail!("the CMS webhook answered {status}: {body}");
        }
        std::fs::write(&self.marker, "the demo's new review was sent\n")
            .with_context(|| format!("Failed to write {}", self.marker.display()))?;
        tracing::info!(
            "Demo: a new review arrived through the signed CMS webhook after the first read; \
             the outbox (/social/outbox) shows its posts beside the skipped back catalogue"
        );
        Ok(())
    }

    /// Returns once every review source has been polled.
    async fn first_read(&self, client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
        loop {
            let answer = client
                .get(format!("{base}/admin/reviews-ingest/sources"))
                .bearer_auth(self.token.expose_secret())
                .send()
                .await;
            if let Ok(answer) = answer
                && answer.status().is_success()
            {
                let sources: Vec<SourceHealth> = answer
                    .json()
                    .await
                    .context("Failed to read the review sources")?;
                if sources.iter().all(|source| source.last_poll.is_some()) {
                    return Ok(());
                }
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
