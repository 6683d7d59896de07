//! SMTP delivery through lettre's pooled async transport, with a rate
//! limit, retries of transient failures and optional DKIM signing.

use std::time::Duration;

use anyhow::Context;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use secrecy::ExposeSecret;
use tokio::time::Instant;

use crate::compose::RenderedDigest;
use crate::email::EmailAddress;
use crate::settings::{DkimSettings, SmtpSettings, TlsMode};

/// Why a message was not sent.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// The relay refused it for good (5xx): do not retry.
    #[error("refused permanently: {0}")]
    Permanent(String),
    /// The relay refused the recipient's mailbox for good (an enhanced
    /// status 5.1.1, 5.1.2, 5.1.3, 5.1.6, 5.1.10 or 5.2.1, or a bare 551
    /// or 553): the address is suppressed. A 5xx without that detail may be
    /// about the sender or the message, so it is only [`SendError::Permanent`].
    #[error("recipient refused permanently: {0}")]
    Recipient(String),
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
    dkim: Option<DkimConfig>,
}

/// The headers a DKIM signature covers: who, what, when, and the RFC 8058
/// unsubscribe pair, which a receiver trusts only when signed.
const SIGNED_HEADERS: [&str; 8] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

/// The signer `settings` describe; lettre takes PKCS#1, so a PKCS#8 key
/// (what `openssl genpkey` writes) is converted first.
fn dkim_config(settings: &DkimSettings) -> anyhow::Result<DkimConfig> {
    let pem = settings.private_key_pem()?;
    let pem = pem.expose_secret();
    let pkcs1 = if pem.contains("BEGIN PRIVATE KEY") {
        rsa::RsaPrivateKey::from_pkcs8_pem(pem)
            .context("Failed to read the DKIM key as a PKCS#8 RSA key")?
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .context("Failed to convert the DKIM key")?
            .to_string()
    } else {
        pem.to_owned()
    };
    let key = DkimSigningKey::new(&pkcs1, DkimSigningAlgorithm::Rsa)
        .map_err(|e| anyhow::anyhow!("the DKIM key is not an RSA private key in PEM: {e}"))?;
    Ok(DkimConfig::new(
        settings.selector.clone(),
        settings.domain.clone(),
        key,
        SIGNED_HEADERS
            .iter()
            .map(|name| HeaderName::new_from_ascii_str(name))
            .collect(),
        DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        },
    ))
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
    /// A pooled transport to the relay in `settings`, sending as `from`,
    /// signing with `dkim` when given.
    pub fn new(
        settings: &SmtpSettings,
        from: &str,
        dkim: Option<&DkimSettings>,
    ) -> anyhow::Result<Self> {
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
            dkim: dkim.map(dkim_config).transpose()?,
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
        let message = builder
            .multipart(MultiPart::alternative_plain_html(
                digest.text.clone(),
                digest.html.clone(),
            ))
            .context("Failed to build a digest message")?;
        Ok(self.signed(message))
    }

    /// `message` with its DKIM signature, when signing is on.
    fn signed(&self, mut message: Message) -> Message {
        if let Some(dkim) = &self.dkim {
            message.sign(dkim);
        }
        message
    }

    /// A plain-text message.
    pub fn text_message(
        &self,
        to: &EmailAddress,
        subject: &str,
        message_id: String,
        text: String,
    ) -> anyhow::Result<Message> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to.address().clone()))
            .subject(subject)
            .message_id(Some(message_id))
            .singlepart(SinglePart::plain(text))
            .context("Failed to build a message")?;
        Ok(self.signed(message))
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
                    let reason = error.to_string();
                    let code = error.status().map(|code| code.to_string());
                    return Err(if refuses_mailbox(code.as_deref(), &reason) {
                        SendError::Recipient(reason)
                    } else {
                        SendError::Permanent(reason)
                    });
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

/// Whether a permanent refusal (`code`, the reply's `reason`) is about the
/// recipient's mailbox rather than the sender, the message or a policy.
fn refuses_mailbox(code: Option<&str>, reason: &str) -> bool {
    const MAILBOX: [&str; 6] = ["5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.2.1"];
    let enhanced = reason
        .split(|c: char| c.is_whitespace() || matches!(c, ':' | '(' | ')' | ','))
        .find(|word| {
            let mut parts = word.split('.');
            parts.next() == Some("5")
                && parts.clone().count() == 2
                && parts.all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        });
    match enhanced {
        Some(status) => MAILBOX.contains(&status),
        None => matches!(code, Some("551" | "553")),
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

    #[test]
    fn only_a_refused_mailbox_is_the_recipients_fault() {
        for (code, reason) in [
            (
                "550",
                "permanent error (550): 5.1.1 <gone@films.example>: user unknown",
            ),
            ("550", "permanent error (550): 5.2.1 mailbox disabled"),
            ("553", "permanent error (553): mailbox name not allowed"),
        ] {
            assert!(refuses_mailbox(Some(code), reason), "{reason}");
        }
        for (code, reason) in [
            ("550", "permanent error (550): 5.7.1 relaying denied"),
            ("550", "permanent error (550): message refused"),
            ("552", "permanent error (552): 5.3.4 message too big"),
            ("550", "permanent error (550): 5.1.8 bad sender's domain"),
        ] {
            assert!(!refuses_mailbox(Some(code), reason), "{reason}");
        }
    }

    // The mailer's connection pool needs a runtime.
    #[tokio::test]
    async fn line_breaks_in_subjects_and_names_cannot_add_headers() {
        let settings = SmtpSettings::default();
        assert!(
            Mailer::new(
                &settings,
                "Marquee\r\nBcc: boss@evil.example <digest@marquee.example>",
                None
            )
            .is_err(),
            "a sender name with a line break is refused"
        );
        let mailer =
            Mailer::new(&settings, "Marquee <digest@marquee.example>", None).expect("a mailer");
        let to = EmailAddress::parse("reader@films.example").expect("valid");
        let digest = RenderedDigest {
            subject: "What to watch\r\nBcc: victim@evil.example\nX-Injected: yes".to_owned(),
            html: "<p>Hi</p>".to_owned(),
            text: "Hi".to_owned(),
            preheader: String::new(),
            unmatched_picks: Vec::new(),
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
