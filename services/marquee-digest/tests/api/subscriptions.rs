//! Double opt-in and one-click unsubscribe over HTTP, bounces, CSV.

use marquee_digest::{Preferences, SubscriberStatus, Suppression};
use reqwest::Method;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::helpers::{BOUNCE_SECRET, Engine, TestApp, thursday};

on_both_engines!(
    a_form_subscription_is_confirmed_by_its_emailed_link_and_bad_links_are_refused,
    an_old_confirmation_link_never_resubscribes_after_an_unsubscribe_or_a_suppression,
    one_click_unsubscribe_from_the_list_unsubscribe_header_stops_the_next_digest,
    a_bounce_suppresses_the_address_and_csv_round_trips,
    the_bounce_webhook_refuses_calls_without_its_secret,
    the_bounce_webhook_is_off_without_a_secret,
);

/// `POST /webhooks/bounce` of `body`, with `Authorization: Bearer {token}`
/// when there is one: the answer.
async fn bounce(app: &TestApp, token: Option<&str>, body: &serde_json::Value) -> reqwest::Response {
    let mut request = app.client.post(app.url("/webhooks/bounce")).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// The `error` of a refusal, after asserting its `status`.
async fn refusal(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status(), status);
    let body: serde_json::Value = response.json().await.unwrap();
    body["error"].as_str().unwrap().to_owned()
}

fn link_in(text: &str, path: &str) -> String {
    text.split_whitespace()
        .find(|w| w.contains(path))
        .unwrap_or_else(|| panic!("no {path} link in {text}"))
        .to_owned()
}

/// `POST /subscribe` of `email` as JSON: the answer.
async fn subscribe(app: &TestApp, email: &str) -> reqwest::Response {
    app.send_json(Method::POST, "/subscribe", &json!({ "email": email }))
        .await
}

/// The page `response` shows, after asserting its `status`, that it says
/// `says` and that it is in the shared layout.
async fn page_of(response: reqwest::Response, status: u16, says: &str) -> String {
    assert_eq!(response.status(), status);
    let page = response.text().await.unwrap();
    assert!(page.contains(says), "{says} missing from {page}");
    assert!(
        page.contains("· Marquee</title>"),
        "a page in the layout: {page}"
    );
    page
}

async fn a_form_subscription_is_confirmed_by_its_emailed_link_and_bad_links_are_refused(
    engine: Engine,
) {
    let app = TestApp::spawn(engine).await;
    // The venues the form may name are those the screenings list.
    app.seed_content().await;
    let invalid = subscribe(&app, "not-an-address").await;
    assert_eq!(invalid.status(), 422);
    let body: serde_json::Value = invalid.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("no @"), "{body}");

    let response = app
        .client
        .post(app.url("/subscribe"))
        .form(&[
            ("email", "new@films.example"),
            ("venues", "bfi-southbank, prince-charles"),
            ("formats", "celluloid"),
            ("min_rating", "3"),
        ])
        .send()
        .await
        .unwrap();
    let page = page_of(response, 202, "Check your inbox").await;
    assert!(
        page.contains("<title>Check your inbox · Marquee</title>"),
        "a page in the shared layout: {page}"
    );
    let stored = app.stored("new@films.example").await;
    assert_eq!(stored.status, SubscriberStatus::Pending);
    assert_eq!(
        stored.preferences.venues,
        ["bfi-southbank", "prince-charles"]
    );
    assert_eq!(stored.preferences.min_rating, Some(3));

    let confirmation = &app.sink.wait_for(1).await[0];
    assert_eq!(confirmation.to, "new@films.example");
    let link = link_in(confirmation.part("text/plain"), "/subscribe/confirm?token=");

    // A tampered token is refused and confirms nobody.
    let flipped = if link.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{flipped}", &link[..link.len() - 1]);
    let refused = app.client.get(&tampered).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    // An expired one too: three days later (the link lives two).
    app.clock.set(thursday() + chrono::Duration::days(3));
    let expired = app.client.get(&link).send().await.unwrap();
    page_of(expired, 410, "expired").await;
    let stored = app.stored("new@films.example").await;
    assert_eq!(stored.status, SubscriberStatus::Pending);

    // In time, the link opens a page whose button confirms; the GET alone
    // (a mail scanner's) changes nothing.
    app.clock.set(thursday() - chrono::Duration::hours(1));
    let page = page_of(
        app.client.get(&link).send().await.unwrap(),
        200,
        "<form method=\"post\" action=\"?token=",
    )
    .await;
    assert!(page.contains("new@films.example"), "{page}");
    let stored = app.stored("new@films.example").await;
    assert_eq!(stored.status, SubscriberStatus::Pending);
    let confirmed = app.client.post(&link).send().await.unwrap();
    page_of(confirmed, 200, "new@films.example will get").await;
    let stored = app.stored("new@films.example").await;
    assert_eq!(stored.status, SubscriberStatus::Confirmed);
    // Opened again, the link says so and changes nothing.
    let again = app.client.get(&link).send().await.unwrap();
    page_of(again, 200, "already subscribed").await;
    app.close().await;
}

/// Asserts that the confirmation `link` is refused as stale, by GET and by
/// POST, with a page saying to subscribe again.
async fn assert_stale(app: &TestApp, link: &str) {
    for response in [
        app.client.get(link).send().await.unwrap(),
        app.client.post(link).send().await.unwrap(),
    ] {
        let page = page_of(response, 410, "This link is no longer valid").await;
        assert!(page.contains("subscribe again"), "{page}");
    }
}

async fn an_old_confirmation_link_never_resubscribes_after_an_unsubscribe_or_a_suppression(
    engine: Engine,
) {
    let app = TestApp::spawn_with(engine, |s| s.schedules[0].send_when_empty = true).await;
    let reader = "reader@films.example";
    assert_eq!(subscribe(&app, reader).await.status(), 202);
    let first = link_in(
        app.sink.wait_for(1).await[0].part("text/plain"),
        "/subscribe/confirm?token=",
    );
    let confirmed = app.client.post(&first).send().await.unwrap();
    assert_eq!(confirmed.status(), 200);
    app.clock.set(thursday());
    app.service.tick(&CancellationToken::new()).await.unwrap();
    let messages = app.sink.wait_for(2).await;
    let unsubscribe = messages[1].unsubscribe_url();
    let done = app.client.post(&unsubscribe).send().await.unwrap();
    page_of(done, 200, "reader@films.example will get no more digests").await;
    let again = app.client.post(&unsubscribe).send().await.unwrap();
    page_of(again, 200, "was already unsubscribed").await;

    // The original link, still within its 48 hours, confirms nobody again.
    app.clock.set(thursday() + chrono::Duration::hours(1));
    assert_stale(&app, &first).await;
    assert_eq!(
        app.stored(reader).await.status,
        SubscriberStatus::Unsubscribed
    );
    // Nor does it take over a new subscription: only the new link confirms.
    assert_eq!(subscribe(&app, reader).await.status(), 202);
    let second = link_in(
        app.sink.wait_for(3).await[2].part("text/plain"),
        "/subscribe/confirm?token=",
    );
    assert_stale(&app, &first).await;
    assert_eq!(app.stored(reader).await.status, SubscriberStatus::Pending);
    // A suppression ends the new one's link too.
    app.service
        .suppress(&crate::helpers::email(reader), Suppression::Bounce)
        .await
        .unwrap();
    assert_stale(&app, &second).await;
    assert_eq!(
        app.stored(reader).await.status,
        SubscriberStatus::Suppressed
    );

    // The next digest goes to nobody.
    app.clock.set(thursday() + chrono::Duration::days(7));
    app.service.tick(&CancellationToken::new()).await.unwrap();
    assert_eq!(app.sink.messages().len(), 3);
    app.close().await;
}

async fn one_click_unsubscribe_from_the_list_unsubscribe_header_stops_the_next_digest(
    engine: Engine,
) {
    let app = TestApp::spawn_with(engine, |s| s.schedules[0].send_when_empty = true).await;
    app.subscriber("leaving@films.example", Preferences::default())
        .await;
    app.subscriber("staying@films.example", Preferences::default())
        .await;
    app.clock.set(thursday());
    app.service.tick(&CancellationToken::new()).await.unwrap();
    let messages = app.sink.wait_for(2).await;
    let leaving = messages
        .iter()
        .find(|m| m.to == "leaving@films.example")
        .unwrap();
    let url = leaving.unsubscribe_url();

    // Someone else's token cannot be forged from this one.
    let forged = url.replace("unsubscribe.", "unsubscribe.x");
    assert_eq!(app.client.post(&forged).send().await.unwrap().status(), 400);
    // GET shows a form and changes nothing (link scanners fetch links).
    let page = app.client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<form method=\"post\""));
    let stored = app.stored("leaving@films.example").await;
    assert_eq!(stored.status, SubscriberStatus::Confirmed);
    // RFC 8058: a POST with List-Unsubscribe=One-Click, no confirmation.
    let response = app
        .client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let stored = app.stored("leaving@films.example").await;
    assert_eq!(stored.status, SubscriberStatus::Unsubscribed);

    app.clock.set(thursday() + chrono::Duration::days(7));
    app.service.tick(&CancellationToken::new()).await.unwrap();
    let messages = app.sink.wait_for(3).await;
    assert_eq!(messages.len(), 3);
    assert_eq!(
        messages
            .iter()
            .filter(|m| m.to == "leaving@films.example")
            .count(),
        1
    );
    app.close().await;
}

async fn a_bounce_suppresses_the_address_and_csv_round_trips(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let report = app
        .service
        .import_csv(
            "email,status,list,venues,formats,min_rating\n\
             a@films.example,,weekly,bfi-southbank;prince-charles,35mm,4\n\
             broken,,weekly,,,\n\
             b@films.example,pending,weekly,,,\n",
        )
        .await
        .unwrap();
    assert_eq!(report.imported, 2);
    assert_eq!(report.rejected.len(), 1);
    assert!(report.rejected[0].1.contains("broken"), "{report:?}");

    let response = bounce(
        &app,
        Some(BOUNCE_SECRET),
        &json!({"email": "a@films.example", "kind": "complaint"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let csv = app.service.export_csv().await.unwrap();
    assert!(
        csv.contains("a@films.example,suppressed,weekly,bfi-southbank;prince-charles,35mm,4"),
        "{csv}"
    );
    assert!(csv.contains("b@films.example,pending,weekly,,,"), "{csv}");
    // A suppressed address is not mailed when it subscribes again.
    let again = subscribe(&app, "a@films.example").await;
    assert_eq!(again.status(), 202);
    assert!(app.sink.files().is_empty());
    app.close().await;
}

async fn the_bounce_webhook_refuses_calls_without_its_secret(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.subscriber("reader@films.example", Preferences::default())
        .await;
    let body = json!({"email": "reader@films.example", "kind": "bounce"});
    let missing = bounce(&app, None, &body).await;
    assert_eq!(
        missing.headers()["www-authenticate"].to_str().unwrap(),
        "Bearer"
    );
    let reason = refusal(missing, 401).await;
    assert!(
        reason.contains("missing `Authorization: Bearer"),
        "{reason}"
    );
    for wrong in [
        "test-bounce-secret-of-lengtH",
        "test-bounce-secret-of-length-and-more",
    ] {
        let reason = refusal(bounce(&app, Some(wrong), &body).await, 401).await;
        assert!(
            reason.contains("not the bounce webhook's secret"),
            "{reason}"
        );
    }
    // A refused call is refused before its body is read.
    let reason = refusal(bounce(&app, None, &json!({"nonsense": 1})).await, 401).await;
    assert!(reason.contains("missing"), "{reason}");
    assert_eq!(
        app.stored("reader@films.example").await.status,
        SubscriberStatus::Confirmed
    );

    let reason = refusal(
        bounce(
            &app,
            Some(BOUNCE_SECRET),
            &json!({"email": "reader@films.example", "kind": "spam"}),
        )
        .await,
        422,
    )
    .await;
    assert!(reason.contains("`bounce` or `complaint`"), "{reason}");
    let accepted = bounce(&app, Some(BOUNCE_SECRET), &body).await;
    assert_eq!(accepted.status(), 200);
    let answer: serde_json::Value = accepted.json().await.unwrap();
    assert_eq!(
        answer,
        json!({"suppressed": ["reader@films.example"], "counted": []})
    );
    assert_eq!(
        app.stored("reader@films.example").await.status,
        SubscriberStatus::Suppressed
    );
    app.close().await;
}

async fn the_bounce_webhook_is_off_without_a_secret(engine: Engine) {
    let app = TestApp::spawn_with(engine, |s| s.bounce_secret = None).await;
    app.subscriber("reader@films.example", Preferences::default())
        .await;
    let body = json!({"email": "reader@films.example", "kind": "bounce"});
    for token in [None, Some(BOUNCE_SECRET)] {
        let reason = refusal(bounce(&app, token, &body).await, 404).await;
        assert!(reason.contains("the bounce webhook is off"), "{reason}");
    }
    assert_eq!(
        app.stored("reader@films.example").await.status,
        SubscriberStatus::Confirmed
    );
    app.close().await;
}
