//! The operators' console in a real headless Chromium (Debian's chromium
//! and chromium-driver, installed by the test command), driven over
//! WebDriver: login, dashboard, calendar, digest runs with pause/resume,
//! subscriber import and search, a live preview as one subscriber, sources
//! and backfill, dead letters, the social queue and the fediverse actors
//! with pause/resume, a topic that would lose history. Every page
//! is checked against what the admin API holds, read as the admin contract's
//! types. Screenshots go to `target/console-screenshots/`.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::browser::{self, Driver, text_once};
use common::{Demo, TOKEN};
use fantoccini::{Client, Locator};
use marquee_admin::audit::{AuditEntry, Role};
use marquee_admin::bus::DeadLetter;
use marquee_admin::digest::{RunReport, RunStatus, ScheduleReport, Subscriber};
use marquee_admin::social::{FediverseActor, PostStatus, SocialAccount, SocialPost};
use marquee_admin::sources::SourceHealth;
use marquee_runtime::http::ReadinessReport;
use marquee_test_support::{DurableBroker, run_to_success, wait};
use serde::de::DeserializeOwned;

async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1_000,
        "{name} is not a PNG"
    );
    std::fs::write(browser::screenshots("console-screenshots").join(name), png).unwrap();
}

async fn text_of(browser: &Client, css: &str) -> String {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn until_shows(browser: &Client, url: &str, css: &str, wanted: &str) -> String {
    wait::until(
        &format!("{url} shows {wanted:?} in {css}"),
        Duration::from_secs(60),
        || async {
            browser.goto(url).await.unwrap();
            let text = browser
                .find(Locator::Css(css))
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            text.contains(wanted).then_some(text)
        },
    )
    .await
}

/// Clicks the element at `locator`.
async fn click(browser: &Client, locator: Locator<'_>) {
    browser.find(locator).await.unwrap().click().await.unwrap();
}

/// `path` of the admin API as `T`.
async fn api<T: DeserializeOwned>(demo: &Demo, path: &str) -> T {
    serde_json::from_value(demo.admin(path).await).unwrap()
}

/// The text of each cell of the table row at `row`, by class.
async fn cell(browser: &Client, row: &str, class: &str) -> String {
    text_of(browser, &format!("{row} td.{class}")).await
}

/// How the console shows an instant.
fn instant(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The row of `report` in the run table on the current page shows the
/// API's values, every one of them non-empty.
async fn run_row_matches(browser: &Client, report: &RunReport) -> String {
    let row = format!("#runs tr[data-run='{}']", report.run.id);
    let expected = [
        ("schedule", report.run.schedule.clone()),
        ("due", instant(report.run.scheduled_for)),
        ("kind", report.run.kind.to_string()),
        ("status", report.run.status.to_string()),
        ("note", report.run.note.clone()),
    ];
    for (class, value) in expected {
        assert!(
            !value.is_empty(),
            "the API's run has no {class}: {report:?}"
        );
        assert_eq!(cell(browser, &row, class).await, value, "{class} of {row}");
    }
    row
}

async fn assert_on_login_page(browser: &Client) {
    let url = browser.current_url().await.unwrap();
    assert!(url.path().ends_with("/console/login"), "on {url}");
}

async fn log_in(browser: &Client, base: &str, token: &str) {
    browser.goto(&format!("{base}/console/")).await.unwrap();
    assert_on_login_page(browser).await;
    let field = browser
        .find(Locator::Css("input[name=token]"))
        .await
        .unwrap();
    field.send_keys(token).await.unwrap();
    click(browser, Locator::Css("button[type=submit]")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_logs_in_previews_a_digest_and_walks_the_console() {
    // A run sent with no relay listening pauses itself: the runs page has a run to resume.
    let demo = Demo::start_without_relay().await;
    let driver = Driver::start();
    let browser = driver.browser().await;
    let base = demo.base.clone();

    log_in(&browser, &base, "not-the-token").await;
    text_once(&browser, "[role=alert]", |alert| {
        alert.contains("token refused")
    })
    .await;

    log_in(&browser, &base, TOKEN).await;
    let sources = until_shows(
        &browser,
        &format!("{base}/console/"),
        "#sources",
        "bfi-southbank-ics",
    )
    .await;
    assert!(sources.contains("sample-cms-feed"), "{sources}");
    assert!(
        !sources.contains("never read"),
        "every sample source was read: {sources}"
    );
    for service in ["reviews-ingest", "listings-ingest"] {
        let held: Vec<SourceHealth> = api(&demo, &format!("/admin/{service}/sources")).await;
        for source in held {
            assert!(
                sources.contains(&source.name),
                "{} missing: {sources}",
                source.name
            );
        }
    }
    let dead: Vec<DeadLetter> = api(&demo, "/admin/bus/dead-letters?limit=10000").await;
    assert_eq!(
        text_of(&browser, "#dead-letter-count").await,
        dead.len().to_string()
    );
    screenshot(&browser, "dashboard.png").await;

    browser
        .goto(&format!("{base}/console/calendar"))
        .await
        .unwrap();
    let calendar = text_of(&browser, "#calendar").await;
    assert!(
        calendar.contains("weekly") && calendar.contains("08:30"),
        "{calendar}"
    );
    let schedules: Vec<ScheduleReport> = api(&demo, "/admin/digest/schedules").await;
    let table = text_of(&browser, "#schedules").await;
    for schedule in &schedules {
        let settings = &schedule.settings;
        assert!(
            table.contains(&settings.name) && table.contains(&settings.cron),
            "{} ({}) missing: {table}",
            settings.name,
            settings.cron
        );
    }
    screenshot(&browser, "calendar.png").await;
    // Pause and resume the schedule from the calendar.
    for (button, state) in [("Pause", "paused"), ("Resume", "active")] {
        click(
            &browser,
            Locator::XPath(&format!(
                "//table[@id='schedules']//button[text()='{button}']"
            )),
        )
        .await;
        text_once(&browser, "[role=status]", |status| {
            status.starts_with("schedule weekly:")
        })
        .await;
        text_once(&browser, "#schedules", |schedules| {
            schedules.contains(state)
        })
        .await;
    }

    // Import a subscriber who only wants BFI Southbank, then find them.
    browser
        .goto(&format!("{base}/console/subscribers"))
        .await
        .unwrap();
    let csv = browser
        .find(Locator::Css("textarea[name=csv]"))
        .await
        .unwrap();
    csv.clear().await.unwrap();
    csv.send_keys("email,venues\nreader@films.example,bfi-southbank\n")
        .await
        .unwrap();
    click(&browser, Locator::XPath("//button[text()='Import']")).await;
    text_once(&browser, "[role=status]", |status| {
        status.starts_with("1 imported")
    })
    .await;
    browser
        .goto(&format!("{base}/console/subscribers?q=READER"))
        .await
        .unwrap();
    let found: Vec<Subscriber> = api(&demo, "/admin/digest/subscribers?q=READER").await;
    assert_eq!(found.len(), 1, "{found:?}");
    let table = text_of(&browser, "#subscribers").await;
    assert!(
        table.contains(&found[0].email)
            && table.contains(found[0].status.as_str())
            && table.contains("bfi-southbank"),
        "{table}"
    );
    screenshot(&browser, "subscribers.png").await;

    // Send the digest from the runs page: the relay refuses, so the run
    // pauses itself; its row shows what the API holds, with Resume.
    browser.goto(&format!("{base}/console/runs")).await.unwrap();
    click(
        &browser,
        Locator::XPath("//button[text()='Send, skipping the freshness gate']"),
    )
    .await;
    let sent = text_once(&browser, "[role=status]", |status| {
        status.starts_with("run ") && status.contains(" of weekly: sending")
    })
    .await;
    let run_id = sent
        .trim_start_matches("run ")
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    let run_path = format!("/admin/digest/runs/{run_id}");
    let report: RunReport = wait::until_value(
        "the run paused itself",
        Duration::from_secs(60),
        || api::<RunReport>(&demo, &run_path),
        |report| report.run.status == RunStatus::Paused,
    )
    .await;
    until_shows(&browser, &format!("{base}/console/runs"), "#runs", "paused").await;
    let row = run_row_matches(&browser, &report).await;
    assert_eq!(cell(&browser, &row, "kind").await, "forced");
    assert!(
        cell(&browser, &row, "note")
            .await
            .contains("consecutive send errors"),
        "the note says why it paused"
    );
    screenshot(&browser, "runs.png").await;
    click(
        &browser,
        Locator::Css(&format!("{row} button[value=resume]")),
    )
    .await;
    text_once(&browser, "[role=status]", |status| {
        status == format!("run {run_id}: resume")
    })
    .await;
    // The dashboard's table shows the same run.
    let report: RunReport = api(&demo, &run_path).await;
    browser.goto(&format!("{base}/console/")).await.unwrap();
    let in_dashboard = format!("#runs tr[data-run='{run_id}']");
    assert_eq!(
        cell(&browser, &in_dashboard, "schedule").await,
        report.run.schedule
    );
    assert_eq!(
        cell(&browser, &in_dashboard, "kind").await,
        report.run.kind.as_str()
    );
    assert_eq!(
        cell(&browser, &in_dashboard, "due").await,
        instant(report.run.scheduled_for)
    );
    screenshot(&browser, "dashboard-with-a-run.png").await;

    // The live preview, as that subscriber sees it: BFI Southbank's
    // standing weekly screening, nothing from other venues.
    let preview = format!("{base}/console/preview?schedule=weekly&email=reader%40films.example");
    let digest = wait::until(
        "the preview shows BFI Southbank",
        Duration::from_secs(60),
        || async {
            browser.goto(&preview).await.unwrap();
            let frame = browser.find(Locator::Css("iframe#preview")).await.unwrap();
            frame.enter_frame().await.unwrap();
            // Rendered text: the template sets venue names in capitals.
            let body = text_of(&browser, "body").await.to_lowercase();
            browser.enter_parent_frame().await.unwrap();
            body.contains("bfi southbank").then_some(body)
        },
    )
    .await;
    assert!(
        !digest.contains("prince charles cinema"),
        "preferences apply: {digest}"
    );
    screenshot(&browser, "preview.png").await;

    // Backfill from the sources page, followed to the end.
    browser
        .goto(&format!("{base}/console/sources"))
        .await
        .unwrap();
    for service in ["reviews-ingest", "listings-ingest"] {
        let held: Vec<SourceHealth> = api(&demo, &format!("/admin/{service}/sources")).await;
        let table = text_of(&browser, &format!("#{service}-sources")).await;
        for source in held {
            assert!(
                table.contains(&source.name) && table.contains(&source.kind),
                "{} missing from {service}: {table}",
                source.name
            );
        }
    }
    screenshot(&browser, "sources.png").await;
    click(
        &browser,
        Locator::XPath("//button[text()='Backfill every listings-ingest source']"),
    )
    .await;
    // The job page reloads itself every second while the job runs.
    text_once(&browser, "#job-state", |state| state.contains("succeeded")).await;
    screenshot(&browser, "backfill.png").await;

    browser
        .goto(&format!("{base}/console/dead-letters"))
        .await
        .unwrap();
    let dead: Vec<DeadLetter> = api(&demo, "/admin/bus/dead-letters?limit=500").await;
    assert!(dead.is_empty(), "{dead:?}");
    assert!(browser.source().await.unwrap().contains("No dead letters."));
    screenshot(&browser, "dead-letters.png").await;

    click(&browser, Locator::XPath("//button[text()='Log out']")).await;
    text_once(&browser, "form[action='/console/login'] button", |button| {
        button == "Log in"
    })
    .await;
    browser
        .goto(&format!("{base}/console/calendar"))
        .await
        .unwrap();
    assert_on_login_page(&browser).await;
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_page_needs_a_login() {
    let demo = Demo::start().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in [
        "/console/",
        "/console/calendar",
        "/console/runs",
        "/console/preview",
        "/console/preview/frame?schedule=weekly",
        "/console/subscribers",
        "/console/subscribers.csv",
        "/console/sources",
        "/console/dead-letters",
        "/console/social",
        "/console/audit",
        "/console/jobs?service=feeds&id=1",
    ] {
        let response = http
            .get(format!("{}{path}", demo.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(response.headers()["location"], "/console/login", "{path}");
    }
    let forged = http
        .post(format!("{}/console/dead-letters/redrive", demo.base))
        .header("cookie", "marquee_console=guess")
        .form(&[("partition", "0"), ("offset", "0")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 303, "the API refuses a guessed token");
    assert_eq!(forged.headers()["location"], "/console/login");
}

/// A `reviews` topic someone made with Kafka's default week of retention,
/// before Marquee first ran: `/readyz` stays ready and names it under
/// `warnings`, and the dashboard shows the same warning with its fix.
///
/// A plain test with its own runtime: the runtime, and with it the Kafka
/// consumers, must be gone before the broker is stopped, or closing them
/// waits on a broker that no longer answers.
#[test]
fn a_topic_that_would_lose_history_is_a_warning_on_the_dashboard() {
    let broker = DurableBroker::start();
    let tansu = std::env::var("TANSU_BIN").unwrap_or_else(|_| "tansu".to_owned());
    run_to_success(
        Command::new(tansu)
            .args(["topic", "create", "reviews", "--partitions", "1"])
            .args(["--broker", &format!("tcp://{}", broker.address)])
            .args(["--config", "cleanup.policy=delete"])
            .args(["--config", "retention.ms=604800000"])
            .args(["--config", "retention.bytes=-1"]),
        "the test command installs tansu",
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(dashboard_warns_of(&broker.address));
    drop(runtime);
    drop(broker);
}

async fn dashboard_warns_of(brokers: &str) {
    let demo = Demo::start_with(|settings| {
        settings.bus = marquee_bus::BusSettings::kafka(brokers);
        settings.bus.partitions = 1;
    })
    .await;

    let (status, body) = demo.get("/readyz", None).await;
    assert_eq!(status, 200, "a warning is not an outage: {body}");
    let report: ReadinessReport = serde_json::from_str(&body).unwrap();
    assert_eq!(report.checks["bus"], "ok", "{body}");
    // Marquee created `screenings` itself, keeping its history.
    let warnings = &report.warnings["bus-history"];
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("topic `reviews` would lose history (retention.ms=604800000)")
            && warnings[0].contains("--entity-name reviews --add-config retention.ms=-1"),
        "{}",
        warnings[0]
    );

    let driver = Driver::start();
    let browser = driver.browser().await;
    log_in(&browser, &demo.base, TOKEN).await;
    let shown = text_once(&browser, "#warnings", |text| text.contains("reviews")).await;
    assert!(shown.contains("Needs attention"), "{shown}");
    assert!(shown.contains(&warnings[0]), "{shown}");
    screenshot(&browser, "dashboard-history-warning.png").await;
    browser.close().await.unwrap();
}

/// A webhook that refuses its first post for good (422) and accepts the
/// rest, counting what it was sent.
async fn newsroom_webhook() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let hits = counted.clone();
            async move {
                match hits.fetch_add(1, Ordering::SeqCst) {
                    0 => (
                        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                        "text too long",
                    ),
                    _ => (axum::http::StatusCode::OK, "ok"),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, hits)
}

/// The row of the post of `review` on `account` in the posts table.
fn post_row(review: &str, account: &str) -> String {
    format!("#social-posts tr[data-post='{review}/{account}']")
}

/// Reloads the social page until the post's status cell reads `status`.
async fn until_post_is(browser: &Client, base: &str, review: &str, status: &str) -> String {
    let row = post_row(review, HOOK);
    wait::until(
        &format!("{review} shows {status}"),
        Duration::from_secs(60),
        || async {
            browser
                .goto(&format!("{base}/console/social"))
                .await
                .unwrap();
            let cell = browser
                .find(Locator::Css(&format!("{row} td.status")))
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            (cell == status).then_some(())
        },
    )
    .await;
    row
}

const HOOK: &str = "newsroom-hook";

/// Clicks `button` (its value) in the row at `row`, and waits for the
/// flash that says what the API answered.
async fn act_on(browser: &Client, row: &str, button: &str, flash: &str, answer: &str) -> String {
    click(
        browser,
        Locator::Css(&format!("{row} button[value={button}]")),
    )
    .await;
    text_once(browser, flash, |text| text.contains(answer)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_holds_the_social_queue() {
    let (url, hits) = newsroom_webhook().await;
    // Posting for real to one webhook: the samples are back catalogue,
    // skipped, and posted only from the console.
    let demo = Demo::start_with(|settings| {
        settings.social.dry_run = false;
        settings.social.accounts = vec![
            serde_json::from_value(serde_json::json!({
                "network": "webhook", "name": HOOK, "url": url,
            }))
            .unwrap(),
        ];
    })
    .await;
    let skipped_path = format!("/admin/social/accounts/{HOOK}/posts?status=skipped");
    let skipped: Vec<SocialPost> = wait::until_value(
        "the samples reach the social ledger",
        Duration::from_secs(60),
        || api::<Vec<SocialPost>>(&demo, &skipped_path),
        |posts| posts.len() >= 2,
    )
    .await;
    assert!(skipped.iter().all(|post| {
        post.reason
            .as_deref()
            .is_some_and(|reason| reason.starts_with("back catalogue"))
    }));
    let (first, second) = (skipped[0].review_id.clone(), skipped[1].review_id.clone());

    let driver = Driver::start();
    let browser = driver.browser().await;
    let base = demo.base.clone();
    log_in(&browser, &base, TOKEN).await;
    text_once(&browser, "#sources", |_| true).await;
    let account_row = format!("#social-accounts tr[data-account='{HOOK}']");
    // The account's row shows what the API counts, once the ingest is done.
    wait::until(
        "the account's counts match the API's",
        Duration::from_secs(60),
        || async {
            let accounts: Vec<SocialAccount> = api(&demo, "/admin/social/accounts").await;
            browser
                .goto(&format!("{base}/console/social"))
                .await
                .unwrap();
            let counts = accounts[0].counts;
            let shown = [
                (
                    cell(&browser, &account_row, "network").await,
                    "webhook".to_owned(),
                ),
                (
                    cell(&browser, &account_row, "state").await,
                    "sending".to_owned(),
                ),
                (
                    cell(&browser, &account_row, "skipped").await,
                    counts.skipped.to_string(),
                ),
                (cell(&browser, &account_row, "posted").await, "0".to_owned()),
                (
                    cell(&browser, &account_row, "last-posted").await,
                    "never".to_owned(),
                ),
            ];
            (accounts.len() == 1 && shown.iter().all(|(got, want)| got == want)).then_some(())
        },
    )
    .await;
    let row = post_row(&first, HOOK);
    assert!(
        cell(&browser, &row, "reason")
            .await
            .starts_with("back catalogue"),
        "a skipped post says why"
    );

    // Paused, a review posted on purpose waits, and is cancelled unsent.
    act_on(&browser, &account_row, "pause", "[role=status]", "paused").await;
    let state = cell(&browser, &account_row, "state").await;
    assert!(state.starts_with("paused since "), "{state}");
    act_on(
        &browser,
        &row,
        "post",
        "[role=status]",
        "queued on newsroom-hook",
    )
    .await;
    assert_eq!(cell(&browser, &row, "status").await, "queued");
    let cancelled = act_on(&browser, &row, "cancel", "[role=status]", "cancelled").await;
    assert_eq!(cancelled, format!("post of {first} on {HOOK}: cancelled"));
    assert_eq!(
        cell(&browser, &row, "reason").await,
        "cancelled by an operator"
    );
    act_on(&browser, &account_row, "resume", "[role=status]", "sending").await;

    // The demo's fediverse actor shows what the API counts, and is paused
    // and resumed from its row.
    let actor_row = "#fediverse-actors tr[data-actor='reviews']";
    let actors: Vec<FediverseActor> = api(&demo, "/admin/social/actors").await;
    assert_eq!(actors.len(), 1, "{actors:?}");
    let actor = &actors[0];
    let deliveries = actor.deliveries;
    for (class, value) in [
        ("handle", actor.handle.clone()),
        ("followers", actor.followers.to_string()),
        ("pending", deliveries.pending.to_string()),
        ("delivered", deliveries.delivered.to_string()),
        ("failed", deliveries.failed.to_string()),
        ("state", "delivering".to_owned()),
    ] {
        assert_eq!(cell(&browser, actor_row, class).await, value, "{class}");
    }
    let flash = act_on(&browser, actor_row, "pause", "[role=status]", "paused").await;
    assert_eq!(flash, "actor reviews: paused");
    assert_eq!(cell(&browser, actor_row, "state").await, "paused");
    let held: Vec<FediverseActor> = api(&demo, "/admin/social/actors").await;
    assert!(held[0].paused, "{held:?}");
    screenshot(&browser, "social-fediverse-paused.png").await;
    let flash = act_on(&browser, actor_row, "resume", "[role=status]", "delivering").await;
    assert_eq!(flash, "actor reviews: delivering");
    assert_eq!(cell(&browser, actor_row, "state").await, "delivering");

    // Sending again: the webhook refuses the next post, which fails with
    // the reason; retried, it goes out.
    let row = post_row(&second, HOOK);
    act_on(&browser, &row, "post", "[role=status]", "queued").await;
    until_post_is(&browser, &base, &second, "failed").await;
    let reason = cell(&browser, &row, "reason").await;
    assert!(
        reason.contains("422") && reason.contains("text too long"),
        "{reason}"
    );
    assert_eq!(cell(&browser, &account_row, "failed").await, "1");
    screenshot(&browser, "social.png").await;
    let retried = act_on(&browser, &row, "retry", "[role=status]", "queued").await;
    assert_eq!(retried, format!("post of {second} on {HOOK}: queued"));
    until_post_is(&browser, &base, &second, "posted").await;
    assert_eq!(
        cell(&browser, &row, "reason").await,
        "",
        "posted, nothing to explain"
    );
    let posted: Vec<SocialPost> = api(
        &demo,
        &format!("/admin/social/accounts/{HOOK}/posts?status=posted"),
    )
    .await;
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].review_id, second);

    // A refusal reaches the operator as the API words it: a form for the
    // posted post (the page offers none) asking to cancel it.
    browser
        .execute(
            "const f = document.createElement('form'); f.method = 'post';
             f.action = '/console/social/posts';
             for (const [k, v] of Object.entries(arguments[0])) {
               const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i);
             }
             document.body.appendChild(f); f.submit();",
            vec![serde_json::json!({"review_id": second, "account": HOOK, "action": "cancel"})],
        )
        .await
        .unwrap();
    let refusal = text_once(&browser, "[role=alert]", |text| !text.is_empty()).await;
    assert!(
        refusal.contains(&format!(
            "the post of `{second}` on `{HOOK}` cannot be cancelled: it was posted already"
        )),
        "{refusal}"
    );

    // Filtered to what was posted: that one post.
    browser
        .goto(&format!(
            "{base}/console/social?account={HOOK}&status=posted"
        ))
        .await
        .unwrap();
    let table = text_of(&browser, "#social-posts").await;
    assert!(
        table.contains(&second) && !table.contains(&first),
        "{table}"
    );
    assert_eq!(
        PostStatus::Posted.as_str(),
        cell(&browser, &row, "status").await
    );
    screenshot(&browser, "social-filtered.png").await;
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "the refused post and its retry; the cancelled one never went out"
    );
    browser.close().await.unwrap();
}

/// An editor's changes made in the console, and the one its role refuses,
/// read back on the audit page as the API holds them, with who made them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editors_console_changes_are_in_the_audit_trail() {
    const EDITOR: &str = "editor-console-token";
    let demo = Demo::start_with(|settings| {
        settings
            .admin
            .tokens
            .push(marquee_runtime::admin::TokenSetting::Named(
                marquee_runtime::admin::Token {
                    name: "ana".to_owned(),
                    role: Role::Editor,
                    token: secrecy::SecretString::from(EDITOR),
                },
            ));
    })
    .await;
    let driver = Driver::start();
    let browser = driver.browser().await;
    let base = demo.base.clone();
    log_in(&browser, &base, EDITOR).await;
    text_once(&browser, "#sources", |_| true).await;

    browser
        .goto(&format!("{base}/console/calendar"))
        .await
        .unwrap();
    click(
        &browser,
        Locator::Css("form[action='/console/schedules/toggle'] button[value=pause]"),
    )
    .await;
    text_once(&browser, "[role=status]", |flash| {
        flash.contains("schedule weekly: paused")
    })
    .await;
    click(
        &browser,
        Locator::Css("form[action='/console/digest/send'] button[value=send]"),
    )
    .await;
    let refusal = text_once(&browser, "[role=alert]", |flash| !flash.is_empty()).await;
    assert!(
        refusal.contains("this call needs the admin role (the token ana has the editor role)"),
        "{refusal}"
    );

    let trail: Vec<AuditEntry> = api(&demo, "/admin/audit?token=ana").await;
    assert_eq!(trail.len(), 2, "{trail:?}");
    browser
        .goto(&format!("{base}/console/audit"))
        .await
        .unwrap();
    let rows = browser
        .find_all(Locator::Css("#audit tr.entry"))
        .await
        .unwrap();
    let everything: Vec<AuditEntry> = api(&demo, "/admin/audit?limit=500").await;
    assert_eq!(rows.len(), everything.len());
    let newest = "#audit tr.entry:nth-child(2)";
    assert_eq!(cell(&browser, newest, "token").await, "ana");
    assert_eq!(cell(&browser, newest, "role").await, "editor");
    assert_eq!(cell(&browser, newest, "action").await, "POST");
    assert_eq!(cell(&browser, newest, "target").await, trail[0].target);
    assert!(trail[0].target.starts_with("/admin/digest/send/weekly"));
    assert_eq!(cell(&browser, newest, "outcome").await, "refused (403)");
    assert_eq!(
        cell(&browser, newest, "reason").await,
        trail[0].detail.clone().unwrap()
    );
    assert_eq!(cell(&browser, newest, "when").await, instant(trail[0].at));
    let paused = "#audit tr.entry:nth-child(3)";
    assert_eq!(
        cell(&browser, paused, "target").await,
        "/admin/digest/schedules/weekly/pause"
    );
    assert_eq!(cell(&browser, paused, "outcome").await, "done (200)");
    screenshot(&browser, "audit.png").await;

    browser
        .goto(&format!("{base}/console/audit?token=nobody"))
        .await
        .unwrap();
    assert_eq!(
        text_of(&browser, "main p:last-of-type").await,
        "No changes recorded for nobody."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_previews_and_saves_a_digest_template() {
    let demo = Demo::start().await;
    let driver = Driver::start();
    let browser = driver.browser().await;
    let base = demo.base.clone();
    log_in(&browser, &base, TOKEN).await;
    browser
        .goto(&format!("{base}/console/templates?name=weekly"))
        .await
        .unwrap();
    let subject = browser.find(Locator::Id("subject")).await.unwrap();
    assert_eq!(
        subject.prop("value").await.unwrap().as_deref(),
        Some("What to watch: {{ week }}")
    );

    // A misspelt variable: refused with where it is, the edit kept.
    subject.clear().await.unwrap();
    subject.send_keys("Films to see: {{ wek }}").await.unwrap();
    click(&browser, Locator::Css("button[value=save]")).await;
    let alert = text_once(&browser, "[role=alert]", |a| a.contains("line 1")).await;
    assert!(
        alert.contains("subject of template `weekly`, line 1, column 18: undefined value"),
        "{alert}"
    );
    let kept = browser.find(Locator::Id("subject")).await.unwrap();
    assert_eq!(
        kept.prop("value").await.unwrap().as_deref(),
        Some("Films to see: {{ wek }}")
    );
    screenshot(&browser, "template-refused.png").await;

    // Fixed and previewed: not stored yet.
    kept.clear().await.unwrap();
    kept.send_keys("Films to see: {{ week }}").await.unwrap();
    click(&browser, Locator::Css("button[value=preview]")).await;
    let shown = text_once(&browser, "#preview-subject", |s| !s.is_empty()).await;
    assert!(shown.starts_with("Films to see: "), "{shown}");
    assert!(!text_of(&browser, "#preview-text").await.is_empty());
    let frame = browser
        .find(Locator::Css("#template-preview iframe"))
        .await
        .unwrap();
    frame.enter_frame().await.unwrap();
    let body = text_of(&browser, "body").await;
    browser.enter_parent_frame().await.unwrap();
    assert!(!body.is_empty(), "the HTML part renders in the frame");
    let stored: serde_json::Value = demo.admin("/admin/digest/templates/weekly").await;
    assert_eq!(
        stored["subject"], "What to watch: {{ week }}",
        "a preview stores nothing"
    );
    screenshot(&browser, "template-preview.png").await;

    click(&browser, Locator::Css("button[value=save]")).await;
    let ok = text_once(&browser, "[role=status]", |s| s.contains("saved")).await;
    assert!(ok.contains("template weekly saved"), "{ok}");
    let stored: serde_json::Value = demo.admin("/admin/digest/templates/weekly").await;
    assert_eq!(stored["subject"], "Films to see: {{ week }}");
    let preview: serde_json::Value = serde_json::from_str(
        &demo
            .http
            .get(format!("{base}/admin/digest/preview/weekly"))
            .bearer_auth(TOKEN)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        preview["subject"]
            .as_str()
            .unwrap()
            .starts_with("Films to see: "),
        "{preview}"
    );
    screenshot(&browser, "template-saved.png").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_adds_and_removes_editors_picks() {
    use marquee_admin::digest::EditorPicksReport;
    let demo = Demo::start().await;
    let driver = Driver::start();
    let browser = driver.browser().await;
    let base = demo.base.clone();
    log_in(&browser, &base, TOKEN).await;
    // Retried: once in CI the page came without its list just after the
    // log-in (2026-12-04), not reproduced.
    let picks = format!("{base}/console/picks?schedule=weekly");
    until_shows(&browser, &picks, "#picks", "No picks yet").await;

    let add = |title: &'static str, year: &'static str, note: &'static str| {
        let browser = browser.clone();
        async move {
            for (id, value) in [
                ("pick-title", title),
                ("pick-year", year),
                ("pick-note", note),
            ] {
                let field = browser.find(Locator::Id(id)).await.unwrap();
                field.clear().await.unwrap();
                field.send_keys(value).await.unwrap();
            }
            click(&browser, Locator::Css("button[value=add]")).await;
        }
    };
    add("Tokyo Story", "1953", "Ozu's quietest masterpiece.").await;
    text_once(&browser, "[role=status]", |s| {
        s.contains("Tokyo Story added")
    })
    .await;
    add("Nowhere Film", "", "").await;
    text_once(&browser, "[role=status]", |s| {
        s.contains("Nowhere Film added")
    })
    .await;

    // A year no film has: refused, saying which pick, the typing kept.
    add("Heat", "1850", "").await;
    let alert = text_once(&browser, "[role=alert]", |a| a.contains("year")).await;
    assert_eq!(
        alert,
        "pick 3 (`Heat`): year 1850 is not between 1870 and 2100"
    );
    let kept = browser.find(Locator::Id("pick-year")).await.unwrap();
    assert_eq!(kept.prop("value").await.unwrap().as_deref(), Some("1850"));

    // The table shows what the API holds, and what each matches this week.
    let report: EditorPicksReport = api(&demo, "/admin/digest/picks/weekly").await;
    let titles: Vec<&str> = report.picks.iter().map(|m| m.pick.title.as_str()).collect();
    assert_eq!(
        titles,
        ["Tokyo Story", "Nowhere Film"],
        "Heat was not stored"
    );
    for (n, matches) in (1..).zip(&report.picks) {
        let row = format!("#picks tr[data-pick='{n}']");
        let shown = cell(&browser, &row, "matches").await;
        if matches.screenings.is_empty() {
            assert_eq!(shown, "No screening this week: readers will not see it");
        } else {
            for screening in &matches.screenings {
                assert!(shown.contains(&screening.venue), "{row}: {shown}");
            }
        }
    }
    assert!(report.picks[1].screenings.is_empty());
    assert_eq!(
        cell(&browser, "#picks tr[data-pick='1']", "title").await,
        "Tokyo Story (1953)"
    );
    screenshot(&browser, "picks.png").await;

    click(
        &browser,
        Locator::Css("#picks tr[data-pick='2'] button[value=remove]"),
    )
    .await;
    text_once(&browser, "[role=status]", |s| {
        s.contains("Nowhere Film removed")
    })
    .await;
    let report: EditorPicksReport = api(&demo, "/admin/digest/picks/weekly").await;
    assert_eq!(report.picks.len(), 1);
    assert_eq!(
        report.picks[0].pick.note.as_deref(),
        Some("Ozu's quietest masterpiece.")
    );
}
