//! SMTP delivery through lettre's pooled async transport, with a rate
//! limit and retries of transient failures.

use std::time::Duration;

use anyhow::Context;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use tokio::time::Instant;

use crate::compose::RenderedDigest;
use crate::email::EmailAddress;
use crate::settings::{SmtpSettings, TlsMode};

/// Why a message was not sent.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// The relay refused it for good (5xx): do not retry.
    #[error("refused permanently: {0}")]
    Permanent(String),
    /// Still failing after the last attempt (4xx, lost connection).
    #[error("failed transiently after {attempts} attempts: {reason}")]
    Transient {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
}

/// Spaces sends out to at most `per_second`.
struct RateLimiter {
    interval: Option<Duration>,
    next: tokio::sync::Mutex<Instant>,
}

impl RateLimiter {
    fn new(per_second: u32) -> Self {
        Self {
            interval: (per_second > 0).then(|| Duration::from_secs(1) / per_second),
            next: tokio::sync::Mutex::new(Instant::now()),
        }
    }

    async fn acquire(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(Instant::now());
            *next = slot + interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// The email sender.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    limiter: RateLimiter,
    max_attempts: u32,
    backoff: Duration,
}

/// The headers and ids that make a digest message.
pub struct Envelope<'a> {
    /// Recipient.
    pub to: &'a EmailAddress,
    /// `Message-ID`, angle brackets included.
    pub message_id: String,
    /// `List-Unsubscribe` value (RFC 2369), e.g. `<https://…>, <mailto:…>`.
    pub list_unsubscribe: Option<String>,
}

impl Mailer {
    /// A pooled transport to the relay in `settings`, sending as `from`.
    pub fn new(settings: &SmtpSettings, from: &str) -> anyhow::Result<Self> {
        let from: Mailbox = from.parse().context("Failed to parse the From address")?;
        let builder = match settings.tls {
            TlsMode::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            }
            TlsMode::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)
                    .context("Failed to set up STARTTLS")?
            }
            TlsMode::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host)
                .context("Failed to set up TLS")?,
        };
        let pool_size = u32::try_from(settings.concurrency).unwrap_or(u32::MAX);
        let mut builder = builder
            .port(settings.port)
            .timeout(Some(Duration::from_secs(settings.timeout_secs)))
            .pool_config(PoolConfig::new().max_size(pool_size));
        if let Some(username) = &settings.username {
            let password = settings
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_owned())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(username.clone(), password));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            limiter: RateLimiter::new(settings.max_per_second),
            max_attempts: settings.max_attempts,
            backoff: Duration::from_millis(settings.retry_backoff_ms),
        })
    }

    /// The sender's domain, for Message-IDs.
    pub fn domain(&self) -> &str {
        self.from.email.domain()
    }

    /// The sender's address.
    pub fn sender_address(&self) -> &str {
        self.from.email.as_ref()
    }

    /// A multipart/alternative digest message.
    pub fn digest_message(
        &self,
        envelope: &Envelope<'_>,
        digest: &RenderedDigest,
    ) -> anyhow::Result<Message> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, envelope.to.address().clone()))
            .subject(&digest.subject)
            .message_id(Some(envelope.message_id.clone()));
        if let Some(value) = &envelope.list_unsubscribe {
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    value.clone(),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        builder
            .multipart(MultiPart::alternative_plain_html(
                digest.text.clone(),
                digest.html.clone(),
            ))
            .context("Failed to build a digest message")
    }

    /// A plain-text message.
    pub fn text_message(
        &self,
        to: &EmailAddress,
        subject: &str,
        message_id: String,
        text: String,
    ) -> anyhow::Result<Message> {
        Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to.address().clone()))
            .subject(subject)
            .message_id(Some(message_id))
            .singlepart(SinglePart::plain(text))
            .context("Failed to build a message")
    }

    /// Sends `message` within the rate limit, retrying transient failures
    /// with exponential backoff; returns the attempts it took.
    pub async fn send(&self, message: &Message) -> Result<u32, SendError> {
        let mut backoff = self.backoff;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.limiter.acquire().await;
            match self.transport.send(message.clone()).await {
                Ok(_) => return Ok(attempt),
                Err(error) if error.is_permanent() => {
                    return Err(SendError::Permanent(error.to_string()));
                }
                Err(error) if attempt >= self.max_attempts => {
                    return Err(SendError::Transient {
                        attempts: attempt,
                        reason: error.to_string(),
                    });
                }
                Err(error) => {
                    tracing::debug!(attempt, error = %error, "SMTP send failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
            }
        }
    }

    /// Whether the relay answers.
    pub async fn check(&self) -> anyhow::Result<()> {
        let ok = self
            .transport
            .test_connection()
            .await
            .context("Failed to reach the SMTP relay")?;
        anyhow::ensure!(ok, "the SMTP relay did not answer NOOP");
        Ok(())
    }
}

/// Counts one message handed to the relay, by what it was for: a schedule's
/// name, or `confirmation`.
pub(crate) fn count(purpose: &str, sent: bool) {
    let name = if sent {
        "marquee_mails_sent_total"
    } else {
        "marquee_mails_failed_total"
    };
    metrics::counter!(name, "schedule" => purpose.to_owned()).increment(1);
}

/// Makes `schedule`'s mail series exist at zero, so the first failure
/// shows as an `increase()`.
pub(crate) fn register(schedule: &str) {
    for name in ["marquee_mails_sent_total", "marquee_mails_failed_total"] {
        metrics::counter!(name, "schedule" => schedule.to_owned()).increment(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The mailer's connection pool needs a runtime.
    #[tokio::test]
    async fn line_breaks_in_subjects_and_names_cannot_add_headers() {
        let settings = SmtpSettings::default();
        assert!(
            Mailer::new(
                &settings,
                "Marquee\r\nBcc: boss@evil.example <digest@marquee.example>"
            )
            .is_err(),
            "a sender name with a line break is refused"
        );
        let mailer = Mailer::new(&settings, "Marquee <digest@marquee.example>").expect("a mailer");
        let to = EmailAddress::parse("reader@films.example").expect("valid");
        let digest = RenderedDigest {
            subject: "What to watch\r\nBcc: victim@evil.example\nX-Injected: yes".to_owned(),
            html: "<p>Hi</p>".to_owned(),
            text: "Hi".to_owned(),
        };
        let envelope = Envelope {
            to: &to,
            message_id: "<digest-1-2@marquee.example>".to_owned(),
            list_unsubscribe: None,
        };
        let message = mailer
            .digest_message(&envelope, &digest)
            .expect("a message");
        let raw = String::from_utf8(message.formatted()).expect("ASCII");
        let headers = raw.split("\r\n\r\n").next().expect("headers");
        for line in headers.lines() {
            assert!(
                !line.starts_with("Bcc:") && !line.starts_with("X-Injected:"),
                "an injected header: {line}\n{headers}"
            );
        }
        assert!(
            EmailAddress::parse("reader@films.example\r\nBcc: x@evil.example").is_err(),
            "a recipient with a line break is refused"
        );
    }
}
