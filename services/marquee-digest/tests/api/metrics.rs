//! What runs show Prometheus, as the process's `/metrics` renders it: runs
//! by how they ended (every status from zero), the mail counters, the next
//! due time and the last successful send.

use marquee_digest::RunStatus;
use tokio_util::sync::CancellationToken;

use crate::helpers::{Engine, TestApp, thursday};

on_both_engines!(runs_are_counted_by_how_they_end_and_a_success_is_timed);

/// The value of the series `name{labels}` on `/metrics`, if served.
fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn runs_are_counted_by_how_they_end_and_a_success_is_timed(engine: Engine) {
    let metrics = marquee_runtime::http::metrics_handle();
    // A schedule of this engine's own: both engines may share a process.
    let name = format!("weekly-{engine:?}").to_lowercase();
    let schedule = name.clone();
    let app = TestApp::seeded_with(
        engine,
        move |s| {
            s.smtp.concurrency = 1;
            s.schedules[0].name = schedule;
        },
        (0..4).map(|i| format!("reader{i}@films.example")),
    )
    .await;
    let runs = |status: &str| {
        format!(r#"marquee_digest_runs_total{{schedule="{name}",status="{status}"}}"#)
    };
    let gauge = |metric: &str| format!(r#"{metric}{{schedule="{name}"}}"#);

    app.sink.fail();
    let report = app.only_run_at(thursday()).await;
    assert_eq!(report.run.status, RunStatus::Paused);
    let text = metrics.render();
    assert_eq!(value(&text, &runs("paused")), Some(1.0), "{text}");
    for status in [
        "sent",
        "skipped",
        "held",
        "dry_run",
        "missed",
        "failed",
        "interrupted",
    ] {
        assert_eq!(value(&text, &runs(status)), Some(0.0), "{status}: {text}");
    }
    let failed = format!(r#"marquee_mails_failed_total{{schedule="{name}"}}"#);
    assert_eq!(value(&text, &failed), Some(3.0), "{text}");
    let next_week = thursday() + chrono::Duration::days(7);
    assert_eq!(
        value(&text, &gauge("marquee_digest_next_due_timestamp_seconds")),
        Some(next_week.timestamp() as f64),
        "{text}"
    );
    assert_eq!(
        value(&text, &gauge("marquee_digest_schedule_paused")),
        Some(0.0)
    );
    let last_success = gauge("marquee_digest_last_success_timestamp_seconds");
    assert_eq!(value(&text, &last_success), None, "nothing sent yet");

    app.sink.recover();
    let finished_at = thursday() + chrono::Duration::minutes(5);
    app.clock.set(finished_at);
    let resumed = app
        .service
        .resume(&report.run.id, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(resumed.run.status, RunStatus::Sent);
    let text = metrics.render();
    assert_eq!(value(&text, &runs("sent")), Some(1.0), "{text}");
    assert_eq!(
        value(&text, &runs("paused")),
        Some(1.0),
        "an operator's resume is no new pause"
    );
    assert_eq!(
        value(&text, &last_success),
        Some(finished_at.timestamp() as f64),
        "{text}"
    );

    app.service.set_paused(&name, true).await.unwrap();
    assert_eq!(
        value(&metrics.render(), &gauge("marquee_digest_schedule_paused")),
        Some(1.0)
    );
    app.close().await;
}
