//! The operator routes: schedules, preview, dry run, send now, pause, status.

use marquee_digest::Preferences;

use crate::helpers::{Engine, TestApp, thursday};

on_both_engines!(operators_preview_dry_run_send_and_watch_runs,);

async fn operators_preview_dry_run_send_and_watch_runs(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.seed_content().await;
    app.subscriber("all@films.example", Preferences::default())
        .await;
    app.subscriber(
        "picky@films.example",
        Preferences {
            venues: vec!["nowhere".to_owned()],
            min_rating: Some(5),
            formats: vec!["16mm".to_owned()],
        },
    )
    .await;
    app.clock.set(thursday());

    let schedules: serde_json::Value = app
        .client
        .get(app.url("/admin/digest/schedules"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(schedules[0]["name"], "weekly");
    assert_eq!(schedules[0]["next_runs"][0]["utc"], "2026-12-03T08:30:00Z");
    assert_eq!(
        schedules[0]["next_runs"][0]["local"],
        "2026-12-03T08:30:00+00:00"
    );

    let preview = app
        .client
        .get(app.url("/admin/digest/preview/weekly?email=all@films.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(preview.status(), 200);
    let html = preview.text().await.unwrap();
    assert!(html.contains("Once Upon a Time in the West") && html.contains("Hamnet review"));
    assert_eq!(
        app.client
            .get(app.url("/admin/digest/preview/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let dry: serde_json::Value = app
        .client
        .post(app.url("/admin/digest/dry-run/weekly"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dry["recipients"], 2);
    assert_eq!(dry["would_send"], 1, "{dry}");
    assert_eq!(dry["would_skip"], 1, "{dry}");
    assert_eq!(dry["reviews"], 2);
    assert_eq!(dry["screenings"], 3);
    assert!(app.sink.files().is_empty(), "a dry run sends nothing");

    let sent: serde_json::Value = app
        .client
        .post(app.url("/admin/digest/send/weekly"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = sent["run"].as_str().unwrap().to_owned();
    assert_eq!(app.sink.wait_for(1).await.len(), 1);
    // Poll the status until the run is done.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let run: serde_json::Value = app
            .client
            .get(app.url(&format!("/admin/digest/runs/{id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if run["status"] == "sent" {
            assert_eq!(run["counts"]["sent"], 1);
            assert_eq!(run["counts"]["skipped"], 1, "nothing for the picky one");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{run}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let runs: serde_json::Value = app
        .client
        .get(app.url("/admin/digest/runs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(runs[0]["id"], id.as_str());
    assert_eq!(runs[0]["kind"], "manual");
    // A finished run cannot be paused.
    assert_eq!(
        app.client
            .post(app.url(&format!("/admin/digest/runs/{id}/pause")))
            .send()
            .await
            .unwrap()
            .status(),
        409
    );

    // Schedules can be added over the API; bad ones are explained.
    let bad = app
        .client
        .post(app.url("/admin/digest/schedules"))
        .json(&serde_json::json!({"name": "x", "cron": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let added = app.client.post(app.url("/admin/digest/schedules")).json(&serde_json::json!({"name": "sunday", "cron": "0 10 * * SUN", "time_zone": "Europe/London"})).send().await.unwrap();
    assert_eq!(added.status(), 201);
    assert_eq!(app.service.schedules().len(), 2);
    app.close().await;
}
