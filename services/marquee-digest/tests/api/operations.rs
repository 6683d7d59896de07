//! Operators' schedule changes (durable, pausable), subscriber search and
//! suppression, and the freshness gate asking a real HTTP endpoint.

use std::sync::{Arc, Mutex};

use axum::routing::get;
use chrono::{DateTime, Utc};
use marquee_admin::sources::SourceHealth;
use marquee_digest::{Preferences, RunStatus};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Engine, TestApp, thursday};

on_both_engines!(
    schedules_changed_over_the_api_survive_a_restart_and_pause,
    subscribers_are_searched_and_suppressed,
    the_freshness_gate_holds_stale_digests_and_alerts,
);

async fn schedules_changed_over_the_api_survive_a_restart_and_pause(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.seed_content().await;
    app.subscriber("all@films.example", Preferences::default())
        .await;
    let post = |path: &str| app.client.post(app.url(path));

    let created = post("/admin/digest/schedules")
        .json(&json!({"name": "sunday", "cron": "0 10 * * SUN"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let again = post("/admin/digest/schedules")
        .json(&json!({"name": "sunday", "cron": "0 11 * * SUN"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409, "a name is taken once");
    let updated = app
        .client
        .put(app.url("/admin/digest/schedules/weekly"))
        .json(&json!({"name": "weekly", "cron": "30 9 * * THU", "time_zone": "Europe/London"}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let unknown = app
        .client
        .put(app.url("/admin/digest/schedules/nope"))
        .json(&json!({"name": "nope", "cron": "30 9 * * THU"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let bad_zone = app
        .client
        .put(app.url("/admin/digest/schedules/weekly"))
        .json(&json!({"name": "weekly", "cron": "30 9 * * THU", "time_zone": "Mars/Olympus"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_zone.status(), 422);
    assert!(bad_zone.text().await.unwrap().contains("Mars/Olympus"));
    assert_eq!(
        post("/admin/digest/schedules/weekly/pause")
            .send()
            .await
            .unwrap()
            .status(),
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
        post("/admin/digest/schedules/weekly/resume")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post("/admin/digest/schedules/nope/pause")
            .send()
            .await
            .unwrap()
            .status(),
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

    let suppressed = app
        .client
        .post(app.url("/admin/digest/subscribers/bob@films.example/suppress"))
        .send()
        .await
        .unwrap();
    assert_eq!(suppressed.status(), 200);
    assert_eq!(search("bob").await[0]["status"], "suppressed");
    let unknown = app
        .client
        .post(app.url("/admin/digest/subscribers/nobody@films.example/suppress"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let invalid = app
        .client
        .post(app.url("/admin/digest/subscribers/not-an-address/suppress"))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);
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
    let path = if force {
        "/admin/digest/send/weekly?force=true"
    } else {
        "/admin/digest/send/weekly"
    };
    app.client
        .post(app.url(path))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn the_freshness_gate_holds_stale_digests_and_alerts(engine: Engine) {
    let sources = Arc::new(Mutex::new(health(None)));
    let url = health_endpoint(sources.clone()).await;
    let app = TestApp::spawn_with(engine, |settings| {
        settings.schedules[0].max_source_age_secs = Some(36 * 3600);
        settings.freshness.urls = vec![url.parse().unwrap()];
        settings.freshness.token = Some("health-token".to_owned().into());
    })
    .await;
    app.seed_content().await;
    app.subscriber("all@films.example", Preferences::default())
        .await;
    let now = thursday() - chrono::Duration::hours(1);

    // Never read: held, naming the source.
    let held = send(&app, false).await;
    assert_eq!(held["status"], "held", "{held}");
    assert!(
        held["note"]
            .as_str()
            .unwrap()
            .contains("bfi-southbank-ics has never been read"),
        "{held}"
    );

    // Read three days ago: held, with its age.
    *sources.lock().unwrap() = health(Some(now - chrono::Duration::days(3)));
    app.clock.set(now + chrono::Duration::seconds(1));
    let stale = send(&app, false).await;
    assert_eq!(stale["status"], "held");
    assert!(
        stale["note"].as_str().unwrap().contains("last read 72 h"),
        "{stale}"
    );
    assert!(app.sink.files().is_empty(), "nothing sent while stale");

    // Fresh: sent.
    *sources.lock().unwrap() = health(Some(now - chrono::Duration::hours(2)));
    app.clock.set(now + chrono::Duration::seconds(2));
    let fresh = send(&app, false).await;
    assert_eq!(fresh["status"], "sending", "{fresh}");
    assert_eq!(app.sink.wait_for(1).await.len(), 1);
    app.close().await;

    // The endpoint unreachable: held; forced: sent anyway.
    let app = TestApp::spawn_with(engine, |settings| {
        settings.schedules[0].max_source_age_secs = Some(36 * 3600);
        settings.freshness.urls = vec![
            "http://127.0.0.1:9/admin/listings-ingest/sources"
                .parse()
                .unwrap(),
        ];
    })
    .await;
    app.seed_content().await;
    app.subscriber("all@films.example", Preferences::default())
        .await;
    let unreachable = send(&app, false).await;
    assert_eq!(unreachable["status"], "held");
    assert!(
        unreachable["note"]
            .as_str()
            .unwrap()
            .contains("cannot ask http://127.0.0.1:9/"),
        "{unreachable}"
    );
    app.clock.set(now + chrono::Duration::seconds(1));
    let forced = send(&app, true).await;
    assert_eq!(forced["status"], "sending", "{forced}");
    assert_eq!(app.sink.wait_for(1).await.len(), 1);
    app.close().await;
}
