//! Scale: what an archive of N stored reviews and N stored screenings costs
//! the feeds consumer per event, and what every service holds in memory.
//! Driven by `scripts/scale`, which runs this binary once per step:
//!
//! - `seed DIR N` generates the archive: N reviews (published over the last
//!   ten years, ~600 B bodies, three sections) and N screenings (four
//!   venues, twenty strands, all in the past, so listings of the coming
//!   weeks stay small as they would). Each event goes into the log through
//!   the bus's `publish_all`, 1,000 at a time, and straight into the feeds'
//!   store through `Batch::apply`, a transaction per 1,000 (the consumer's
//!   own write, without the re-render per event a live consumer does): the
//!   archive is written straight into the log and the feeds' store, not
//!   through ingest. The
//!   other services fill their stores from the log with their real
//!   consumers (`service`).
//! - `feeds DIR N` runs the feeds service (store, consumers, HTTP and the
//!   admin replay route) on that log and, once its consumers have read the
//!   archive (each event already applied), streams new and edited reviews
//!   and new and changed screenings of the coming week into the log:
//!   `SCALE_BURST` events (default 2,000) published at once for events/s,
//!   then `SCALE_PACED` (default 600) at `SCALE_RATE` a second (default 50)
//!   for the latency from the publish to the documents the event touches
//!   re-rendered in the cache the HTTP routes serve (`FeedsService::published`;
//!   the consumers go on to the next event meanwhile), and how much of it
//!   passed before the consumer took the event and before it was applied.
//!   Then it serves until SIGTERM, for `marquee admin replay --rebuild` and
//!   the resident memory.
//! - `service NAME DIR` runs one other service (`marquee::start`, as
//!   `marquee run` does) on that log and serves until SIGTERM;
//!   `caught-up NAME DIR`, in a process of its own, exits once that
//!   service's consumer groups have read the whole log.
//!
//! The transport is the embedded log at `DIR/bus.sqlite`, or Kafka when
//! `MARQUEE_BUS__TRANSPORT=kafka` (the services' own settings, layered over
//! `config/default.toml` and the `--config` file of `SCALE_CONFIG`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use marquee::{DEFAULT_CONFIG, Service, Settings};
use marquee_bus::{Bus, Handler, HandlerError, Message, Record, Subscription, Transport};
use marquee_events::{
    Envelope, EventData, Film, Review, ReviewEvent, ReviewId, ReviewPublished, ReviewUpdated,
    Screening, ScreeningChanged, ScreeningEvent, ScreeningFilm, ScreeningId, ScreeningListed,
    Venue, header, topics,
};
use marquee_feeds::{FeedsService, Store};
use marquee_runtime::clock::{Clock, SystemClock};
use tokio_util::sync::CancellationToken;

/// How often the feeds step checks on its consumers.
const POLL: Duration = Duration::from_millis(50);
/// Events handed to `publish_all` together.
const CHUNK: usize = 1_000;
const SECTIONS: [&str; 3] = ["In Cinemas", "Features", "Streaming"];
const VENUES: [(&str, &str); 4] = [
    ("prince-charles-cinema", "Prince Charles Cinema"),
    ("bfi-southbank", "BFI Southbank"),
    ("castle-cinema", "Castle Cinema"),
    ("close-up-film-centre", "Close-Up Film Centre"),
];
/// The archive reaches this far back.
const ARCHIVE_DAYS: i64 = 3_650;
/// Each new screening links the review this many places after the last
/// one's (a prime, so prime to the sizes `scripts/scale` runs): no two of
/// the first N link the same review, and the week's listings read as many
/// distinct reviews at every size. Picked at random, the 650 of a default
/// run linked 496 distinct reviews at 1,000 and 650 at 100,000, and the
/// small archive's listings rendered faster for it.
const LINK_STRIDE: usize = 7_919;
/// Marks the streamed events, whose latency is measured.
const STREAM_SOURCE: &str = "/scale/stream";
const ARCHIVE_SOURCE: &str = "/scale/archive";

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; the steps are the other arguments.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["seed", dir, n] => runtime.block_on(seed(Path::new(dir), count(n)?)),
        ["feeds", dir, n] => runtime.block_on(feeds(Path::new(dir), count(n)?)),
        ["service", name, dir] => runtime.block_on(service(name, Path::new(dir))),
        ["caught-up", name, dir] => runtime.block_on(caught_up(name, Path::new(dir))),
        _ => anyhow::bail!(
            "usage: scale seed DIR N | scale feeds DIR N | scale service NAME DIR | scale caught-up NAME DIR (see scripts/scale)"
        ),
    }
}

fn count(n: &str) -> anyhow::Result<usize> {
    n.replace(['_', ','], "")
        .parse()
        .with_context(|| format!("`{n}` is not a number of items"))
}

fn env_or(name: &str, default: usize) -> anyhow::Result<usize> {
    std::env::var(name).map_or(Ok(default), |v| count(&v))
}

/// The services' settings as `marquee run` reads them, their state in `dir`.
fn settings(dir: &Path) -> anyhow::Result<Settings> {
    let config = std::env::var_os("SCALE_CONFIG").map(PathBuf::from);
    let mut settings: Settings = marquee_runtime::config::load(DEFAULT_CONFIG, config.as_deref())?;
    marquee_runtime::telemetry::init(&settings.telemetry);
    settings.data_dir = dir.to_owned();
    settings.bus.embedded.path = dir.join("bus.sqlite");
    settings.feeds.database_url = format!("sqlite://{}", dir.join("feeds.sqlite").display());
    Ok(settings)
}

/// A small deterministic generator: the same archive every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn review(n: usize, published_at: DateTime<Utc>, edit: u32) -> Review {
    let film = format!("Film {n}");
    let body = format!(
        "<p>{film} is a raw, aching portrait of grief, and the best thing its director has made. \
         The performances are unshowy; the camera keeps its distance until it cannot.</p>\
         <p>Edit {edit}. It runs long, and its last act leans on a score that tells you what to \
         feel, but the final shot earns everything that came before it. Go and see it on the \
         biggest screen you can find, then go again.</p><p>{}</p>",
        "Three stars. ".repeat(8)
    );
    Review {
        id: ReviewId::parse(&format!("scale-review-{n}")).unwrap(),
        url: format!("https://marquee.example/reviews/film-{n}")
            .parse()
            .unwrap(),
        headline: format!("{film} review – a raw, aching portrait of grief"),
        film: Film {
            title: film,
            year: Some(1950 + (n % 75) as u16),
            runtime_minutes: Some(90 + (n % 60) as u16),
        },
        standfirst: "A director's best film yet, on the biggest screen you can find.".to_owned(),
        body_html: body,
        author: Some("Critic".to_owned()),
        rating: Some(((n % 5) as u8 + 1).try_into().unwrap()),
        section: SECTIONS[n % SECTIONS.len()].to_owned(),
        image: None,
        published_at,
        updated_at: published_at + TimeDelta::minutes(i64::from(edit)),
    }
}

fn screening(n: usize, starts_at: DateTime<Utc>, review_id: Option<ReviewId>) -> Screening {
    let (venue_id, venue_name) = VENUES[n % VENUES.len()];
    Screening {
        id: ScreeningId::parse(&format!("scale-screening-{n}")).unwrap(),
        venue: Venue {
            id: venue_id.to_owned(),
            name: venue_name.to_owned(),
            address: None,
        },
        film: ScreeningFilm {
            title: format!("Film {}", n % 5_000),
            year: Some(1950 + (n % 75) as u16),
            director: Some("A Director".to_owned()),
            runtime_minutes: Some(100),
        },
        starts_at,
        starts_at_local: starts_at.naive_utc(),
        time_zone: "Europe/London".to_owned(),
        screen: Some(format!("Screen {}", n % 3 + 1)),
        format: Some("35mm".to_owned()),
        strand: Some(format!("Season {}", n % 20)),
        extras: Vec::new(),
        accessibility: Vec::new(),
        booking_url: Some(format!("https://tickets.example.com/{n}").parse().unwrap()),
        sold_out: false,
        review_id,
    }
}

/// The event, as the bus carries it and as a consumer decodes it.
fn wire<T: EventData>(event: &Envelope<T>) -> (Record, Message) {
    (Record::from_event(event), Message::delivered(event, 0))
}

async fn publish(bus: &Bus, records: Vec<Record>) -> anyhow::Result<()> {
    for outcome in bus.publish_all(records).await {
        outcome.context("Failed to publish")?;
    }
    Ok(())
}

/// The archive into the log and the feeds' store; see the crate docs.
async fn seed(dir: &Path, n: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let settings = settings(dir)?;
    let bus = Bus::connect(&settings.bus).await?;
    bus.ensure_marquee_topics(settings.bus.partitions).await?;
    let store = Store::open(&settings.feeds.database_url, SystemClock::shared()).await?;
    let now = SystemClock.now();
    let mut rng = Lcg(17);
    let (mut publishing, mut storing) = (Duration::ZERO, Duration::ZERO);
    for start in (0..n).step_by(CHUNK) {
        let end = (start + CHUNK).min(n);
        let mut records = Vec::with_capacity(2 * CHUNK);
        let mut reviews = Vec::with_capacity(CHUNK);
        let mut screenings = Vec::with_capacity(CHUNK);
        for i in start..end {
            let ago = TimeDelta::minutes(rng.below(ARCHIVE_DAYS as u64 * 1_440) as i64 + 1_440);
            let event = Envelope::new(
                ARCHIVE_SOURCE,
                ReviewPublished {
                    review: review(i, now - ago, 0),
                },
                now - ago,
            );
            let (record, message) = wire(&event);
            records.push(record);
            reviews.push(message.decode::<ReviewEvent>()?);
            // Past screenings, the newest over a week ago: the archive.
            let ago = TimeDelta::minutes(rng.below(ARCHIVE_DAYS as u64 * 1_440) as i64 + 11_520);
            let event = Envelope::new(
                ARCHIVE_SOURCE,
                ScreeningListed {
                    screening: screening(i, now - ago, None),
                },
                now - ago - TimeDelta::days(30),
            );
            let (record, message) = wire(&event);
            records.push(record);
            screenings.push(message.decode::<ScreeningEvent>()?);
        }
        let started = Instant::now();
        publish(&bus, records).await?;
        publishing += started.elapsed();
        let started = Instant::now();
        let mut batch = store.batch().await?;
        for event in &reviews {
            batch.apply(event).await?;
        }
        for event in &screenings {
            batch.apply_screening(event).await?;
        }
        batch.commit().await?;
        storing += started.elapsed();
    }
    println!(
        "seeded {n} reviews and {n} screenings on the {}: published in {:.1} s ({:.0} events/s), into the feeds' store in {:.1} s",
        bus.describe(),
        publishing.as_secs_f64(),
        (2 * n) as f64 / publishing.as_secs_f64(),
        storing.as_secs_f64(),
    );
    Ok(())
}

/// Counts what the feeds finished and how long each streamed event took
/// from its publish (its CloudEvents time) to its rendering.
#[derive(Clone, Default)]
struct Timings {
    handled: Arc<AtomicU64>,
    latencies: Arc<Mutex<Vec<Latency>>>,
}

/// One streamed event's times from its publish, in the order they pass.
#[derive(Clone, Copy)]
struct Latency {
    /// Until its consumer took it.
    received: Duration,
    /// Until it was applied to the store.
    applied: Duration,
    /// Until every document it touched was rendered.
    rendered: Duration,
}

struct Timed<H> {
    inner: H,
    feeds: FeedsService,
    timings: Timings,
}

impl<H: Handler> Handler for Timed<H> {
    async fn handle(&self, message: &Message) -> Result<(), HandlerError> {
        let published = match message.header(header::SOURCE) {
            Some(STREAM_SOURCE) => message
                .header(header::TIME)
                .map(str::parse::<DateTime<Utc>>)
                .transpose()
                .map_err(HandlerError::transient)?,
            _ => None,
        };
        let since =
            |published: DateTime<Utc>| (SystemClock.now() - published).to_std().unwrap_or_default();
        let received = published.map(since);
        self.inner.handle(message).await?;
        let applied = published.map(since);
        // Finished once rendered; the consumer goes on meanwhile, as it does
        // in the service.
        let rendered = self.feeds.published();
        let timings = self.timings.clone();
        tokio::spawn(async move {
            rendered.await;
            if let (Some(published), Some(received), Some(applied)) = (published, received, applied)
            {
                timings.latencies.lock().unwrap().push(Latency {
                    received,
                    applied,
                    rendered: since(published),
                });
            }
            timings.handled.fetch_add(1, Ordering::SeqCst);
        });
        Ok(())
    }
}

/// How far `groups` are behind on `topics`, in messages.
async fn lag(bus: &Bus, groups: &[(&str, &[&str])]) -> anyhow::Result<i64> {
    let mut behind = 0;
    for (group, topics) in groups {
        behind += bus
            .lag(group, topics)
            .await?
            .iter()
            .map(|p| p.lag)
            .sum::<i64>();
    }
    Ok(behind)
}

/// Polls `done` every `interval` until it holds; a signal ends the wait
/// with an error, so an interrupted step exits instead of waiting on
/// consumers that stopped.
async fn wait_until(
    shutdown: &CancellationToken,
    interval: Duration,
    mut done: impl AsyncFnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    while !done().await? {
        anyhow::ensure!(!shutdown.is_cancelled(), "interrupted");
        tokio::time::sleep(interval).await;
    }
    Ok(())
}

/// The next streamed event: a new review, an edit of an archived one, a
/// new screening of the coming week or a change of one streamed before.
fn streamed(i: usize, n: usize, rng: &mut Lcg, listed: &mut Vec<Screening>) -> Record {
    let now = SystemClock.now();
    match i % 4 {
        0 => Record::from_event(&Envelope::new(
            STREAM_SOURCE,
            ReviewPublished {
                review: review(n + i, now, 0),
            },
            now,
        )),
        1 => {
            let archived = rng.below(n as u64) as usize;
            let mut review = review(archived, now - TimeDelta::days(1), 0);
            review.updated_at = now;
            review.headline.push_str(" (updated)");
            Record::from_event(&Envelope::new(
                STREAM_SOURCE,
                ReviewUpdated {
                    review,
                    changed: vec!["headline".to_owned()],
                },
                now,
            ))
        }
        2 => {
            let starts_at = now + TimeDelta::minutes(rng.below(7 * 1_440) as i64 + 60);
            let reviewed =
                ReviewId::parse(&format!("scale-review-{}", i / 4 * LINK_STRIDE % n)).ok();
            let screening = screening(n + i, starts_at, reviewed);
            listed.push(screening.clone());
            Record::from_event(&Envelope::new(
                STREAM_SOURCE,
                ScreeningListed { screening },
                now,
            ))
        }
        _ => {
            let at = rng.below(listed.len().max(1) as u64) as usize;
            let mut screening = listed
                .get(at)
                .cloned()
                .unwrap_or_else(|| screening(n + i, now + TimeDelta::days(2), None));
            screening.sold_out = !screening.sold_out;
            Record::from_event(&Envelope::new(
                STREAM_SOURCE,
                ScreeningChanged {
                    screening,
                    changed: vec!["sold_out".to_owned()],
                },
                now,
            ))
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let at = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[at].as_secs_f64() * 1_000.0
}

/// The feeds service on the seeded log, then the stream; see the crate docs.
async fn feeds(dir: &Path, n: usize) -> anyhow::Result<()> {
    let settings = settings(dir)?;
    let shutdown = marquee_runtime::shutdown::on_signal();
    let bus = Bus::connect(&settings.bus).await?;
    bus.ensure_marquee_topics(settings.bus.partitions).await?;
    let started = Instant::now();
    let feeds = FeedsService::build(settings.feeds.clone()).await?;
    let timings = Timings::default();
    let group = settings.feeds.consumer_group.clone();
    let screenings_group = format!("{group}-screenings");
    let mut tasks = tokio::task::JoinSet::new();
    // Each topic to its handler, as `marquee run feeds` does.
    tasks.spawn(consume(
        bus.clone(),
        Subscription::new(&group, &[topics::REVIEWS]),
        Timed {
            inner: feeds.handler(),
            feeds: feeds.clone(),
            timings: timings.clone(),
        },
        shutdown.clone(),
    ));
    tasks.spawn(consume(
        bus.clone(),
        Subscription::new(&screenings_group, &[topics::SCREENINGS]),
        Timed {
            inner: feeds.screenings_handler(),
            feeds: feeds.clone(),
            timings: timings.clone(),
        },
        shutdown.clone(),
    ));
    let listener = tokio::net::TcpListener::bind(settings.http.listen).await?;
    let address = listener.local_addr()?;
    let router = feeds.router().merge(feeds.admin_router(bus.clone()));
    {
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await
                .context("Failed to serve")
        });
    }
    println!("listening on {address}");

    let groups: [(&str, &[&str]); 2] = [
        (&group, &[topics::REVIEWS]),
        (&screenings_group, &[topics::SCREENINGS]),
    ];
    wait_until(&shutdown, POLL, async || Ok(lag(&bus, &groups).await? == 0)).await?;
    println!(
        "read the archive's {} events in {:.1} s",
        timings.handled.load(Ordering::SeqCst),
        started.elapsed().as_secs_f64()
    );

    let burst = env_or("SCALE_BURST", 2_000)?;
    let paced = env_or("SCALE_PACED", 600)?;
    let rate = env_or("SCALE_RATE", 50)?.max(1);
    let mut rng = Lcg(29);
    let mut listed = Vec::new();

    // Events/s: a burst published at once, until the feeds have handled it.
    let before = timings.handled.load(Ordering::SeqCst);
    let started = Instant::now();
    for start in (0..burst).step_by(CHUNK) {
        let records = (start..(start + CHUNK).min(burst))
            .map(|i| streamed(i, n, &mut rng, &mut listed))
            .collect();
        publish(&bus, records).await?;
    }
    wait_until(&shutdown, POLL, async || {
        Ok(timings.handled.load(Ordering::SeqCst) - before >= burst as u64)
    })
    .await?;
    let burst_seconds = started.elapsed().as_secs_f64();
    timings.latencies.lock().unwrap().clear();

    // Latency: a steady stream, each event published alone.
    let before = timings.handled.load(Ordering::SeqCst);
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate as u32);
    for i in burst..burst + paced {
        tick.tick().await;
        publish(&bus, vec![streamed(i, n, &mut rng, &mut listed)]).await?;
    }
    wait_until(&shutdown, POLL, async || {
        Ok(timings.handled.load(Ordering::SeqCst) - before >= paced as u64)
    })
    .await?;
    let latencies = timings.latencies.lock().unwrap().clone();
    anyhow::ensure!(!latencies.is_empty(), "no streamed event was timed");
    let sorted = |time: fn(&Latency) -> Duration| {
        let mut times: Vec<Duration> = latencies.iter().map(time).collect();
        times.sort_unstable();
        times
    };
    let rendered = sorted(|l| l.rendered);
    println!(
        "| {n} | {burst} | {:.0} | {paced} at {rate}/s | {:.1} | {:.1} | {:.1} |",
        burst as f64 / burst_seconds,
        percentile(&rendered, 0.50),
        percentile(&rendered, 0.99),
        percentile(&rendered, 1.0),
    );
    // Where the time goes: each phase's share of the latency.
    let (received, applied) = (sorted(|l| l.received), sorted(|l| l.applied));
    println!(
        "latency p50 / p99 ms from the publish: taken by the consumer {:.1} / {:.1}, applied {:.1} / {:.1}, rendered {:.1} / {:.1}",
        percentile(&received, 0.50),
        percentile(&received, 0.99),
        percentile(&applied, 0.50),
        percentile(&applied, 0.99),
        percentile(&rendered, 0.50),
        percentile(&rendered, 0.99),
    );
    println!("streamed");
    shutdown.cancelled().await;
    while let Some(task) = tasks.join_next().await {
        task??;
    }
    Ok(())
}

async fn consume<H: Handler>(
    bus: Bus,
    subscription: Subscription,
    handler: H,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    Ok(bus.consume(subscription, handler, shutdown).await?)
}

/// A consumer group and the topics it reads.
type Group = (String, Vec<&'static str>);

/// The service `name` and its consumer groups.
fn groups(name: &str, settings: &Settings) -> anyhow::Result<(Service, Vec<Group>)> {
    Ok(match name {
        "social" => (
            Service::Social,
            vec![(
                settings.social.consumer_group.clone(),
                vec![topics::REVIEWS],
            )],
        ),
        "digest" => (
            Service::Digest,
            vec![(
                settings.digest.consumer_group.clone(),
                vec![topics::REVIEWS, topics::SCREENINGS],
            )],
        ),
        "listings-ingest" => (
            Service::ListingsIngest,
            vec![(
                settings.listings_ingest.consumer_group.clone(),
                vec![topics::REVIEWS],
            )],
        ),
        "reviews-ingest" => (Service::ReviewsIngest, Vec::new()),
        "console" => (Service::Console, Vec::new()),
        other => anyhow::bail!("no service `{other}` to run at scale"),
    })
}

/// The settings of a service run on `dir`'s log.
fn service_settings(dir: &Path) -> anyhow::Result<Settings> {
    let mut settings = settings(dir)?;
    // The log's own path: `marquee::start` resolves the relative ones.
    if settings.bus.transport == Transport::Embedded {
        settings.bus.embedded.path = dir.join("bus.sqlite");
    }
    Ok(settings)
}

/// One other service on the seeded log, as `marquee run` runs it, until
/// SIGTERM. Nothing else runs in its process: `caught-up` watches it.
async fn service(name: &str, dir: &Path) -> anyhow::Result<()> {
    let settings = service_settings(dir)?;
    let (service, _) = groups(name, &settings)?;
    let shutdown = marquee_runtime::shutdown::on_signal();
    marquee::start(settings, &[service], false, shutdown)
        .await?
        .wait()
        .await
}

/// Polls, once a second and from its own process, until the consumer
/// groups of the service `name` have read the whole log; prints how long
/// that took. The lag of the embedded log is a count of the messages
/// behind, dearer the more there are: polled every 50 ms inside the
/// service's process, it added a third pool of page caches to the memory
/// measured and slowed the service's reading.
async fn caught_up(name: &str, dir: &Path) -> anyhow::Result<()> {
    let settings = service_settings(dir)?;
    let (_, groups) = groups(name, &settings)?;
    let watcher = Bus::connect(&settings.bus).await?;
    let shutdown = marquee_runtime::shutdown::on_signal();
    let started = Instant::now();
    wait_until(&shutdown, Duration::from_secs(1), async || {
        let mut behind = 0;
        for (group, topics) in &groups {
            behind += lag(&watcher, &[(group.as_str(), topics.as_slice())]).await?;
        }
        Ok(behind == 0)
    })
    .await?;
    println!(
        "caught-up {name} in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
