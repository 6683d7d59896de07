use hmac::{Hmac, Mac};
use marquee_events::ReviewEvent;
use marquee_runtime::clock::{Clock, SystemClock};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{SECRET, TestApp};

struct Webhook {
    url: String,
    client: reqwest::Client,
}

impl Webhook {
    async fn serve(app: &TestApp) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhooks/cms", listener.local_addr().unwrap());
        let router = app.ingest.router();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self {
            url,
            client: reqwest::Client::new(),
        }
    }

    async fn send_raw(
        &self,
        timestamp: Option<i64>,
        signature: Option<String>,
        body: &str,
    ) -> (u16, Value) {
        let mut request = self.client.post(&self.url).body(body.to_owned());
        if let Some(timestamp) = timestamp {
            request = request.header("X-Marquee-Timestamp", timestamp.to_string());
        }
        if let Some(signature) = signature {
            request = request.header("X-Marquee-Signature", signature);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn send(&self, body: &str) -> (u16, Value) {
        let now = SystemClock.now().timestamp();
        self.send_raw(Some(now), Some(sign(SECRET, now, body)), body)
            .await
    }
}

fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn review(headline: &str) -> Value {
    json!({
        "id": "cms-4812",
        "url": "https://marquee.test/reviews/anora?utm_source=cms",
        "headline": headline,
        "film": {"title": "Anora", "year": 2024},
        "standfirst": "<p>Sean Baker&rsquo;s <em>screwball</em> fairy tale</p>",
        "body_html": "<p>Mikey Madison is a marvel.</p><script>steal()</script><a href=\"javascript:alert(1)\">x</a><img src=x onerror=alert(1)>",
        "author": "Ada Lee",
        "rating": 5,
        "section": "In Cinemas",
        "image": {"url": "https://marquee.test/i/anora.jpg", "alt": "Mikey Madison"},
        "published_at": "2024-11-01T08:00:00Z",
        "extra_cms_field": true
    })
}

#[tokio::test]
async fn signed_deliveries_publish_update_and_withdraw() {
    let mut app = TestApp::spawn(|_| vec![], |_| {}).await;
    let hook = Webhook::serve(&app).await;

    let body =
        json!({"action": "published", "review": review("Anora review – a screwball fairy tale")})
            .to_string();
    let (status, answer) = hook.send(&body).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("published")),
        "{answer}"
    );
    let events = app.events().await;
    let ReviewEvent::Published(published) = &events[0].data else {
        panic!("{:?}", events[0].data)
    };
    let anora = &published.review;
    assert_eq!(events[0].source, "marquee/reviews-ingest/cms-webhook");
    assert_eq!(anora.url.as_str(), "https://marquee.test/reviews/anora");
    assert_eq!(anora.standfirst, "Sean Baker’s screwball fairy tale");
    assert_eq!(
        (anora.film.title.as_str(), anora.film.year),
        ("Anora", Some(2024))
    );
    assert_eq!(anora.rating.map(|r| r.stars()), Some(5));
    for bad in ["<script", "steal", "javascript:", "onerror"] {
        assert!(
            !anora.body_html.contains(bad),
            "{bad} in {}",
            anora.body_html
        );
    }

    // The CMS repeating itself (new signature, same content) publishes nothing.
    let same = json!({"action": "updated", "review": review("Anora review – a screwball fairy tale"), "n": 2}).to_string();
    assert_eq!(hook.send(&same).await.1["outcome"], "unchanged");

    let edited =
        json!({"action": "updated", "review": review("Anora review – a screwball masterpiece")})
            .to_string();
    assert_eq!(hook.send(&edited).await.1["outcome"], "updated");

    let withdraw = json!({"action": "withdrawn", "id": "cms-4812", "reason": "legal"}).to_string();
    assert_eq!(hook.send(&withdraw).await.1["outcome"], "withdrawn");
    let again = json!({"action": "withdrawn", "review": {"id": "cms-4812"}, "n": 2}).to_string();
    assert_eq!(
        hook.send(&again).await.0,
        400,
        "review without url/headline"
    );
    let again = json!({"action": "withdrawn", "id": "cms-4812", "n": 2}).to_string();
    assert_eq!(hook.send(&again).await.1["outcome"], "unchanged");

    let events = app.events().await;
    assert_eq!(events.len(), 2);
    let ReviewEvent::Updated(updated) = &events[0].data else {
        panic!("{:?}", events[0].data)
    };
    assert_eq!(updated.review.id.as_str(), "cms-4812");
    assert_eq!(updated.changed, vec!["headline".to_owned()]);
    let ReviewEvent::Withdrawn(withdrawn) = &events[1].data else {
        panic!("{:?}", events[1].data)
    };
    assert_eq!(
        (withdrawn.id.as_str(), withdrawn.reason.as_str()),
        ("cms-4812", "legal")
    );
}

#[tokio::test]
async fn bad_missing_stale_and_replayed_signatures_are_refused() {
    let mut app = TestApp::spawn(|_| vec![], |s| s.webhook_replay_window_secs = 300).await;
    let hook = Webhook::serve(&app).await;
    let body = json!({"action": "withdrawn", "id": "cms-1"}).to_string();
    let now = SystemClock.now().timestamp();

    let cases = [
        ("no headers", None, None, "missing X-Marquee-Timestamp"),
        (
            "no signature",
            Some(now),
            None,
            "missing X-Marquee-Signature",
        ),
        (
            "wrong secret",
            Some(now),
            Some(sign("not-the-secret", now, &body)),
            "does not match",
        ),
        (
            "other body",
            Some(now),
            Some(sign(SECRET, now, "{}")),
            "does not match",
        ),
        (
            "other timestamp",
            Some(now),
            Some(sign(SECRET, now - 1, &body)),
            "does not match",
        ),
        (
            "not hex",
            Some(now),
            Some("sha256=zz".to_owned()),
            "sha256=<hex",
        ),
        (
            "stale",
            Some(now - 301),
            Some(sign(SECRET, now - 301, &body)),
            "replay window",
        ),
        (
            "future",
            Some(now + 301),
            Some(sign(SECRET, now + 301, &body)),
            "replay window",
        ),
    ];
    for (case, timestamp, signature, reason) in cases {
        let (status, answer) = hook.send_raw(timestamp, signature, &body).await;
        assert_eq!(status, 401, "{case}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(reason),
            "{case}: {answer}"
        );
    }

    let signature = sign(SECRET, now, &body);
    let (status, _) = hook
        .send_raw(Some(now), Some(signature.clone()), &body)
        .await;
    assert_eq!(status, 200);
    let (status, answer) = hook.send_raw(Some(now), Some(signature), &body).await;
    assert_eq!(status, 401, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("replayed"),
        "{answer}"
    );
    assert_eq!(
        app.events().await.len(),
        1,
        "only the first delivery counts"
    );
}

#[tokio::test]
async fn malformed_bodies_are_400_with_a_reason() {
    let mut app = TestApp::spawn(|_| vec![], |_| {}).await;
    let hook = Webhook::serve(&app).await;
    let cases = [
        ("{not json", "invalid webhook body"),
        (r#"{"action": "deleted", "id": "x"}"#, "unknown variant"),
        (r#"{"action": "published"}"#, "`review` is required"),
        (r#"{"action": "withdrawn"}"#, "needs `id`"),
        (&*json!({"action": "published", "review": {"id": "x", "url": "/relative", "headline": "h"}}).to_string(), "not an absolute URL"),
        (&*json!({"action": "published", "review": {"id": "x", "url": "https://e.com/x", "headline": "h", "rating": 7}}).to_string(), "0 to 5"),
        (&*json!({"action": "published", "review": {"id": "x", "url": "https://e.com/x", "headline": "<b></b>"}}).to_string(), "no headline"),
    ];
    for (body, reason) in cases {
        let (status, answer) = hook.send(body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(reason),
            "{body}: {answer}"
        );
    }
    assert!(app.events().await.is_empty());
}

#[tokio::test]
async fn the_webhook_is_off_without_a_secret() {
    let app = TestApp::spawn(|_| vec![], |s| s.webhook_secret = None).await;
    let hook = Webhook::serve(&app).await;
    let (status, answer) = hook.send(r#"{"action": "withdrawn", "id": "x"}"#).await;
    assert_eq!(status, 404, "{answer}");
}

#[tokio::test]
async fn a_date_in_the_future_is_left_out_and_the_answer_says_so() {
    let mut app = TestApp::spawn(|_| vec![], |_| {}).await;
    let hook = Webhook::serve(&app).await;
    let mut body =
        json!({"action": "published", "review": review("Anora review – a screwball fairy tale")});
    body["review"]["published_at"] = json!("2099-01-01T00:00:00Z");
    let (status, answer) = hook.send(&body.to_string()).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("published"))
    );
    let problems = answer["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{answer}");
    assert!(
        problems[0].as_str().unwrap().contains("2099-01-01"),
        "{answer}"
    );
    let events = app.events().await;
    let ReviewEvent::Published(published) = &events[0].data else {
        panic!("{events:?}")
    };
    assert!(published.review.published_at.timestamp() < 4_000_000_000);
}
