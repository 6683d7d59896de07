//! Sends one digest run to N subscribers through a local SMTP sink and
//! prints messages/s and the process's resident memory before and at its
//! peak during the run, beside a bare lettre client sending one prebuilt
//! message N times to the same sink (the ceiling).
//!
//! ```sh
//! python3 scripts/smtp-sink.py 2525 - &
//! DIGEST_BENCH_SMTP=127.0.0.1:2525 DIGEST_BENCH_N=10000 DIGEST_BENCH_CONCURRENCY=32 \
//!   cargo bench -p marquee-digest --bench send
//! ```
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use marquee_digest::{
    DigestService, FreshnessSettings, ScheduleSettings, Settings, SmtpSettings, TlsMode,
};
use marquee_runtime::clock::SystemClock;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("DIGEST_BENCH_N").map_or(Ok(10_000), |v| v.parse())?;
    let smtp = std::env::var("DIGEST_BENCH_SMTP").unwrap_or_else(|_| "127.0.0.1:2525".to_owned());
    let (host, port) = smtp
        .rsplit_once(':')
        .ok_or_else(|| anyhow::anyhow!("DIGEST_BENCH_SMTP is host:port"))?;
    let port: u16 = port.parse()?;
    // SMTP is latency-bound: throughput grows with connections in flight.
    let concurrency: usize =
        std::env::var("DIGEST_BENCH_CONCURRENCY").map_or(Ok(32), |v| v.parse())?;
    let dir = tempfile::tempdir()?;
    let settings = Settings {
        database_url: format!("sqlite://{}", dir.path().join("bench.sqlite").display()),
        public_base_url: "http://127.0.0.1:8080/".parse()?,
        token_secret: SecretString::from("bench-secret-of-enough-length".to_owned()),
        from: "Marquee <digest@films.example>".to_owned(),
        unsubscribe_mailto: None,
        smtp: SmtpSettings {
            host: host.to_owned(),
            port,
            tls: TlsMode::None,
            max_per_second: 0,
            concurrency,
            ..SmtpSettings::default()
        },
        freshness: FreshnessSettings::default(),
        schedules: vec![ScheduleSettings {
            name: "weekly".to_owned(),
            cron: "30 8 * * THU".to_owned(),
            time_zone: "Europe/London".to_owned(),
            template: "weekly".to_owned(),
            audience: "all".to_owned(),
            send_when_empty: true,
            max_source_age_secs: None,
        }],
        catch_up_window_secs: 3600,
        consumer_group: "digest".to_owned(),
        dry_run: false,
        confirm_token_ttl_secs: 3600,
        unsubscribe_token_ttl_secs: 3600,
        bounce_secret: None,
        bounces: Default::default(),
        dkim: None,
        first_digest_reviews: 0,
    };
    let service = DigestService::build_with_clock(settings, SystemClock::shared()).await?;
    let mut csv = String::from("email\n");
    for i in 0..n {
        csv.push_str(&format!("reader{i}@films.example\n"));
    }
    service.import_csv(&csv).await?;

    let before = resident_kib()?;
    let peak = PeakResident::start();
    let started = Instant::now();
    let report = service
        .send_now("weekly", &CancellationToken::new())
        .await?;
    let elapsed = started.elapsed().as_secs_f64();
    let (before, peak) = (mb(before), mb(peak.stop()));
    let digest_rate = report.counts.sent as f64 / elapsed;
    println!(
        "digest run: {} sent in {elapsed:.2} s = {digest_rate:.0} messages/s (concurrency {concurrency}); \
         resident {before:.1} MB before the run, {peak:.1} MB at its peak",
        report.counts.sent,
    );

    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .pool_config(lettre::transport::smtp::PoolConfig::new().max_size(concurrency as u32))
        .build();
    let message = Message::builder()
        .from("digest@films.example".parse()?)
        .to("reader@films.example".parse()?)
        .subject("What to watch")
        .body("the same body every time".to_owned())?;
    let started = Instant::now();
    let sent = futures::stream::iter(0..n)
        .map(|_| {
            let transport = &transport;
            let message = message.clone();
            async move { transport.send(message).await.is_ok() }
        })
        .buffer_unordered(concurrency)
        .filter(|ok| futures::future::ready(*ok))
        .count()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let bare_rate = sent as f64 / elapsed;
    println!(
        "bare lettre: {sent} sent in {elapsed:.2} s = {bare_rate:.0} messages/s (concurrency {concurrency})"
    );
    println!(
        "| {n} | {digest_rate:.0} | {bare_rate:.0} | {:.2}x | {before:.1} | {peak:.1} |",
        digest_rate / bare_rate
    );
    Ok(())
}

fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// This process's resident set (VmRSS) in KiB.
fn resident_kib() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/self/status"))
}

/// The largest resident set seen while it runs, sampled every 10 ms on its
/// own thread (VmHWM would include the subscriber import before the run).
struct PeakResident {
    peak: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    sampler: std::thread::JoinHandle<()>,
}

impl PeakResident {
    fn start() -> Self {
        let peak = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let sampler = std::thread::spawn({
            let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
            move || {
                while !done.load(Ordering::Relaxed) {
                    if let Ok(kib) = resident_kib() {
                        peak.fetch_max(kib, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        });
        Self {
            peak,
            done,
            sampler,
        }
    }

    fn stop(self) -> u64 {
        self.done.store(true, Ordering::Relaxed);
        self.sampler.join().ok();
        self.peak.load(Ordering::Relaxed)
    }
}
