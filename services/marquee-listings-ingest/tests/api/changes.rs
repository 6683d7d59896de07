use marquee_bus::{Handler, Message};
use marquee_events::{
    Envelope, Film, Review, ReviewId, ReviewPublished, ReviewWithdrawn, ScreeningEvent, topics,
};
use marquee_runtime::clock::{Clock as _, SystemClock};

use crate::helpers::{TestApp, ics, listed, venue};

const WEST: &str = "UID:west-1
SUMMARY:Once Upon a Time in the West (1968) [35mm] + Q&A
DTSTART;TZID=Europe/London:20261204T183000
LOCATION:NFT1";

async fn bfi() -> TestApp {
    TestApp::with_source(
        "ics",
        "bfi",
        "/bfi.ics",
        venue("bfi-southbank", "BFI Southbank"),
    )
    .await
}

/// Serves `events` as the calendar of [`bfi`].
fn serve_bfi(app: &TestApp, events: &[&str]) {
    app.upstream
        .serve("/bfi.ics", "text/calendar", &ics(events));
}

#[tokio::test]
async fn a_rescheduled_screening_with_a_uid_is_changed_not_recreated() {
    let mut app = bfi().await;
    serve_bfi(&app, &[WEST]);
    app.poll().await;
    let first = app.events().await;
    assert_eq!(first.len(), 1, "{first:?}");
    let ScreeningEvent::Listed(listed) = &first[0].data else {
        panic!("{first:?}")
    };

    let moved = WEST
        .replace("20261204T183000", "20261205T140000")
        .replace("NFT1", "NFT2");
    serve_bfi(&app, &[&moved]);
    let reports = app.poll().await;
    assert_eq!(
        (
            reports["bfi"].changed,
            reports["bfi"].withdrawn,
            reports["bfi"].new
        ),
        (1, 0, 0)
    );
    let events = app.events().await;
    let ScreeningEvent::Changed(changed) = &events[0].data else {
        panic!("{events:?}")
    };
    assert_eq!(changed.screening.id, listed.screening.id);
    assert_eq!(changed.changed, vec!["starts_at", "screen"]);
    assert_eq!(
        changed.screening.starts_at.to_rfc3339(),
        "2026-12-05T14:00:00+00:00"
    );
    assert_eq!(events[0].subject, listed.screening.id.as_str());

    // Sold out later: one more change, naming only that.
    let sold = format!("{moved}\nX-MARQUEE-SOLD-OUT:TRUE");
    serve_bfi(&app, &[&sold]);
    app.poll().await;
    let events = app.events().await;
    let ScreeningEvent::Changed(changed) = &events[0].data else {
        panic!("{events:?}")
    };
    assert_eq!(changed.changed, vec!["sold_out"]);
}

#[tokio::test]
async fn status_cancelled_cancels_once_and_a_relisting_lists_again() {
    let mut app = bfi().await;
    serve_bfi(&app, &[WEST]);
    app.poll().await;
    app.events().await;

    let cancelled = format!("{WEST}\nSTATUS:CANCELLED");
    serve_bfi(&app, &[&cancelled]);
    assert_eq!(app.poll().await["bfi"].withdrawn, 1);
    let events = app.events().await;
    let ScreeningEvent::Cancelled(c) = &events[0].data else {
        panic!("{events:?}")
    };
    assert_eq!(c.reason, "marked cancelled by source `bfi`");
    assert_eq!(c.screening.film.title, "Once Upon a Time in the West");

    assert_eq!(app.poll().await["bfi"].withdrawn, 0);
    assert!(app.events().await.is_empty());

    serve_bfi(&app, &[WEST]);
    assert_eq!(app.poll().await["bfi"].new, 1);
    let events = app.events().await;
    assert_eq!(events.len(), 1, "{events:?}");
    let ScreeningEvent::Listed(relisted) = &events[0].data else {
        panic!("a relisting is a new listing: {events:?}")
    };
    assert_eq!(relisted.screening.id, c.screening.id, "same screening id");
}

#[tokio::test]
async fn upcoming_screenings_missing_from_a_clean_read_are_cancelled() {
    let mut app = bfi().await;
    let past = "UID:past-1\nSUMMARY:Jaws\nDTSTART;TZID=Europe/London:20261122T200000";
    let other = "UID:other-1\nSUMMARY:Heat\nDTSTART;TZID=Europe/London:20261210T200000";
    serve_bfi(&app, &[WEST, past, other]);
    assert_eq!(app.poll().await["bfi"].new, 3);
    app.events().await;

    // West vanishes, and so does yesterday's Jaws (which merely scrolled off).
    serve_bfi(&app, &[other]);
    let report = &app.poll().await["bfi"];
    assert!(report.swept());
    assert_eq!(report.withdrawn, 1);
    let events = app.events().await;
    assert_eq!(events.len(), 1);
    let ScreeningEvent::Cancelled(c) = &events[0].data else {
        panic!("{events:?}")
    };
    assert_eq!(c.screening.film.title, "Once Upon a Time in the West");
    assert_eq!(c.reason, "no longer listed by source `bfi`");

    // Once Heat has started, its absence is not a cancellation either.
    app.set_now("2026-12-11T00:00:00Z");
    let later = "UID:later-1\nSUMMARY:Ran\nDTSTART;TZID=Europe/London:20261220T200000";
    serve_bfi(&app, &[later]);
    let report = &app.poll().await["bfi"];
    assert_eq!((report.new, report.withdrawn), (1, 0));
    app.events().await;

    // A rejected row is present but invalid: the screenings of its film stay
    // listed, and the rest of the source is still cleaned up.
    let heat = "UID:heat-2\nSUMMARY:Heat\nDTSTART;TZID=Europe/London:20261221T200000";
    let alien = "UID:alien-1\nSUMMARY:Alien\nDTSTART;TZID=Europe/London:20261222T200000";
    serve_bfi(&app, &[later, heat, alien]);
    assert_eq!(app.poll().await["bfi"].new, 2);
    app.events().await;
    let broken = "UID:later-1\nSUMMARY:Ran\nDTSTART;TZID=Europe/London:2026-12-20";
    serve_bfi(&app, &[broken, heat]);
    let report = &app.poll().await["bfi"];
    assert!(report.swept());
    assert_eq!((report.withdrawn, report.rejected), (1, 1));
    let events = app.events().await;
    let [event] = events.as_slice() else {
        panic!("only Alien is cancelled: {events:?}")
    };
    let ScreeningEvent::Cancelled(c) = &event.data else {
        panic!("{events:?}")
    };
    assert_eq!(c.screening.film.title, "Alien");
    // Nor does an empty calendar (an upstream fault far more often than not).
    serve_bfi(&app, &[]);
    assert_eq!(app.poll().await["bfi"].withdrawn, 0);
    assert!(app.events().await.is_empty());
}

#[tokio::test]
async fn csv_rows_without_ids_move_as_cancel_plus_listing_and_can_be_cancelled() {
    let mut app = TestApp::with_source(
        "csv",
        "castle",
        "/c.csv",
        venue("castle", "The Castle Cinema"),
    )
    .await;
    let header = "title,start,screen,cancelled\n";
    app.upstream.serve(
        "/c.csv",
        "text/csv",
        &format!("{header}Vertigo,2026-12-01T18:00,1,\nPsycho,2026-12-02T18:00,1,\n"),
    );
    assert_eq!(app.poll().await["castle"].new, 2);
    app.events().await;

    app.upstream.serve(
        "/c.csv",
        "text/csv",
        &format!("{header}Vertigo,2026-12-01T20:00,1,\nPsycho,2026-12-02T18:00,1,yes\n"),
    );
    let report = &app.poll().await["castle"];
    assert_eq!((report.new, report.withdrawn), (1, 2), "{report:?}");
    let events = app.events().await;
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| match &e.data {
            ScreeningEvent::Listed(l) => ("listed", l.screening.film.title.as_str()),
            ScreeningEvent::Changed(c) => ("changed", c.screening.film.title.as_str()),
            ScreeningEvent::Cancelled(c) => ("cancelled", c.screening.film.title.as_str()),
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("listed", "Vertigo"),
            ("cancelled", "Psycho"),
            ("cancelled", "Vertigo")
        ]
    );
}

fn review_message(id: &str, title: &str, year: Option<u16>) -> Message {
    let review = Review {
        id: ReviewId::parse(id).unwrap(),
        url: url::Url::parse("https://example.com/reviews/x").unwrap(),
        headline: format!("{title} review"),
        film: Film {
            title: title.to_owned(),
            year,
            runtime_minutes: None,
        },
        standfirst: String::new(),
        body_html: String::new(),
        author: None,
        rating: None,
        section: "Features".to_owned(),
        image: None,
        published_at: SystemClock.now(),
        updated_at: SystemClock.now(),
    };
    message(&Envelope::new("test", ReviewPublished { review }, SystemClock.now()).to_wire())
}

fn message(wire: &marquee_events::WireEvent) -> Message {
    Message {
        topic: topics::REVIEWS.to_owned(),
        partition: 0,
        offset: 0,
        key: Some(wire.key.clone()),
        headers: wire.headers.clone(),
        payload: wire.body.clone(),
    }
}

#[tokio::test]
async fn screenings_link_to_the_review_of_the_same_film_and_year() {
    let mut app = bfi().await;
    let handler = app.ingest.handler();
    // A review of the 1968 film, one of a same-titled film of another year,
    // and a replay of the first (at-least-once delivery), which is harmless.
    for (id, title, year) in [
        ("cms-1", "Once Upon a Time in the West", 1968),
        ("cms-2", "Heat", 1986),
        ("cms-1", "Once Upon a Time in the West", 1968),
    ] {
        handler
            .handle(&review_message(id, title, Some(year)))
            .await
            .unwrap();
    }

    let heat = "UID:heat\nSUMMARY:Heat (1995)\nDTSTART;TZID=Europe/London:20261210T200000";
    serve_bfi(&app, &[WEST, heat]);
    app.poll().await;
    let events = app.events().await;
    let by_title = crate::helpers::listed(&events);
    assert_eq!(
        by_title["Once Upon a Time in the West"]
            .review_id
            .as_ref()
            .map(ReviewId::as_str),
        Some("cms-1")
    );
    assert_eq!(by_title["Heat"].review_id, None);

    // Withdrawn: the next poll unlinks it.
    let withdrawn = Envelope::new(
        "test",
        ReviewWithdrawn {
            id: ReviewId::parse("cms-1").unwrap(),
            reason: "gone".to_owned(),
        },
        SystemClock.now(),
    );
    handler
        .handle(&message(&withdrawn.to_wire()))
        .await
        .unwrap();
    app.poll().await;
    let events = app.events().await;
    let ScreeningEvent::Changed(changed) = &events[0].data else {
        panic!("{events:?}")
    };
    assert_eq!(changed.changed, vec!["review_id"]);
    assert_eq!(changed.screening.review_id, None);
}

#[tokio::test]
async fn an_unchanged_calendar_answers_304_and_its_recurrences_still_move_with_the_horizon() {
    let mut app = bfi().await;
    // Weekly from 1 December: the 60-day horizon from 23 November reaches
    // 22 January, so one more week comes into view every week.
    let weekly = "UID:club-1\nSUMMARY:Film Club\nDTSTART;TZID=Europe/London:20261201T190000\nRRULE:FREQ=WEEKLY;COUNT=20";
    serve_bfi(&app, &[weekly]);
    let first = app.poll_clean().await["bfi"].new;
    assert_eq!(first, 8, "1 Dec to 19 Jan");
    app.events().await;

    app.set_now("2026-11-30T12:00:00Z");
    let report = &app.poll_clean().await["bfi"];
    assert_eq!(app.upstream.answers("/bfi.ics"), [200, 304]);
    assert_eq!((report.new, report.unchanged, report.withdrawn), (1, 8, 0));
    let events = app.events().await;
    let added = listed(&events);
    assert_eq!(
        added["Film Club"].starts_at_local.to_string(),
        "2027-01-26 19:00:00",
        "read from the remembered copy"
    );
}
