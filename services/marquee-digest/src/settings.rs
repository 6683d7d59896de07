//! The service's settings: database, public URL, token secret, SMTP and the
//! schedules. The binary layers them (defaults, then file, then `MARQUEE_…`
//! variables) and hands the `[digest]` section over.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::Context;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::{Host, Url};

use crate::schedule::{CronSchedule, InvalidSchedule};

/// Everything the digest service needs to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// Public URL the subscribe, confirm and unsubscribe routes are served
    /// under; links in emails are joined onto it.
    pub public_base_url: Url,
    /// HMAC-SHA256 key of confirmation and unsubscribe tokens.
    pub token_secret: SecretString,
    /// `From:` of every email, e.g. `Marquee <digest@films.example>`.
    pub from: String,
    /// Mailbox of the `mailto:` unsubscribe link; defaults to the `From:` address.
    #[serde(default)]
    pub unsubscribe_mailto: Option<String>,
    /// The SMTP relay.
    #[serde(default)]
    pub smtp: SmtpSettings,
    /// DKIM signing of every message; unset, mail goes unsigned.
    #[serde(default)]
    pub dkim: Option<DkimSettings>,
    /// The digests to send. Stored in the database at the first start; from
    /// then on the admin API owns them, and a changed entry here is ignored
    /// with a warning.
    #[serde(default)]
    pub schedules: Vec<ScheduleSettings>,
    /// Where the freshness gate reads the sources' health.
    #[serde(default)]
    pub freshness: FreshnessSettings,
    /// A run missed while the process was down is caught up once if it was
    /// due less than this long ago; older ones are logged as missed.
    #[serde(default = "default_catch_up_window_secs")]
    pub catch_up_window_secs: u64,
    /// Consumer group of the reviews and screenings subscription.
    #[serde(default = "default_consumer_group")]
    pub consumer_group: String,
    /// Compose scheduled runs and record them, but send nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// How long a confirmation link stays valid.
    #[serde(default = "default_confirm_ttl_secs")]
    pub confirm_token_ttl_secs: u64,
    /// How long an unsubscribe link stays valid (RFC 8058 links live in old mail).
    #[serde(default = "default_unsubscribe_ttl_secs")]
    pub unsubscribe_token_ttl_secs: u64,
    /// The bearer token the relay's bounce and complaint webhook must send
    /// (`Authorization: Bearer …`, at least 16 characters). Unset or empty,
    /// the webhook is off: it answers 404 and the service warns at start.
    #[serde(default)]
    pub bounce_secret: Option<SecretString>,
    /// How bounces are counted, and the SES topics whose notifications
    /// the webhook takes.
    #[serde(default)]
    pub bounces: BounceSettings,
    /// A schedule's first digest (no earlier one sent) carries at least
    /// this many of the latest reviews, older than a week if need be, so it
    /// is not empty on a new deployment.
    #[serde(default = "default_first_digest_reviews")]
    pub first_digest_reviews: u32,
}

fn default_first_digest_reviews() -> u32 {
    5
}

fn default_catch_up_window_secs() -> u64 {
    6 * 3600
}

fn default_consumer_group() -> String {
    "digest".to_owned()
}

fn default_confirm_ttl_secs() -> u64 {
    48 * 3600
}

fn default_unsubscribe_ttl_secs() -> u64 {
    400 * 24 * 3600
}

/// The `[digest.freshness]` section: the ingest services' source health
/// endpoints, asked before a gated schedule sends.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FreshnessSettings {
    /// `…/admin/reviews-ingest/sources`, `…/admin/listings-ingest/sources`.
    pub urls: Vec<Url>,
    /// A bearer token those endpoints accept.
    pub token: Option<SecretString>,
}

/// The `[digest.dkim]` section: every message is signed (RFC 6376,
/// rsa-sha256, relaxed/relaxed) with this key, whose public half is
/// published as a TXT record at `{selector}._domainkey.{domain}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimSettings {
    /// The `s=` tag, e.g. `marquee2026`.
    pub selector: String,
    /// The `d=` tag: the domain of the `From` address or a parent of it.
    pub domain: String,
    /// The RSA private key, PEM (PKCS#1 or PKCS#8); or `private_key_file`.
    #[serde(default)]
    pub private_key: Option<SecretString>,
    /// A file holding that key (a mounted secret); or `private_key`.
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
}

impl DkimSettings {
    /// The key's PEM, from the setting or the file.
    pub fn private_key_pem(&self) -> anyhow::Result<SecretString> {
        match (&self.private_key, &self.private_key_file) {
            (Some(key), None) => Ok(key.clone()),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map(SecretString::from)
                .with_context(|| {
                    format!("Failed to read dkim.private_key_file {}", path.display())
                }),
            _ => anyhow::bail!("dkim needs exactly one of private_key and private_key_file"),
        }
    }
}

/// The `[digest.bounces]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BounceSettings {
    /// An address is suppressed after this many soft bounces (a full
    /// mailbox, a greylisting relay); hard bounces and complaints suppress
    /// at once.
    pub soft_bounce_limit: u32,
    /// Amazon SES notifications through SNS are taken from these topics
    /// only (their ARNs); empty, SNS deliveries are refused. Anyone can
    /// have SNS sign a message, so the topic is what says it is ours.
    pub sns_topic_arns: Vec<String>,
    /// Tests only: SNS signing certificates (and subscription
    /// confirmations) are also fetched from under this base URL.
    pub sns_test_cert_base_url: Option<Url>,
}

impl Default for BounceSettings {
    fn default() -> Self {
        Self {
            soft_bounce_limit: 3,
            sns_topic_arns: Vec::new(),
            sns_test_cert_base_url: None,
        }
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain text: a relay on loopback or in a private network.
    None,
    /// Plain connection upgraded by STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// The `[digest.smtp]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    /// Relay host name.
    pub host: String,
    /// Relay port.
    pub port: u16,
    /// Connection security.
    pub tls: TlsMode,
    /// Login, when the relay wants one.
    pub username: Option<String>,
    /// Password of `username`.
    pub password: Option<SecretString>,
    /// Most messages sent per second; 0 for no limit.
    pub max_per_second: u32,
    /// Messages in flight at once (and pooled connections).
    pub concurrency: usize,
    /// Attempts per message when the relay fails transiently (4xx, lost connection).
    pub max_attempts: u32,
    /// Wait before the first retry; doubles after each.
    pub retry_backoff_ms: u64,
    /// A run pauses itself after this many messages in a row failed.
    pub pause_after_errors: u32,
    /// Seconds to wait for the relay to answer.
    pub timeout_secs: u64,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 1025,
            tls: TlsMode::None,
            username: None,
            password: None,
            max_per_second: 50,
            concurrency: 4,
            max_attempts: 3,
            retry_backoff_ms: 500,
            pause_after_errors: 10,
            timeout_secs: 30,
        }
    }
}

/// One digest schedule: the admin contract's type, since operators send
/// the same shape over the API that the configuration holds.
pub use marquee_admin::digest::ScheduleSettings;

/// Why the settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A schedule's cron expression or time zone is invalid.
    #[error(transparent)]
    Schedule(#[from] InvalidSchedule),
    /// Two schedules share a name.
    #[error("schedule `{0}` is configured twice; give every schedule its own name")]
    DuplicateSchedule(String),
    /// The `from` address does not parse.
    #[error("`from` is not a mailbox ({0}); use e.g. `Marquee <digest@films.example>`")]
    From(String),
    /// Links are joined onto the public URL, which needs a host.
    #[error("public_base_url `{0}` must be an absolute http(s) URL")]
    BaseUrl(Url),
    /// RFC 8058 one-click unsubscribe (`List-Unsubscribe-Post`) needs HTTPS.
    #[error(
        "public_base_url `{0}` must be https: one-click unsubscribe (RFC 8058, List-Unsubscribe-Post) needs an HTTPS link; plain http is allowed only on loopback (127.0.0.1, localhost, ::1)"
    )]
    InsecureBaseUrl(Url),
    /// A short secret is guessable.
    #[error(
        "bounce_secret must be at least 16 characters (set MARQUEE_DIGEST__BOUNCE_SECRET), or empty to turn the bounce webhook off"
    )]
    BounceSecret,
    /// A DKIM key must come from one place.
    #[error(
        "dkim needs exactly one of private_key and private_key_file (MARQUEE_DIGEST__DKIM__PRIVATE_KEY_FILE), and a selector and domain"
    )]
    Dkim,
    /// Zero would never send anything.
    #[error("smtp.concurrency and smtp.max_attempts must be at least 1")]
    Zero,
}

/// Whether `url`'s host is this machine: a plain-http demo is allowed there.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl Settings {
    /// The bounce webhook's secret; `None` (unset or empty) turns it off.
    pub fn bounce_secret(&self) -> Option<&SecretString> {
        self.bounce_secret
            .as_ref()
            .filter(|secret| !secret.expose_secret().is_empty())
    }

    /// Checks what serde cannot and returns the parsed schedules.
    pub fn validate(&self) -> Result<Vec<CronSchedule>, SettingsError> {
        if !matches!(self.public_base_url.scheme(), "http" | "https")
            || self.public_base_url.cannot_be_a_base()
        {
            return Err(SettingsError::BaseUrl(self.public_base_url.clone()));
        }
        if self.public_base_url.scheme() != "https" && !is_loopback(&self.public_base_url) {
            return Err(SettingsError::InsecureBaseUrl(self.public_base_url.clone()));
        }
        if self
            .bounce_secret()
            .is_some_and(|secret| secret.expose_secret().len() < 16)
        {
            return Err(SettingsError::BounceSecret);
        }
        self.from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| SettingsError::From(e.to_string()))?;
        if let Some(dkim) = &self.dkim
            && (dkim.private_key.is_some() == dkim.private_key_file.is_some()
                || dkim.selector.is_empty()
                || dkim.domain.is_empty())
        {
            return Err(SettingsError::Dkim);
        }
        if self.smtp.concurrency == 0 || self.smtp.max_attempts == 0 {
            return Err(SettingsError::Zero);
        }
        let mut seen = HashSet::new();
        let mut schedules = Vec::with_capacity(self.schedules.len());
        for schedule in &self.schedules {
            if !seen.insert(schedule.name.as_str()) {
                return Err(SettingsError::DuplicateSchedule(schedule.name.clone()));
            }
            schedules.push(CronSchedule::parse(schedule)?);
        }
        Ok(schedules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_settings_get_defaults_and_unknown_keys_are_refused() {
        let settings: Settings = serde_json::from_value(serde_json::json!({
            "database_url": "sqlite://digest.sqlite",
            "public_base_url": "http://127.0.0.1:8080/",
            "token_secret": "s3cret",
            "from": "Marquee <digest@films.example>",
            "schedules": [{"name": "weekly", "cron": "30 8 * * THU"}],
        }))
        .expect("minimal settings parse");
        assert_eq!(settings.consumer_group, "digest");
        assert_eq!(settings.smtp.tls, TlsMode::None);
        assert_eq!(settings.schedules[0].time_zone, "Europe/London");
        assert_eq!(settings.validate().expect("valid").len(), 1);

        let unknown = serde_json::from_value::<Settings>(serde_json::json!({
            "database_url": "sqlite://digest.sqlite",
            "public_base_url": "http://127.0.0.1:8080/",
            "token_secret": "s3cret",
            "from": "digest@films.example",
            "dryrun": true,
        }));
        assert!(unknown.is_err());
    }

    fn with_base(base: &str) -> Settings {
        serde_json::from_value(serde_json::json!({
            "database_url": "sqlite://digest.sqlite",
            "public_base_url": base,
            "token_secret": "s3cret",
            "from": "digest@films.example",
        }))
        .expect("settings parse")
    }

    #[test]
    fn one_click_unsubscribe_needs_an_https_base_url_unless_it_is_loopback() {
        for base in [
            "https://films.example/",
            "http://127.0.0.1:8080/",
            "http://127.1.2.3/",
            "http://localhost:8080/",
            "http://LocalHost/",
            "http://[::1]:8080/",
        ] {
            assert!(with_base(base).validate().is_ok(), "{base} is allowed");
        }
        for base in [
            "http://films.example/",
            "http://10.0.0.5/",
            "http://localhost.films.example/",
            "http://[::2]/",
        ] {
            let error = with_base(base).validate().expect_err(base);
            assert!(matches!(error, SettingsError::InsecureBaseUrl(_)), "{base}");
            assert!(error.to_string().contains("must be https"), "{error}");
        }
    }

    #[test]
    fn an_empty_bounce_secret_turns_the_webhook_off_and_a_short_one_is_refused() {
        let mut settings = with_base("https://films.example/");
        assert!(settings.bounce_secret().is_none());
        settings.bounce_secret = Some(SecretString::from(String::new()));
        assert!(settings.bounce_secret().is_none());
        assert!(settings.validate().is_ok());
        settings.bounce_secret = Some(SecretString::from("short".to_owned()));
        assert!(matches!(
            settings.validate(),
            Err(SettingsError::BounceSecret)
        ));
        settings.bounce_secret = Some(SecretString::from("a-bounce-secret-long-enough".to_owned()));
        assert!(settings.validate().is_ok());
    }
}
