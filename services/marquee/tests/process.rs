//! The `marquee` binary as operators run it: `marquee up` serving feeds from
//! the bundled samples and keeping its state across a restart; bad settings
//! refused with a message naming the key; and the distributed layout, each
//! service its own process on the real broker and PostgreSQL.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::process::Command;
use std::time::Instant;

use common::process::{Marquee, config_on_port, samples_dir};
use marquee_test_support::free_port;

const SAMPLE_ITEMS: usize = 6;
/// Social accounts in `config/default.toml`.
const ACCOUNTS: usize = 3;
/// The review `marquee up` sends through the webhook (`demo/late-review.json`).
const DEMO_REVIEW: &str = "marquee-cms-3201";

fn items(feed: &str) -> usize {
    feed.matches("<item>").count()
}

/// Distinct (review, account) pairs in the social outbox; panics on a duplicate.
fn posts(outbox: &str) -> usize {
    let outbox: serde_json::Value = serde_json::from_str(outbox).unwrap();
    let mut seen = std::collections::HashSet::new();
    for post in outbox["posts"].as_array().unwrap() {
        let pair = (post["review_id"].to_string(), post["account"].to_string());
        assert!(seen.insert(pair.clone()), "posted twice: {pair:?}");
    }
    seen.len()
}

#[tokio::test]
async fn up_serves_the_samples_and_keeps_its_state_across_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let port = free_port();

    let config = config_on_port(data.path(), port);
    let first = Marquee::start(&config, &["up", "--data-dir", data_dir], port, &[]);
    let started = Instant::now();
    first.wait_for("/healthz", |body| body == "ok").await;
    let healthy_after = started.elapsed();
    assert!(
        first.get("/readyz").await.unwrap().0 == 200,
        "ready once healthy"
    );
    // The samples, and the demo's new review sent through the signed webhook.
    let feed = first
        .wait_for("/feeds/all.rss", |f| items(f) == SAMPLE_ITEMS + 1)
        .await;
    eprintln!(
        "healthy after {healthy_after:?}, feeds full after {:?}",
        started.elapsed()
    );
    let index = first.get("/").await.unwrap().1;
    assert!(index.contains(r#"rel="alternate""#), "{index}");
    // The sample venues' screenings, as a calendar and a feed. BFI Southbank's
    // sample has a standing weekly screening, so this holds whatever the date.
    let calendar = first
        .wait_for("/venues/bfi-southbank.ics", |c| c.contains("BEGIN:VEVENT"))
        .await;
    assert!(
        calendar.contains("X-WR-CALNAME:BFI Southbank"),
        "{calendar}"
    );
    first
        .wait_for("/venues/bfi-southbank.rss", |f| {
            f.contains("Wonderful Life")
        })
        .await;
    // One row per review per configured account: the samples are back
    // catalogue, skipped; the review that arrived after the first read is
    // composed into the outbox (a dry run).
    let outbox = first
        .wait_for("/social/outbox.json", |o| {
            posts(o) == (SAMPLE_ITEMS + 1) * ACCOUNTS
        })
        .await;
    let rows: serde_json::Value = serde_json::from_str(&outbox).unwrap();
    for post in rows["posts"].as_array().unwrap() {
        if post["review_id"] == DEMO_REVIEW {
            assert_eq!(post["status"], "dry_run", "{post}");
        } else {
            assert_eq!(post["status"], "skipped", "{post}");
            let reason = post["reason"].as_str().unwrap();
            assert!(reason.starts_with("back catalogue: "), "{reason}");
        }
    }
    first.stop();

    // Same data folder: the feed is there before any source is polled again,
    // re-polling the unchanged samples publishes nothing new, and the demo's
    // review is not sent again.
    let second = Marquee::start(&config, &["up", "--data-dir", data_dir], port, &[]);
    let again = second
        .wait_for("/feeds/all.rss", |f| items(f) == SAMPLE_ITEMS + 1)
        .await;
    assert_eq!(strip_build_date(&again), strip_build_date(&feed));
    assert_eq!(second.get("/social/outbox.json").await.unwrap().1, outbox);
    second.stop();
    assert!(data.path().join("bus.sqlite").exists());
}

fn strip_build_date(feed: &str) -> String {
    feed.lines()
        .filter(|line| !line.contains("<lastBuildDate>"))
        .collect()
}

/// `marquee args…` with `env`, which must fail; what it said on stderr.
fn refused(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_marquee"));
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    assert!(!output.status.success(), "marquee {args:?} did not fail");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_misspelt_setting_is_refused_with_its_name_and_origin() {
    let stderr = refused(&["up"], &[("MARQUEE_HTTP__LISTN", "127.0.0.1:1")]);
    assert!(stderr.contains("unknown field: found `listn`"), "{stderr}");
    assert!(stderr.contains("MARQUEE_HTTP__LISTN"), "{stderr}");
}

#[test]
fn a_bad_config_file_is_refused_with_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[bus]\ntransport = \"carrier-pigeon\"\n").unwrap();
    let stderr = refused(&["--config", file.to_str().unwrap(), "up"], &[]);
    assert!(stderr.contains("bus.transport"), "{stderr}");
    assert!(stderr.contains("bad.toml"), "{stderr}");
    assert!(stderr.contains("carrier-pigeon"), "{stderr}");
}

#[test]
fn run_refuses_the_embedded_transport_and_explains() {
    let stderr = refused(&["run", "feeds"], &[]);
    assert!(
        stderr.contains("needs bus.transport = \"kafka\""),
        "{stderr}"
    );
}

#[test]
fn an_unknown_service_lists_the_known_ones() {
    let stderr = refused(&["run", "printer"], &[]);
    assert!(
        stderr.contains("feeds") && stderr.contains("reviews-ingest"),
        "{stderr}"
    );
}

/// Every service its own process, on the real broker and PostgreSQL.
#[tokio::test]
async fn services_as_separate_processes_on_kafka_and_postgres() {
    let brokers = marquee_test_support::kafka_brokers();
    let dir = tempfile::tempdir().unwrap();
    let samples_port = free_port();
    let samples = serve_samples(samples_port).await;
    let config = config_on_port(dir.path(), samples_port);
    // Unique groups, so earlier runs' offsets on a shared broker do not matter.
    let run = uuid_like();
    let mut env = vec![
        ("MARQUEE_BUS__TRANSPORT", "kafka".to_owned()),
        ("MARQUEE_BUS__KAFKA__BROKERS", brokers),
    ];
    for (service, key) in [
        ("feeds", "FEEDS"),
        ("reviews", "REVIEWS_INGEST"),
        ("social", "SOCIAL"),
        ("listings", "LISTINGS_INGEST"),
        ("digest", "DIGEST"),
    ] {
        let db = marquee_test_support::create_postgres_database("marquee_e2e").await;
        env.push((leak(format!("MARQUEE_{key}__DATABASE_URL")), db));
        if service != "reviews" {
            env.push((
                leak(format!("MARQUEE_{key}__CONSUMER_GROUP")),
                format!("{service}-{run}"),
            ));
        }
    }
    let start = |service: &str| {
        let port = free_port();
        Marquee::start(&config, &["run", service], port, &env)
    };
    // Consumers first, then the producers.
    let feeds = start("feeds");
    let social = start("social");
    let digest = start("digest");
    for consumer in [&feeds, &social, &digest] {
        consumer.wait_for("/readyz", |_| true).await;
    }
    let reviews = start("reviews-ingest");
    let listings = start("listings-ingest");

    let feed = feeds
        .wait_for("/feeds/all.rss", |f| items(f) >= SAMPLE_ITEMS)
        .await;
    assert_eq!(items(&feed), SAMPLE_ITEMS, "each sample exactly once");
    let in_cinemas = feeds.get("/feeds/in-cinemas.rss").await.unwrap().1;
    assert!(items(&in_cinemas) >= 1 && items(&in_cinemas) < SAMPLE_ITEMS);
    feeds
        .wait_for("/calendars/all.ics", |c| c.contains("Wonderful Life"))
        .await;
    social
        .wait_for("/social/outbox.json", |o| {
            posts(o) == SAMPLE_ITEMS * ACCOUNTS
        })
        .await;
    // The digest heard listings-ingest through Kafka: BFI Southbank's sample
    // calendar has a standing weekly screening, so whatever the date, the
    // coming week has one.
    digest
        .admin_get_until("/admin/digest/preview/weekly", |page| {
            page.contains("BFI Southbank")
        })
        .await;
    // The admin API across processes: sources' health from the ingest
    // process, consumer lag from the broker as any process sees it.
    listings
        .admin_get_until("/admin/listings-ingest/sources", |sources| {
            sources.contains("\"name\":\"bfi-southbank-ics\"")
                && !sources.contains("\"last_success\":null")
        })
        .await;
    feeds
        .admin_get_until("/admin/bus/lag", |lag| {
            let lag: serde_json::Value = serde_json::from_str(lag).unwrap();
            let feeds_group = lag
                .as_array()
                .unwrap()
                .iter()
                .filter(|row| row["group"] == format!("feeds-{run}").as_str())
                .collect::<Vec<_>>();
            !feeds_group.is_empty() && feeds_group.iter().all(|row| row["lag"] == 0)
        })
        .await;
    for process in [listings, reviews, digest, social, feeds] {
        process.stop();
    }
    samples.abort();
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

async fn serve_samples(port: u16) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let router = axum::Router::new()
        .nest_service(
            "/samples/reviews",
            tower_http::services::ServeDir::new(samples_dir("reviews")),
        )
        .nest_service(
            "/samples/listings",
            tower_http::services::ServeDir::new(samples_dir("listings")),
        );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() })
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}
