//! The fault suite (`scripts/faults`, RELIABILITY.md): every service its own
//! `marquee run` process, on a durable broker (tansu on SQLite) and a
//! PostgreSQL of the test's own, with reviews arriving from a CMS feed and
//! screenings from a cinema's CSV the whole time. Each scenario breaks one
//! part mid-stream and then counts: every review in the feed exactly once,
//! every screening in the calendar exactly once, every review posted
//! exactly once per account, every digest mailed exactly once per
//! subscriber.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::HashSet;
use std::hash::Hash;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::process::Marquee;
use marquee_bus::{Bus, BusSettings, Record};
use marquee_events::{Envelope, ReviewEvent};
use marquee_runtime::clock::{Clock as _, SystemClock};
use marquee_test_support::{
    DurableBroker, OwnPostgres, SmtpSink, Upstream, free_port, mutated, wait,
};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

/// Reviews the CMS and screenings the cinema add per scenario.
const BATCH: usize = 12;
/// Digest subscribers: enough that a send is mid-way when it is killed.
const SUBSCRIBERS: usize = 300;
/// How long a SIGKILLed consumer stays down: until its 10 s session has
/// lapsed. tansu 0.6 hands a member that joins sooner a generation led by
/// the dead one, with no partitions, until that rebalances (RELIABILITY.md).
const SESSION_LAPSE: Duration = Duration::from_secs(11);
/// Undecodable review events put on the bus among good ones.
const MALFORMED: usize = 100;
/// The consumer groups of the reviews topic.
const REVIEW_GROUPS: [&str; 4] = ["digest", "feeds", "listings-ingest", "social"];

/// The sources: the CMS's RSS feed of the first `n` reviews, newest first,
/// and the cinema's CSV of its first `n` screenings. Each item's content is
/// fixed, so a re-poll changes nothing.
struct Sources {
    upstream: Upstream,
    published: usize,
    since: DateTime<Utc>,
}

impl Sources {
    fn publish(&mut self, more: usize) {
        self.published += more;
        let items: String = (1..=self.published)
            .rev()
            .map(|n| {
                let at = (self.since + chrono::Duration::minutes(n as i64)).to_rfc2822();
                format!(
                    "<item><title>Fault review {n}</title><link>{{{{BASE}}}}/reviews/fault-{n}</link>\
                     <guid isPermaLink=\"false\">fault-{n}</guid><pubDate>{at}</pubDate>\
                     <category>In Cinemas</category>\
                     <description>Review {n} of the fault suite.</description></item>"
                )
            })
            .collect();
        self.upstream.serve(
            "/feed.xml",
            "application/rss+xml",
            &format!(
                "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>CMS</title>\
                 <link>{{{{BASE}}}}/</link><description>Reviews</description>{items}</channel></rss>"
            ),
        );
        // Screenings from tomorrow on, an hour apart: all in the calendar.
        let screenings: String = (1..=self.published)
            .map(|n| {
                let starts = self.since + chrono::Duration::days(2) + chrono::Duration::hours(n as i64);
                format!(
                    "faults-cinema,Fault film {n},{},Screen 1,,,,,https://tickets.example/{n},no,no,,,\n",
                    starts.format("%Y-%m-%dT%H:%M")
                )
            })
            .collect();
        self.upstream.serve(
            "/listings.csv",
            "text/csv",
            &format!(
                "venue_id,title,start,screen,format,strand,extras,accessibility,booking_url,\
                 sold_out,cancelled,year,director,runtime_minutes\n{screenings}"
            ),
        );
    }
}

/// Distinct items, and how many came more than once.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    distinct: usize,
    duplicates: usize,
}

impl Tally {
    fn of<T: Hash + Eq>(items: &[T]) -> Self {
        let distinct = items.iter().collect::<HashSet<_>>().len();
        Self {
            distinct,
            duplicates: items.len() - distinct,
        }
    }
}

struct Pipeline {
    broker: DurableBroker,
    postgres: OwnPostgres,
    smtp: SmtpSink,
    sources: Sources,
    feeds: Marquee,
    social: Marquee,
    digest: Marquee,
    reviews: Marquee,
    listings: Marquee,
    http: reqwest::Client,
    /// Digests cut off mid-send by a killed process: the relay may or may
    /// not have them, and they are not sent again.
    interrupted: usize,
    rows: Vec<String>,
}

impl Pipeline {
    async fn start(dir: &Path) -> Self {
        let broker = DurableBroker::start();
        let postgres = OwnPostgres::start();
        let smtp = SmtpSink::start();
        let mut sources = Sources {
            upstream: Upstream::start().await,
            published: 0,
            since: SystemClock.now() - chrono::Duration::days(1),
        };
        sources.publish(BATCH);
        let config = dir.join("faults.toml");
        std::fs::write(&config, faults_config(&sources.upstream, smtp.port)).unwrap();
        let mut env = vec![("MARQUEE_BUS__KAFKA__BROKERS", broker.address.clone())];
        for (key, database) in [
            ("MARQUEE_FEEDS__DATABASE_URL", "feeds"),
            ("MARQUEE_REVIEWS_INGEST__DATABASE_URL", "reviews"),
            ("MARQUEE_SOCIAL__DATABASE_URL", "social"),
            ("MARQUEE_DIGEST__DATABASE_URL", "digest"),
            ("MARQUEE_LISTINGS_INGEST__DATABASE_URL", "listings"),
        ] {
            env.push((key, postgres.create_database(database).await));
        }
        let start = |service: &str| Marquee::start(&config, &["run", service], free_port(), &env);
        let (feeds, social, digest) = (start("feeds"), start("social"), start("digest"));
        for consumer in [&feeds, &social, &digest] {
            consumer.wait_for("/readyz", |_| true).await;
        }
        let pipeline = Self {
            reviews: start("reviews-ingest"),
            listings: start("listings-ingest"),
            broker,
            postgres,
            smtp,
            sources,
            feeds,
            social,
            digest,
            http: reqwest::Client::new(),
            interrupted: 0,
            rows: Vec::new(),
        };
        let subscribers: String = (0..SUBSCRIBERS)
            .map(|n| format!("reader{n}@faults.example\n"))
            .collect();
        let imported = pipeline
            .admin(
                "POST",
                "/admin/digest/subscribers.csv",
                format!("email\n{subscribers}"),
            )
            .await;
        assert!(
            imported.contains(&format!("\"imported\":{SUBSCRIBERS}")),
            "{imported}"
        );
        pipeline
    }

    async fn admin(&self, method: &str, path: &str, body: String) -> String {
        let url = format!("{}{path}", self.digest.base);
        let response = self
            .http
            .request(method.parse().unwrap(), url)
            .bearer_auth(common::TOKEN)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        text
    }

    /// Waits until every published review is in the feed and posted and
    /// every screening in the calendar, and returns the three tallies.
    async fn converged(&self) -> (Tally, Tally, Tally) {
        let expected = self.sources.published;
        wait::until_value(
            &format!(
                "the pipeline converges on {expected} reviews and screenings (feed, posts, \
                 calendar); logs: {}",
                self.logs()
            ),
            Duration::from_secs(120),
            || async move { (self.feed().await, self.posts().await, self.calendar().await) },
            |(feed, posts, calendar)| {
                [feed, posts, calendar]
                    .iter()
                    .all(|t| t.distinct >= expected)
            },
        )
        .await
    }

    /// The processes killed mid-batch: the feed and social consumers and
    /// both ingest processes.
    fn consumers_and_ingest(&mut self) -> [&mut Marquee; 4] {
        [
            &mut self.feeds,
            &mut self.social,
            &mut self.reviews,
            &mut self.listings,
        ]
    }

    fn logs(&self) -> String {
        [
            &self.feeds,
            &self.social,
            &self.digest,
            &self.reviews,
            &self.listings,
        ]
        .map(|process| process.log.display().to_string())
        .join(" ")
    }

    /// The `<guid>`s of `/feeds/all.rss`.
    async fn feed(&self) -> Tally {
        let feed = self.feeds.get("/feeds/all.rss").await.map(|(_, body)| body);
        let guids: Vec<&str> = feed
            .as_deref()
            .unwrap_or_default()
            .split("<guid")
            .skip(1)
            .filter_map(|item| item.split_once('>').map(|(_, rest)| rest))
            .filter_map(|rest| rest.split_once("</guid>").map(|(guid, _)| guid))
            .collect();
        Tally::of(&guids)
    }

    /// The `UID`s of `/calendars/all.ics`.
    async fn calendar(&self) -> Tally {
        let calendar = self.feeds.get("/calendars/all.ics").await;
        let uids: Vec<&str> = calendar
            .as_ref()
            .filter(|(status, _)| *status == 200)
            .map(|(_, body)| {
                body.lines()
                    .filter_map(|line| line.strip_prefix("UID:"))
                    .collect()
            })
            .unwrap_or_default();
        Tally::of(&uids)
    }

    /// The (review, account) pairs of the social outbox.
    async fn posts(&self) -> Tally {
        let outbox = self
            .social
            .get("/social/outbox.json")
            .await
            .map(|(_, body)| body);
        let posts: Vec<String> = outbox
            .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
            .and_then(|outbox| outbox["posts"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|post| format!("{}/{}", post["review_id"], post["account"]))
            .collect();
        Tally::of(&posts)
    }

    /// The `Message-ID`s the SMTP server received.
    fn mails(&self) -> Tally {
        let ids: Vec<String> = self
            .smtp
            .messages()
            .into_iter()
            .map(|mail| mail.message_id)
            .collect();
        Tally::of(&ids)
    }

    /// Checks nothing was lost or doubled after `scenario`, and records a
    /// row. `in_feed_before` is the feed's count before the fault;
    /// `mails_expected` counts the interrupted ones as mailed.
    async fn check(&mut self, scenario: &str, in_feed_before: usize, mails_expected: usize) {
        let started = Instant::now();
        let (feed, posts, calendar) = self.converged().await;
        let converged_after = started.elapsed();
        let mails = self.mails();
        let published = self.sources.published;
        let row = format!(
            "| {scenario} | {:.1} | {published} | {in_feed_before} → {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            converged_after.as_secs_f64(),
            feed.distinct,
            feed.duplicates,
            calendar.distinct,
            calendar.duplicates,
            posts.distinct,
            posts.duplicates,
            mails.distinct,
            mails.duplicates,
            self.interrupted,
        );
        eprintln!("{row}");
        self.rows.push(row);
        assert_eq!(
            feed.distinct, published,
            "reviews in the feed after {scenario}"
        );
        assert_eq!(
            calendar.distinct, published,
            "screenings in the calendar after {scenario}"
        );
        assert_eq!(posts.distinct, published, "reviews posted after {scenario}");
        assert_eq!(feed.duplicates, 0, "duplicate feed items after {scenario}");
        assert_eq!(
            calendar.duplicates, 0,
            "duplicate screenings after {scenario}"
        );
        assert_eq!(posts.duplicates, 0, "duplicate posts after {scenario}");
        assert!(
            (mails_expected - self.interrupted..=mails_expected).contains(&mails.distinct),
            "{} digests mailed after {scenario}, expected {mails_expected} less at most {} interrupted",
            mails.distinct,
            self.interrupted
        );
        assert_eq!(mails.duplicates, 0, "duplicate digests after {scenario}");
    }

    /// Starts a send of `schedule` and returns its run id.
    async fn send(&self, schedule: &str) -> String {
        let sent = self
            .admin(
                "POST",
                &format!("/admin/digest/send/{schedule}"),
                String::new(),
            )
            .await;
        let sent: serde_json::Value = serde_json::from_str(&sent).unwrap();
        assert_eq!(sent["status"], "sending", "{sent}");
        sent["run"].as_str().unwrap().to_owned()
    }

    /// Waits until run `id` has `status`, and returns the run.
    async fn run_until(&self, id: &str, status: &str) -> serde_json::Value {
        let run = self
            .digest
            .admin_get_until(&format!("/admin/digest/runs/{id}"), |run| {
                serde_json::from_str::<serde_json::Value>(run)
                    .is_ok_and(|run| run["status"] == status)
            })
            .await;
        serde_json::from_str(&run).unwrap()
    }
}

/// `n` copies of a review event's wire form, broken by seeded random edits
/// until no consumer can decode them.
fn malformed_events(n: usize) -> Vec<Record> {
    let review = marquee_test_support::events::review("cms-4821", SystemClock.now());
    let valid = Record::from_event(&marquee_test_support::events::published(
        "marquee/faults",
        review,
    ));
    let mutations = mutated(std::str::from_utf8(&valid.payload).unwrap());
    let mut runner = TestRunner::deterministic();
    std::iter::repeat_with(|| mutations.new_tree(&mut runner).unwrap().current())
        .filter(|body| Envelope::<ReviewEvent>::from_wire(&valid.headers, body.as_bytes()).is_err())
        .take(n)
        .map(|body| Record {
            payload: body.into_bytes(),
            ..valid.clone()
        })
        .collect()
}

fn faults_config(sources: &Upstream, smtp_port: u16) -> String {
    let (feed, listings) = (sources.url("/feed.xml"), sources.url("/listings.csv"));
    format!(
        r#"
[bus]
transport = "kafka"
partitions = 3

[bus.kafka]
replication_factor = 1

[feeds]
item_limit = 500

[reviews_ingest]
allow_private_addresses = true

[[reviews_ingest.sources]]
kind = "feed"
name = "cms"
url = "{feed}"
poll_interval_secs = 1

[listings_ingest]
allow_private_addresses = true

[[listings_ingest.sources]]
kind = "csv"
name = "faults-cinema"
url = "{listings}"
poll_interval_secs = 1
[listings_ingest.sources.venue]
id = "faults-cinema"
name = "Faults Cinema"
time_zone = "UTC"

[[social.accounts]]
network = "mastodon"
name = "faults-mastodon"
base_url = "https://mastodon.example"
access_token = "dry-run"

[digest.smtp]
port = {smtp_port}
max_attempts = 2
retry_backoff_ms = 50
pause_after_errors = 5

[digest.freshness]
urls = []

[[digest.schedules]]
name = "first"
cron = "0 9 1 1 *"
time_zone = "Europe/London"
template = "weekly"
audience = "all"

[[digest.schedules]]
name = "second"
cron = "0 9 1 1 *"
time_zone = "Europe/London"
template = "weekly"
audience = "all"
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_lost_and_nothing_doubled_under_faults() {
    let dir = tempfile::tempdir().unwrap();
    let mut pipeline = Pipeline::start(dir.path()).await;
    pipeline.check("start", 0, 0).await;

    // The broker killed with SIGKILL while reviews arrive, down for 3 s.
    let before = pipeline.feed().await.distinct;
    pipeline.sources.publish(BATCH);
    pipeline.broker.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    pipeline.broker.restart();
    pipeline
        .check("broker killed and restarted", before, 0)
        .await;

    // The feed and social consumers killed with SIGKILL mid-batch, and both
    // ingest processes mid-poll.
    let before = pipeline.feed().await.distinct;
    pipeline.sources.publish(BATCH);
    pipeline
        .feeds
        .wait_for("/feeds/all.rss", |feed| {
            feed.matches("<item>").count() > before
        })
        .await;
    for process in pipeline.consumers_and_ingest() {
        process.kill();
    }
    tokio::time::sleep(SESSION_LAPSE).await;
    for process in pipeline.consumers_and_ingest() {
        process.restart();
    }
    pipeline
        .check("consumers and ingest SIGKILLed", before, 0)
        .await;

    // The digest killed with SIGKILL mid-send, then started again: it
    // resumes the run where its ledger says it stopped. What was in the
    // relay's hands at the kill is not sent again.
    let before = pipeline.feed().await.distinct;
    let run = pipeline.send("first").await;
    pipeline.smtp.wait_for_files(SUBSCRIBERS / 3).await;
    pipeline.digest.kill();
    let mailed_at_kill = pipeline.smtp.files().len();
    // The digest is a consumer too: restarted once its session lapsed, as
    // above (without the wait it never read another event on tansu 0.6).
    tokio::time::sleep(SESSION_LAPSE).await;
    pipeline.digest.restart();
    let report = pipeline.run_until(&run, "sent").await;
    eprintln!("digest killed after {mailed_at_kill} mails; run {report}");
    let count =
        |outcome: &str| usize::try_from(report["counts"][outcome].as_u64().unwrap()).unwrap();
    pipeline.interrupted = count("interrupted");
    assert_eq!(
        count("sent") + pipeline.interrupted,
        SUBSCRIBERS,
        "{report}"
    );
    pipeline
        .check("digest SIGKILLed mid-send", before, SUBSCRIBERS)
        .await;

    // The SMTP server down for a while: the run pauses itself after five
    // failures in a row; once the server is back, an operator resumes it.
    let before = pipeline.feed().await.distinct;
    pipeline.smtp.stop();
    let run = pipeline.send("second").await;
    let paused = pipeline.run_until(&run, "paused").await;
    assert_eq!(paused["counts"]["sent"], 0, "{paused}");
    pipeline.smtp.restart();
    pipeline
        .admin(
            "POST",
            &format!("/admin/digest/runs/{run}/resume"),
            String::new(),
        )
        .await;
    pipeline.run_until(&run, "sent").await;
    pipeline
        .check("SMTP server down, then back", before, 2 * SUBSCRIBERS)
        .await;

    // PostgreSQL crashed (immediate stop) and restarted while reviews arrive.
    let before = pipeline.feed().await.distinct;
    pipeline.sources.publish(BATCH);
    pipeline.postgres.crash_and_restart();
    pipeline
        .check("PostgreSQL crashed and restarted", before, 2 * SUBSCRIBERS)
        .await;

    // Every message was handled where it belonged: none dead-lettered.
    let dead_letters = pipeline
        .feeds
        .admin_get_until("/admin/bus/dead-letters", |_| true)
        .await;
    assert_eq!(dead_letters, "[]", "dead-lettered under faults");

    // Undecodable events among good ones: every consumer group of the
    // topic dead-letters each with its reason and a log line, and the good
    // ones flow past them.
    let before = pipeline.feed().await.distinct;
    let bus = Bus::connect(&BusSettings::kafka(&pipeline.broker.address))
        .await
        .unwrap();
    for record in malformed_events(MALFORMED) {
        bus.publish(record).await.unwrap();
    }
    pipeline.sources.publish(BATCH);
    pipeline
        .check("malformed events among good ones", before, 2 * SUBSCRIBERS)
        .await;
    let expected = MALFORMED * REVIEW_GROUPS.len();
    let dead_letters = pipeline
        .feeds
        .admin_get_until("/admin/bus/dead-letters?limit=10000", |letters| {
            serde_json::from_str::<Vec<serde_json::Value>>(letters)
                .is_ok_and(|letters| letters.len() >= expected)
        })
        .await;
    let dead_letters: Vec<serde_json::Value> = serde_json::from_str(&dead_letters).unwrap();
    let mut groups: Vec<&str> = dead_letters
        .iter()
        .map(|letter| letter["group"].as_str().unwrap())
        .collect();
    groups.sort_unstable();
    groups.dedup();
    assert_eq!(groups, REVIEW_GROUPS, "groups that dead-lettered");
    assert_eq!(dead_letters.len(), expected, "dead letters");
    for letter in &dead_letters {
        let reason = letter["reason"].as_str().unwrap_or_default();
        assert!(reason.starts_with("poison message"), "{letter}");
    }
    let logged: usize = [
        &pipeline.feeds,
        &pipeline.social,
        &pipeline.digest,
        &pipeline.listings,
    ]
    .iter()
    .map(|process| {
        std::fs::read_to_string(&process.log)
            .unwrap()
            .matches("Dead-lettering a message the handler cannot process")
            .count()
    })
    .sum();
    assert_eq!(logged, expected, "log lines of dead-lettered events");
    for (service, process) in [
        ("feeds", &pipeline.feeds),
        ("social", &pipeline.social),
        ("digest", &pipeline.digest),
        ("reviews-ingest", &pipeline.reviews),
        ("listings-ingest", &pipeline.listings),
    ] {
        assert_eq!(
            process.get("/healthz").await.map(|(status, _)| status),
            Some(200),
            "{service} is still healthy after every fault"
        );
    }
    eprintln!(
        "| Scenario | Converged (s) | Reviews and screenings published | Reviews in feed (before → after) | Duplicate items | Screenings in calendar | Duplicate screenings | Posted | Duplicate posts | Digests mailed (so far) | Duplicate mails | Interrupted, not resent (so far) |\n|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n{}",
        pipeline.rows.join("\n")
    );
}
