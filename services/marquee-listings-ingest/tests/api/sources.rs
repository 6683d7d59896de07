use marquee_events::{Accessibility, ScreeningEvent};
use marquee_listings_ingest::VenueSettings;

use crate::helpers::{TestApp, fixture, listed, sample, source, venue};

/// A one-source app (`kind`, `name`, `venue`) whose upstream serves the
/// fixture `file` at `path` as `content_type`.
async fn serving(
    kind: &str,
    name: &str,
    venue: VenueSettings,
    path: &str,
    content_type: &str,
    file: &str,
) -> TestApp {
    let app = TestApp::with_source(kind, name, path, venue).await;
    app.upstream.serve(path, content_type, &fixture(file));
    app
}

#[tokio::test]
async fn ics_events_are_cleaned_zoned_and_expanded() {
    let mut app = serving(
        "ics",
        "bfi",
        venue("bfi-southbank", "BFI Southbank"),
        "/bfi.ics",
        "text/calendar",
        "listings.ics",
    )
    .await;
    let reports = app.poll_clean().await;
    // 4 single events + 4 weekly occurrences.
    assert_eq!(reports["bfi"].new, 8);
    let events = app.events().await;
    assert!(
        events
            .iter()
            .all(|e| e.source == "marquee/listings-ingest/bfi")
    );
    let screenings = listed(&events);

    let west = &screenings["Once Upon a Time in the West"];
    assert_eq!(west.film.year, Some(1968));
    assert_eq!(west.format.as_deref(), Some("35mm"));
    assert_eq!(west.extras, vec!["Q&A"]);
    assert_eq!(west.strand.as_deref(), Some("Sergio Leone season"));
    assert_eq!(west.screen.as_deref(), Some("NFT1"));
    assert_eq!(west.venue.id, "bfi-southbank");
    assert_eq!(west.time_zone, "Europe/London");
    assert_eq!(west.starts_at.to_rfc3339(), "2026-12-04T18:30:00+00:00");
    assert_eq!(
        west.booking_url.as_ref().unwrap().as_str(),
        "https://tickets.example.com/ouatitw"
    );
    assert_eq!(
        west.id,
        marquee_listings_ingest::screening_id(
            "bfi-southbank",
            Some("ouatitw-1"),
            None,
            "",
            west.starts_at_local
        )
    );

    // DST rule 1: 01:30 on the last Sunday of March does not exist; it is 02:30 BST.
    let gap = &screenings["Night of the Living Dead"];
    assert_eq!(gap.starts_at.to_rfc3339(), "2027-03-28T01:30:00+00:00");
    assert_eq!(gap.starts_at_local.to_string(), "2027-03-28 02:30:00");
    // DST rule 2: 01:30 on the last Sunday of October happens twice; the first (BST).
    let fold = &screenings["The Others"];
    assert_eq!(fold.starts_at.to_rfc3339(), "2026-10-25T00:30:00+00:00");
    assert_eq!(fold.starts_at_local.to_string(), "2026-10-25 01:30:00");

    let utc = &screenings["Mulholland Drive"];
    assert_eq!(utc.starts_at_local.to_string(), "2026-12-10 20:00:00");
    assert_eq!(utc.accessibility, vec![Accessibility::AudioDescribed]);
    assert!(utc.sold_out);

    let weekly: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.data {
            ScreeningEvent::Listed(l) if l.screening.film.title == "Paddington" => {
                Some(&l.screening)
            }
            _ => None,
        })
        .collect();
    assert_eq!(weekly.len(), 4);
    assert!(
        weekly
            .iter()
            .all(|s| s.accessibility == vec![Accessibility::BabyFriendly])
    );
    let ids: std::collections::HashSet<_> = weekly.iter().map(|s| s.id.clone()).collect();
    assert_eq!(ids.len(), 4, "each occurrence has its own id");

    // A second poll publishes nothing.
    let again = app.poll().await;
    assert_eq!((again["bfi"].new, again["bfi"].unchanged), (0, 8));
    assert!(app.events().await.is_empty());
}

#[tokio::test]
async fn csv_rows_become_screenings() {
    let mut app = serving(
        "csv",
        "castle-csv",
        venue("castle", "The Castle Cinema"),
        "/castle.csv",
        "text/csv; charset=utf-8",
        "listings.csv",
    )
    .await;
    let reports = app.poll_clean().await;
    assert_eq!(reports["castle-csv"].new, 3);
    let screenings = listed(&app.events().await);
    let paris = &screenings["Paris, Texas"];
    assert_eq!(paris.format.as_deref(), Some("35mm"));
    assert_eq!(paris.extras, vec!["intro", "Q&A"]);
    assert_eq!(paris.strand.as_deref(), Some("Wim Wenders season"));
    assert_eq!(paris.film.director.as_deref(), Some("Wim Wenders"));
    assert_eq!(paris.film.runtime_minutes, Some(145));
    assert_eq!(paris.starts_at.to_rfc3339(), "2026-11-29T18:00:00+00:00");
    let home = &screenings["Home Alone"];
    assert!(home.sold_out);
    assert_eq!(
        home.accessibility,
        vec![Accessibility::AudioDescribed, Accessibility::Relaxed]
    );
    // The same spring-gap rule applies to CSV local times.
    let shining = &screenings["The Shining"];
    assert_eq!(shining.starts_at.to_rfc3339(), "2027-03-28T01:30:00+00:00");
}

#[tokio::test]
async fn json_api_items_become_screenings() {
    let mut app = serving(
        "json",
        "api",
        venue("rio", "Rio Cinema"),
        "/api/screenings",
        "application/json",
        "listings.json",
    )
    .await;
    app.poll_clean().await;
    let screenings = listed(&app.events().await);
    let stalker = &screenings["Stalker"];
    assert_eq!(stalker.format.as_deref(), Some("35mm"));
    assert_eq!(stalker.extras, vec!["intro"]);
    assert_eq!(stalker.accessibility, vec![Accessibility::Subtitled]);
    assert_eq!(stalker.film.year, Some(1979));
    assert_eq!(stalker.screen.as_deref(), Some("Cinema 1"));
    assert!(screenings["Mirror"].sold_out);
    assert_eq!(
        screenings["Mirror"].starts_at.to_rfc3339(),
        "2026-12-03T19:30:00+00:00"
    );
}

#[tokio::test]
async fn json_ld_screening_events_become_screenings() {
    let mut app = serving(
        "json_ld",
        "closeup",
        venue("close-up", "Close-Up Film Centre"),
        "/whats-on",
        "text/html; charset=utf-8",
        "listings.html",
    )
    .await;
    let reports = app.poll_clean().await;
    // Solaris is marked cancelled and was never listed: nothing to announce.
    assert_eq!(
        (reports["closeup"].new, reports["closeup"].unchanged),
        (1, 1)
    );
    let screenings = listed(&app.events().await);
    let mirror = &screenings["Mirror"];
    assert_eq!(mirror.format.as_deref(), Some("35mm"));
    assert_eq!(mirror.extras, vec!["discussion"]);
    assert_eq!(
        mirror.strand.as_deref(),
        Some("Tarkovsky: Sculpting in Time")
    );
    assert_eq!(mirror.film.director.as_deref(), Some("Andrei Tarkovsky"));
    assert_eq!(mirror.film.runtime_minutes, Some(107));
    assert_eq!(mirror.screen, None, "the location is the venue itself");
    assert!(mirror.sold_out);
    assert_eq!(
        mirror.booking_url.as_ref().unwrap().as_str(),
        format!("{}/book/mirror", app.upstream.base)
    );
}

#[tokio::test]
async fn the_bundled_samples_ingest_cleanly() {
    let mut app = TestApp::spawn(|up| {
        vec![
            source(
                "ics",
                "pcc",
                up.url("/pcc.ics"),
                venue("prince-charles-cinema", "Prince Charles Cinema"),
            ),
            source(
                "ics",
                "bfi",
                up.url("/bfi.ics"),
                venue("bfi-southbank", "BFI Southbank"),
            ),
            source(
                "csv",
                "castle",
                up.url("/castle.csv"),
                venue("castle-cinema", "The Castle Cinema"),
            ),
            source(
                "json_ld",
                "closeup",
                up.url("/closeup.html"),
                venue("close-up-film-centre", "Close-Up Film Centre"),
            ),
        ]
    })
    .await;
    app.upstream.serve(
        "/pcc.ics",
        "text/calendar",
        &sample("prince-charles-cinema.ics"),
    );
    app.upstream
        .serve("/bfi.ics", "text/calendar", &sample("bfi-southbank.ics"));
    app.upstream
        .serve("/castle.csv", "text/csv", &sample("castle-cinema.csv"));
    app.upstream.serve(
        "/closeup.html",
        "text/html",
        &sample("close-up-film-centre.html"),
    );
    let reports = app.poll_clean().await;
    for (name, report) in &reports {
        assert!(report.new >= 4, "{name}: {report:?}");
    }
    let screenings = listed(&app.events().await);
    let west = &screenings["Once Upon a Time in the West"];
    assert_eq!(
        (west.format.as_deref(), west.extras.as_slice()),
        (Some("35mm"), &["Q&A".to_owned()][..])
    );
    assert_eq!(west.strand.as_deref(), Some("Sergio Leone season"));
}
