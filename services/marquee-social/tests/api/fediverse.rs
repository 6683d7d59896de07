//! The publication on the fediverse, against an independent implementation:
//! Fedify (`@fedify/fedify`, npm ci'd by `scripts/fedify.sh` into
//! `FEDIFY_DIR`, driven by `tests/fediverse/follower.mjs`) looks up
//! `acct:reviews@127.0.0.1:PORT` by WebFinger, follows it with a signed
//! `Follow`, and verifies the signature of every activity it then receives:
//! the `Accept`, and a review's `Create`, `Update` and `Delete`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use marquee_events::ReviewId;
use marquee_runtime::clock::Clock;
use marquee_social::{ActorSettings, FediverseSettings, Settings};
use serde_json::{Value, json};
use url::Url;

use crate::helpers::{Engine, TestApp, published, updated, withdrawn};

on_both_engines!(a_fedify_follower_receives_the_create_update_and_delete_of_a_review);

/// The npm ci'd Fedify packages, or a clear failure.
fn fedify_dir() -> PathBuf {
    std::env::var_os("FEDIFY_DIR").map(PathBuf::from).expect(
        "FEDIFY_DIR is not set: run ./scripts/test, or \
         `source scripts/broker.sh && source scripts/fedify.sh && install_fedify` and run this test in that shell",
    )
}

/// A running Fedify follower, stopped when dropped.
struct Follower {
    url: String,
    actor: String,
    child: Child,
    http: reqwest::Client,
}

impl Follower {
    fn start() -> Self {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fediverse/follower.mjs");
        let mut child = Command::new("node")
            .arg(script)
            .arg(fedify_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs (Node.js 20 is needed for the fediverse tests)");
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        let ready: Value = serde_json::from_str(&ready)
            .unwrap_or_else(|e| panic!("follower.mjs printed {ready:?}, not its ready line: {e}"));
        Self {
            url: ready["url"].as_str().unwrap().to_owned(),
            actor: ready["actor"].as_str().unwrap().to_owned(),
            child,
            http: reqwest::Client::new(),
        }
    }

    /// Asks Fedify to follow (or unfollow) `handle`; answers its reply.
    async fn control(&self, what: &str, handle: &str) -> Value {
        let response = self
            .http
            .post(format!("{}/control/{what}", self.url))
            .json(&json!({ "handle": handle }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(
            status.is_success(),
            "Fedify could not {what} {handle}: {body}"
        );
        body
    }

    /// What Fedify's inbox accepted (signature verified), or refused.
    async fn inbox(&self, which: &str) -> Vec<Value> {
        let url = format!("{}/control/{which}", self.url);
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One actor, `reviews`, at `address`, retrying after a second.
pub fn fediverse(settings: &mut Settings, address: SocketAddr) {
    settings.fediverse = Some(FediverseSettings {
        public_base_url: Url::parse(&format!("http://{address}/")).unwrap(),
        actors: vec![ActorSettings {
            name: "reviews".to_owned(),
            display_name: "Marquee reviews".to_owned(),
            summary: "Every review, as it is published.".to_owned(),
            icon: None,
            sections: Vec::new(),
            hashtags: vec!["film".to_owned()],
        }],
        allow_private_addresses: true,
        delivery_attempts: 3,
        retry_base_secs: 1,
    });
}

/// The activities of `kind` Fedify accepted.
fn of_kind<'a>(received: &'a [Value], kind: &str) -> Vec<&'a Value> {
    received.iter().filter(|a| a["type"] == kind).collect()
}

async fn a_fedify_follower_receives_the_create_update_and_delete_of_a_review(engine: Engine) {
    let follower = Follower::start();
    let app = TestApp::spawn_serving(engine, fediverse).await;
    // Fedify checks every Date against its own clock.
    app.clock.set(marquee_runtime::clock::SystemClock.now());
    let handle = format!("acct:reviews@{}", app.address);

    let followed = follower.control("follow", &handle).await;
    let actor = format!("http://{}/actors/reviews", app.address);
    assert_eq!(followed["actor"], actor.as_str());
    let followers: Value = app
        .get("/actors/reviews/followers?page=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(followers["totalItems"], 1);
    assert_eq!(followers["orderedItems"], json!([follower.actor]));
    assert_eq!(app.drain().await, 1, "the Accept goes out");
    let received = follower.inbox("received").await;
    let accepts = of_kind(&received, "Accept");
    assert_eq!(accepts.len(), 1, "{received:#?}");
    assert_eq!(accepts[0]["actor"], actor.as_str());

    let review = app.publish("hamnet").await;
    assert_eq!(app.drain().await, 1, "one Create, to the follower's inbox");
    let mut edited = review.clone();
    edited.headline = "Hamnet review – grief, raw and luminous".to_owned();
    edited.updated_at = app.clock.now() + chrono::Duration::seconds(1);
    app.deliver(&updated(&edited)).await.unwrap();
    app.deliver(&withdrawn("hamnet")).await.unwrap();
    assert_eq!(app.drain().await, 2, "the Update and the Delete");

    let received = follower.inbox("received").await;
    let key = ReviewId::parse("hamnet").unwrap().key();
    let object = format!("{actor}/reviews/{key}");
    let [create] = of_kind(&received, "Create")[..] else {
        panic!("one Create: {received:#?}");
    };
    assert_eq!(create["actor"], actor.as_str());
    assert_eq!(create["object"]["id"], object.as_str());
    assert_eq!(create["object"]["type"], "Note");
    assert_eq!(create["object"]["url"], review.url.as_str());
    let content = create["object"]["content"].as_str().unwrap();
    assert!(
        content.contains("<strong>Hamnet review – a raw, aching portrait of grief</strong> ★★★★☆"),
        "{content}"
    );
    assert!(content.contains("Chloé Zhao’s adaptation"), "{content}");
    let [update] = of_kind(&received, "Update")[..] else {
        panic!("one Update: {received:#?}");
    };
    assert_eq!(update["object"]["id"], object.as_str());
    assert!(
        update["object"]["content"]
            .as_str()
            .unwrap()
            .contains("grief, raw and luminous")
    );
    let [delete] = of_kind(&received, "Delete")[..] else {
        panic!("one Delete: {received:#?}");
    };
    assert_eq!(delete["object_id"], object.as_str());
    assert_eq!(follower.inbox("rejected").await, Vec::<Value>::new());
    // The object is gone for readers too.
    assert_eq!(
        app.get(&format!("/actors/reviews/reviews/{key}"))
            .await
            .status(),
        410
    );

    // A replay of the log sends nothing again.
    app.deliver(&published(&review)).await.unwrap();
    app.deliver(&withdrawn("hamnet")).await.unwrap();
    assert_eq!(app.drain().await, 0);

    follower.control("unfollow", &handle).await;
    let followers: Value = app
        .get("/actors/reviews/followers")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(followers["totalItems"], 0);
    app.cleanup().await;
}
