//! Sending over real SMTP: message shape, preferences, exactly-once with
//! kill/resume, pausing on relay errors.

use std::pin::pin;

use futures::TryStreamExt;
use marquee_digest::{Preferences, RunStatus};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Engine, TestApp, assert_note, thursday};

on_both_engines!(
    every_subscriber_gets_one_multipart_digest_shaped_by_their_preferences,
    a_run_killed_mid_way_resumes_and_every_subscriber_gets_exactly_one,
    a_delivery_cut_off_mid_send_is_not_sent_again,
    a_failing_relay_pauses_the_run_and_resume_finishes_it,
);

async fn every_subscriber_gets_one_multipart_digest_shaped_by_their_preferences(engine: Engine) {
    let app = TestApp::seeded(engine, &["all@films.example"]).await;
    for (email, preferences) in [
        (
            "celluloid@films.example",
            Preferences {
                formats: vec!["celluloid".to_owned()],
                min_rating: Some(4),
                ..Preferences::default()
            },
        ),
        (
            "bfi@films.example",
            Preferences {
                venues: vec!["bfi-southbank".to_owned()],
                ..Preferences::default()
            },
        ),
    ] {
        app.subscriber(email, preferences).await;
    }
    let report = app.only_run_at(thursday()).await;
    assert_eq!(report.run.status, RunStatus::Sent);
    assert_eq!(report.counts.sent, 3);

    let messages = app.sink.wait_for(3).await;
    assert_eq!(messages.len(), 3);
    let by = |to: &str| messages.iter().find(|m| m.to == to).unwrap().clone();
    for m in &messages {
        assert!(m.defects.is_empty(), "{:?}", m.defects);
        assert_eq!(m.content_type, "multipart/alternative");
        assert_eq!(m.subject, "What to watch: 26 November – 2 December 2026");
        assert_eq!(m.from, "Marquee <digest@films.example>");
        assert!(
            m.message_id
                .starts_with(&format!("<digest-{}-", report.run.id))
                && m.message_id.ends_with("@films.example>"),
            "{}",
            m.message_id
        );
        let header = m.list_unsubscribe.as_deref().unwrap();
        assert!(header.contains("/unsubscribe?token="), "{header}");
        assert!(
            header.contains("<mailto:digest@films.example?subject=unsubscribe>"),
            "{header}"
        );
        assert_eq!(
            m.list_unsubscribe_post.as_deref(),
            Some("List-Unsubscribe=One-Click")
        );
        let html = m.part("text/html");
        assert!(!html.to_lowercase().contains("<script"));
        assert!(html.contains("style=\""), "inline styles");
        assert!(html.contains("&lt;em&gt;"), "content is escaped");
        assert!(m.part("text/plain").contains("Unsubscribe: http://"));
        assert!(!html.contains("Too Late"), "beyond the week");
        assert!(!html.contains("Old Film"), "before the last digest");
    }
    let all = by("all@films.example");
    let html = all.part("text/html");
    for expected in [
        "Hamnet review",
        "Slop review",
        "Once Upon a Time in the West",
        "2001: A Space Odyssey",
        "Prince Charles Cinema",
        "BFI Southbank",
        "Friday 27 November",
        "35mm",
        "Sergio Leone season",
        "Q&amp;A",
        "★★★★☆",
    ] {
        assert!(html.contains(expected), "{expected} missing from {html}");
    }
    let text = all.part("text/plain");
    assert!(
        text.contains("19:30  Once Upon a Time in the West (1968) [35mm]"),
        "{text}"
    );
    assert!(text.contains("18:00  Hamnet (1968) ★★★★☆ [DCP]"), "{text}");

    let celluloid = by("celluloid@films.example");
    let text = celluloid.part("text/plain");
    assert!(
        text.contains("Once Upon a Time in the West") && text.contains("2001: A Space Odyssey")
    );
    assert!(!text.contains("[DCP]"), "no digital screenings: {text}");
    assert!(
        text.contains("Hamnet review") && !text.contains("Slop review"),
        "min rating 4: {text}"
    );

    let bfi = by("bfi@films.example");
    let text = bfi.part("text/plain");
    assert!(
        text.contains("BFI Southbank") && !text.contains("Prince Charles Cinema"),
        "{text}"
    );
    assert_ne!(all.message_id, bfi.message_id);
    app.close().await;
}

async fn a_run_killed_mid_way_resumes_and_every_subscriber_gets_exactly_one(engine: Engine) {
    // Paced, so the test sees the run part-way.
    let total = 20;
    let app = TestApp::seeded_with(
        engine,
        |s| {
            s.smtp.concurrency = 1;
            s.smtp.max_per_second = 10;
        },
        (0..total).map(|i| format!("reader{i:02}@films.example")),
    )
    .await;
    app.clock.set(thursday());
    let run = app.service.open_manual("weekly", false).await.unwrap();
    assert_eq!(
        app.service
            .run_report(&run.id)
            .await
            .unwrap()
            .counts
            .pending,
        total
    );

    // "Kill" the process once a few messages went out.
    let shutdown = CancellationToken::new();
    let sender = {
        let service = app.service.clone();
        let shutdown = shutdown.clone();
        let id = run.id.clone();
        tokio::spawn(async move { service.send_run(&id, &shutdown).await })
    };
    app.sink.wait_for_files(4).await;
    shutdown.cancel();
    sender.await.unwrap().unwrap();
    let report = app.service.run_report(&run.id).await.unwrap();
    assert_eq!(
        report.run.status,
        RunStatus::Sending,
        "not done while recipients are unsent"
    );
    assert!(report.counts.pending > 0, "{:?}", report.counts);
    let sent_before = report.counts.sent;

    // A new process resumes the unsent rows on its first tick.
    let restarted = app.restart().await;
    restarted.tick(&CancellationToken::new()).await.unwrap();
    let report = restarted.run_report(&report.run.id).await.unwrap();
    assert_eq!(report.run.status, RunStatus::Sent);
    assert_eq!(report.counts.sent, total);
    assert!(sent_before < total);

    let messages = app.sink.wait_for(total as usize).await;
    let mut recipients: Vec<_> = messages.iter().map(|m| m.to.clone()).collect();
    recipients.sort();
    let mut unique = recipients.clone();
    unique.dedup();
    assert_eq!(
        recipients.len(),
        total as usize,
        "exactly one each: {recipients:?}"
    );
    assert_eq!(unique.len(), total as usize);
    app.close().await;
}

async fn a_delivery_cut_off_mid_send_is_not_sent_again(engine: Engine) {
    let app = TestApp::seeded(engine, (0..3).map(|i| format!("reader{i}@films.example"))).await;
    app.clock.set(thursday());
    let run = app.service.open_manual("weekly", false).await.unwrap();
    // A process claimed this delivery and died with the message in the
    // relay's hands: whether it arrived is unknown.
    let store = app.service.store();
    let cut_off = pin!(store.pending(&run.id))
        .try_next()
        .await
        .unwrap()
        .unwrap();
    assert!(store.claim(&run.id, &cut_off).await.unwrap());
    assert!(
        !store.claim(&run.id, &cut_off).await.unwrap(),
        "claimed once"
    );

    let restarted = app.restart().await;
    restarted.tick(&CancellationToken::new()).await.unwrap();
    let report = restarted.run_report(&run.id).await.unwrap();
    assert_eq!(report.run.status, RunStatus::Sent);
    assert_eq!((report.counts.sent, report.counts.interrupted), (2, 1));
    assert_note(&report.run, "1 interrupted");
    let subscriber = store.subscriber(&cut_off).await.unwrap().unwrap();
    let messages = app.sink.wait_for(2).await;
    assert!(
        messages
            .iter()
            .all(|m| !m.to.contains(subscriber.email.as_str())),
        "the cut-off delivery was sent again"
    );
    app.close().await;
}

async fn a_failing_relay_pauses_the_run_and_resume_finishes_it(engine: Engine) {
    let app = TestApp::seeded_with(
        engine,
        |s| s.smtp.concurrency = 1,
        (0..5).map(|i| format!("reader{i}@films.example")),
    )
    .await;
    app.sink.fail();
    let report = app.only_run_at(thursday()).await;
    assert_eq!(report.run.status, RunStatus::Paused);
    assert_note(&report.run, "3 consecutive send errors");
    assert_note(&report.run, "451");
    assert_eq!(report.counts.pending, 5);
    assert!(app.sink.files().is_empty());

    app.sink.recover();
    let resumed = app
        .service
        .resume(&report.run.id, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(resumed.run.status, RunStatus::Sent);
    assert_eq!(resumed.counts.sent, 5);
    assert_eq!(app.sink.wait_for(5).await.len(), 5);
    app.close().await;
}
