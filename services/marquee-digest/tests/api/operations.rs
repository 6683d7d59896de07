//! Operators' schedule changes (durable, pausable), subscriber search and
//! suppression, and the freshness gate asking a real HTTP endpoint.

use std::sync::{Arc, Mutex};

use axum::routing::get;
use chrono::{DateTime, Utc};
use marquee_admin::sources::SourceHealth;
use marquee_digest::{Preferences, RunStatus};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Engine, TestApp, thursday};

on_both_engines!(
    schedules_changed_over_the_api_survive_a_restart_and_pause,
    subscribers_are_searched_and_suppressed,
    the_freshness_gate_holds_stale_digests_and_alerts,
);

async fn schedules_changed_over_the_api_survive_a_restart_and_pause(engine: Engine) {
    let app = TestApp::seeded(engine, &["all@films.example"]).await;
    let schedules = "/admin/digest/schedules";
    for (method, path, body, status, what) in [
        (
            Method::POST,
            schedules,
            json!({"name": "sunday", "cron": "0 10 * * SUN"}),
            201,
            "a new schedule is created",
        ),
        (
            Method::POST,
            schedules,
            json!({"name": "sunday", "cron": "0 11 * * SUN"}),
            409,
            "a name is taken once",
        ),
        (
            Method::PUT,
            "/admin/digest/schedules/weekly",
            json!({"name": "weekly", "cron": "30 9 * * THU", "time_zone": "Europe/London"}),
            200,
            "a schedule is updated",
        ),
        (
            Method::PUT,
            "/admin/digest/schedules/nope",
            json!({"name": "nope", "cron": "30 9 * * THU"}),
            404,
            "an unknown schedule is not updated",
        ),
    ] {
        let response = app.send_json(method, path, &body).await;
        assert_eq!(response.status(), status, "{what}");
    }
    let bad_zone = app
        .send_json(
            Method::PUT,
            "/admin/digest/schedules/weekly",
            &json!({"name": "weekly", "cron": "30 9 * * THU", "time_zone": "Mars/Olympus"}),
        )
        .await;
    assert_eq!(bad_zone.status(), 422);
    assert!(bad_zone.text().await.unwrap().contains("Mars/Olympus"));
    assert_eq!(
        app.post_status("/admin/digest/schedules/weekly/pause")
            .await,
        200
    );

    // A restart (same database, the configuration still says 08:30) keeps
    // what operators saved.
    let restarted = app.restart().await;
    let reports = restarted.schedule_reports();
    let weekly = reports
        .iter()
        .find(|s| s.settings.name == "weekly")
        .unwrap();
    assert_eq!(weekly.settings.cron, "30 9 * * THU");
    assert!(weekly.paused);
    assert!(
        reports
            .iter()
            .any(|s| s.settings.name == "sunday" && !s.paused)
    );

    // Due while paused: recorded as skipped, nothing sent.
    app.clock.set(thursday() + chrono::Duration::hours(1));
    restarted.tick(&CancellationToken::new()).await.unwrap();
    let runs = restarted.status(10).await.unwrap();
    let run = &runs
        .iter()
        .find(|r| r.run.schedule == "weekly")
        .unwrap()
        .run;
    assert_eq!(run.status, RunStatus::Skipped);
    assert_eq!(run.note, "skipped: schedule paused by an operator");
    assert!(app.sink.files().is_empty());

    assert_eq!(
        app.post_status("/admin/digest/schedules/weekly/resume")
            .await,
        200
    );
    assert_eq!(
        app.post_status("/admin/digest/schedules/nope/pause").await,
        404
    );
    app.close().await;
}

async fn subscribers_are_searched_and_suppressed(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    for email in [
        "Ada@Films.example",
        "bob@films.example",
        "carol@elsewhere.example",
    ] {
        app.subscriber(email, Preferences::default()).await;
    }
    let search = |q: &str| {
        let request = app
            .client
            .get(app.url(&format!("/admin/digest/subscribers?q={q}")));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let found = search("FILMS").await;
    let emails: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails.len(), 2, "{found}");
    assert!(emails.iter().all(|e| e.to_lowercase().contains("films")));
    assert_eq!(search("").await.as_array().unwrap().len(), 3);

    let service = &app;
    let suppress = |address: &str| {
        let path = format!("/admin/digest/subscribers/{address}/suppress");
        async move { service.post_status(&path).await }
    };
    assert_eq!(suppress("bob@films.example").await, 200);
    assert_eq!(search("bob").await[0]["status"], "suppressed");
    assert_eq!(suppress("nobody@films.example").await, 404);
    assert_eq!(suppress("not-an-address").await, 422);
    app.close().await;
}

/// A stand-in for an ingest service's `…/sources`, answering what the test sets.
async fn health_endpoint(sources: Arc<Mutex<Value>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = axum::Router::new().route(
        "/admin/listings-ingest/sources",
        get(move |headers: axum::http::HeaderMap| {
            let sources = sources.clone();
            async move {
                let authorized = headers
                    .get("authorization")
                    .is_some_and(|v| v == "Bearer health-token");
                if authorized {
                    Ok(axum::Json(sources.lock().unwrap().clone()))
                } else {
                    Err(axum::http::StatusCode::UNAUTHORIZED)
                }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}/admin/listings-ingest/sources")
}

fn health(last_success: Option<DateTime<Utc>>) -> Value {
    json!([SourceHealth {
        name: "bfi-southbank-ics".to_owned(),
        kind: "ics".to_owned(),
        url: "https://bfi.example/calendar.ics".to_owned(),
        last_poll: last_success,
        last_success,
        last_error: None,
        last_error_at: None,
        items_seen: 12,
        rejected: 0,
        events_published: 12,
    }])
}

async fn send(app: &TestApp, force: bool) -> Value {
    app.post_json(if force {
        "/admin/digest/send/weekly?force=true"
    } else {
        "/admin/digest/send/weekly"
    })
    .await
}

/// A service whose weekly digest waits for sources read in the last 36 h,
/// asking `url` with `token`.
async fn gated(engine: Engine, url: &str, token: Option<&str>) -> TestApp {
    TestApp::seeded_with(
        engine,
        |settings| {
            settings.schedules[0].max_source_age_secs = Some(36 * 3600);
            settings.freshness.urls = vec![url.parse().unwrap()];
            settings.freshness.token = token.map(|t| t.to_owned().into());
        },
        &["all@films.example"],
    )
    .await
}

/// Asserts that a send's `answer` held the digest with a note saying `why`.
fn assert_held(answer: &Value, why: &str) {
    assert_eq!(answer["status"], "held", "{answer}");
    let note = answer["note"].as_str().unwrap();
    assert!(note.contains(why), "{why} missing from {answer}");
}

async fn the_freshness_gate_holds_stale_digests_and_alerts(engine: Engine) {
    let sources = Arc::new(Mutex::new(health(None)));
    let url = health_endpoint(sources.clone()).await;
    let app = gated(engine, &url, Some("health-token")).await;
    let now = thursday() - chrono::Duration::hours(1);

    // Never read: held, naming the source.
    assert_held(
        &send(&app, false).await,
        "bfi-southbank-ics has never been read",
    );

    // Read three days ago: held, with its age.
    *sources.lock().unwrap() = health(Some(now - chrono::Duration::days(3)));
    app.clock.set(now + chrono::Duration::seconds(1));
    assert_held(&send(&app, false).await, "last read 72 h");
    assert!(app.sink.files().is_empty(), "nothing sent while stale");

    // Fresh: sent.
    *sources.lock().unwrap() = health(Some(now - chrono::Duration::hours(2)));
    app.clock.set(now + chrono::Duration::seconds(2));
    let fresh = send(&app, false).await;
    assert_eq!(fresh["status"], "sending", "{fresh}");
    assert_eq!(app.sink.wait_for(1).await.len(), 1);
    app.close().await;

    // The endpoint unreachable: held; forced: sent anyway.
    let app = gated(
        engine,
        "http://127.0.0.1:9/admin/listings-ingest/sources",
        None,
    )
    .await;
    assert_held(&send(&app, false).await, "cannot ask http://127.0.0.1:9/");
    app.clock.set(now + chrono::Duration::seconds(1));
    let forced = send(&app, true).await;
    assert_eq!(forced["status"], "sending", "{forced}");
    assert_eq!(app.sink.wait_for(1).await.len(), 1);
    app.close().await;
}
