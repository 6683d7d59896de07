//! The publication on the fediverse, against an independent implementation:
//! Fedify (`@fedify/fedify`, npm ci'd by `scripts/npm.sh` into
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
         `source scripts/broker.sh && source scripts/npm.sh && install_fedify` and run this test in that shell",
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
    let list = followers(&app, "?page=1").await;
    assert_eq!(list["totalItems"], 1);
    assert_eq!(list["orderedItems"], json!([follower.actor]));
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
    let list = followers(&app, "").await;
    assert_eq!(list["totalItems"], 0);
    app.cleanup().await;
}

/// A peer server faked with wiremock: its actor document publishes `key`.
struct Peer {
    server: wiremock::MockServer,
    key: rsa::RsaPrivateKey,
}

impl Peer {
    async fn start() -> Self {
        use rsa::pkcs8::{EncodePublicKey, LineEnding};
        let server = wiremock::MockServer::start().await;
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let pem = key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let actor = format!("{}/users/peer", server.uri());
        let document = json!({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": actor, "type": "Person", "inbox": format!("{actor}/inbox"),
            "publicKey": {"id": format!("{actor}#main-key"), "owner": actor, "publicKeyPem": pem},
        });
        // As a Mastodon server in authorized-fetch mode: its actor only to a
        // fetch signed by one of Marquee's actors.
        let signed_by_marquee = wiremock::matchers::header_regex(
            "signature",
            r#"^keyId="http://127\.0\.0\.1:\d+/actors/reviews#main-key",algorithm="rsa-sha256",headers="\(request-target\) host date",signature="[A-Za-z0-9+/=]+"$"#,
        );
        wiremock::Mock::given(wiremock::matchers::path("/users/peer"))
            .and(signed_by_marquee)
            .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(document))
            .mount(&server)
            .await;
        wiremock::Mock::given(wiremock::matchers::path("/users/peer"))
            .respond_with(wiremock::ResponseTemplate::new(401))
            .mount(&server)
            .await;
        Self { server, key }
    }

    fn actor(&self) -> String {
        format!("{}/users/peer", self.server.uri())
    }

    /// A `Follow` of `target` by the peer.
    fn follow(&self, target: &str) -> Vec<u8> {
        json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/follows/1", self.actor()),
               "type": "Follow", "actor": self.actor(), "object": target})
        .to_string()
        .into_bytes()
    }

    /// The headers of `body` POSTed to `url` at `date`, signed with `key`
    /// as `key_id` over `covered` (the draft-cavage form, written here
    /// apart from the service's own signer).
    fn sign(
        key: &rsa::RsaPrivateKey,
        key_id: &str,
        url: &Url,
        body: &[u8],
        date: chrono::DateTime<chrono::Utc>,
        covered: &[&str],
    ) -> reqwest::header::HeaderMap {
        use base64::Engine as _;
        use rsa::signature::{SignatureEncoding, Signer};
        use sha2::Digest as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut headers = reqwest::header::HeaderMap::new();
        let host = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
        let date = date.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let digest = format!("SHA-256={}", b64.encode(sha2::Sha256::digest(body)));
        let mut lines = Vec::new();
        for name in covered {
            let value = match *name {
                "(request-target)" => format!("post {}", url.path()),
                "host" => host.clone(),
                "date" => date.clone(),
                "digest" => digest.clone(),
                other => panic!("no {other} in the test requests"),
            };
            lines.push(format!("{name}: {value}"));
        }
        let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone());
        let signature = b64.encode(signer.sign(lines.join("\n").as_bytes()).to_bytes());
        for (name, value) in [("host", host), ("date", date), ("digest", digest)] {
            headers.insert(name, value.parse().unwrap());
        }
        let value = format!(
            r#"keyId="{key_id}",algorithm="rsa-sha256",headers="{}",signature="{signature}""#,
            covered.join(" ")
        );
        headers.insert("signature", value.parse().unwrap());
        headers.insert("content-type", "application/activity+json".parse().unwrap());
        headers
    }
}

impl Peer {
    /// The headers of `body` POSTed to `url`, signed with RFC 9421 as
    /// newer servers sign (`rsa-v1_5-sha256`) over `components`.
    fn sign_rfc9421(
        &self,
        url: &Url,
        body: &[u8],
        created: i64,
        components: &[&str],
    ) -> reqwest::header::HeaderMap {
        use base64::Engine as _;
        use rsa::signature::{SignatureEncoding, Signer};
        use sha2::Digest as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let digest = format!("sha-256=:{}:", b64.encode(sha2::Sha256::digest(body)));
        let params = format!(
            "({});created={created};keyid=\"{}#main-key\";alg=\"rsa-v1_5-sha256\"",
            components
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(" "),
            self.actor()
        );
        let mut base: Vec<String> = components
            .iter()
            .map(|c| match *c {
                "@method" => "\"@method\": POST".to_owned(),
                "@target-uri" => format!("\"@target-uri\": {url}"),
                "content-digest" => format!("\"content-digest\": {digest}"),
                other => panic!("no {other} in the test requests"),
            })
            .collect();
        base.push(format!("\"@signature-params\": {params}"));
        let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(self.key.clone());
        let signature = b64.encode(signer.sign(base.join("\n").as_bytes()).to_bytes());
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("content-digest", digest.parse().unwrap());
        headers.insert("signature-input", format!("sig1={params}").parse().unwrap());
        headers.insert("signature", format!("sig1=:{signature}:").parse().unwrap());
        headers.insert("content-type", "application/activity+json".parse().unwrap());
        headers
    }
}

const COVERED: [&str; 4] = ["(request-target)", "host", "date", "digest"];

/// POSTs `body` with `headers` to `url`; answers the status and the reason.
async fn post(url: &Url, headers: reqwest::header::HeaderMap, body: Vec<u8>) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(url.clone())
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn the_inbox_refuses_what_is_not_signed_by_the_activitys_actor_and_changes_nothing() {
    let peer = Peer::start().await;
    let app = TestApp::spawn_serving(Engine::Sqlite, fediverse).await;
    let now = app.clock.now();
    let inbox = Url::parse(&format!("http://{}/actors/reviews/inbox", app.address)).unwrap();
    let target = format!("http://{}/actors/reviews", app.address);
    let key_id = format!("{}#main-key", peer.actor());
    let follow = peer.follow(&target);
    let signed =
        |body: &[u8], covered: &[&str]| Peer::sign(&peer.key, &key_id, &inbox, body, now, covered);
    let other_key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();

    let mut unsigned = signed(&follow, &COVERED);
    unsigned.remove("signature");
    let mut altered_digest = signed(&follow, &COVERED);
    altered_digest.insert(
        "digest",
        "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
            .parse()
            .unwrap(),
    );
    let someone_else = json!({"id": "https://elsewhere.example/follows/9", "type": "Follow",
        "actor": "https://elsewhere.example/users/victim", "object": target})
    .to_string()
    .into_bytes();
    let malformed = b"{\"type\": \"Follow\",".to_vec();
    let oversized = vec![b' '; 300 * 1024];
    let cases: Vec<(&str, reqwest::header::HeaderMap, Vec<u8>, u16, &str)> = vec![
        ("unsigned", unsigned, follow.clone(), 401, "not signed"),
        (
            "signed by a key the peer does not publish",
            Peer::sign(&other_key, &key_id, &inbox, &follow, now, &COVERED),
            follow.clone(),
            401,
            "does not verify",
        ),
        (
            "signed by an unknown key",
            Peer::sign(
                &peer.key,
                &format!("{}/users/nobody#main-key", peer.server.uri()),
                &inbox,
                &follow,
                now,
                &COVERED,
            ),
            follow.clone(),
            401,
            "could not be fetched",
        ),
        (
            "signed by the peer for another actor",
            signed(&someone_else, &COVERED),
            someone_else.clone(),
            401,
            "whose owner is",
        ),
        (
            "a signature leaving out the digest",
            signed(&follow, &COVERED[..3]),
            follow.clone(),
            401,
            "must sign",
        ),
        (
            "a body that is not the digest's",
            altered_digest,
            follow.clone(),
            400,
            "does not match the body",
        ),
        (
            "a date two hours old",
            Peer::sign(
                &peer.key,
                &key_id,
                &inbox,
                &follow,
                now - chrono::Duration::hours(2),
                &COVERED,
            ),
            follow.clone(),
            400,
            "more than an hour",
        ),
        (
            "malformed JSON",
            signed(&malformed, &COVERED),
            malformed.clone(),
            400,
            "not an activity",
        ),
        (
            "oversized",
            signed(&oversized, &COVERED),
            oversized.clone(),
            413,
            "larger than",
        ),
    ];
    for (case, headers, body, status, reason) in cases {
        let (got, message) = post(&inbox, headers, body).await;
        assert_eq!(got, status, "{case}: {message}");
        assert!(
            message.contains(reason),
            "{case}: {message:?} should say {reason:?}"
        );
    }
    let list = followers(&app, "").await;
    assert_eq!(list["totalItems"], 0, "nothing refused followed");
    assert_eq!(app.drain().await, 0, "nothing refused was answered");

    // The same request signed right is taken, once: sent again, it is a replay.
    let headers = signed(&follow, &COVERED);
    assert_eq!(post(&inbox, headers.clone(), follow.clone()).await.0, 202);
    assert_refused(post(&inbox, headers, follow.clone()).await, 401, "replay");
    let list = followers(&app, "?page=1").await;
    assert_eq!(list["orderedItems"], json!([peer.actor()]));
    app.cleanup().await;
}

#[tokio::test]
async fn the_inbox_takes_an_rfc_9421_signature_covering_the_method_target_and_digest() {
    let peer = Peer::start().await;
    let app = TestApp::spawn_serving(Engine::Sqlite, fediverse).await;
    let now = app.clock.now().timestamp();
    let inbox = Url::parse(&format!("http://{}/actors/reviews/inbox", app.address)).unwrap();
    let follow = peer.follow(&format!("http://{}/actors/reviews", app.address));
    let all = ["@method", "@target-uri", "content-digest"];

    let uncovered = peer.sign_rfc9421(&inbox, &follow, now, &all[..2]);
    assert_refused(
        post(&inbox, uncovered, follow.clone()).await,
        401,
        "does not cover `content-digest`",
    );
    let stale = peer.sign_rfc9421(&inbox, &follow, now - 7200, &all);
    assert_refused(
        post(&inbox, stale, follow.clone()).await,
        400,
        "created time",
    );
    let elsewhere = Url::parse(&format!("http://{}/inbox", app.address)).unwrap();
    let moved = peer.sign_rfc9421(&elsewhere, &follow, now, &all);
    assert_refused(
        post(&inbox, moved, follow.clone()).await,
        401,
        "does not verify",
    );
    let list = followers(&app, "").await;
    assert_eq!(list["totalItems"], 0);

    let signed = peer.sign_rfc9421(&inbox, &follow, now, &all);
    let (status, message) = post(&inbox, signed, follow).await;
    assert_eq!(status, 202, "{message}");
    let list = followers(&app, "?page=1").await;
    assert_eq!(list["orderedItems"], json!([peer.actor()]));
    app.cleanup().await;
}

#[tokio::test]
async fn webfinger_nodeinfo_the_actor_and_its_outbox_describe_the_publication() {
    let app = TestApp::spawn_serving(Engine::Sqlite, fediverse).await;
    let handle = format!("reviews@{}", app.address);
    let finger = app
        .get(&format!("/.well-known/webfinger?resource=acct:{handle}"))
        .await;
    assert_eq!(finger.headers()["content-type"], "application/jrd+json");
    let finger: Value = finger.json().await.unwrap();
    let actor_id = format!("http://{}/actors/reviews", app.address);
    assert_eq!(finger["subject"], format!("acct:{handle}"));
    assert_eq!(
        finger["links"][0],
        json!({"rel": "self", "type": "application/activity+json", "href": actor_id})
    );
    let unknown = app
        .get(&format!(
            "/.well-known/webfinger?resource=acct:nobody@{}",
            app.address
        ))
        .await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(app.get("/.well-known/webfinger").await.status(), 400);

    let links: Value = app.get("/.well-known/nodeinfo").await.json().await.unwrap();
    let nodeinfo = Url::parse(links["links"][0]["href"].as_str().unwrap()).unwrap();
    let nodeinfo: Value = app.get(nodeinfo.path()).await.json().await.unwrap();
    assert_eq!(nodeinfo["software"]["name"], "marquee");
    assert_eq!(nodeinfo["protocols"], json!(["activitypub"]));

    let actor = app.get("/actors/reviews").await;
    assert_eq!(actor.headers()["content-type"], "application/activity+json");
    let actor: Value = actor.json().await.unwrap();
    assert_eq!(actor["id"], actor_id.as_str());
    assert_eq!(actor["type"], "Organization");
    assert_eq!(actor["preferredUsername"], "reviews");
    assert_eq!(actor["inbox"], format!("{actor_id}/inbox"));
    assert_eq!(
        actor["endpoints"]["sharedInbox"],
        format!("http://{}/inbox", app.address)
    );
    assert_eq!(actor["publicKey"]["owner"], actor_id.as_str());
    use rsa::pkcs8::DecodePublicKey;
    rsa::RsaPublicKey::from_public_key_pem(actor["publicKey"]["publicKeyPem"].as_str().unwrap())
        .expect("the actor publishes an RSA public key");
    // The key is kept: a restart would publish the same one.
    assert_eq!(
        app.get("/actors/reviews")
            .await
            .json::<Value>()
            .await
            .unwrap()["publicKey"],
        actor["publicKey"]
    );

    // 25 reviews: the outbox pages them 20 to a page, newest first.
    for n in 0..25 {
        app.publish(&format!("review-{n:02}")).await;
    }
    let outbox: Value = app
        .get("/actors/reviews/outbox")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(outbox["totalItems"], 25);
    assert_eq!(outbox["last"], format!("{actor_id}/outbox?page=2"));
    let first: Value = app
        .get("/actors/reviews/outbox?page=1")
        .await
        .json()
        .await
        .unwrap();
    let items = first["orderedItems"].as_array().unwrap();
    assert_eq!(items.len(), 20);
    assert_eq!(items[0]["type"], "Create");
    let newest = ReviewId::parse("review-24").unwrap().key();
    assert_eq!(
        items[0]["object"]["id"],
        format!("{actor_id}/reviews/{newest}")
    );
    assert_eq!(first["next"], format!("{actor_id}/outbox?page=2"));
    let next = Url::parse(first["next"].as_str().unwrap()).unwrap();
    let second: Value = app
        .get(&format!("{}?{}", next.path(), next.query().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["orderedItems"].as_array().unwrap().len(), 5);
    assert_eq!(app.get("/actors/reviews/outbox?page=0").await.status(), 400);
    let note: Value = app
        .get(&format!("/actors/reviews/reviews/{newest}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(note["type"], "Note");
    assert_eq!(note["tag"], json!([{"type": "Hashtag", "name": "#film"}]));
    app.cleanup().await;
}

#[tokio::test]
async fn deliveries_retry_with_backoff_wait_while_paused_and_fail_on_a_refusal() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let peer = Peer::start().await;
    let app = TestApp::spawn_serving(Engine::Sqlite, fediverse).await;
    let inbox = Url::parse(&format!("http://{}/actors/reviews/inbox", app.address)).unwrap();
    let follow = peer.follow(&format!("http://{}/actors/reviews", app.address));
    let key_id = format!("{}#main-key", peer.actor());
    let headers = Peer::sign(
        &peer.key,
        &key_id,
        &inbox,
        &follow,
        app.clock.now(),
        &COVERED,
    );
    assert_eq!(post(&inbox, headers, follow).await.0, 202);
    let peer_inbox = || Mock::given(method("POST")).and(path("/users/peer/inbox"));
    peer_inbox()
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&peer.server)
        .await;
    peer_inbox()
        .respond_with(ResponseTemplate::new(202))
        .up_to_n_times(2)
        .mount(&peer.server)
        .await;
    peer_inbox()
        .respond_with(ResponseTemplate::new(410))
        .mount(&peer.server)
        .await;
    assert_eq!(app.drain().await, 1, "the Accept, answered 503");
    assert_eq!(app.drain().await, 0, "not due again for a second");
    app.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(app.drain().await, 1, "the Accept again, delivered");
    assert_eq!(
        actor_report(&app).await["deliveries"],
        json!({"pending": 0, "delivered": 1, "failed": 0})
    );

    let paused = app.post("/admin/social/actors/reviews/pause").await;
    assert_eq!(paused.status(), 200);
    assert_eq!(
        app.post("/admin/social/actors/reviews/pause")
            .await
            .status(),
        409
    );
    app.publish("hamnet").await;
    assert_eq!(app.drain().await, 0, "paused: the Create waits");
    let report = actor_report(&app).await;
    assert_eq!(
        (report["paused"].clone(), report["followers"].clone()),
        (json!(true), json!(1))
    );
    assert_eq!(report["deliveries"]["pending"], 1);
    assert_eq!(
        app.post("/admin/social/actors/reviews/resume")
            .await
            .status(),
        200
    );
    assert_eq!(app.drain().await, 1, "resumed: the Create goes");

    // A 4xx will not change on retry: failed at once, with the reason.
    app.publish("sirat").await;
    assert_eq!(app.drain().await, 1);
    app.clock.advance(chrono::Duration::hours(7));
    assert_eq!(app.drain().await, 0, "a refused delivery is not retried");
    assert_eq!(
        actor_report(&app).await["deliveries"],
        json!({"pending": 0, "delivered": 2, "failed": 1})
    );
    assert_eq!(
        app.post("/admin/social/actors/nobody/pause").await.status(),
        404
    );
    app.cleanup().await;
}

/// What `GET /admin/social/actors` says of the one actor.
async fn actor_report(app: &TestApp) -> Value {
    let actors: Value = app.get("/admin/social/actors").await.json().await.unwrap();
    actors[0].clone()
}

/// The actor's followers collection, or a page of it (`?page=N`).
async fn followers(app: &TestApp, query: &str) -> Value {
    let path = format!("/actors/reviews/followers{query}");
    app.get(&path).await.json().await.unwrap()
}

/// Asserts a refusal: `status`, with a reason saying `says`.
fn assert_refused((status, reason): (u16, String), expected: u16, says: &str) {
    assert!(
        status == expected && reason.contains(says),
        "answered {status} {reason:?}; expected {expected} saying {says:?}"
    );
}
