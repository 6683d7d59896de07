//! Bounces in Amazon SES's format through SNS: the signature checked
//! against a certificate made with openssl and served locally (the
//! test-only `sns_test_cert_base_url`), hard and soft bounces and
//! complaints told apart; and a mailbox the relay refuses at send time.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine as _;
use marquee_digest::{Preferences, RunStatus, SubscriberStatus};
use marquee_test_support::Upstream;
use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, thursday};

on_both_engines!(
    ses_notifications_through_sns_are_verified_and_sorted_into_hard_soft_and_complaints,
    a_mailbox_the_relay_refuses_at_send_time_is_suppressed,
);

const TOPIC: &str = "arn:aws:sns:eu-west-2:123456789012:ses-bounces";

/// A key pair and self-signed certificate standing in for SNS's.
struct SnsKey {
    dir: tempfile::TempDir,
}

impl SnsKey {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=sns.eu-west-2.amazonaws.com"])
            .arg("-keyout")
            .arg(dir.path().join("key.pem"))
            .arg("-out")
            .arg(dir.path().join("cert.pem"))
            .stderr(Stdio::null())
            .status()
            .expect("openssl must be installed");
        assert!(status.success());
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cert(&self) -> String {
        std::fs::read_to_string(self.path("cert.pem")).unwrap()
    }

    /// `text` signed as SNS signs (SHA1withRSA for version 1,
    /// SHA256withRSA for 2), base64.
    fn sign(&self, text: &str, version: &str) -> String {
        let digest = if version == "1" { "-sha1" } else { "-sha256" };
        let path = self.path("signed.txt");
        std::fs::write(&path, text).unwrap();
        let output = Command::new("openssl")
            .args(["dgst", digest, "-sign"])
            .arg(self.path("key.pem"))
            .arg(&path)
            .output()
            .unwrap();
        assert!(output.status.success());
        base64::engine::general_purpose::STANDARD.encode(output.stdout)
    }

    /// An SNS delivery of `kind` carrying `fields`, signed.
    fn message(&self, kind: &str, fields: &[(&str, &str)], cert_url: &str, version: &str) -> Value {
        let mut body = json!({
            "Type": kind,
            "MessageId": "1a2b3c",
            "TopicArn": TOPIC,
            "Timestamp": "2026-11-26T10:00:00.000Z",
            "SignatureVersion": version,
            "SigningCertURL": cert_url,
        });
        for (name, value) in fields {
            body[*name] = json!(value);
        }
        // SNS's order: these names, alphabetically, those present.
        let signed: String = [
            "Message",
            "MessageId",
            "Subject",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]
        .iter()
        .filter_map(|name| {
            body[*name]
                .as_str()
                .map(|value| format!("{name}\n{value}\n"))
        })
        .collect();
        body["Signature"] = json!(self.sign(&signed, version));
        body
    }
}

/// An SES notification as SNS's `Message`.
fn ses(kind: &str, detail: Value) -> String {
    let mut notification =
        json!({"notificationType": kind, "mail": {"source": "digest@films.example"}});
    notification[kind.to_ascii_lowercase()] = detail;
    notification.to_string()
}

fn bounce(bounce_type: &str, email: &str) -> String {
    ses(
        "Bounce",
        json!({"bounceType": bounce_type, "bounceSubType": "General",
               "bouncedRecipients": [{"emailAddress": email}]}),
    )
}

async fn post_sns(app: &TestApp, kind: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/webhooks/bounce"))
        .header("x-amz-sns-message-type", kind)
        .header("content-type", "text/plain; charset=UTF-8")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn answer(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    response.json().await.unwrap()
}

async fn ses_notifications_through_sns_are_verified_and_sorted_into_hard_soft_and_complaints(
    engine: Engine,
) {
    let key = SnsKey::new();
    let sns = Upstream::start().await;
    sns.serve("/sns/cert.pem", "application/x-pem-file", &key.cert());
    sns.serve("/sns/confirm", "text/xml", "<ConfirmSubscriptionResponse/>");
    let cert_url = sns.url("/sns/cert.pem").to_string();
    let app = TestApp::spawn_with(engine, |s| {
        s.bounces.sns_topic_arns = vec![TOPIC.to_owned()];
        s.bounces.sns_test_cert_base_url = Some(sns.url("/sns/"));
    })
    .await;
    for reader in ["hard", "soft", "complains"] {
        app.subscriber(&format!("{reader}@films.example"), Preferences::default())
            .await;
    }
    let status = |who: &'static str| {
        let app = &app;
        async move { app.stored(&format!("{who}@films.example")).await.status }
    };

    // A hard bounce (SignatureVersion 1, SHA-1) suppresses at once.
    let message = key.message(
        "Notification",
        &[(
            "Message",
            &bounce("Permanent", "Hard Reader <hard@films.example>"),
        )],
        &cert_url,
        "1",
    );
    let body = answer(post_sns(&app, "Notification", &message).await, 200).await;
    assert_eq!(
        body,
        json!({"suppressed": ["hard@films.example"], "counted": []})
    );
    assert_eq!(status("hard").await, SubscriberStatus::Suppressed);

    // Soft bounces (version 2, SHA-256) count up to the limit of 3.
    let soft = key.message(
        "Notification",
        &[("Message", &bounce("Transient", "soft@films.example"))],
        &cert_url,
        "2",
    );
    for _ in 0..2 {
        let body = answer(post_sns(&app, "Notification", &soft).await, 200).await;
        assert_eq!(body["counted"], json!(["soft@films.example"]));
        assert_eq!(status("soft").await, SubscriberStatus::Confirmed);
    }
    let body = answer(post_sns(&app, "Notification", &soft).await, 200).await;
    assert_eq!(body["suppressed"], json!(["soft@films.example"]));
    assert_eq!(status("soft").await, SubscriberStatus::Suppressed);

    // A forged message: signed, then its recipient changed.
    let complaint = ses(
        "Complaint",
        json!({"complainedRecipients": [{"emailAddress": "complains@films.example"}]}),
    );
    let mut forged = key.message("Notification", &[("Message", &complaint)], &cert_url, "2");
    forged["Message"] = json!(complaint.replace("complains@", "hard@"));
    let refusal = answer(post_sns(&app, "Notification", &forged).await, 403).await;
    assert!(
        refusal["error"]
            .as_str()
            .unwrap()
            .contains("signature does not verify"),
        "{refusal}"
    );
    let mut no_signature = key.message("Notification", &[("Message", &complaint)], &cert_url, "2");
    no_signature["Signature"] = json!("bm90IGEgc2lnbmF0dXJl");
    answer(post_sns(&app, "Notification", &no_signature).await, 403).await;
    assert_eq!(status("complains").await, SubscriberStatus::Confirmed);

    // A certificate from anywhere but SNS is not fetched.
    let elsewhere = key.message(
        "Notification",
        &[("Message", &complaint)],
        "https://certs.evil.example/cert.pem",
        "2",
    );
    let refusal = answer(post_sns(&app, "Notification", &elsewhere).await, 403).await;
    assert!(
        refusal["error"]
            .as_str()
            .unwrap()
            .contains("not an https://sns.<region>.amazonaws.com/"),
        "{refusal}"
    );
    // Another account's topic, though SNS signed it.
    let mut other_topic = key.message("Notification", &[("Message", &complaint)], &cert_url, "2");
    other_topic["TopicArn"] = json!("arn:aws:sns:eu-west-2:999999999999:theirs");
    let refusal = answer(post_sns(&app, "Notification", &other_topic).await, 403).await;
    assert!(
        refusal["error"]
            .as_str()
            .unwrap()
            .contains("sns_topic_arns"),
        "{refusal}"
    );

    let genuine = key.message("Notification", &[("Message", &complaint)], &cert_url, "2");
    let body = answer(post_sns(&app, "Notification", &genuine).await, 200).await;
    assert_eq!(body["suppressed"], json!(["complains@films.example"]));

    // A subscription is confirmed by fetching its SubscribeURL.
    let confirm_url = sns.url("/sns/confirm").to_string();
    let confirmation = key.message(
        "SubscriptionConfirmation",
        &[
            ("Message", "You have chosen to subscribe to the topic."),
            ("SubscribeURL", &confirm_url),
            ("Token", "2336412f37"),
        ],
        &cert_url,
        "2",
    );
    answer(
        post_sns(&app, "SubscriptionConfirmation", &confirmation).await,
        200,
    )
    .await;
    assert_eq!(sns.answers("/sns/confirm"), [200]);
    app.close().await;
}

async fn a_mailbox_the_relay_refuses_at_send_time_is_suppressed(engine: Engine) {
    let app = TestApp::seeded(engine, ["gone@films.example", "reader@films.example"]).await;
    app.sink.refuse("gone@films.example");
    let run = app.only_run_at(thursday()).await;
    assert_eq!(run.run.status, RunStatus::Sent);
    assert_eq!((run.counts.sent, run.counts.failed), (1, 1));
    let mails = app.sink.wait_for(1).await;
    assert_eq!(mails[0].to, "reader@films.example");
    let gone = app.stored("gone@films.example").await;
    assert_eq!(gone.status, SubscriberStatus::Suppressed);
    assert_eq!(
        app.stored("reader@films.example").await.status,
        SubscriberStatus::Confirmed
    );
    app.close().await;
}
