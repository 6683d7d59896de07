//! The ledger on PostgreSQL (127.0.0.1:5432, trust auth), a fresh database
//! per test, dropped at the end even when the test fails.

use marquee_events::ScreeningEvent;

use crate::helpers::{TestApp, ics, source, venue};

/// A database that exists while this lives.
struct FreshDatabase {
    url: String,
}

impl FreshDatabase {
    async fn create() -> Self {
        Self {
            url: marquee_test_support::create_postgres_database("listings_ingest").await,
        }
    }

    fn url(&self) -> String {
        self.url.clone()
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let url = self.url.clone();
        // Drop runs inside the test's runtime: drop the database from a
        // thread with its own.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(marquee_test_support::drop_database(&url));
        })
        .join();
        if dropped.is_err() {
            eprintln!("could not drop test database {}", self.url);
        }
    }
}

#[tokio::test]
async fn the_ledger_works_on_postgres_across_a_restart() {
    let database = FreshDatabase::create().await;
    let west = "UID:west-1\nSUMMARY:Once Upon a Time in the West [35mm] + Q&A\nDTSTART;TZID=Europe/London:20261204T183000";
    let mut app = TestApp::spawn_on(Some(database.url()), |up| {
        vec![source(
            "ics",
            "bfi",
            up.url("/bfi.ics"),
            venue("bfi", "BFI Southbank"),
        )]
    })
    .await;
    app.upstream
        .serve("/bfi.ics", "text/calendar", &ics(&[west]));
    assert_eq!(app.poll().await["bfi"].new, 1);
    app.events().await;

    // A new process on the same database remembers what it published.
    let upstream = app.upstream.clone();
    drop(app);
    let mut app = TestApp::spawn_on(Some(database.url()), |_| {
        vec![source(
            "ics",
            "bfi",
            upstream.url("/bfi.ics"),
            venue("bfi", "BFI Southbank"),
        )]
    })
    .await;
    assert_eq!(app.poll().await["bfi"].unchanged, 1);

    let moved = west.replace("20261204T183000", "20261204T203000");
    upstream.serve(
        "/bfi.ics",
        "text/calendar",
        &ics(&[&moved, "UID:x\nSUMMARY:Heat\nDTSTART:20261210T200000Z"]),
    );
    let report = &app.poll().await["bfi"];
    assert_eq!((report.changed, report.new), (1, 1));
    upstream.serve(
        "/bfi.ics",
        "text/calendar",
        &ics(&["UID:x\nSUMMARY:Heat\nDTSTART:20261210T200000Z"]),
    );
    assert_eq!(app.poll().await["bfi"].withdrawn, 1);
    let events = app.events().await;
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e.data {
            ScreeningEvent::Listed(_) => "listed",
            ScreeningEvent::Changed(_) => "changed",
            ScreeningEvent::Cancelled(_) => "cancelled",
        })
        .collect();
    assert_eq!(kinds, vec!["changed", "listed", "cancelled"]);
    let ScreeningEvent::Cancelled(cancelled) = &events[2].data else {
        panic!("{events:?}")
    };
    assert_eq!(
        cancelled.screening.film.title,
        "Once Upon a Time in the West"
    );
    app.ingest.check().await.unwrap();
}
