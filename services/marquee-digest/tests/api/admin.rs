//! The operator routes: schedules, preview, dry run, send now, pause, status.

use std::time::Duration;

use marquee_digest::Preferences;
use marquee_test_support::wait::until_value;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Engine, TestApp, thursday};

on_both_engines!(operators_preview_dry_run_send_and_watch_runs,);

async fn operators_preview_dry_run_send_and_watch_runs(engine: Engine) {
    let app = TestApp::seeded(engine, &["all@films.example"]).await;
    app.subscriber(
        "picky@films.example",
        Preferences {
            venues: vec!["nowhere".to_owned()],
            min_rating: Some(5),
            formats: vec!["16mm".to_owned()],
            ..Preferences::default()
        },
    )
    .await;
    app.clock.set(thursday());

    let schedules = app.get_json("/admin/digest/schedules").await;
    assert_eq!(schedules[0]["name"], "weekly");
    assert_eq!(schedules[0]["next_runs"][0]["utc"], "2026-12-03T08:30:00Z");
    assert_eq!(
        schedules[0]["next_runs"][0]["local"],
        "2026-12-03T08:30:00+00:00"
    );

    let preview = app
        .get("/admin/digest/preview/weekly?email=all@films.example")
        .await;
    assert_eq!(preview.status(), 200);
    let html = preview.text().await.unwrap();
    assert!(html.contains("Once Upon a Time in the West") && html.contains("Hamnet review"));
    assert_eq!(app.get_status("/admin/digest/preview/nope").await, 404);

    let dry = app.post_json("/admin/digest/dry-run/weekly").await;
    assert_eq!(dry["recipients"], 2);
    assert_eq!(dry["would_send"], 1, "{dry}");
    assert_eq!(dry["would_skip"], 1, "{dry}");
    assert_eq!(dry["reviews"], 2);
    assert_eq!(dry["screenings"], 3);
    assert!(app.sink.files().is_empty(), "a dry run sends nothing");

    let sent = app.post_json("/admin/digest/send/weekly").await;
    let id = sent["run"].as_str().unwrap().to_owned();
    assert_eq!(app.sink.wait_for(1).await.len(), 1);
    // Poll the status until the run is done.
    let run_path = format!("/admin/digest/runs/{id}");
    let run = until_value(
        "the run sent over the API is done",
        Duration::from_secs(10),
        || app.get_json(&run_path),
        |run| run["status"] == "sent",
    )
    .await;
    assert_eq!(run["counts"]["sent"], 1);
    assert_eq!(run["counts"]["skipped"], 1, "nothing for the picky one");
    let runs = app.get_json("/admin/digest/runs").await;
    assert_eq!(runs[0]["id"], id.as_str());
    assert_eq!(runs[0]["kind"], "manual");
    // A finished run cannot be paused.
    assert_eq!(
        app.post_status(&format!("/admin/digest/runs/{id}/pause"))
            .await,
        409
    );

    // Schedules can be added over the API; bad ones are explained.
    for (schedule, status) in [
        (json!({"name": "x", "cron": "nope"}), 422),
        (
            json!({"name": "sunday", "cron": "0 10 * * SUN", "time_zone": "Europe/London"}),
            201,
        ),
    ] {
        let answer = app
            .send_json(Method::POST, "/admin/digest/schedules", &schedule)
            .await;
        assert_eq!(answer.status(), status, "{schedule}");
    }
    assert_eq!(app.service.schedules().len(), 2);
    app.close().await;
}
