//! The scheduler on a pinned clock: due runs, DST change days, catch-up,
//! skipped runs.

use chrono::{DateTime, Utc};
use marquee_digest::{Preferences, RunKind, RunStatus, ScheduleSettings};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Engine, TestApp, assert_note, published, review, thursday};

on_both_engines!(
    a_daily_0130_london_schedule_runs_once_on_each_dst_change_day,
    a_run_missed_while_down_is_caught_up_once_within_the_window,
    a_run_missed_beyond_the_window_is_recorded_as_missed_not_sent,
    a_run_with_nothing_new_is_skipped_and_recorded,
    sent_and_skipped_runs_both_finish_at_the_pinned_clock,
    a_first_digest_carries_the_latest_reviews_though_older_than_a_week,
    a_digest_that_reached_nobody_leaves_the_first_readers_digest_its_reviews,
);

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn daily() -> ScheduleSettings {
    ScheduleSettings {
        name: "nightly".to_owned(),
        cron: "30 1 * * *".to_owned(),
        time_zone: "Europe/London".to_owned(),
        template: "weekly".to_owned(),
        audience: "all".to_owned(),
        send_when_empty: true,
        max_source_age_secs: None,
    }
}

async fn a_daily_0130_london_schedule_runs_once_on_each_dst_change_day(engine: Engine) {
    let app = TestApp::spawn_with(engine, |s| {
        s.schedules = vec![daily()];
        s.catch_up_window_secs = 600;
    })
    .await;
    app.subscriber("reader@films.example", Preferences::default())
        .await;
    let shutdown = CancellationToken::new();
    // Walk each change day in 10-minute steps, ticking at every step.
    for (from, to, expected) in [
        (
            "2026-03-28T23:00:00Z",
            "2026-03-29T23:00:00Z",
            "2026-03-29T01:30:00Z",
        ),
        (
            "2026-10-24T23:00:00Z",
            "2026-10-25T23:50:00Z",
            "2026-10-25T00:30:00Z",
        ),
    ] {
        let mut now = utc(from);
        while now <= utc(to) {
            app.clock.set(now);
            app.service.tick(&shutdown).await.unwrap();
            now += chrono::Duration::minutes(10);
        }
        let runs: Vec<_> = app
            .service
            .status(100)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.run.scheduled_for >= utc(from) && r.run.scheduled_for <= utc(to))
            .collect();
        assert_eq!(runs.len(), 1, "one run on the change day: {runs:?}");
        assert_eq!(runs[0].run.scheduled_for, utc(expected));
        assert_eq!(runs[0].run.status, RunStatus::Sent);
        assert_eq!(runs[0].counts.sent, 1);
    }
    assert_eq!(app.sink.wait_for(2).await.len(), 2);
    app.close().await;
}

async fn a_run_missed_while_down_is_caught_up_once_within_the_window(engine: Engine) {
    let app = TestApp::seeded(engine, &["reader@films.example"]).await;
    let shutdown = CancellationToken::new();
    // Down at 08:30; back at 09:10, inside the one-hour window.
    let report = app
        .only_run_at(thursday() + chrono::Duration::minutes(40))
        .await;
    assert_eq!(report.run.kind, RunKind::CatchUp);
    assert_eq!(report.run.scheduled_for, thursday());
    assert_eq!(report.run.status, RunStatus::Sent);
    // A restarted process does not send it again.
    let restarted = app.restart().await;
    assert!(restarted.tick(&shutdown).await.unwrap().is_empty());
    app.clock.set(thursday() + chrono::Duration::minutes(50));
    assert!(app.service.tick(&shutdown).await.unwrap().is_empty());
    assert_eq!(app.sink.wait_for(1).await.len(), 1);
    app.close().await;
}

async fn a_run_missed_beyond_the_window_is_recorded_as_missed_not_sent(engine: Engine) {
    let app = TestApp::seeded(engine, &["reader@films.example"]).await;
    // A run a week earlier ran; the process was then down past this week's
    // run by more than the window.
    app.clock.set(thursday() - chrono::Duration::days(7));
    app.service.tick(&CancellationToken::new()).await.unwrap();
    let report = app
        .only_run_at(thursday() + chrono::Duration::hours(3))
        .await;
    assert_eq!(report.run.status, RunStatus::Missed);
    assert_note(&report.run, "catch-up window");
    assert_eq!(report.counts.sent, 0);
    app.close().await;
}

async fn a_run_with_nothing_new_is_skipped_and_recorded(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.subscriber("reader@films.example", Preferences::default())
        .await;
    let report = app.only_run_at(thursday()).await;
    assert_eq!(report.run.status, RunStatus::Skipped);
    assert_note(&report.run, "nothing new");
    let status = app.service.status(10).await.unwrap();
    assert_eq!(status[0].run.status, RunStatus::Skipped);
    assert!(app.sink.files().is_empty());
    app.close().await;
}

async fn sent_and_skipped_runs_both_finish_at_the_pinned_clock(engine: Engine) {
    let app = TestApp::seeded(engine, &["reader@films.example"]).await;
    // Sent: the store stamps `finished_at` when the last recipient is done.
    let sent = app.only_run_at(thursday()).await.run;
    assert_eq!(sent.status, RunStatus::Sent);
    assert_eq!(sent.finished_at, Some(thursday()));
    // Skipped a week later (nothing new since): stamped when it is created.
    let next_week = thursday() + chrono::Duration::days(7);
    let skipped = app.only_run_at(next_week).await.run;
    assert_eq!(skipped.status, RunStatus::Skipped);
    assert_eq!(skipped.finished_at, Some(next_week));
    app.close().await;
}

/// As on a newcomer's first `marquee up`: every bundled review is a month
/// old, and the first digest carries the latest five all the same; the
/// next one only what is new since.
async fn a_first_digest_carries_the_latest_reviews_though_older_than_a_week(engine: Engine) {
    let app = TestApp::spawn_with(engine, |s| {
        s.first_digest_reviews = 5;
        s.schedules[0].send_when_empty = true;
    })
    .await;
    app.subscriber("reader@films.example", Preferences::default())
        .await;
    for day in 1..=6 {
        let title = format!("Archive Film {day}");
        app.deliver(&published(
            &review(&format!("archive-{day}"), &title, 4),
            thursday() - chrono::Duration::days(40 - day),
        ))
        .await;
    }
    let first = app.only_run_at(thursday()).await;
    assert_eq!(first.run.status, RunStatus::Sent);
    let mail = &app.sink.wait_for(1).await[0];
    for part in ["text/html", "text/plain"] {
        let body = mail.part(part);
        for day in 2..=6 {
            assert!(
                body.contains(&format!("Archive Film {day}")),
                "{day} missing from {body}"
            );
        }
        assert!(
            !body.contains("Archive Film 1 "),
            "only the latest five: {body}"
        );
    }

    let second = app
        .only_run_at(thursday() + chrono::Duration::days(7))
        .await;
    assert_eq!(second.run.status, RunStatus::Sent);
    let mail = &app.sink.wait_for(2).await[1];
    assert!(
        !mail.part("text/plain").contains("Archive Film"),
        "nothing new since the first"
    );
    app.close().await;
}

async fn a_digest_that_reached_nobody_leaves_the_first_readers_digest_its_reviews(engine: Engine) {
    let app = TestApp::spawn_with(engine, |s| {
        s.first_digest_reviews = 5;
        s.schedules[0].send_when_empty = true;
    })
    .await;
    app.deliver(&published(
        &review("archive-1", "Archive Film 1", 4),
        thursday() - chrono::Duration::days(30),
    ))
    .await;
    let empty = app.only_run_at(thursday()).await;
    assert_eq!((empty.run.status, empty.counts.sent), (RunStatus::Sent, 0));

    app.subscriber("reader@films.example", Preferences::default())
        .await;
    let first = app
        .only_run_at(thursday() + chrono::Duration::days(7))
        .await;
    assert_eq!(first.counts.sent, 1);
    let mail = &app.sink.wait_for(1).await[0];
    assert!(
        mail.part("text/plain").contains("Archive Film 1"),
        "the run before reached nobody, so this is the reader's first digest"
    );
    app.close().await;
}
