//! The `marquee` binary as operators run it: `marquee up` serving feeds from
//! the bundled samples and keeping its state across a restart; bad settings
//! refused with a message naming the key; and the distributed layout, each
//! service its own process on the real broker and PostgreSQL.

#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const SAMPLE_ITEMS: usize = 6;
/// Social accounts in `config/default.toml`.
const ACCOUNTS: usize = 3;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../marquee-reviews-ingest/samples")
}

/// A `marquee` process, stopped with SIGTERM when dropped.
struct Marquee {
    child: Child,
    base: String,
}

impl Marquee {
    fn start(args: &[&str], port: u16, env: &[(&str, String)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_marquee"));
        command
            .args(args)
            .env("MARQUEE_HTTP__LISTEN", format!("127.0.0.1:{port}"))
            .env(
                "MARQUEE_FEEDS__BASE_URL",
                format!("http://127.0.0.1:{port}/"),
            )
            .env("MARQUEE_SAMPLES_DIR", samples_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        Self {
            child: command.spawn().unwrap(),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn get(&self, path: &str) -> Option<(u16, String)> {
        let response = reqwest::get(format!("{}{path}", self.base)).await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    /// Polls `path` until `accept` holds for its body, for up to 60 s.
    async fn wait_for(&self, path: &str, accept: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some((200, body)) = self.get(path).await
                && accept(&body)
            {
                return body;
            }
            if let Ok(Some(status)) = self.child.try_wait_ref() {
                panic!("marquee exited early with {status}");
            }
            assert!(Instant::now() < deadline, "timed out waiting for {path}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn stop(mut self) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "marquee did not shut down cleanly: {status}"
        );
    }
}

trait TryWaitRef {
    fn try_wait_ref(&self) -> std::io::Result<Option<std::process::ExitStatus>>;
}

impl TryWaitRef for Child {
    fn try_wait_ref(&self) -> std::io::Result<Option<std::process::ExitStatus>> {
        // `try_wait` needs `&mut`; a signal-0 probe tells the same without it.
        let alive = Command::new("kill")
            .args(["-0", &self.id().to_string()])
            .stderr(Stdio::null())
            .status()?
            .success();
        Ok((!alive).then(std::process::ExitStatus::default))
    }
}

impl Drop for Marquee {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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

fn up_env(port: u16) -> Vec<(&'static str, String)> {
    vec![(
        "MARQUEE_REVIEWS_INGEST__SOURCES",
        format!(
            "[{{kind=\"feed\",name=\"sample-cms-feed\",url=\"http://127.0.0.1:{port}/samples/cms-feed.xml\",poll_interval_secs=60}}]"
        ),
    )]
}

#[tokio::test]
async fn up_serves_the_samples_and_keeps_its_state_across_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let port = free_port();

    let first = Marquee::start(&["up", "--data-dir", data_dir], port, &up_env(port));
    let started = Instant::now();
    first.wait_for("/healthz", |body| body == "ok").await;
    let healthy_after = started.elapsed();
    assert!(
        first.get("/readyz").await.unwrap().0 == 200,
        "ready once healthy"
    );
    let feed = first
        .wait_for("/feeds/all.rss", |f| items(f) == SAMPLE_ITEMS)
        .await;
    eprintln!(
        "healthy after {healthy_after:?}, feeds full after {:?}",
        started.elapsed()
    );
    let index = first.get("/").await.unwrap().1;
    assert!(index.contains(r#"rel="alternate""#), "{index}");
    // Dry-run posts: one per sample review per configured account.
    let outbox = first
        .wait_for("/social/outbox.json", |o| {
            posts(o) == SAMPLE_ITEMS * ACCOUNTS
        })
        .await;
    first.stop();

    // Same data folder: the feed is there before any source is polled again,
    // and re-polling the unchanged samples publishes nothing new.
    let second = Marquee::start(&["up", "--data-dir", data_dir], port, &up_env(port));
    let again = second
        .wait_for("/feeds/all.rss", |f| items(f) == SAMPLE_ITEMS)
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

fn marquee(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_marquee"));
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

#[test]
fn a_misspelt_setting_is_refused_with_its_name_and_origin() {
    let output = marquee(&["up"], &[("MARQUEE_HTTP__LISTN", "127.0.0.1:1")]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown field: found `listn`"), "{stderr}");
    assert!(stderr.contains("MARQUEE_HTTP__LISTN"), "{stderr}");
}

#[test]
fn a_bad_config_file_is_refused_with_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[bus]\ntransport = \"carrier-pigeon\"\n").unwrap();
    let output = marquee(&["--config", file.to_str().unwrap(), "up"], &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bus.transport"), "{stderr}");
    assert!(stderr.contains("bad.toml"), "{stderr}");
    assert!(stderr.contains("carrier-pigeon"), "{stderr}");
}

#[test]
fn run_refuses_the_embedded_transport_and_explains() {
    let output = marquee(&["run", "feeds"], &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("needs bus.transport = \"kafka\""),
        "{stderr}"
    );
}

#[test]
fn an_unknown_service_lists_the_known_ones() {
    let output = marquee(&["run", "printer"], &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("feeds") && stderr.contains("reviews-ingest"),
        "{stderr}"
    );
}

/// Every service its own process, on the real broker and PostgreSQL.
#[tokio::test]
async fn services_as_separate_processes_on_kafka_and_postgres() {
    let brokers =
        std::env::var("TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_owned());
    let feeds_db = fresh_postgres_database().await;
    let ingest_db = fresh_postgres_database().await;
    let social_db = fresh_postgres_database().await;
    let (samples_port, feeds_port, ingest_port, social_port) =
        (free_port(), free_port(), free_port(), free_port());
    let samples = serve_samples(samples_port).await;
    // Unique groups, so earlier runs' offsets on a shared broker do not matter.
    let group = format!("feeds-{}", uuid_like());
    let common = |db_key: &'static str, db: &str| {
        let mut env = vec![
            ("MARQUEE_BUS__TRANSPORT", "kafka".to_owned()),
            ("MARQUEE_BUS__KAFKA__BROKERS", brokers.clone()),
            ("MARQUEE_FEEDS__CONSUMER_GROUP", group.clone()),
            ("MARQUEE_SOCIAL__CONSUMER_GROUP", format!("social-{group}")),
            (db_key, db.to_owned()),
        ];
        env.extend(up_env(samples_port));
        env
    };

    let feeds = Marquee::start(
        &["run", "feeds"],
        feeds_port,
        &common("MARQUEE_FEEDS__DATABASE_URL", &feeds_db),
    );
    feeds.wait_for("/readyz", |_| true).await;
    let social = Marquee::start(
        &["run", "social"],
        social_port,
        &common("MARQUEE_SOCIAL__DATABASE_URL", &social_db),
    );
    social.wait_for("/readyz", |_| true).await;
    let ingest = Marquee::start(
        &["run", "reviews-ingest"],
        ingest_port,
        &common("MARQUEE_REVIEWS_INGEST__DATABASE_URL", &ingest_db),
    );
    ingest.wait_for("/readyz", |_| true).await;
    let feed = feeds
        .wait_for("/feeds/all.rss", |f| items(f) >= SAMPLE_ITEMS)
        .await;
    assert_eq!(items(&feed), SAMPLE_ITEMS, "each sample exactly once");
    let in_cinemas = feeds.get("/feeds/in-cinemas.rss").await.unwrap().1;
    assert!(items(&in_cinemas) >= 1 && items(&in_cinemas) < SAMPLE_ITEMS);
    social
        .wait_for("/social/outbox.json", |o| {
            posts(o) == SAMPLE_ITEMS * ACCOUNTS
        })
        .await;
    social.stop();
    ingest.stop();
    feeds.stop();
    samples.abort();
}

async fn serve_samples(port: u16) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let router = axum::Router::new().nest_service(
        "/samples",
        tower_http::services::ServeDir::new(samples_dir()),
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

/// A new empty database on the local PostgreSQL, by URL.
async fn fresh_postgres_database() -> String {
    use sqlx::Connection;
    let name = format!("marquee_e2e_{}", uuid_like());
    let mut admin = sqlx::PgConnection::connect("postgres://postgres@127.0.0.1:5432/postgres")
        .await
        .expect("PostgreSQL answers at 127.0.0.1:5432 (the test command starts it)");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    format!("postgres://postgres@127.0.0.1:5432/{name}")
}
