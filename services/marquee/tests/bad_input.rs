//! A corpus of malformed input pushed through `marquee up` running as its own
//! process: CMS webhooks (correctly signed, broken bodies), subscription
//! requests, digest schedules and subscriber CSV rows, each a real document
//! broken by random edits (the parsers' property-test strategy, seeded).
//! Every input is either valid or refused with a reason in the answer and a
//! line in the log; the process never stops.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use hmac::{Hmac, Mac};
use marquee_runtime::clock::{Clock as _, SystemClock};
use marquee_test_support::{SmtpSink, free_port, mutated};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};
use sha2::Sha256;

use common::TOKEN;
use common::process::{Marquee, config_on_port};

const WEBHOOK_SECRET: &str = "bad-input-secret";
const WEBHOOK: &str = r#"{"action":"published","review":{"id":"cms-9001","url":"https://films.example/reviews/hamnet","headline":"Hamnet review","standfirst":"Grief","body_html":"<p>Body</p>","section":"In Cinemas","author":"Ada Lee","rating":4,"published_at":"2026-11-20T09:00:00Z","film":{"title":"Hamnet","year":2025}}}"#;

/// `n` broken versions of `valid`, the same on every run.
fn corpus(valid: &str, n: usize) -> Vec<String> {
    let mut runner = TestRunner::deterministic();
    let strategy = mutated(valid);
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

/// What the service said to one input.
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn refused(&self) -> bool {
        self.status >= 400
    }
}

struct Tally {
    /// Inputs sent.
    sent: usize,
    /// Inputs refused.
    refused: usize,
    /// Reasons given: one per refused input, or per refused record of a CSV.
    reasons: usize,
}

fn tally(kind: &str, answers: &[Answer]) -> Tally {
    for answer in answers {
        assert!(
            answer.status < 500,
            "{kind}: a server error: {} {}",
            answer.status,
            answer.body
        );
        if answer.refused() {
            let reason: Value = serde_json::from_str(&answer.body)
                .unwrap_or_else(|_| panic!("{kind}: a refusal that is not JSON: {}", answer.body));
            let reason = reason["error"].as_str().unwrap_or_default();
            assert!(
                !reason.trim().is_empty(),
                "{kind}: refused without a reason"
            );
        }
    }
    let refused = answers.iter().filter(|a| a.refused()).count();
    Tally {
        sent: answers.len(),
        refused,
        reasons: refused,
    }
}

async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.unwrap();
    Answer {
        status: response.status().as_u16(),
        body: response.text().await.unwrap(),
    }
}

fn signature(timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn log_lines(process: &Marquee, message: &str) -> usize {
    std::fs::read_to_string(&process.log)
        .unwrap()
        .lines()
        .filter(|line| line.contains(message))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_malformed_inputs_are_refused_with_reasons_and_nothing_stops() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = config_on_port(dir.path(), port);
    let data_dir = dir.path().display().to_string();
    // Sound addresses get their confirmation mail.
    let smtp = SmtpSink::start();
    let marquee = Marquee::start(
        &config,
        &["up", "--data-dir", &data_dir],
        port,
        &[
            (
                "MARQUEE_REVIEWS_INGEST__WEBHOOK_SECRET",
                WEBHOOK_SECRET.to_owned(),
            ),
            ("MARQUEE_DIGEST__SMTP__PORT", smtp.port.to_string()),
        ],
    );
    marquee.wait_for("/readyz", |_| true).await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", marquee.base);

    let mut webhooks = Vec::new();
    for body in corpus(WEBHOOK, 400) {
        let now = SystemClock.now().timestamp();
        let request = http
            .post(url("/webhooks/cms"))
            .header("X-Marquee-Timestamp", now.to_string())
            .header("X-Marquee-Signature", signature(now, &body))
            .body(body);
        webhooks.push(answer(request).await);
    }
    let mut subscriptions = Vec::new();
    for email in corpus("reader@films.example", 300) {
        let request = http
            .post(url("/subscribe"))
            .json(&json!({ "email": email }));
        subscriptions.push(answer(request).await);
    }
    let mut schedules = Vec::new();
    for (n, cron) in corpus("30 8 * * THU", 300).into_iter().enumerate() {
        let schedule = json!({
            "name": format!("fuzzed-{n}"), "cron": cron, "time_zone": "Europe/London",
            "template": "weekly", "audience": "all",
        });
        let request = http
            .post(url("/admin/digest/schedules"))
            .bearer_auth(TOKEN)
            .json(&schedule);
        schedules.push(answer(request).await);
    }
    // One import per row; a broken row may read as several records, each
    // refused with its line. Rows past the request body limit are the
    // limit's to refuse, not the parser's.
    let rows: Vec<String> = corpus("reader@films.example,confirmed,weekly,,,", 320)
        .into_iter()
        .filter(|row| row.len() < 64 * 1024)
        .collect();
    let (mut refused_rows, mut refused_records) = (0, 0);
    for row in &rows {
        let import = answer(
            http.post(url("/admin/digest/subscribers.csv"))
                .bearer_auth(TOKEN)
                .body(format!(
                    "email,status,list,venues,formats,min_rating\n{row}\n"
                )),
        )
        .await;
        assert_eq!(import.status, 200, "{}", import.body);
        let import: Value = serde_json::from_str(&import.body).unwrap();
        let refusals = import["rejected"].as_array().unwrap();
        for refusal in refusals {
            assert!(
                refusal[0].as_u64().unwrap() >= 2 && !refusal[1].as_str().unwrap().is_empty(),
                "a refused record names its line and reason: {refusal}"
            );
        }
        refused_rows += usize::from(!refusals.is_empty());
        refused_records += refusals.len();
    }

    let tallies = [
        (
            "webhooks",
            tally("webhook", &webhooks),
            "Rejected a CMS webhook",
        ),
        (
            "subscriptions",
            tally("subscription", &subscriptions),
            "Refused a subscription",
        ),
        (
            "schedules",
            tally("schedule", &schedules),
            "Refused a schedule change",
        ),
        (
            "CSV rows",
            Tally {
                sent: rows.len(),
                refused: refused_rows,
                reasons: refused_records,
            },
            "Refused a subscriber row of an import",
        ),
    ];
    let mut refused = 0;
    for (kind, tally, logged_as) in &tallies {
        let logged = log_lines(&marquee, logged_as);
        eprintln!(
            "{kind}: {} sent, {} refused with {} reasons, {logged} logged",
            tally.sent, tally.refused, tally.reasons
        );
        assert_eq!(logged, tally.reasons, "{kind}: one log line per reason");
        refused += tally.refused;
    }
    assert!(
        refused >= 1_000,
        "{refused} refused: the corpus is too tame"
    );

    // Still serving, and still ingesting what is sound.
    assert_eq!(marquee.get("/healthz").await.unwrap().0, 200);
    marquee
        .wait_for("/feeds/all.rss", |feed| feed.contains("<item>"))
        .await;
    marquee.stop();
}
