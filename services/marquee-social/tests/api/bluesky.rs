//! Bluesky: createSession, then createRecord with a TID record key; expired
//! sessions are refreshed; a pending post is looked up before a resend.

use marquee_social::{AccountSettings, Status};
use serde_json::json;
use wiremock::matchers::{body_json, body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, bluesky_account, bodies, published, review};

const CREATE_SESSION: &str = "/xrpc/com.atproto.server.createSession";
const REFRESH_SESSION: &str = "/xrpc/com.atproto.server.refreshSession";
const CREATE_RECORD: &str = "/xrpc/com.atproto.repo.createRecord";
const GET_RECORD: &str = "/xrpc/com.atproto.repo.getRecord";
const DID: &str = "did:plc:marquee123";

fn session(access: &str, refresh: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "accessJwt": access,
        "refreshJwt": refresh,
        "handle": "marquee.films.example",
        "did": DID,
        "active": true,
    }))
}

fn created(rkey: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "uri": format!("at://{DID}/app.bsky.feed.post/{rkey}"),
        "cid": "bafyreib2rxk3rh6kzwq",
        "commit": {"cid": "bafyreic", "rev": "3l6oveex3ii2l"},
        "validationStatus": "valid",
    }))
}

async fn signs_in(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(CREATE_SESSION))
        .and(body_json(json!({
            "identifier": "marquee.films.example",
            "password": "app-pass-word",
        })))
        .respond_with(session("access-1", "refresh-1"))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_record_carries_link_facets_at_utf8_byte_offsets_and_a_card() {
    let server = MockServer::start().await;
    signs_in(&server).await;
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .and(header("authorization", "Bearer access-1"))
        .respond_with(created("any"))
        .expect(1)
        .mount(&server)
        .await;
    let app = TestApp::spawn(vec![AccountSettings::Bluesky(bluesky_account(
        "sky",
        &server.uri(),
    ))])
    .await;
    let mut amelie = review("amelie");
    amelie.headline =
        "Le Fabuleux Destin d’Amélie Poulain review – “映画” at its most joyful 🎬".to_owned();
    app.deliver(&published(&amelie)).await.unwrap();
    assert_eq!(app.drain().await, 1);

    let entry = app.entry("amelie", "sky").await;
    assert_eq!(entry.status, Status::Posted);
    assert_eq!(
        entry.remote_url.as_deref(),
        Some(
            format!(
                "https://bsky.app/profile/{DID}/post/{}",
                entry.idempotency_key
            )
            .as_str()
        )
    );
    let body = &bodies(&server, CREATE_RECORD).await[0];
    assert_eq!(body["repo"], DID);
    assert_eq!(body["collection"], "app.bsky.feed.post");
    assert_eq!(body["rkey"], entry.idempotency_key.as_str());
    assert_eq!(entry.idempotency_key.len(), 13, "a TID");
    let record = &body["record"];
    assert_eq!(record["$type"], "app.bsky.feed.post");
    assert_eq!(record["langs"], json!(["en"]));
    assert_eq!(record["createdAt"], "2025-01-10T09:00:00.000Z");
    let text = record["text"].as_str().unwrap();
    assert_eq!(text, entry.post.text);
    let facet = &record["facets"][0];
    let start = facet["index"]["byteStart"].as_u64().unwrap() as usize;
    let end = facet["index"]["byteEnd"].as_u64().unwrap() as usize;
    let url = "https://films.example/reviews/amelie";
    assert_eq!(&text.as_bytes()[start..end], url.as_bytes());
    assert!(
        start > text[..start].chars().count(),
        "offsets count bytes, not chars"
    );
    assert_eq!(
        facet["features"],
        json!([{"$type": "app.bsky.richtext.facet#link", "uri": url}])
    );
    assert_eq!(
        record["embed"],
        json!({
            "$type": "app.bsky.embed.external",
            "external": {"uri": url, "title": amelie.headline, "description": amelie.standfirst},
        })
    );
}

#[tokio::test]
async fn an_expired_token_is_refreshed_and_the_record_retried_once() {
    let server = MockServer::start().await;
    signs_in(&server).await;
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .and(header("authorization", "Bearer access-1"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "ExpiredToken", "message": "Token has expired"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(REFRESH_SESSION))
        .and(header("authorization", "Bearer refresh-1"))
        .respond_with(session("access-2", "refresh-2"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .and(header("authorization", "Bearer access-2"))
        .respond_with(created("x"))
        .expect(1)
        .mount(&server)
        .await;
    let app = TestApp::spawn(vec![AccountSettings::Bluesky(bluesky_account(
        "sky",
        &server.uri(),
    ))])
    .await;
    app.deliver(&published(&review("hamnet"))).await.unwrap();
    assert_eq!(app.drain().await, 1);
    assert_eq!(app.entry("hamnet", "sky").await.status, Status::Posted);
}

#[tokio::test]
async fn a_post_accepted_before_a_crash_is_found_not_sent_again() {
    let server = MockServer::start().await;
    signs_in(&server).await;
    // The PDS stored the record, but the answer never arrived.
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .respond_with(ResponseTemplate::new(502))
        .expect(1)
        .mount(&server)
        .await;
    let app = TestApp::spawn(vec![AccountSettings::Bluesky(bluesky_account(
        "sky",
        &server.uri(),
    ))])
    .await;
    app.deliver(&published(&review("hamnet"))).await.unwrap();
    assert_eq!(app.drain().await, 1);
    let entry = app.entry("hamnet", "sky").await;
    assert_eq!(entry.status, Status::Pending);

    Mock::given(method("GET"))
        .and(path(GET_RECORD))
        .and(header("authorization", "Bearer access-1"))
        .and(query_param("repo", DID))
        .and(query_param("collection", "app.bsky.feed.post"))
        .and(query_param("rkey", entry.idempotency_key.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "uri": format!("at://{DID}/app.bsky.feed.post/{}", entry.idempotency_key),
            "cid": "bafyreib2rxk3rh6kzwq",
            "value": {"$type": "app.bsky.feed.post", "text": entry.post.text},
        })))
        .expect(1)
        .mount(&server)
        .await;
    app.clock.advance(chrono::Duration::seconds(10));
    assert_eq!(app.drain().await, 1);
    let entry = app.entry("hamnet", "sky").await;
    assert_eq!(entry.status, Status::Posted);
    assert_eq!(
        entry.remote_id,
        Some(format!(
            "at://{DID}/app.bsky.feed.post/{}",
            entry.idempotency_key
        ))
    );
}

#[tokio::test]
async fn a_pending_post_not_on_the_network_is_sent_with_the_same_key() {
    let server = MockServer::start().await;
    signs_in(&server).await;
    Mock::given(method("GET"))
        .and(path(GET_RECORD))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": "RecordNotFound", "message": "Could not locate record"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .respond_with(created("x"))
        .expect(1)
        .mount(&server)
        .await;
    let app = TestApp::spawn(vec![AccountSettings::Bluesky(bluesky_account(
        "sky",
        &server.uri(),
    ))])
    .await;
    app.deliver(&published(&review("hamnet"))).await.unwrap();
    // A crash after the pending row was written, before the request left.
    app.execute("UPDATE social_posts SET status = 'pending'")
        .await;
    assert_eq!(app.drain().await, 1);
    let entry = app.entry("hamnet", "sky").await;
    assert_eq!(entry.status, Status::Posted);
    let body = &bodies(&server, CREATE_RECORD).await[0];
    assert_eq!(body["rkey"], entry.idempotency_key.as_str());
}

#[tokio::test]
async fn a_wrong_app_password_fails_the_post_for_good() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE_SESSION))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": "AuthenticationRequired", "message": "Invalid identifier or password"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .and(body_partial_json(
            json!({"collection": "app.bsky.feed.post"}),
        ))
        .respond_with(created("x"))
        .expect(0)
        .mount(&server)
        .await;
    let app = TestApp::spawn(vec![AccountSettings::Bluesky(bluesky_account(
        "sky",
        &server.uri(),
    ))])
    .await;
    app.deliver(&published(&review("hamnet"))).await.unwrap();
    assert_eq!(app.drain().await, 1);
    let entry = app.entry("hamnet", "sky").await;
    assert_eq!(entry.status, Status::Failed);
    assert!(
        entry
            .reason
            .as_deref()
            .unwrap()
            .contains("Invalid identifier or password")
    );
}
