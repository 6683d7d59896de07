//! A reader's accessibility needs shape their email, read back from the
//! real SMTP server by Python's `email` package: every screening listed
//! (on screen this week, where a review's film plays) meets one of their
//! needs, and the email says so with a way to change it; a reader with no
//! needs gets every screening.

use chrono::Duration;
use marquee_digest::Preferences;
use marquee_events::{Accessibility, Envelope, Screening, ScreeningChanged};

use crate::email::position;
use crate::helpers::{Engine, TestApp, hamnet_screening, space_odyssey_screening, thursday};

/// A confirmed reader of `address` who needs `needs`.
async fn reader_needing(app: &TestApp, address: &str, needs: &[&str]) {
    app.subscriber(address, Preferences::default()).await;
    let id = app.stored(address).await.id;
    let store = app.service.store();
    let nonce = store.subscription_nonce(&id).await.unwrap().unwrap();
    let preferences = Preferences {
        accessibility: needs.iter().map(|need| (*need).to_owned()).collect(),
        ..Preferences::default()
    };
    let stored = store
        .set_preferences(&id, &nonce, &preferences, "needs chosen")
        .await
        .unwrap();
    assert!(stored, "{address}'s needs were not stored");
}

/// A seeded `screening` (as [`TestApp::seed_content`] lists it) with
/// `provisions`, as its venue now announces it.
fn with_provisions(
    mut changed: Screening,
    provisions: Vec<Accessibility>,
) -> Envelope<ScreeningChanged> {
    changed.accessibility = provisions;
    let changed = ScreeningChanged {
        screening: changed,
        changed: vec!["accessibility".to_owned()],
    };
    Envelope::new("marquee/tests", changed, thursday() - Duration::days(2))
}

on_both_engines!(each_reader_gets_the_screenings_that_meet_their_needs);

async fn each_reader_gets_the_screenings_that_meet_their_needs(engine: Engine) {
    let app = TestApp::seeded(engine, Vec::<&str>::new()).await;
    // Hamnet (its review links it) subtitled; 2001 relaxed and audio
    // described; the Leone with nothing.
    app.deliver(&with_provisions(
        hamnet_screening(),
        vec![Accessibility::Subtitled],
    ))
    .await;
    let provisions = vec![Accessibility::Relaxed, Accessibility::AudioDescribed];
    app.deliver(&with_provisions(space_odyssey_screening(), provisions))
        .await;
    reader_needing(&app, "captions@example.com", &["subtitled"]).await;
    reader_needing(&app, "relaxed@example.com", &["relaxed", "baby_friendly"]).await;
    reader_needing(&app, "anyone@example.com", &[]).await;

    let report = app.only_run_at(thursday()).await;
    assert_eq!(report.counts.sent, 3, "{report:?}");
    let mails = app.sink.wait_for(3).await;
    let mail_to = |address: &str| {
        mails
            .iter()
            .find(|mail| mail.to.contains(address))
            .unwrap_or_else(|| panic!("no mail to {address}"))
    };
    let hamnet_review = "Hamnet review – a headline for hamnet";
    for part in ["text/html", "text/plain"] {
        // Subtitles: Hamnet only, under its review and on screen.
        let body = mail_to("captions@example.com").part(part);
        let week = position(body, "On screen this week");
        let note = position(&body[week..], "Showing subtitled screenings") + week;
        assert!(
            body[note..].contains("change in your preferences"),
            "{part}: no way to change them"
        );
        let on_screen = &body[week..];
        assert!(on_screen.contains("Hamnet"), "{part}: {on_screen}");
        assert!(!body.contains("2001: A Space Odyssey"), "{part}: {body}");
        assert!(!body.contains("Once Upon a Time in the West"), "{part}");
        let review = position(body, hamnet_review);
        let playing = position(&body[review..], "Where it's playing this week") + review;
        assert!(
            body[playing..week].contains("subtitled screenings")
                && body[playing..week].contains("Saturday 28 November, 18:00"),
            "{part}: where Hamnet plays is not marked: {}",
            &body[playing..week]
        );

        // Relaxed or parent and baby: 2001 only; Hamnet's review is still
        // there, but plays nowhere they can go.
        let body = mail_to("relaxed@example.com").part(part);
        let week = position(body, "On screen this week");
        position(
            &body[week..],
            "Showing relaxed and parent and baby screenings",
        );
        assert!(body[week..].contains("2001: A Space Odyssey"), "{part}");
        assert!(!body[week..].contains("Hamnet"), "{part}: {body}");
        assert!(!body.contains("Once Upon a Time in the West"), "{part}");
        position(body, hamnet_review);
        assert!(
            !body.contains("Where it's playing this week"),
            "{part}: a screening they cannot use is listed: {body}"
        );

        // No needs: everything, and nothing said about needs.
        let body = mail_to("anyone@example.com").part(part);
        let week = position(body, "On screen this week");
        for title in [
            "Hamnet",
            "2001: A Space Odyssey",
            "Once Upon a Time in the West",
        ] {
            assert!(body[week..].contains(title), "{part}: {title} missing");
        }
        assert!(!body.contains("Showing "), "{part}: {body}");
    }
    // The web version is everyone's: every screening, nobody's needs.
    let page = app.get("/digest/archive/weekly/2026-11-26").await;
    let page = page.text().await.unwrap();
    assert!(page.contains("Once Upon a Time in the West") && !page.contains("Showing "));
    app.close().await;
}
