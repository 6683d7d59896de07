//! Ingest throughput: 100,000 screenings from one generated iCalendar feed,
//! served over local HTTP, through parsing, normalization, the SQLite ledger
//! and the embedded bus: listed, then re-polled unchanged. Prints
//! screenings per second.
//!
//! `cargo bench -p marquee-listings-ingest --bench ingest`

#![allow(clippy::unwrap_used, missing_docs)]

use std::fmt::Write as _;
use std::time::Instant;

use marquee_bus::{Bus, BusSettings, EmbeddedSettings, Transport};
use marquee_listings_ingest::{ListingsIngest, Settings, SourceSettings, VenueSettings};

const SCREENINGS: usize = 100_000;

fn calendar() -> String {
    let titles = [
        "Once Upon a Time in the West (1968) [35mm] + Q&A",
        "The Good, the Bad and the Ugly [4K restoration]",
        "Vertigo (1958) [70mm]",
        "Tokyo Story + intro",
        "Paddington 2 (Parent & Baby)",
    ];
    let mut text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Bench//EN\r\n".to_owned();
    let start = chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap();
    for i in 0..SCREENINGS {
        let at = start + chrono::TimeDelta::minutes(37 * i as i64);
        let _ = write!(
            text,
            "BEGIN:VEVENT\r\nUID:bench-{i}\r\nDTSTART;TZID=Europe/London:{}\r\nSUMMARY:{}\r\nLOCATION:Screen {}\r\nCATEGORIES:Bench season\r\nURL:https://tickets.example.com/{i}\r\nEND:VEVENT\r\n",
            at.format("%Y%m%dT%H%M%S"),
            titles[i % titles.len()],
            i % 4 + 1,
        );
    }
    text.push_str("END:VCALENDAR\r\n");
    text
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let body = calendar();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/bench.ics", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/bench.ics",
        axum::routing::get(move || {
            let body = body.clone();
            async move { body }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let bus = Bus::connect(&BusSettings {
        transport: Transport::Embedded,
        embedded: EmbeddedSettings {
            path: dir.path().join("bus.sqlite"),
        },
        ..Default::default()
    })
    .await
    .unwrap();
    bus.ensure_marquee_topics(1).await.unwrap();
    let settings = Settings {
        database_url: format!("sqlite://{}", dir.path().join("ledger.sqlite").display()),
        sources: vec![SourceSettings {
            kind: "ics".parse().unwrap(),
            name: "bench".to_owned(),
            url: url.parse().unwrap(),
            venue: VenueSettings {
                id: "bench-cinema".to_owned(),
                name: "Bench Cinema".to_owned(),
                address: None,
                time_zone: "Europe/London".to_owned(),
            },
            poll_interval_secs: 60,
        }],
        allow_private_addresses: true,
        max_body_bytes: 64 * 1024 * 1024,
        ..Settings::default()
    };
    let ingest = ListingsIngest::build(settings, bus).await.unwrap();

    let started = Instant::now();
    let reports = ingest.poll_once().await;
    let elapsed = started.elapsed();
    let report = &reports[0].1;
    assert_eq!(report.new, SCREENINGS, "{report:?}");
    println!(
        "listings-ingest: {SCREENINGS} screenings listed in {:.2?} = {:.0} events/s",
        elapsed,
        SCREENINGS as f64 / elapsed.as_secs_f64()
    );

    let started = Instant::now();
    let reports = ingest.poll_once().await;
    let elapsed = started.elapsed();
    assert_eq!(reports[0].1.unchanged, SCREENINGS);
    println!(
        "listings-ingest: re-poll of {SCREENINGS} unchanged screenings in {:.2?} = {:.0} screenings/s",
        elapsed,
        SCREENINGS as f64 / elapsed.as_secs_f64()
    );
}
