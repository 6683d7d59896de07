//! Bluesky: createSession, then createRecord with a TID record key; expired
//! sessions are refreshed; a pending post is looked up before a resend.

use marquee_social::PostStatus;
use serde_json::json;
use wiremock::matchers::{body_json, body_partial_json, header, query_param};
use wiremock::{MockServer, ResponseTemplate};

use crate::helpers::{TestApp, answer, bluesky, bodies, published, request, review};

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

/// An XRPC failure named `error`.
fn xrpc_error(status: u16, error: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error": error, "message": message}))
}

/// A PDS that signs the account in once, and the service posting to it.
async fn signed_in() -> (MockServer, TestApp) {
    let server = MockServer::start().await;
    request("POST", CREATE_SESSION)
        .and(body_json(json!({
            "identifier": "marquee.films.example",
            "password": "app-pass-word",
        })))
        .respond_with(session("access-1", "refresh-1"))
        .expect(1)
        .mount(&server)
        .await;
    let app = TestApp::spawn(vec![bluesky("sky", &server)]).await;
    (server, app)
}

/// Answers createRecord sent with `token` once.
async fn creates_record_with(server: &MockServer, token: &str, response: ResponseTemplate) {
    request("POST", CREATE_RECORD)
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(response)
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_record_carries_link_facets_at_utf8_byte_offsets_and_a_card() {
    let (server, app) = signed_in().await;
    creates_record_with(&server, "access-1", created("any")).await;
    let mut amelie = review("amelie");
    amelie.headline =
        "Le Fabuleux Destin d’Amélie Poulain review – “映画” at its most joyful 🎬".to_owned();
    app.deliver(&published(&amelie)).await.unwrap();
    assert_eq!(app.drain().await, 1);

    let entry = app.entry("amelie", "sky").await;
    assert_eq!(entry.status, PostStatus::Posted);
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
    let (server, app) = signed_in().await;
    let expired = xrpc_error(400, "ExpiredToken", "Token has expired");
    creates_record_with(&server, "access-1", expired).await;
    request("POST", REFRESH_SESSION)
        .and(header("authorization", "Bearer refresh-1"))
        .respond_with(session("access-2", "refresh-2"))
        .expect(1)
        .mount(&server)
        .await;
    creates_record_with(&server, "access-2", created("x")).await;
    app.publish("hamnet").await;
    assert_eq!(app.drain().await, 1);
    assert_eq!(app.entry("hamnet", "sky").await.status, PostStatus::Posted);
}

#[tokio::test]
async fn a_post_accepted_before_a_crash_is_found_not_sent_again() {
    let (server, app) = signed_in().await;
    // The PDS stored the record, but the answer never arrived.
    answer(
        &server,
        "POST",
        CREATE_RECORD,
        ResponseTemplate::new(502),
        1,
    )
    .await;
    app.publish("hamnet").await;
    assert_eq!(app.drain().await, 1);
    let entry = app.entry("hamnet", "sky").await;
    assert_eq!(entry.status, PostStatus::Pending);

    let uri = format!("at://{DID}/app.bsky.feed.post/{}", entry.idempotency_key);
    request("GET", GET_RECORD)
        .and(header("authorization", "Bearer access-1"))
        .and(query_param("repo", DID))
        .and(query_param("collection", "app.bsky.feed.post"))
        .and(query_param("rkey", entry.idempotency_key.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "uri": uri,
            "cid": "bafyreib2rxk3rh6kzwq",
            "value": {"$type": "app.bsky.feed.post", "text": entry.post.text},
        })))
        .expect(1)
        .mount(&server)
        .await;
    app.clock.advance(chrono::Duration::seconds(10));
    assert_eq!(app.drain().await, 1);
    let entry = app.entry("hamnet", "sky").await;
    assert_eq!(entry.status, PostStatus::Posted);
    assert_eq!(entry.remote_id, Some(uri));
}

#[tokio::test]
async fn a_pending_post_not_on_the_network_is_sent_with_the_same_key() {
    let (server, app) = signed_in().await;
    let not_found = xrpc_error(400, "RecordNotFound", "Could not locate record");
    answer(&server, "GET", GET_RECORD, not_found, 1).await;
    answer(&server, "POST", CREATE_RECORD, created("x"), 1).await;
    app.publish("hamnet").await;
    // A crash after the pending row was written, before the request left.
    app.leave_pending().await;
    assert_eq!(app.drain().await, 1);
    let entry = app.entry("hamnet", "sky").await;
    assert_eq!(entry.status, PostStatus::Posted);
    let body = &bodies(&server, CREATE_RECORD).await[0];
    assert_eq!(body["rkey"], entry.idempotency_key.as_str());
}

#[tokio::test]
async fn a_wrong_app_password_fails_the_post_for_good() {
    let server = MockServer::start().await;
    let refused = xrpc_error(
        401,
        "AuthenticationRequired",
        "Invalid identifier or password",
    );
    answer(&server, "POST", CREATE_SESSION, refused, ..).await;
    request("POST", CREATE_RECORD)
        .and(body_partial_json(
            json!({"collection": "app.bsky.feed.post"}),
        ))
        .respond_with(created("x"))
        .expect(0)
        .mount(&server)
        .await;
    let app = TestApp::spawn(vec![bluesky("sky", &server)]).await;
    app.publish("hamnet").await;
    assert_eq!(app.drain().await, 1);
    let entry = app.entry("hamnet", "sky").await;
    assert_eq!(entry.status, PostStatus::Failed);
    assert!(
        entry
            .reason
            .as_deref()
            .unwrap()
            .contains("Invalid identifier or password")
    );
}
