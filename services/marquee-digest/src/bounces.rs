//! What the bounce webhook is told, in the two shapes it takes: Marquee's
//! own JSON (`{"email", "kind"}`, behind the bearer secret) and Amazon SES
//! notifications delivered by SNS, whose message signature is checked
//! against the certificate SNS names (fetched only from an
//! `https://sns.<region>.amazonaws.com/` URL) and whose topic must be one
//! of `digest.bounces.sns_topic_arns`.

use anyhow::Context;
use base64::Engine;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use serde::{Deserialize, Serialize};
use url::{Host, Url};
use x509_cert::der::{DecodePem, Encode};

use crate::subscribers::Suppression;
use crate::{DigestService, EmailAddress};

/// What the webhook did with a payload's addresses.
#[derive(Debug, Default, Serialize)]
pub struct BounceOutcome {
    /// Addresses of subscribers suppressed now.
    pub suppressed: Vec<String>,
    /// Addresses whose soft bounce was counted, still under the limit.
    pub counted: Vec<String>,
}

impl DigestService {
    /// Suppresses hard bounces and complaints at once, soft bounces at
    /// `digest.bounces.soft_bounce_limit`.
    pub(crate) async fn record_bounces(
        &self,
        reports: Vec<BounceReport>,
    ) -> anyhow::Result<BounceOutcome> {
        let limit = self.inner.settings.bounces.soft_bounce_limit;
        let mut outcome = BounceOutcome::default();
        for BounceReport { email, kind } in reports {
            let suppression = match kind {
                BounceKind::Hard => Suppression::Bounce,
                BounceKind::Complaint => Suppression::Complaint,
                BounceKind::Soft => {
                    let bounces = self.inner.store.count_soft_bounce(&email).await?;
                    if bounces < limit {
                        tracing::info!(bounces, limit, "Soft bounce counted");
                        outcome.counted.push(email.as_str().to_owned());
                        continue;
                    }
                    Suppression::Bounce
                }
            };
            if self.suppress(&email, suppression).await? {
                outcome.suppressed.push(email.as_str().to_owned());
            }
        }
        Ok(outcome)
    }

    /// An SNS delivery: from a configured topic, signed by SNS; a
    /// notification's SES bounces and complaints are recorded, a
    /// subscription is confirmed.
    #[tracing::instrument(skip_all)]
    pub(crate) async fn sns_bounce(&self, body: &[u8]) -> Result<BounceOutcome, BounceError> {
        let settings = &self.inner.settings.bounces;
        if settings.sns_topic_arns.is_empty() {
            return Err(BounceError::SnsOff);
        }
        let message = SnsMessage::parse(body)?;
        if !settings.sns_topic_arns.contains(&message.topic_arn) {
            return Err(BounceError::Topic(message.topic_arn));
        }
        let test_base = settings.sns_test_cert_base_url.as_ref();
        let cert_url = message.cert_url(test_base)?;
        let cert = self
            .fetch(cert_url.clone())
            .await
            .map_err(|e| BounceError::Cert {
                url: cert_url.to_string(),
                reason: format!("{e:#}"),
            })?;
        message.verify(&cert)?;
        match message.kind.as_str() {
            "Notification" => Ok(self.record_bounces(message.ses_reports()?).await?),
            "SubscriptionConfirmation" => {
                let url = message
                    .subscribe_url
                    .as_deref()
                    .and_then(|url| sns_url(url, test_base, ""))
                    .ok_or_else(|| {
                        BounceError::Malformed(
                            "a SubscriptionConfirmation without an SNS SubscribeURL".to_owned(),
                        )
                    })?;
                self.fetch(url).await.map_err(BounceError::Confirm)?;
                tracing::info!(topic = %message.topic_arn, "SNS subscription confirmed");
                Ok(BounceOutcome::default())
            }
            "UnsubscribeConfirmation" => {
                tracing::warn!(topic = %message.topic_arn, "SNS unsubscribed this webhook from the topic");
                Ok(BounceOutcome::default())
            }
            other => Err(BounceError::Malformed(format!(
                "SNS message Type `{other}` is not Notification, SubscriptionConfirmation or UnsubscribeConfirmation"
            ))),
        }
    }

    async fn fetch(&self, url: Url) -> anyhow::Result<String> {
        self.inner
            .http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .context("Failed to fetch from SNS")?
            .text()
            .await
            .context("Failed to read SNS's answer")
    }
}

/// `raw` if SNS could have sent it: HTTPS on `sns.<region>.amazonaws.com`
/// with a path ending in `suffix`, or anything under `test_base` (tests).
fn sns_url(raw: &str, test_base: Option<&Url>, suffix: &str) -> Option<Url> {
    let url = Url::parse(raw).ok()?;
    if test_base.is_some_and(|base| url.as_str().starts_with(base.as_str())) {
        return Some(url);
    }
    let region = match url.host() {
        Some(Host::Domain(host)) => host
            .strip_prefix("sns.")
            .and_then(|rest| rest.strip_suffix(".amazonaws.com"))?
            .to_owned(),
        _ => return None,
    };
    let is_region = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    (url.scheme() == "https" && url.port().is_none() && is_region && url.path().ends_with(suffix))
        .then_some(url)
}

/// How bad a bounce is, which decides when the address is suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceKind {
    /// The address does not exist or refuses mail for good: suppressed at once.
    Hard,
    /// A full mailbox, a message too large, a greylisting relay: suppressed
    /// after `digest.bounces.soft_bounce_limit` of them.
    Soft,
    /// The reader marked a digest as spam: suppressed at once.
    Complaint,
}

/// One address a bounce or complaint names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BounceReport {
    /// The recipient.
    pub email: EmailAddress,
    /// How bad.
    pub kind: BounceKind,
}

/// Why a bounce payload was refused.
#[derive(Debug, thiserror::Error)]
pub enum BounceError {
    /// Not the JSON either shape has.
    #[error("the body is not a bounce: {0}")]
    Malformed(String),
    /// The SNS signature does not verify.
    #[error("the SNS message signature does not verify against the certificate at {0}")]
    Signature(String),
    /// A `SigningCertURL` SNS does not use.
    #[error(
        "SigningCertURL `{0}` is not an https://sns.<region>.amazonaws.com/ certificate; only SNS's own are trusted"
    )]
    CertUrl(String),
    /// A certificate that could not be fetched or read.
    #[error("the SNS signing certificate at {url} cannot be used: {reason}")]
    Cert {
        /// Where it was fetched from.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A topic this service was not told to listen to.
    #[error("topic `{0}` is not in digest.bounces.sns_topic_arns")]
    Topic(String),
    /// No topic is configured.
    #[error("SNS notifications are off: list the SES topics in digest.bounces.sns_topic_arns")]
    SnsOff,
    /// The subscription could not be confirmed.
    #[error("the SNS subscription could not be confirmed: {0:#}")]
    Confirm(anyhow::Error),
    /// The store failed.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
    /// SNS never sends this signature version.
    #[error("SignatureVersion `{0}` is not 1 or 2")]
    SignatureVersion(String),
}

/// Marquee's own shape: `{"email": "…", "kind": "bounce" | "soft_bounce" | "complaint"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainBounce {
    email: String,
    kind: String,
}

/// Reads Marquee's own shape.
pub fn plain(body: &[u8]) -> Result<BounceReport, BounceError> {
    let bounce: PlainBounce =
        serde_json::from_slice(body).map_err(|e| BounceError::Malformed(e.to_string()))?;
    let kind = match bounce.kind.as_str() {
        "bounce" => BounceKind::Hard,
        "soft_bounce" => BounceKind::Soft,
        "complaint" => BounceKind::Complaint,
        other => {
            return Err(BounceError::Malformed(format!(
                "kind must be `bounce` or `complaint` (suppressed at once) or `soft_bounce` (counted towards the limit), not `{other}`"
            )));
        }
    };
    let email = EmailAddress::parse(&bounce.email)
        .map_err(|e| BounceError::Malformed(format!("email: {e}")))?;
    Ok(BounceReport { email, kind })
}

/// An SNS HTTP(S) delivery, any type.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnsMessage {
    /// `Notification`, `SubscriptionConfirmation` or `UnsubscribeConfirmation`.
    #[serde(rename = "Type")]
    pub kind: String,
    message_id: String,
    /// The topic it was published to.
    pub topic_arn: String,
    subject: Option<String>,
    message: String,
    timestamp: String,
    signature_version: String,
    signature: String,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: String,
    /// Where a subscription is confirmed (confirmations only).
    #[serde(rename = "SubscribeURL")]
    pub subscribe_url: Option<String>,
    token: Option<String>,
}

impl SnsMessage {
    /// Reads an SNS delivery's body.
    pub fn parse(body: &[u8]) -> Result<Self, BounceError> {
        serde_json::from_slice(body)
            .map_err(|e| BounceError::Malformed(format!("not an SNS message: {e}")))
    }

    /// The string SNS signed: `Name\nvalue\n` for its fields in order,
    /// which fields depending on the type.
    fn string_to_sign(&self) -> String {
        let mut fields: Vec<(&str, &str)> =
            vec![("Message", &self.message), ("MessageId", &self.message_id)];
        if self.kind == "Notification" {
            if let Some(subject) = &self.subject {
                fields.push(("Subject", subject));
            }
        } else {
            fields.push((
                "SubscribeURL",
                self.subscribe_url.as_deref().unwrap_or_default(),
            ));
        }
        fields.push(("Timestamp", &self.timestamp));
        if self.kind != "Notification" {
            fields.push(("Token", self.token.as_deref().unwrap_or_default()));
        }
        fields.push(("TopicArn", &self.topic_arn));
        fields.push(("Type", &self.kind));
        fields
            .into_iter()
            .map(|(name, value)| format!("{name}\n{value}\n"))
            .collect()
    }

    /// The certificate's URL, if SNS could have sent it: HTTPS on
    /// `sns.<region>.amazonaws.com`, a `.pem`, or under `test_base` (tests only).
    pub fn cert_url(&self, test_base: Option<&Url>) -> Result<Url, BounceError> {
        sns_url(&self.signing_cert_url, test_base, ".pem")
            .ok_or_else(|| BounceError::CertUrl(self.signing_cert_url.clone()))
    }

    /// Checks the signature against `cert_pem`, the certificate at
    /// [`SnsMessage::cert_url`].
    pub fn verify(&self, cert_pem: &str) -> Result<(), BounceError> {
        let cert_error = |reason: String| BounceError::Cert {
            url: self.signing_cert_url.clone(),
            reason,
        };
        let cert = x509_cert::Certificate::from_pem(cert_pem.trim())
            .map_err(|e| cert_error(format!("not a PEM certificate ({e})")))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| cert_error(e.to_string()))?;
        let key = <rsa::RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(&spki)
            .map_err(|e| cert_error(format!("not an RSA key ({e})")))?;
        let bad = || BounceError::Signature(self.signing_cert_url.clone());
        let signature = base64::engine::general_purpose::STANDARD
            .decode(self.signature.trim())
            .ok()
            .and_then(|bytes| Signature::try_from(bytes.as_slice()).ok())
            .ok_or_else(bad)?;
        let signed = self.string_to_sign();
        let verified = match self.signature_version.as_str() {
            "1" => VerifyingKey::<sha1::Sha1>::new(key).verify(signed.as_bytes(), &signature),
            "2" => VerifyingKey::<sha2::Sha256>::new(key).verify(signed.as_bytes(), &signature),
            other => return Err(BounceError::SignatureVersion(other.to_owned())),
        };
        verified.map_err(|_| bad())
    }

    /// The addresses a verified SES notification names; none for the
    /// types that say nothing about an address (deliveries, opens).
    pub fn ses_reports(&self) -> Result<Vec<BounceReport>, BounceError> {
        let notification: SesNotification = serde_json::from_str(&self.message).map_err(|e| {
            BounceError::Malformed(format!("Message is not an SES notification: {e}"))
        })?;
        let (kind, recipients) = match (
            notification
                .notification_type
                .as_deref()
                .or(notification.event_type.as_deref()),
            notification.bounce,
            notification.complaint,
        ) {
            (Some("Bounce"), Some(bounce), _) => {
                let kind = if bounce.bounce_type == "Permanent" {
                    BounceKind::Hard
                } else {
                    BounceKind::Soft
                };
                (kind, bounce.bounced_recipients)
            }
            (Some("Complaint"), _, Some(complaint)) => {
                (BounceKind::Complaint, complaint.complained_recipients)
            }
            (Some("Bounce" | "Complaint"), _, _) => {
                return Err(BounceError::Malformed(
                    "an SES Bounce or Complaint without its `bounce` or `complaint` object"
                        .to_owned(),
                ));
            }
            _ => return Ok(Vec::new()),
        };
        recipients
            .into_iter()
            .map(|recipient| {
                let email = EmailAddress::parse(strip_name(&recipient.email_address))
                    .map_err(|e| BounceError::Malformed(format!("emailAddress: {e}")))?;
                Ok(BounceReport { email, kind })
            })
            .collect()
    }
}

/// `Reader <reader@x>` → `reader@x`: SES copies the header's form.
fn strip_name(address: &str) -> &str {
    match (address.rfind('<'), address.rfind('>')) {
        (Some(start), Some(end)) if start < end => &address[start + 1..end],
        _ => address.trim(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesNotification {
    notification_type: Option<String>,
    event_type: Option<String>,
    bounce: Option<SesBounce>,
    complaint: Option<SesComplaint>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesBounce {
    /// `Permanent`, `Transient` or `Undetermined` (counted as soft).
    bounce_type: String,
    bounced_recipients: Vec<SesRecipient>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesComplaint {
    complained_recipients: Vec<SesRecipient>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesRecipient {
    email_address: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sns(cert_url: &str) -> SnsMessage {
        SnsMessage::parse(
            serde_json::json!({
                "Type": "Notification",
                "MessageId": "m1",
                "TopicArn": "arn:aws:sns:eu-west-2:123456789012:ses-bounces",
                "Message": "{}",
                "Timestamp": "2026-11-26T10:00:00.000Z",
                "SignatureVersion": "2",
                "Signature": "AAAA",
                "SigningCertURL": cert_url,
            })
            .to_string()
            .as_bytes(),
        )
        .expect("parses")
    }

    #[test]
    fn only_sns_certificate_urls_are_fetched() {
        for good in [
            "https://sns.eu-west-2.amazonaws.com/SimpleNotificationService-abc.pem",
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        ] {
            assert!(sns(good).cert_url(None).is_ok(), "{good}");
        }
        for bad in [
            "http://sns.eu-west-2.amazonaws.com/cert.pem",
            "https://sns.eu-west-2.amazonaws.com.evil.example/cert.pem",
            "https://evil.example/sns.eu-west-2.amazonaws.com/cert.pem",
            "https://sns..amazonaws.com/cert.pem",
            "https://sns.eu-west-2.amazonaws.com:8443/cert.pem",
            "https://s3.amazonaws.com/cert.pem",
            "https://sns.eu-west-2.amazonaws.com/cert.txt",
            "not a url",
        ] {
            assert!(
                matches!(sns(bad).cert_url(None), Err(BounceError::CertUrl(_))),
                "{bad}"
            );
        }
        let base = Url::parse("http://127.0.0.1:9/certs/").expect("URL");
        assert!(
            sns("http://127.0.0.1:9/certs/c.pem")
                .cert_url(Some(&base))
                .is_ok()
        );
        assert!(
            sns("http://127.0.0.1:9/other/c.pem")
                .cert_url(Some(&base))
                .is_err()
        );
    }

    #[test]
    fn the_string_to_sign_follows_the_sns_order() {
        let message = sns("https://sns.eu-west-2.amazonaws.com/c.pem");
        assert_eq!(
            message.string_to_sign(),
            "Message\n{}\nMessageId\nm1\nTimestamp\n2026-11-26T10:00:00.000Z\n\
             TopicArn\narn:aws:sns:eu-west-2:123456789012:ses-bounces\nType\nNotification\n"
        );
    }

    #[test]
    fn plain_bounces_name_their_kind() {
        let report = plain(br#"{"email":"a@films.example","kind":"soft_bounce"}"#).expect("valid");
        assert_eq!(report.kind, BounceKind::Soft);
        let error =
            plain(br#"{"email":"a@films.example","kind":"bounced"}"#).expect_err("bad kind");
        assert!(error.to_string().contains("`soft_bounce`"), "{error}");
        assert_eq!(strip_name("Reader <r@films.example>"), "r@films.example");
    }
}
