//! Screening events: venue, strand and this-week feeds, venue and all-venue
//! calendars, versions and cancellations. Store scenarios run on SQLite and
//! on PostgreSQL.

use chrono::{DateTime, TimeZone, Utc};
use marquee_feeds::{screening_guid, strand_slug};
use marquee_runtime::html::escape;
use marquee_test_support::assert_golden;
use marquee_test_support::wait::until_value;

use crate::calendar::read_back;
use crate::helpers::{
    Engine, TestApp, at, cancelled, changed, feedparser, listed, published, review, screening,
    updated, west,
};

on_both_engines!(
    listed_screenings_appear_in_the_venue_feeds_and_calendar,
    a_change_bumps_the_sequence_and_updates_in_place,
    a_cancellation_marks_the_calendar_and_leaves_the_feeds,
    this_week_holds_the_next_seven_days_on_a_pinned_clock,
    redelivered_and_stale_events_change_nothing,
    the_calendar_stamps_the_last_change_and_lasts_the_known_runtime,
);

/// "Now" in these tests: Tuesday 1 December 2026, noon.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0)
        .single()
        .expect("valid date")
}

const FEEDS: [&str; 3] = ["rss", "atom", "json"];

async fn listed_screenings_appear_in_the_venue_feeds_and_calendar(engine: Engine) {
    let app = TestApp::spawn_at(engine, now()).await;
    let mut film_review = review("cms-west", "In Cinemas", 0);
    film_review.headline = "Once Upon a Time in the West review – operatic".to_owned();
    app.deliver(&published(&film_review, at(1))).await.unwrap();
    let mut west = west();
    west.review_id = Some(film_review.id.clone());
    let dollars = screening(
        "bfi-dollars",
        "bfi-southbank",
        "A Fistful of Dollars",
        "2026-12-10T20:00",
    );
    let heat = screening("pcc-heat", "prince-charles", "Heat", "2026-12-02T20:00");
    for (n, s) in [&west, &dollars, &heat].into_iter().enumerate() {
        app.deliver_screening(&listed(s, at(10 + n as i64))).await;
    }

    for format in FEEDS {
        let body = app.body(&format!("/venues/bfi-southbank.{format}")).await;
        let parsed = feedparser(body.as_bytes());
        assert!(!parsed.bozo, "{format}: {:?}", parsed.bozo_exception);
        assert_eq!(parsed.title, "BFI Southbank: screenings", "{format}");
        let ids: Vec<&str> = parsed.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            vec![screening_guid(&west.id), screening_guid(&dollars.id)],
            "{format}: soonest first, this venue only"
        );
        let first = &parsed.entries[0];
        assert_eq!(
            first.title,
            "Once Upon a Time in the West (1968) at BFI Southbank, Fri 4 Dec 2026, 18:30",
            "{format}"
        );
        assert_eq!(
            first.link, "https://whatson.bfi.org.uk/book?id=bfi-west&x=2",
            "{format}"
        );
        let content = first.content.concat();
        // Each fact as HTML, escaped as the one escaper writes it.
        for fact in [
            "Screen: NFT1",
            "Format: 35mm",
            "Strand: Sergio Leone season",
            "Extras: Q&A",
            "Access: audio described",
            "https://films.example/reviews/cms-west",
        ]
        .map(escape)
        .into_iter()
        .chain(["(4/5)".to_owned()])
        {
            assert!(content.contains(&fact), "{format}: {fact} in {content}");
        }
    }

    let response = app.get("/venues/bfi-southbank.ics").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let ics = response.text().await.unwrap();
    let parsed = read_back(&ics);
    assert_eq!(parsed["errors"], serde_json::json!([]), "{parsed}");
    assert_eq!(parsed["name"], "BFI Southbank: screenings");
    assert_eq!(parsed["calname"], "BFI Southbank: screenings");
    assert_eq!(parsed["refresh"], "PT1H");
    let events = parsed["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{parsed}");
    assert_eq!(events[0]["uid"], "bfi-west@marquee");
    assert_eq!(events[0]["sequence"], 0);
    assert_eq!(events[0]["status"], "CONFIRMED");
    assert_eq!(events[0]["start"], "2026-12-04T18:30:00+00:00");

    let all = read_back(&app.body("/calendars/all.ics").await);
    assert_eq!(all["errors"], serde_json::json!([]), "{all}");
    assert_eq!(all["events"].as_array().unwrap().len(), 3, "{all}");

    let strand = feedparser(
        app.body(&format!(
            "/strands/{}.atom",
            strand_slug("Sergio Leone season")
        ))
        .await
        .as_bytes(),
    );
    assert!(!strand.bozo, "{:?}", strand.bozo_exception);
    assert_eq!(strand.entries.len(), 3);
}

/// The events of the calendar at `path` as Python's icalendar reads them
/// back, asserted to be `count`.
async fn calendar_events(app: &TestApp, path: &str, count: usize) -> Vec<serde_json::Value> {
    let parsed = read_back(&app.body(path).await);
    let events = parsed["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), count, "{path}: {parsed}");
    events
}

async fn a_change_bumps_the_sequence_and_updates_in_place(engine: Engine) {
    let app = TestApp::spawn_at(engine, now()).await;
    let west = west();
    app.deliver_screening(&listed(&west, at(1))).await;
    let mut moved = west.clone();
    moved.screen = Some("NFT3".to_owned());
    moved.sold_out = true;
    app.deliver_screening(&changed(&moved, at(2))).await;
    let mut later = moved.clone();
    later.format = Some("70mm".to_owned());
    app.deliver_screening(&changed(&later, at(3))).await;

    // Updated in place.
    let events = calendar_events(&app, "/venues/bfi-southbank.ics", 1).await;
    assert_eq!(events[0]["uid"], "bfi-west@marquee");
    assert_eq!(events[0]["sequence"], 2, "one bump per change");
    assert!(
        events[0]["location"].as_str().unwrap().contains("NFT3"),
        "{}",
        events[0]
    );
    for format in FEEDS {
        let body = app.body(&format!("/venues/bfi-southbank.{format}")).await;
        let feed = feedparser(body.as_bytes());
        assert_eq!(feed.entries.len(), 1, "{format}");
        assert_eq!(feed.entries[0].id, screening_guid(&west.id), "{format}");
        assert!(feed.entries[0].title.ends_with("(sold out)"), "{format}");
        let content = feed.entries[0].content.concat();
        assert!(
            content.contains("Screen: NFT3") && content.contains("Format: 70mm"),
            "{format}: {content}"
        );
    }
}

async fn a_cancellation_marks_the_calendar_and_leaves_the_feeds(engine: Engine) {
    let app = TestApp::spawn_at(engine, now()).await;
    let west = west();
    let kept = screening(
        "bfi-kept",
        "bfi-southbank",
        "For a Few Dollars More",
        "2026-12-05T18:30",
    );
    app.deliver_screening(&listed(&west, at(1))).await;
    app.deliver_screening(&listed(&kept, at(2))).await;
    app.deliver_screening(&cancelled(&west, at(3))).await;

    for path in ["/venues/bfi-southbank.ics", "/calendars/all.ics"] {
        // Cancelled ones stay.
        let events = calendar_events(&app, path, 2).await;
        let gone = events
            .iter()
            .find(|e| e["uid"] == "bfi-west@marquee")
            .unwrap();
        assert_eq!(gone["status"], "CANCELLED", "{path}");
        assert_eq!(gone["sequence"], 1, "{path}");
    }
    let strand = strand_slug("Sergio Leone season");
    for format in FEEDS {
        for path in [
            format!("/venues/bfi-southbank.{format}"),
            format!("/strands/{strand}.{format}"),
            format!("/repertory/this-week.{format}"),
        ] {
            let feed = feedparser(app.body(&path).await.as_bytes());
            assert!(!feed.bozo, "{path}: {:?}", feed.bozo_exception);
            let ids: Vec<&str> = feed.entries.iter().map(|e| e.id.as_str()).collect();
            assert_eq!(ids, vec![screening_guid(&kept.id)], "{path}");
        }
    }
}

async fn this_week_holds_the_next_seven_days_on_a_pinned_clock(engine: Engine) {
    let app = TestApp::spawn_at(engine, now()).await;
    let started = screening("started", "bfi-southbank", "Started", "2026-12-01T11:00");
    let tomorrow = screening("tomorrow", "bfi-southbank", "Tomorrow", "2026-12-02T18:00");
    let sixth = screening("sixth", "prince-charles", "Sixth day", "2026-12-07T20:00");
    let next_week = screening(
        "next-week",
        "bfi-southbank",
        "Next week",
        "2026-12-08T12:00",
    );
    for (n, s) in [&started, &tomorrow, &sixth, &next_week]
        .into_iter()
        .enumerate()
    {
        app.deliver_screening(&listed(s, at(n as i64))).await;
    }
    for format in FEEDS {
        let feed = feedparser(
            app.body(&format!("/repertory/this-week.{format}"))
                .await
                .as_bytes(),
        );
        assert!(!feed.bozo, "{format}: {:?}", feed.bozo_exception);
        assert_eq!(feed.title, "This week in repertory");
        let ids: Vec<&str> = feed.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            vec![screening_guid(&tomorrow.id), screening_guid(&sixth.id)],
            "{format}: from now to now + 7 days, every venue"
        );
    }
    // The venue feed carries every upcoming screening; its calendar also
    // the one that has started.
    let venue = feedparser(app.body("/venues/bfi-southbank.json").await.as_bytes());
    assert_eq!(venue.entries.len(), 2);
    calendar_events(&app, "/venues/bfi-southbank.ics", 3).await;
}

/// The consumers hand each change to one rendering task and go on: a burst
/// handed over faster than it renders is published whole, and a review edit
/// re-renders the screening documents linking it.
#[tokio::test]
async fn a_burst_handed_over_at_once_is_published_whole() {
    let app = TestApp::spawn_at(Engine::Sqlite, now()).await;
    let mut film_review = review("cms-west", "In Cinemas", 0);
    app.deliver(&published(&film_review, at(1))).await.unwrap();
    let mut west = west();
    west.review_id = Some(film_review.id.clone());
    app.deliver_screening(&listed(&west, at(2))).await;

    // After West (4 December), which stays the venue feed's first item.
    let burst: Vec<_> = (0..40)
        .map(|n| {
            let starts = format!("2026-12-{:02}T{:02}:00", 5 + n % 3, 10 + n % 12);
            screening(
                &format!("bfi-burst-{n}"),
                "bfi-southbank",
                &format!("Burst {n}"),
                &starts,
            )
        })
        .collect();
    let screenings = app.service.screenings_handler();
    for s in &burst {
        marquee_bus::Handler::handle(&screenings, &app.next(&listed(s, at(3))))
            .await
            .expect("the screening event applies");
    }
    app.service.published().await;
    // Python's icalendar finds every one of them, and nothing else.
    let calendar = read_back(&app.body("/calendars/all.ics").await);
    let mut uids: Vec<&str> = calendar["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|event| event["uid"].as_str().expect("a UID"))
        .collect();
    uids.sort_unstable();
    let mut expected: Vec<String> = std::iter::once(&west)
        .chain(&burst)
        .map(|s| format!("{}@marquee", s.id.as_str()))
        .collect();
    expected.sort_unstable();
    assert_eq!(uids, expected);

    // A review edit alone re-renders the screening documents linking it.
    film_review.headline = "Once Upon a Time in the West review – revised".to_owned();
    marquee_bus::Handler::handle(
        &app.service.handler(),
        &app.next(&updated(&film_review, at(4))),
    )
    .await
    .expect("the edit applies");
    app.service.published().await;
    let feed = feedparser(app.body("/venues/bfi-southbank.json").await.as_bytes());
    assert_eq!(feed.entries[0].id, screening_guid(&west.id));
    assert!(
        feed.entries[0]
            .content
            .concat()
            .contains("review – revised"),
        "the edit reached the listing: {:?}",
        feed.entries[0]
    );
}

async fn redelivered_and_stale_events_change_nothing(engine: Engine) {
    let app = TestApp::spawn_at(engine, now()).await;
    let west = west();
    let first = listed(&west, at(1));
    app.deliver_screening(&first).await;
    let mut moved = west.clone();
    moved.screen = Some("NFT3".to_owned());
    let change = changed(&moved, at(5));
    app.deliver_screening(&change).await;
    // The same events again, a copy under a new id, and an older change.
    app.deliver_screening(&first).await;
    app.deliver_screening(&change).await;
    app.deliver_screening(&changed(&moved, at(6))).await;
    let mut stale = west.clone();
    stale.screen = Some("NFT2".to_owned());
    app.deliver_screening(&changed(&stale, at(4))).await;

    let events = calendar_events(&app, "/venues/bfi-southbank.ics", 1).await;
    assert_eq!(events[0]["sequence"], 1, "{}", events[0]);
    assert!(events[0]["location"].as_str().unwrap().contains("NFT3"));

    let stored = app
        .service
        .store()
        .screenings(marquee_feeds::ScreeningScope::All, now(), None)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].sequence, stored[0].cancelled), (1, false));
    assert_eq!(stored[0].screening, moved);
}

async fn the_calendar_stamps_the_last_change_and_lasts_the_known_runtime(engine: Engine) {
    let app = TestApp::spawn_at(engine, now()).await;
    let mut film_review = review("cms-west", "In Cinemas", 0);
    film_review.film.runtime_minutes = Some(222);
    app.deliver(&published(&film_review, at(1))).await.unwrap();
    // The listing has no running time: the matched review gives it.
    let mut west = west();
    west.film.runtime_minutes = None;
    west.review_id = Some(film_review.id.clone());
    let mut unknown = screening(
        "bfi-unknown",
        "bfi-southbank",
        "Unknown",
        "2026-12-05T18:30",
    );
    unknown.film.runtime_minutes = None;
    app.deliver_screening(&listed(&west, at(10))).await;
    app.deliver_screening(&listed(&unknown, at(11))).await;
    let mut moved = west.clone();
    moved.screen = Some("NFT3".to_owned());
    app.deliver_screening(&changed(&moved, at(20))).await;
    // Same data, later: not a revision.
    app.deliver_screening(&changed(&moved, at(30))).await;

    for path in ["/venues/bfi-southbank.ics", "/calendars/all.ics"] {
        let events = calendar_events(&app, path, 2).await;
        let stamp = |minutes| at(minutes).to_rfc3339();
        assert_eq!(events[0]["uid"], "bfi-west@marquee", "{path}");
        assert_eq!(events[0]["dtstamp"], stamp(20), "{path}: the last change");
        assert_eq!(events[0]["duration"], "PT3H42M", "{path}");
        assert_eq!(events[1]["dtstamp"], stamp(11), "{path}: when listed");
        assert_eq!(events[1]["duration"], serde_json::Value::Null, "{path}");
        assert_eq!(events[1]["dtend"], false, "{path}");
    }
}

/// Screening feeds link the reviews of their films: a review arriving after
/// a venue's feed was rendered reaches it by the background re-render, well
/// before the 10 s revalidation would.
#[tokio::test]
async fn reviews_arriving_later_reach_rendered_screening_feeds() {
    let app = TestApp::spawn_at(Engine::Sqlite, now()).await;
    let reviews = [
        review("cms-west", "In Cinemas", 0),
        review("cms-heat", "In Cinemas", 1),
    ];
    for (n, (film, review)) in [
        ("Once Upon a Time in the West", &reviews[0]),
        ("Heat", &reviews[1]),
    ]
    .into_iter()
    .enumerate()
    {
        let mut listed_film = screening(
            &format!("bfi-{n}"),
            "bfi-southbank",
            film,
            "2026-12-04T18:30",
        );
        listed_film.review_id = Some(review.id.clone());
        app.deliver_screening(&listed(&listed_film, at(10 + n as i64)))
            .await;
    }
    let before = app.body("/venues/bfi-southbank.rss").await;
    assert!(
        !before.contains(&escape("films.example/reviews")),
        "{before}"
    );

    // Back to back: one re-render may take in both.
    for (n, review) in reviews.iter().enumerate() {
        app.deliver(&published(review, at(20 + n as i64)))
            .await
            .unwrap();
    }
    until_value(
        "the venue feed links both reviews",
        std::time::Duration::from_secs(5),
        || app.body("/venues/bfi-southbank.rss"),
        |feed| {
            reviews
                .iter()
                .all(|review| feed.contains(&escape(review.url.as_str())))
        },
    )
    .await;
}

#[tokio::test]
async fn unknown_venues_strands_and_files_are_not_found() {
    let app = TestApp::spawn_at(Engine::Sqlite, now()).await;
    let west = screening("bfi-west", "bfi-southbank", "West", "2026-12-04T18:30");
    app.deliver_screening(&listed(&west, at(1))).await;
    for path in [
        "/venues/nowhere.rss",
        "/venues/nowhere.ics",
        "/venues/bfi-southbank.html",
        "/strands/no-such-strand.rss",
        "/strands/sergio-leone-season.ics",
        "/repertory/next-week.rss",
        "/calendars/bfi-southbank.ics",
        "/calendars/all.rss",
    ] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
    assert_eq!(app.get("/venues/bfi-southbank.ics").await.status(), 200);
}

#[tokio::test]
async fn calendars_answer_conditional_get_head_and_compression() {
    let app = TestApp::spawn_at(Engine::Sqlite, now()).await;
    let west = screening("bfi-west", "bfi-southbank", "West", "2026-12-04T18:30");
    app.deliver_screening(&listed(&west, at(1))).await;
    for path in ["/venues/bfi-southbank.ics", "/calendars/all.ics"] {
        let first = app.get(path).await;
        assert_eq!(first.status(), 200);
        let etag = first.headers()["etag"].clone();
        let last_modified = first.headers()["last-modified"].clone();
        assert_eq!(last_modified, "Fri, 10 Jan 2025 09:01:00 GMT");

        let again = app
            .get_with(path, &[("if-none-match", etag.to_str().unwrap())])
            .await;
        assert_eq!(again.status(), 304, "{path}");
        assert!(again.bytes().await.unwrap().is_empty());
        let since = app
            .get_with(
                path,
                &[("if-modified-since", last_modified.to_str().unwrap())],
            )
            .await;
        assert_eq!(since.status(), 304, "{path}");

        let head = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), 200);
        assert_eq!(head.headers()["etag"], etag);
        assert_eq!(
            head.headers()["content-type"],
            "text/calendar; charset=utf-8"
        );
        assert!(head.bytes().await.unwrap().is_empty());

        let gzip = app.get_with(path, &[("accept-encoding", "gzip")]).await;
        assert_eq!(gzip.headers()["content-encoding"], "gzip");
        assert_ne!(gzip.headers()["etag"], etag);
        let mut decoded = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&gzip.bytes().await.unwrap()[..]),
            &mut decoded,
        )
        .unwrap();
        assert_eq!(decoded, app.body(path).await);
    }
    // A change is a new ETag: the old one no longer gets a 304.
    let before = app.get("/venues/bfi-southbank.ics").await.headers()["etag"].clone();
    let mut sold = west.clone();
    sold.sold_out = true;
    app.deliver_screening(&changed(&sold, at(2))).await;
    let after = app
        .get_with(
            "/venues/bfi-southbank.ics",
            &[("if-none-match", before.to_str().unwrap())],
        )
        .await;
    assert_eq!(after.status(), 200);
    assert!(after.text().await.unwrap().contains("SEQUENCE:1\r\n"));
}

#[tokio::test]
async fn the_index_page_lists_venue_feeds_and_calendars() {
    let app = TestApp::spawn_at(Engine::Sqlite, now()).await;
    let west = screening("bfi-west", "bfi-southbank", "West", "2026-12-04T18:30");
    app.deliver_screening(&listed(&west, at(1))).await;
    let page = app.body("/").await;
    let head = &page[..page.find("</head>").unwrap()];
    for (format, media_type) in [
        ("rss", "application/rss+xml"),
        ("atom", "application/atom+xml"),
        ("json", "application/feed+json"),
    ] {
        for path in [
            format!("/venues/bfi-southbank.{format}"),
            format!("/repertory/this-week.{format}"),
        ] {
            let link = format!(
                "<link rel=\"alternate\" type=\"{}\" href=\"{}\"",
                escape(media_type),
                escape(&app.url(&path))
            );
            assert!(head.contains(&link), "missing {link}");
        }
    }
    assert!(page.contains(&escape(&app.url("/venues/bfi-southbank.ics"))));
    assert!(page.contains(&escape(&app.url("/calendars/all.ics"))));
}

/// One venue feed and one calendar, byte for byte, with the test server's
/// address replaced by a fixed one.
#[tokio::test]
async fn a_venue_feed_and_calendar_match_their_golden_files() {
    let app = TestApp::spawn_at(Engine::Sqlite, now()).await;
    let west = west();
    let mut dollars = screening(
        "bfi-dollars",
        "bfi-southbank",
        "A Fistful of Dollars",
        "2026-12-10T20:00",
    );
    dollars.strand = None;
    dollars.sold_out = true;
    app.deliver_screening(&listed(&west, at(1))).await;
    app.deliver_screening(&listed(&dollars, at(2))).await;
    app.deliver_screening(&cancelled(&dollars, at(3))).await;
    let base = app.base_url.as_str();
    for file in ["bfi-southbank.rss", "bfi-southbank.ics"] {
        let body = app
            .body(&format!("/venues/{file}"))
            .await
            .replace(base, "http://feeds.example/");
        assert_golden(env!("CARGO_MANIFEST_DIR"), &format!("venue-{file}"), body);
    }
}
