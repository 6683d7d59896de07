//! Bluesky against the reference PDS (`@atproto/pds` with a local PLC
//! directory, npm ci'd by `scripts/npm.sh` into `BLUESKY_PDS_DIR`): the
//! worker's record read back with `getRecord` has the facets `@atproto/api`'s
//! `RichText` finds in the same text, its card's thumbnail comes back from
//! `sync.getBlob` byte for byte (shrunk to a JPEG if over the blob limit),
//! and a retried post is not doubled.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use marquee_events::Image;
use marquee_runtime::clock::Clock;
use marquee_social::{AccountSettings, BlueskyAccount, PostStatus};
use serde_json::{Value, json};
use url::Url;
use wiremock::{MockServer, ResponseTemplate};

use crate::helpers::{TestApp, answer};

/// The npm ci'd PDS packages, or a clear failure.
fn pds_dir() -> PathBuf {
    std::env::var_os("BLUESKY_PDS_DIR").map(PathBuf::from).expect(
        "BLUESKY_PDS_DIR is not set: run ./scripts/test, or \
         `source scripts/broker.sh && source scripts/npm.sh && install_pds` and run this test in that shell",
    )
}

/// The Node scripts beside this file.
fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/pds")
        .join(name)
}

/// A running PLC directory and PDS, stopped when dropped.
struct Pds {
    url: String,
    child: Child,
    http: reqwest::Client,
}

impl Pds {
    fn start() -> Self {
        let mut child = Command::new("node")
            .arg(script("start.mjs"))
            .arg(pds_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs (Node.js 20 is needed for the PDS tests)");
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        let ready: Value = serde_json::from_str(&ready)
            .unwrap_or_else(|e| panic!("start.mjs printed {ready:?}, not its ready line: {e}"));
        Self {
            url: ready["pds"].as_str().unwrap().to_owned(),
            child,
            http: reqwest::Client::new(),
        }
    }

    fn xrpc(&self, method: &str) -> String {
        format!("{}/xrpc/{method}", self.url)
    }

    /// Creates `name.test` and an app password for it; returns the
    /// Bluesky account settings signing in with them, and the DID.
    async fn account(&self, name: &str) -> (AccountSettings, String) {
        let handle = format!("{name}.test");
        let created = self
            .post(
                "com.atproto.server.createAccount",
                None,
                json!({"email": format!("{name}@films.example"), "handle": handle,
                       "password": "account-password"}),
            )
            .await;
        let app_password = self
            .post(
                "com.atproto.server.createAppPassword",
                created["accessJwt"].as_str(),
                json!({"name": "marquee"}),
            )
            .await;
        let account: BlueskyAccount = serde_json::from_value(json!({
            "name": "sky", "hashtags": ["film", "Cinéma"], "base_url": self.url,
            "identifier": handle, "app_password": app_password["password"], "language": "en",
        }))
        .unwrap();
        let did = created["did"].as_str().unwrap().to_owned();
        (AccountSettings::Bluesky(account), did)
    }

    /// A procedure's answer, signed in with `token` if given.
    async fn post(&self, method: &str, token: Option<&str>, body: Value) -> Value {
        let mut request = self.http.post(self.xrpc(method)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap().error_for_status().unwrap();
        response.json().await.unwrap()
    }

    async fn get(&self, method: &str, query: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .get(self.xrpc(method))
            .query(query)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
    }

    /// The record `at_uri` points at, through `com.atproto.repo.getRecord`.
    async fn record(&self, at_uri: &str) -> Value {
        let parts: Vec<_> = at_uri.trim_start_matches("at://").split('/').collect();
        let [repo, collection, rkey] = parts[..] else {
            panic!("{at_uri} is not at://repo/collection/rkey");
        };
        let found: Value = self
            .get(
                "com.atproto.repo.getRecord",
                &[("repo", repo), ("collection", collection), ("rkey", rkey)],
            )
            .await
            .json()
            .await
            .unwrap();
        found["value"].clone()
    }

    /// Every post in `did`'s repository.
    async fn posts(&self, did: &str) -> Vec<Value> {
        let listed: Value = self
            .get(
                "com.atproto.repo.listRecords",
                &[("repo", did), ("collection", "app.bsky.feed.post")],
            )
            .await
            .json()
            .await
            .unwrap();
        listed["records"].as_array().unwrap().clone()
    }
}

impl Drop for Pds {
    fn drop(&mut self) {
        // Closing stdin stops it; kill in case it is stuck.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The facets `@atproto/api`'s `RichText.detectFacets` finds in `text`.
fn richtext_facets(text: &str) -> Vec<Value> {
    let mut child = Command::new("node")
        .arg(script("richtext.mjs"))
        .arg(pds_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "richtext.mjs failed");
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Facets in byte order, as comparable values.
fn sorted(facets: &[Value]) -> Vec<Value> {
    let mut facets: Vec<_> = facets
        .iter()
        .map(|f| json!({"index": f["index"], "features": f["features"]}))
        .collect();
    facets.sort_by_key(|f| f["index"]["byteStart"].as_u64());
    facets
}

/// A 1×1 PNG.
const PNG: &[u8] = &[
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0,
    0, 0, 31, 21, 196, 137, 0, 0, 0, 13, 73, 68, 65, 84, 120, 218, 99, 100, 96, 248, 95, 15, 0, 2,
    135, 1, 128, 235, 71, 186, 146, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

/// Serves `bytes` as a PNG at `/{name}.png`; returns its URL.
async fn image_at(server: &MockServer, name: &str, bytes: Vec<u8>) -> Url {
    let at = format!("/{name}.png");
    let image = ResponseTemplate::new(200).set_body_raw(bytes, "image/png");
    answer(server, "GET", &at, image, 1).await;
    Url::parse(&format!("{}{at}", server.uri())).unwrap()
}

#[tokio::test]
async fn the_worker_posts_to_the_pds_with_the_facets_richtext_finds_and_a_thumbnail() {
    let pds = Pds::start();
    let (account, did) = pds.account("marquee").await;
    let app = TestApp::spawn(vec![account]).await;
    let images = MockServer::start().await;
    let mut amelie = crate::helpers::review("amelie");
    amelie.headline =
        "Le Fabuleux Destin d’Amélie Poulain review – ★ #Paris at its best".to_owned();
    amelie.image = Some(Image {
        url: image_at(&images, "amelie", PNG.to_vec()).await,
        alt: None,
    });
    amelie.published_at = app.clock.now();
    amelie.updated_at = amelie.published_at;
    app.deliver(&crate::helpers::published(&amelie))
        .await
        .unwrap();
    assert_eq!(app.drain().await, 1);

    let entry = app.entry("amelie", "sky").await;
    assert_eq!(entry.status, PostStatus::Posted, "{:?}", entry.reason);
    let uri = entry.remote_id.as_deref().unwrap();
    assert_eq!(
        uri,
        format!("at://{did}/app.bsky.feed.post/{}", entry.idempotency_key)
    );
    let record = pds.record(uri).await;
    let text = record["text"].as_str().unwrap();
    assert_eq!(text, entry.post.text);
    let link = text.find("https://").unwrap();
    assert!(
        text[..link].contains('é') && text[..link].contains('★'),
        "{text}"
    );

    let facets = sorted(record["facets"].as_array().unwrap());
    assert_eq!(facets, sorted(&richtext_facets(text)));
    let kinds: Vec<_> = facets
        .iter()
        .map(|f| f["features"][0]["$type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "app.bsky.richtext.facet#tag",
            "app.bsky.richtext.facet#link",
            "app.bsky.richtext.facet#tag",
            "app.bsky.richtext.facet#tag",
        ],
        "#Paris, the URL, #film, #Cinéma: {text}"
    );
    for facet in &facets {
        let (start, end) = (
            facet["index"]["byteStart"].as_u64().unwrap() as usize,
            facet["index"]["byteEnd"].as_u64().unwrap() as usize,
        );
        let feature = &facet["features"][0];
        let expected = match feature["uri"].as_str() {
            Some(uri) => uri.to_owned(),
            None => format!("#{}", feature["tag"].as_str().unwrap()),
        };
        assert_eq!(&text[start..end], expected);
    }

    let external = &record["embed"]["external"];
    assert_eq!(record["embed"]["$type"], "app.bsky.embed.external");
    assert_eq!(external["uri"], amelie.url.as_str());
    assert_eq!(external["thumb"]["mimeType"], "image/png");
    assert_eq!(external["thumb"]["size"], PNG.len());
    let cid = external["thumb"]["ref"]["$link"].as_str().unwrap();
    let blob = pds
        .get("com.atproto.sync.getBlob", &[("did", &did), ("cid", cid)])
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(&blob[..], PNG);
}

/// A `width`×`height` PNG of noise, which neither PNG nor JPEG compress.
fn noise_png(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let noise = image::RgbImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [r, g, b, _] = state.to_le_bytes();
        image::Rgb([r, g, b])
    });
    let mut png = Vec::new();
    noise
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

/// Publishes `review(id)` with `image`, lets the worker post it, and
/// returns the posted record.
async fn post_with_image(pds: &Pds, name: &str, id: &str, image: Url) -> (Value, String) {
    let (account, did) = pds.account(name).await;
    let app = TestApp::spawn(vec![account]).await;
    let mut review = crate::helpers::review(id);
    review.image = Some(Image {
        url: image,
        alt: None,
    });
    review.published_at = app.clock.now();
    review.updated_at = review.published_at;
    app.deliver(&crate::helpers::published(&review))
        .await
        .unwrap();
    assert_eq!(app.drain().await, 1);
    let entry = app.entry(id, "sky").await;
    assert_eq!(entry.status, PostStatus::Posted, "{:?}", entry.reason);
    let posts = pds.posts(&did).await;
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0]["value"]["embed"]["external"]["uri"],
        review.url.as_str()
    );
    (posts[0]["value"].clone(), did)
}

#[tokio::test]
async fn an_image_over_the_blob_limit_is_shrunk_to_a_jpeg_under_it() {
    let pds = Pds::start();
    let images = MockServer::start().await;
    let png = noise_png(1600, 1000);
    assert!(png.len() > 1_000_000, "{} bytes", png.len());
    let url = image_at(&images, "hamnet", png).await;
    let (record, did) = post_with_image(&pds, "shrunk", "hamnet", url).await;

    let thumb = &record["embed"]["external"]["thumb"];
    assert_eq!(thumb["mimeType"], "image/jpeg", "{thumb}");
    let size = thumb["size"].as_u64().unwrap();
    assert!(size <= 1_000_000, "{size} bytes");
    let cid = thumb["ref"]["$link"].as_str().unwrap();
    let blob = pds
        .get("com.atproto.sync.getBlob", &[("did", &did), ("cid", cid)])
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(blob.len() as u64, size);
    let shrunk = image::load_from_memory(&blob).unwrap();
    assert!(shrunk.width() <= 1200, "{}", shrunk.width());
    assert_eq!(
        shrunk.width() * 10 / shrunk.height(),
        16,
        "the aspect ratio is kept"
    );
}

#[tokio::test]
async fn a_link_card_whose_image_is_not_an_image_goes_out_without_a_thumbnail() {
    let pds = Pds::start();
    let images = MockServer::start().await;
    let page = ResponseTemplate::new(200).set_body_raw("<html></html>", "text/html");
    answer(&images, "GET", "/hamnet.png", page, 1).await;
    let url = Url::parse(&format!("{}/hamnet.png", images.uri())).unwrap();
    let (record, _) = post_with_image(&pds, "unthumbed", "hamnet", url).await;
    let external = &record["embed"]["external"];
    assert_eq!(external.get("thumb"), None, "{external}");
}

#[tokio::test]
async fn a_post_retried_after_a_crash_is_in_the_repository_once() {
    let pds = Pds::start();
    let (account, did) = pds.account("retried").await;
    let app = TestApp::spawn(vec![account]).await;
    let review = app.publish("hamnet").await;
    assert_eq!(app.drain().await, 1);
    let first = app.entry("hamnet", "sky").await;
    assert_eq!(first.status, PostStatus::Posted, "{:?}", first.reason);

    // The bus redelivers the event, and a crash left the row pending as if
    // the answer to the createRecord never arrived.
    app.deliver(&crate::helpers::published(&review))
        .await
        .unwrap();
    app.leave_pending().await;
    app.clock.advance(chrono::Duration::seconds(10));
    assert_eq!(app.drain().await, 1);

    let again = app.entry("hamnet", "sky").await;
    assert_eq!(again.status, PostStatus::Posted, "{:?}", again.reason);
    assert_eq!(again.remote_id, first.remote_id);
    let posts = pds.posts(&did).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0]["uri"].as_str(), first.remote_id.as_deref());
}

#[tokio::test]
async fn a_post_sent_again_under_its_record_key_is_found_not_doubled() {
    let pds = Pds::start();
    let (account, did) = pds.account("resent").await;
    let app = TestApp::spawn(vec![account]).await;
    app.publish("hamnet").await;
    assert_eq!(app.drain().await, 1);
    let first = app.entry("hamnet", "sky").await;
    assert_eq!(first.status, PostStatus::Posted, "{:?}", first.reason);

    // The ledger lost the answer: createRecord goes out again with the same
    // key, which the PDS refuses (HTTP 500), and the record is looked up.
    app.execute("UPDATE social_posts SET status = 'queued', remote_id = NULL")
        .await;
    assert_eq!(app.drain().await, 1);
    let again = app.entry("hamnet", "sky").await;
    assert_eq!(again.status, PostStatus::Posted, "{:?}", again.reason);
    assert_eq!(again.remote_id, first.remote_id);
    assert_eq!(pds.posts(&did).await.len(), 1);
}
